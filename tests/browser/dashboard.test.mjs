// The dashboard in headless Chromium (Debian's chromium driven by playwright-core), against a
// running `sluice serve` that has delivered a known workload to a fake TikTok. Run by
// tests/ops/dashboard/dashboard_integration_test.cpp:
//
//   node dashboard.test.mjs BASE_URL ADMIN_TOKEN MOCK_URL SCREENSHOT_DIR EXPECTED_JSON
//
// EXPECTED_JSON: {"destination": NAME, "events": {TIKTOK_EVENT: {"received": N, "delivered": N}},
// "delivered": N, "dead": N, "poisonMessageId": ID, "source": NAME, "received": N}.
// Checks: the page needs the token; the charts show the workload; the dead letter is listed; its
// retry button sends it to TikTok again (the mock sees a new request, the entry comes back as a
// new dead letter since the mock still rejects it). Prints one line per check; exit 0 when all
// pass. Every wait is bounded.
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [baseUrl, adminToken, mockUrl, screenshotDir, expectedText] = process.argv.slice(2);
if (!expectedText) {
  console.error('usage: node dashboard.test.mjs BASE_URL ADMIN_TOKEN MOCK_URL SCREENSHOT_DIR EXPECTED_JSON');
  process.exit(2);
}
const expected = JSON.parse(expectedText);
const executablePath = process.env.SLUICE_CHROMIUM || '/usr/bin/chromium';
fs.mkdirSync(screenshotDir, {recursive: true});

let failures = 0;
function check(condition, what, detail) {
  console.log(`${condition ? 'ok' : 'FAIL'} ${what}${detail !== undefined ? ': ' + detail : ''}`);
  if (!condition) failures += 1;
  return condition;
}

async function mockStats() {
  const reply = await fetch(mockUrl + '/mock/stats');
  return reply.json();
}

