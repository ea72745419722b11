// The dashboard: reads the admin API every few seconds and draws it. Only textContent and DOM
// nodes are used for data (never HTML strings): messages come from outside.
'use strict';

const REFRESH_MS = 5000;
const SVG = 'http://www.w3.org/2000/svg';

async function getJson(path) {
  const reply = await fetch(path, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
  if (reply.status === 401) {
    window.location.replace('/');
    throw new Error('not logged in');
  }
  if (!reply.ok) throw new Error(path + ': HTTP ' + reply.status);
  return reply.json();
}

function el(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
  return node;
}

function formatAge(ms) {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return ms + ' ms';
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + (s % 60) + ' s';
  const h = Math.floor(m / 60);
  if (h < 48) return h + ' h ' + (m % 60) + ' min';
  return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
}

function formatTime(ms) {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function sum(values) {
  return values.reduce((a, b) => a + b, 0);
}

// One event name: bars per minute, received (mapped) against delivered, with totals in the
// caption and as data attributes.
function chart(minutes, series) {
  const mappedTotal = sum(series.mapped);
  const deliveredTotal = sum(series.delivered);
  const deadTotal = sum(series.dead);
  const figure = el('figure', null, {
    class: 'chart',
    'data-event': series.event,
    'data-received-total': mappedTotal,
    'data-delivered-total': deliveredTotal,
    'data-dead-total': deadTotal,
    'data-minutes': minutes.length,
  });
  const caption = el('figcaption');
  caption.append(el('strong', series.event), ' ');
  caption.append(el('span', 'received ' + mappedTotal, {class: 'legend-received', 'data-total': 'received'}), ', ');
  caption.append(el('span', 'delivered ' + deliveredTotal, {class: 'legend-delivered', 'data-total': 'delivered'}));
  if (deadTotal > 0) caption.append(', ', el('span', 'dead ' + deadTotal, {class: 'legend-dead', 'data-total': 'dead'}));
  figure.append(caption);

  const width = 560, height = 150, left = 40, bottom = 20, top = 8;
  const plotW = width - left - 8, plotH = height - bottom - top;
  const max = Math.max(1, ...series.mapped, ...series.delivered);
  const box = svg('svg', {viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${series.event}: received ${mappedTotal}, delivered ${deliveredTotal}`});
  box.append(svg('line', {x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, stroke: '#9aa1ad'}));
  const maxLabel = svg('text', {x: left - 4, y: top + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6271'});
  maxLabel.textContent = String(max);
  box.append(maxLabel);
  const zero = svg('text', {x: left - 4, y: top + plotH, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6271'});
  zero.textContent = '0';
  box.append(zero);
  const slot = plotW / Math.max(1, minutes.length);
  const barW = Math.max(1, slot * 0.4);
  minutes.forEach((minute, i) => {
    const x = left + i * slot + slot * 0.1;
    const pairs = [['mapped', '#3b6fd8', 0], ['delivered', '#1a7f37', barW]];
    for (const [key, color, offset] of pairs) {
      const value = series[key][i];
      if (value <= 0) continue;
      const h = (value / max) * plotH;
      const bar = svg('rect', {x: x + offset, y: top + plotH - h, width: barW, height: h, fill: color,
        'data-minute': minute, 'data-kind': key, 'data-value': value});
      const title = svg('title');
      title.textContent = `${formatTime(minute)} ${key === 'mapped' ? 'received' : key}: ${value}`;
      bar.append(title);
      box.append(bar);
    }
  });
  if (minutes.length > 0) {
    const first = svg('text', {x: left, y: height - 4, 'font-size': 10, fill: '#5b6271'});
    first.textContent = formatTime(minutes[0]).slice(11, 16);
    const last = svg('text', {x: left + plotW, y: height - 4, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6271'});
    last.textContent = formatTime(minutes[minutes.length - 1]).slice(11, 16) + ' UTC';
    box.append(first, last);
  }
  figure.append(box);
  return figure;
}

function fillTable(tbody, rows, emptyText, columns) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = el('tr');
    tr.append(el('td', emptyText, {class: 'empty', colspan: columns}));
    tbody.append(tr);
  }
  for (const row of rows) tbody.append(row);
}

async function retry(name, body, section) {
  const statusLine = section.querySelector('.retry-status');
  statusLine.textContent = 'queuing…';
  try {
    const reply = await fetch('/api/destinations/' + encodeURIComponent(name) + '/dlq/retry', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
    });
    const answer = await reply.json();
    if (!reply.ok) throw new Error(answer.error || ('HTTP ' + reply.status));
    statusLine.textContent = `retry job ${answer.job.id}: ${answer.queued} dead letters queued`;
    statusLine.setAttribute('data-job', answer.job.id);
    statusLine.setAttribute('data-queued', answer.queued);
  } catch (e) {
    statusLine.textContent = 'retry failed: ' + e.message;
  }
  setTimeout(refresh, 1000);
}

function destinationSection(name) {
  const id = 'destination-' + name;
  let section = document.getElementById(id);
  if (section) return section;
  section = document.getElementById('destination-template').content.firstElementChild.cloneNode(true);
  section.id = id;
  section.setAttribute('data-destination', name);
  section.querySelector('.name').textContent = name;
  section.querySelector('.retry-all').addEventListener('click', () => retry(name, {all: true}, section));
  document.getElementById('destinations').append(section);
  return section;
}

async function drawDestination(d, jobs, nowMs) {
  const section = destinationSection(d.name);
  const status = section.querySelector('.status');
  status.textContent = d.status;
  status.setAttribute('data-status', d.status);
  section.setAttribute('data-status', d.status);
  const reasons = (d.status_reasons || []).slice();
  if (d.status === 'paused' && d.pause_reason) reasons.unshift('paused: ' + d.pause_reason);
  section.querySelector('.reasons').textContent = reasons.join('; ');
  const set = (field, value) => { section.querySelector(`[data-field="${field}"]`).textContent = value; };
  const running = d.delivered !== undefined;
  set('delivered', running ? d.delivered : '-');
  set('retried', running ? d.retried : '-');
  set('dead', running ? d.dead : '-');
  set('expired', running ? d.expired : '-');
  set('dead_letters', d.dead_letters !== undefined ? d.dead_letters : '-');
  set('backlog', running ? d.backlog.events : '-');
  set('oldest', running && d.backlog.events > 0 ? formatAge(d.backlog.oldest_age_ms) : '-');
  set('breaker', running ? d.breaker : '-');
  set('concurrency', running ? d.concurrency : '-');
  set('last_delivered', running && d.last_delivered_at_ms ? formatAge(nowMs - d.last_delivered_at_ms) + ' ago' : 'never');

  const errorRows = Object.entries(d.errors || {}).map(([code, count]) => {
    const tr = el('tr', null, {'data-code': code});
    tr.append(el('td', code), el('td', count));
    return tr;
  });
  fillTable(section.querySelector('.errors tbody'), errorRows, 'no errors', 2);

  const charts = section.querySelector('.charts');
  const [series, dlq] = await Promise.all([
    getJson('/api/destinations/' + encodeURIComponent(d.name) + '/series?since=-60m'),
    getJson('/api/destinations/' + encodeURIComponent(d.name) + '/dlq?limit=100'),
  ]);
  charts.replaceChildren();
  const events = series.series.filter((s) => sum(s.mapped) + sum(s.delivered) + sum(s.dead) > 0);
  if (events.length === 0) charts.append(el('p', 'no events in the last hour', {class: 'empty'}));
  for (const s of events) charts.append(chart(series.minutes, s));

  const busy = new Set();
  for (const job of jobs) {
    if (job.destination === d.name && (job.state === 'queued' || job.state === 'running')) busy.add(job.id);
  }
  const lastJob = jobs.find((job) => job.destination === d.name);
  if (lastJob) {
    const line = section.querySelector('.retry-status');
    line.textContent = `retry job ${lastJob.id}: ${lastJob.state}, ${lastJob.queued} queued` +
      (lastJob.state === 'done' ? `, ${lastJob.delivered} delivered, ${lastJob.dead} dead again` : '') +
      (lastJob.error ? ` (${lastJob.error})` : '');
    line.setAttribute('data-job', lastJob.id);
    line.setAttribute('data-job-state', lastJob.state);
  }
  const rows = dlq.items.map((item) => {
    const tr = el('tr', null, {'data-dead-letter-id': item.id, 'data-message-id': item.message_id});
    const button = el('button', 'Retry', {type: 'button', class: 'retry'});
    button.addEventListener('click', () => retry(d.name, {ids: [item.id]}, section));
    const actions = el('td');
    actions.append(button);
    tr.append(el('td', item.id), el('td', item.event || '-'), el('td', item.message_id),
      el('td', item.event_time), el('td', item.code), el('td', item.reason + ': ' + item.message, {class: 'message'}), actions);
    return tr;
  });
  fillTable(section.querySelector('.dlq tbody'), rows, 'no dead letters', 7);
  section.querySelector('.retry-all').disabled = dlq.items.length === 0;
}

function drawList(container, list, emptyText) {
  container.replaceChildren();
  const items = [...(list.active || []).map((x) => ['active', x]), ...(list.recent || []).map((x) => ['recent', x])];
  if (items.length === 0) {
    container.append(el('p', emptyText, {class: 'empty'}));
    return;
  }
  for (const [kind, item] of items) {
    const div = el('div', null, {class: 'item', 'data-kind': kind});
    div.append(el('strong', kind + ' '));
    if (item && typeof item === 'object') {
      const parts = Object.entries(item).map(([k, v]) => k + ': ' + (typeof v === 'object' ? JSON.stringify(v) : v));
      div.append(parts.join(' · '));
    } else {
      div.append(String(item));
    }
    container.append(div);
  }
}

let configShown = false;
let refreshing = false;

async function refresh() {
  if (refreshing) return;  // the interval and a retry may both ask
  refreshing = true;
  try {
    await draw();
  } finally {
    refreshing = false;
  }
}

async function draw() {
  const updated = document.getElementById('updated');
  const error = document.getElementById('error');
  try {
    const [summary, alerts, incidents, retries] = await Promise.all([
      getJson('/api/summary'), getJson('/api/alerts'), getJson('/api/incidents'), getJson('/api/retries'),
    ]);
    document.getElementById('listen').textContent = summary.listen;
    await Promise.all(summary.destinations.map((d) => drawDestination(d, retries.jobs, summary.now_ms)));
    const sourceRows = summary.sources.map((s) => {
      const tr = el('tr', null, {'data-source': s.name, 'data-received': s.received});
      tr.append(el('td', s.name), el('td', s.received));
      return tr;
    });
    fillTable(document.querySelector('#sources tbody'), sourceRows, 'no sources', 2);
    document.getElementById('sources-since').textContent = 'counted since ' + formatTime(summary.received_since_ms);
    drawList(document.getElementById('alerts'), alerts, 'no alerts');
    drawList(document.getElementById('incidents'), incidents, 'no incidents');
    if (!configShown) {
      const config = await getJson('/api/config');
      document.getElementById('config').textContent = JSON.stringify(config, null, 2);
      configShown = true;
    }
    error.hidden = true;
    updated.textContent = 'updated ' + formatTime(Date.now());
    updated.setAttribute('data-state', 'ready');
    updated.setAttribute('data-updated-at', String(Date.now()));
  } catch (e) {
    error.textContent = 'Cannot read the server: ' + e.message;
    error.hidden = false;
    updated.setAttribute('data-state', 'error');
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  await fetch('/api/logout', {method: 'POST', credentials: 'same-origin'});
  window.location.replace('/');
});

refresh();
setInterval(refresh, REFRESH_MS);
