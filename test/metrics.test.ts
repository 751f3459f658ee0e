import { expect } from 'chai';
import { connect, join } from './support/client.js';
import { eventually } from './support/eventually.js';
import { startServer } from './support/server.js';

/** The value of one series in a Prometheus text exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(http: (path: string) => string): Promise<string> {
  const res = await fetch(http('/metrics'));
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('metrics', () => {
  it('GET /metrics counts connections, channels and members per path', async () => {
    const { http, url } = await startServer({ paths: ['/channel', '/room'] });
    await join(url('1'), 'alice');
    await join(url('1'), 'bob');
    await connect(url('2', '/room'));
    const text = await scrape(http);
    expect(sample(text, 'rooms_connections')).to.equal(3);
    expect(sample(text, 'rooms_channels')).to.equal(2);
    expect(sample(text, 'rooms_members{path="/channel"}')).to.equal(2);
    expect(sample(text, 'rooms_members{path="/room"}')).to.equal(0);
  });

  it('counts messages in and out by event, and their bytes', async () => {
    const { http, url } = await startServer();
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    alice.client.send({ event: 'broadcast', message: 'hi' });
    await alice.client.next('message');
    await bob.client.next('message');
    const text = await scrape(http);
    expect(sample(text, 'rooms_messages_received_total{event="auth"}')).to.equal(2);
    expect(sample(text, 'rooms_messages_received_total{event="broadcast"}')).to.equal(1);
    expect(sample(text, 'rooms_messages_sent_total{event="message"}')).to.equal(2);
    expect(sample(text, 'rooms_messages_sent_total{event="token"}')).to.equal(2);
    expect(sample(text, 'rooms_received_bytes_total')).to.be.above(60);
    expect(sample(text, 'rooms_sent_bytes_total')).to.be.above(100);
  });

  it('counts API messages as received event "api", and custom events as sent event "custom"', async () => {
    const key = 'metrics-key-0123456789';
    const { http, url } = await startServer({ apiKeys: [{ name: 'backend', key }] });
    const alice = await join(url('1'), 'alice');
    const res = await fetch(http('/api/channels/channel/1/messages'), { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: '{"message":1,"event":"order.shipped"}' });
    expect(res.status).to.equal(200);
    await alice.client.next('order.shipped');
    const text = await scrape(http);
    expect(sample(text, 'rooms_messages_received_total{event="api"}')).to.equal(1);
    expect(sample(text, 'rooms_messages_sent_total{event="custom"}')).to.equal(1);
    expect(text).to.not.include('order.shipped');
  });

  it('counts error events by code and refusals by status and code, never naming a channel or user', async () => {
    const { http, url } = await startServer();
    const client = await connect(url('secret-room'));
    client.send('not json');
    await client.next('error');
    await fetch(http('/nope')).then((r) => r.body?.cancel());
    const refused = await connect(url('x')).catch(() => null);
    expect(refused).to.not.equal(null);
    const bad = await fetch(http('/channel?id=1')).then((r) => r.status);
    expect(bad).to.equal(426);
    const text = await scrape(http);
    expect(sample(text, 'rooms_errors_total{code="bad_json"}')).to.equal(1);
    expect(sample(text, 'rooms_refusals_total{status="404",code="not_found"}')).to.equal(1);
    expect(sample(text, 'rooms_refusals_total{status="426",code="upgrade_required"}')).to.equal(1);
    expect(text).to.not.include('secret-room');
  });

  it('counts refused upgrades', async () => {
    const { http, port } = await startServer();
    const ws = await connect(`ws://127.0.0.1:${port}/elsewhere?id=1`).then(() => 'open', (err: Error) => err.message);
    expect(ws).to.match(/404/);
    expect(sample(await scrape(http), 'rooms_refusals_total{status="404",code="unknown_path"}')).to.equal(1);
  });

  it('counts reaped channels, and starts the resume and engine series', async () => {
    const { http, url, server } = await startServer();
    const client = await connect(url('1'));
    client.terminate();
    await eventually(() => server.connections === 0, 'the connection to close');
    expect(await server.registry.reap()).to.equal(1);
    const before = await scrape(http);
    expect(sample(before, 'rooms_channels_reaped_total')).to.equal(0);
    expect(sample(before, 'rooms_resumes_total{outcome="recovered"}')).to.equal(0);
    expect(sample(before, 'rooms_resumes_total{outcome="not_recovered"}')).to.equal(0);
    expect(sample(before, 'rooms_engine_up{engine="memory"}')).to.equal(1);
  });

  it('includes the Node process metrics: event loop lag and heap', async () => {
    const { http } = await startServer();
    const text = await scrape(http);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).to.be.a('number');
    expect(text).to.match(/^nodejs_heap_size_used_bytes \d+/m);
  });

  it('keeps the metrics of two servers in one process apart', async () => {
    const a = await startServer();
    const b = await startServer();
    await join(a.url('1'), 'alice');
    expect(sample(await scrape(a.http), 'rooms_connections')).to.equal(1);
    expect(sample(await scrape(b.http), 'rooms_connections')).to.equal(0);
  });

  it('counts members closed as too slow', async () => {
    const { http, url } = await startServer({ maxBufferedBytes: 1_024, messageRate: 0 });
    const reader = await join(url('1'), 'reader');
    const writer = await join(url('1'), 'writer');
    (reader.client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'x'.repeat(8_000);
    // Loopback's kernel buffers take megabytes before the server's own queue grows: send until it does.
    let slow = 0;
    while (slow === 0) {
      for (let i = 0; i < 50; i += 1) writer.client.send({ event: 'talk_with', auth: writer.token, message: big });
      slow = sample(await scrape(http), 'rooms_slow_consumers_total') ?? -1;
    }
    expect(slow).to.equal(1);
  });
});
