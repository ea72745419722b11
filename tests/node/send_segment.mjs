// Sends events to sluice with Segment's own Node library, as a site would after changing only its
// host. Usage: node send_segment.mjs HOST WRITE_KEY RUN_ID
// Prints one line per acknowledged event ("ok <type> <messageId>"), per failed event
// ("failed <type> <reason>"), and for the wrong-key check ("wrong-key <reason or 'accepted'>").
import { Analytics } from '@segment/analytics-node';

const [host, writeKey, runId] = process.argv.slice(2);
if (!host || !writeKey || !runId) {
  console.error('usage: node send_segment.mjs HOST WRITE_KEY RUN_ID');
  process.exit(2);
}

// Settles with the outcome of one call: the library calls back once the event's batch is sent.
function send(analytics, method, payload) {
  return new Promise((resolve) => {
    analytics[method](payload, (err, ctx) => {
      if (err) {
        console.log(`failed ${method} ${err.reason?.message ?? err.message ?? err}`);
      } else {
        console.log(`ok ${method} ${ctx.event.messageId}`);
      }
      resolve();
    });
  });
}

const user = `${runId}-user`;

// One request per event (still POST /v1/batch, which is what the library uses).
const single = new Analytics({ writeKey, host, flushAt: 1, flushInterval: 50, maxRetries: 2 });
await Promise.all([
  send(single, 'track', {
    userId: user,
    event: 'Order Completed',
    properties: { order_id: `${runId}-o1`, revenue: 42.5, currency: 'USD' },
  }),
  send(single, 'page', { anonymousId: `${runId}-anon`, name: 'Home', properties: { path: '/' } }),
  send(single, 'identify', { userId: user, traits: { email: 'someone@example.com' } }),
  send(single, 'screen', { userId: user, name: 'Checkout' }),
  send(single, 'group', { userId: user, groupId: `${runId}-g` }),
  send(single, 'alias', { userId: user, previousId: `${runId}-anon` }),
]);
await single.closeAndFlush({ timeout: 10000 });

// Batches of 10 events.
const batched = new Analytics({ writeKey, host, flushAt: 10, flushInterval: 200, maxRetries: 2 });
const calls = [];
for (let i = 0; i < 30; i++) {
  calls.push(
    send(batched, 'track', {
      userId: user,
      event: 'Product Viewed',
      properties: { index: i, product_id: `p${i}` },
      context: { page: { url: `https://shop.example/p/${i}` } },
    }),
  );
}
await Promise.all(calls);
await batched.closeAndFlush({ timeout: 10000 });

// A wrong write key must be refused (401 is not retried by the library).
const wrong = new Analytics({ writeKey: 'not-the-key', host, flushAt: 1, maxRetries: 0 });
await new Promise((resolve) => {
  wrong.track({ userId: user, event: 'Should Fail' }, (err) => {
    console.log(`wrong-key ${err ? (err.reason?.message ?? err.message ?? 'error') : 'accepted'}`);
    resolve();
  });
});
await wrong.closeAndFlush({ timeout: 10000 });