// Polls `probe` (returns a value or null) until it gives a value or `ms` pass.
async function waitFor(probe, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > end) return null;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  timeout: 60000,
});
try {
  const context = await browser.newContext({viewport: {width: 1280, height: 1000}});
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const consoleErrors = [];
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));

  // 1. Without the token: the login page (401), and the API refuses.
  const first = await page.goto(baseUrl + '/');
  check(first.status() === 401, 'the page without a token answers 401', first.status());
  check(await page.locator('#login').count() === 1, 'the login form is shown');
  check(first.headers()['content-security-policy']?.includes("script-src 'self'"),
    'the page has a Content-Security-Policy without inline scripts');
  const api = await page.evaluate(async () => (await fetch('/api/summary')).status);
  check(api === 401, 'the API without a token answers 401', api);
  await page.screenshot({path: path.join(screenshotDir, 'login.png')});

  // 2. A wrong token is refused; the right one opens the dashboard.
  await page.fill('#token', adminToken + 'x');
  await page.click('#login button[type=submit]');
  await page.locator('#login-error').waitFor({state: 'visible'});
  check((await page.textContent('#login-error')).includes('Wrong token'), 'a wrong token is refused');
  await page.fill('#token', adminToken);
  await Promise.all([
    page.waitForResponse((r) => r.url() === baseUrl + '/' && r.status() === 200),
    page.click('#login button[type=submit]'),
  ]);
  await page.locator('#updated[data-state=ready]').waitFor();
  check(true, 'the dashboard loads after logging in');
  consoleErrors.length = 0;  // the 401s of the login steps are logged by the browser
  const cookies = await context.cookies();
  const cookie = cookies.find((c) => c.name === 'sluice_admin');
  check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', 'the admin cookie is HttpOnly and SameSite=Strict');

  // 3. The workload: figures, one chart per event name with the right totals, the sources.
  const section = page.locator(`section[data-destination="${expected.destination}"]`);
  const delivered = await waitFor(async () => {
    const text = await section.locator('[data-field=delivered]').textContent();
    return Number(text) === expected.delivered ? text : null;
  }, 20000);
  check(delivered !== null, 'delivered count', await section.locator('[data-field=delivered]').textContent());
  check(Number(await section.locator('[data-field=dead]').textContent()) === expected.dead, 'dead count',
    await section.locator('[data-field=dead]').textContent());
  check(await section.getAttribute('data-status') === 'healthy', 'status healthy', await section.getAttribute('data-status'));
  check(await section.locator('[data-field=retried]').textContent() === '0', 'no event sent again',
    await section.locator('[data-field=retried]').textContent());
  const listen = await page.textContent('#listen');
  check(listen === new URL(baseUrl).host, 'the header shows the bound address', listen);
  for (const [event, want] of Object.entries(expected.events)) {
    const figure = section.locator(`figure.chart[data-event="${event}"]`);
    const ready = await waitFor(async () => (await figure.count()) === 1 &&
      Number(await figure.getAttribute('data-delivered-total')) === want.delivered, 15000);
    if (!check(ready, `chart for ${event} is drawn`)) continue;
    const received = Number(await figure.getAttribute('data-received-total'));
    const deliveredTotal = Number(await figure.getAttribute('data-delivered-total'));
    check(received === want.received, `${event}: received per minute sums to ${want.received}`, received);
    check(deliveredTotal === want.delivered, `${event}: delivered per minute sums to ${want.delivered}`, deliveredTotal);
    const bars = await figure.locator('rect[data-kind=mapped]').evaluateAll(
      (rects) => rects.reduce((total, r) => total + Number(r.getAttribute('data-value')), 0));
    check(bars === want.received, `${event}: the bars drawn add up to ${want.received}`, bars);
    const caption = await figure.locator('figcaption').textContent();
    check(caption.includes(`received ${want.received}`) && caption.includes(`delivered ${want.delivered}`),
      `${event}: the caption shows the totals`, caption);
  }
  const source = page.locator(`#sources tr[data-source="${expected.source}"]`);
  const received = await waitFor(async () => {
    const n = Number(await source.getAttribute('data-received'));
    return n === expected.received ? n : null;
  }, 10000);
  check(received !== null, `source ${expected.source} received ${expected.received}`, await source.getAttribute('data-received'));
  const configText = await page.textContent('#config');
  check(configText.includes('***') && !configText.includes(adminToken), 'the configuration is shown with secrets masked');

  // 4. The dead letter and its retry button.
  const row = section.locator(`table.dlq tr[data-message-id="${expected.poisonMessageId}"]`);
  await row.waitFor();
  const oldId = Number(await row.getAttribute('data-dead-letter-id'));
  check(oldId > 0, 'the poison event is listed as a dead letter', oldId);
  await page.screenshot({path: path.join(screenshotDir, 'dashboard.png'), fullPage: true});
  const before = await mockStats();
  await row.locator('button.retry').click();
  const newId = await waitFor(async () => {
    const current = section.locator(`table.dlq tr[data-message-id="${expected.poisonMessageId}"]`);
    if ((await current.count()) !== 1) return null;
    const id = Number(await current.getAttribute('data-dead-letter-id'));
    return id !== oldId ? id : null;
  }, 30000);
  check(newId !== null && newId > oldId, 'after the retry the entry comes back as a new dead letter', `${oldId} -> ${newId}`);
  const jobState = await waitFor(async () => {
    const state = await section.locator('.retry-status').getAttribute('data-job-state');
    return state === 'done' ? state : null;
  }, 15000);
  check(jobState === 'done', 'the retry job is shown as done');
  const after = await mockStats();
  check(after.requests > before.requests, 'the fake TikTok received the retried event', `${before.requests} -> ${after.requests}`);
  const refused = (stats) => (stats.by_code || {})['40002'] || 0;
  check(refused(after) > refused(before), 'and refused it again (40002)', `${refused(before)} -> ${refused(after)}`);
  check(after.events_accepted === before.events_accepted, 'nothing else was sent');
  await page.screenshot({path: path.join(screenshotDir, 'after-retry.png'), fullPage: true});

  check(consoleErrors.length === 0, 'no errors in the browser console', consoleErrors.join(' | '));

  // 5. Logging out closes the dashboard.
  await page.click('#logout');
  await page.locator('#login').waitFor();
  check(true, 'logging out shows the login form again');
} finally {
  await browser.close();
}
console.log(failures === 0 ? 'dashboard browser test: every check passed' : `dashboard browser test: ${failures} checks failed`);
process.exit(failures === 0 ? 0 : 1);
