import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { WEBHOOK_EVENTS } from '../src/config.js';
import { onCleanup } from './support/cleanup.js';
import { join } from './support/client.js';
import { eventually } from './support/eventually.js';
import { startReceiver } from './support/hook-receiver.js';
import { metric, startServer } from './support/server.js';

const SECRET = 'webhook-secret-0123456789';
const ALL = [...WEBHOOK_EVENTS];

function expectedSignature(raw: Buffer): string {
  return `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
}

describe('webhooks', () => {
  it('posts channel_occupied, member_added, member_removed and channel_vacated, in order, signed with HMAC-SHA256', async () => {
    const receiver = await startReceiver();
    const { url } = await startServer({ webhooks: [{ url: receiver.url, events: ALL }], webhookSecret: SECRET, webhookBatchWait: 10 });
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    alice.client.send({ event: 'close' });
    await alice.client.closed;
    bob.client.send({ event: 'close' });
    await bob.client.closed;
    await receiver.waitForEvents(6);
    expect(receiver.events()).to.deep.equal([
      { name: 'channel_occupied', path: '/channel', channel: '1' },
      { name: 'member_added', path: '/channel', channel: '1', user: 'alice' },
      { name: 'member_added', path: '/channel', channel: '1', user: 'bob' },
      { name: 'member_removed', path: '/channel', channel: '1', user: 'alice' },
      { name: 'member_removed', path: '/channel', channel: '1', user: 'bob' },
      { name: 'channel_vacated', path: '/channel', channel: '1' },
    ]);
    for (const request of receiver.requests) {
      expect(request.headers['x-rooms-signature']).to.equal(expectedSignature(request.raw));
      expect(request.headers['content-type']).to.equal('application/json');
      expect(request.body.time_ms).to.be.closeTo(Date.now(), 10_000);
    }
  });

  it('is accepted by the receiver in docs/examples, which checks the signature', async () => {
    const script = fileURLToPath(new URL('../docs/examples/webhook-receiver.mjs', import.meta.url));
    const probe = await startReceiver();
    const port = await new Promise<number>((resolve, reject) => {
      const free = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = free.address() as AddressInfo;
        free.close(() => resolve(p));
      });
      free.on('error', reject);
    });
    const child = spawn(process.execPath, [script, String(port)], { env: { ...process.env, ROOMS_WEBHOOK_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'inherit'] });
    onCleanup(() => {
      child.kill();
    });
    let out = '';
    const printed = (pattern: RegExp): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (pattern.test(out)) resolve();
        };
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          check();
        });
        check();
      });
    await printed(/webhook receiver on/);
    const { url } = await startServer({ webhooks: [{ url: `http://127.0.0.1:${port}/`, events: ['member_added'] }, { url: probe.url, events: ['member_added'] }], webhookSecret: SECRET, webhookBatchWait: 10 });
    await join(url('1'), 'alice');
    await printed(/"user":"alice"/);
    expect(JSON.parse(out.split('\n')[1])).to.deep.equal({ name: 'member_added', path: '/channel', channel: '1', user: 'alice' });
    await probe.waitForEvents(1);
    // The same bytes with one more space no longer match their signature.
    const request = probe.requests[0];
    const tampered = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Rooms-Signature': String(request.headers['x-rooms-signature']) },
      body: Buffer.concat([request.raw, Buffer.from(' ')]),
    });
    expect(tampered.status).to.equal(401);
  });

  it('sends the events of a burst together in one request', async () => {
    const receiver = await startReceiver();
    const { url } = await startServer({ webhooks: [{ url: receiver.url, events: ['member_added'] }], webhookSecret: SECRET, webhookBatchWait: 300 });
    await Promise.all(['a', 'b', 'c', 'd'].map((user) => join(url('1'), user)));
    await receiver.waitForEvents(4);
    expect(receiver.requests).to.have.length(1);
    expect(receiver.events().map((e) => e.user)).to.have.members(['a', 'b', 'c', 'd']);
  });

  it('sends each endpoint only the events it asked for', async () => {
    const joins = await startReceiver();
    const channels = await startReceiver();
    const { url } = await startServer({
      webhooks: [
        { url: joins.url, events: ['member_added'] },
        { url: channels.url, events: ['channel_occupied'] },
      ],
      webhookSecret: SECRET,
      webhookBatchWait: 10,
    });
    await join(url('1'), 'alice');
    await join(url('1'), 'bob');
    await joins.waitForEvents(2);
    await channels.waitForEvents(1);
    expect(joins.events().map((e) => e.name)).to.deep.equal(['member_added', 'member_added']);
    expect(channels.events()).to.deep.equal([{ name: 'channel_occupied', path: '/channel', channel: '1' }]);
  });

  it('retries a request the endpoint failed, with the same events, until it succeeds', async () => {
    const receiver = await startReceiver((n) => (n < 2 ? 503 : 200));
    const { url, http } = await startServer({ webhooks: [{ url: receiver.url, events: ['member_added'] }], webhookSecret: SECRET, webhookBatchWait: 10 });
    await join(url('1'), 'alice');
    await receiver.waitForEvents(1);
    expect(receiver.requests).to.have.length(3);
    expect(receiver.requests[0].raw.toString()).to.include('"user":"alice"');
    expect(receiver.events()).to.deep.equal([{ name: 'member_added', path: '/channel', channel: '1', user: 'alice' }]);
    for (const request of receiver.requests) expect(request.headers['x-rooms-signature']).to.equal(expectedSignature(request.raw));
    expect(await metric(http, 'rooms_webhook_events_total{outcome="sent"}')).to.equal(1);
  });

  it('drops the events after the last retry, counts them, and keeps going', async () => {
    const receiver = await startReceiver((n) => (n < 2 ? 500 : 200));
    const { url, http } = await startServer({ webhooks: [{ url: receiver.url, events: ['member_added'] }], webhookSecret: SECRET, webhookBatchWait: 10, webhookRetries: 1 });
    await join(url('1'), 'alice');
    await eventually(() => receiver.requests.length === 2, 'the first request and its retry');
    // The failure is counted once the server has read the 500: scrape until it shows.
    let failed = 0;
    while (failed !== 1) failed = await metric(http, 'rooms_webhook_events_total{outcome="failed"}');
    await join(url('1'), 'bob');
    await receiver.waitForEvents(1);
    expect(receiver.events()).to.deep.equal([{ name: 'member_added', path: '/channel', channel: '1', user: 'bob' }]);
  });

  it('never slows the fan-out: with an endpoint that never answers, messages flow and new events are dropped past the queue size', async () => {
    const receiver = await startReceiver(() => null);
    const { url, http } = await startServer({
      webhooks: [{ url: receiver.url, events: ['member_added', 'member_removed'] }],
      webhookSecret: SECRET,
      webhookBatchWait: 0,
      webhookQueueSize: 2,
      // Long enough for the test; short, because shutdown waits this long for the last request.
      webhookTimeout: 2_000,
    });
    const alice = await join(url('1'), 'alice');
    for (const user of ['b', 'c', 'd', 'e']) await join(url('1'), user);
    for (let i = 0; i < 20; i += 1) {
      const reply = await alice.client.request({ event: 'broadcast', message: i, id: i }, 'message');
      expect(reply.message).to.equal(i);
      await alice.client.next('ack');
    }
    expect(await metric(http, 'rooms_webhook_events_total{outcome="dropped"}')).to.be.at.least(1);
  });

  it('sends what is still queued, members leaving included, in one last request at shutdown', async () => {
    const receiver = await startReceiver();
    const { url, server } = await startServer({ webhooks: [{ url: receiver.url, events: ALL }], webhookSecret: SECRET, webhookBatchWait: 60_000 });
    await join(url('1'), 'alice');
    await server.close();
    expect(receiver.requests).to.have.length(1);
    expect(receiver.events().map((e) => e.name)).to.deep.equal(['channel_occupied', 'member_added', 'member_removed', 'channel_vacated']);
  });

  it('a server whose endpoint refuses connections keeps serving and closes cleanly', async () => {
    const receiver = await startReceiver();
    const dead = receiver.url.replace(/:\d+\//, ':1/');
    const { url, server } = await startServer({ webhooks: [{ url: dead, events: ALL }], webhookSecret: SECRET, webhookBatchWait: 0, webhookRetries: 3 });
    const alice = await join(url('1'), 'alice');
    const reply = await alice.client.request({ event: 'broadcast', message: 'still here' }, 'message');
    expect(reply.message).to.equal('still here');
    await server.close();
  });
});
