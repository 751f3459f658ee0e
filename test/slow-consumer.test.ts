import type { Socket } from 'node:net';
import { expect } from 'chai';
import { join } from './support/client.js';
import { eventually } from './support/eventually.js';
import { startServer } from './support/server.js';

const CAP = 256 * 1024;
const MESSAGES = 20_000;
const WINDOW = 50;
const PAYLOAD = 'x'.repeat(1_000);

/**
 * Buffers and heap in use after a full collection (mocha runs node with --expose-gc). Frames
 * queued for a member are buffers; the heap also moves with whatever earlier suites left to the
 * JIT and the collector, so it gets a bound of its own.
 */
function memory(): { buffers: number; heap: number } {
  global.gc?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { buffers: arrayBuffers, heap: heapUsed };
}

interface Pausable {
  _socket: { pause(): void; resume(): void };
}

describe('slow consumers', () => {
  it('a member that never reads is closed with 4000 "too slow" while the others get every message, and memory stays bounded', async () => {
    const { url, server } = await startServer({ maxBufferedBytes: CAP, messageRate: 0 });
    const publisher = await join(url('1'), 'publisher');
    const reader = await join(url('1'), 'reader');
    const sleeper = await join(url('1'), 'sleeper');
    (sleeper.client.ws as unknown as Pausable)._socket.pause();
    publisher.client.ws.removeAllListeners('message');
    reader.client.ws.removeAllListeners('message');
    const queued = server.registry.get('/channel', '1')!.members.get('sleeper')!.link.socket;
    const before = memory();

    // The reader takes frames straight from ws and checks their order; the publisher keeps at
    // most WINDOW messages ahead of it, as a well-behaved client would.
    let received = 0;
    let outOfOrder: string | null = null;
    let wake: (() => void) | null = null;
    reader.client.ws.on('message', (data: Buffer) => {
      const { message } = JSON.parse(data.toString()) as { message: { n: number } };
      if (message.n !== received && outOfOrder === null) outOfOrder = `expected ${received}, got ${message.n}`;
      received += 1;
      wake?.();
    });
    let peakQueued = 0;
    for (let n = 0; n < MESSAGES; n += WINDOW) {
      for (let i = n; i < n + WINDOW; i += 1) publisher.client.send({ event: 'broadcast', message: { n: i, pad: PAYLOAD } });
      while (received < n + WINDOW) await new Promise<void>((resolve) => (wake = resolve));
      peakQueued = Math.max(peakQueued, queued.writableLength);
    }
    const after = memory();

    expect(outOfOrder).to.equal(null);
    expect(received).to.equal(MESSAGES);
    // 20 MB went to the sleeper; without the cap the server would hold nearly all of it.
    expect(peakQueued).to.be.below(CAP + WINDOW * 2 * PAYLOAD.length);
    // Buffers are counted process-wide, and move by several MB with what earlier suites' sockets
    // release meanwhile (7.3 MB once in a clean-clone CI run): half the sleeper's 20 MB is the bound.
    expect(after.buffers - before.buffers, 'buffers held').to.be.below(10 * 1024 * 1024);
    // Holding the sleeper's share would be 20 MB of buffers; keeping each 1 KB message on the heap, 20 MB of heap.
    expect(after.heap - before.heap, 'heap grown').to.be.below(12 * 1024 * 1024);
    (sleeper.client.ws as unknown as Pausable)._socket.resume();
    expect(await sleeper.client.closed).to.deep.equal({ code: 4000, reason: 'too slow' });
  });
});

describe('a member closed as too slow', () => {
  it('publishes nothing more, and the metrics count only what was queued to open members', async () => {
    const { url, server } = await startServer({ maxBufferedBytes: 64 * 1024, messageRate: 0 });
    const publisher = await join(url('1'), 'publisher');
    const reader = await join(url('1'), 'reader');
    const sleeper = await join(url('1'), 'sleeper');
    (sleeper.client.ws as unknown as Pausable)._socket.pause();
    const member = server.registry.get('/channel', '1')!.members.get('sleeper')!;
    let published = 0;
    while (member.state === 'live') {
      publisher.client.send({ event: 'talk_with', auth: publisher.token, message: { n: published, pad: PAYLOAD } });
      published += 1;
      expect((await reader.client.next('message')).message).to.deep.include({ n: published - 1 });
    }
    expect(member.state).to.equal('closing');
    const metric = await server.metrics.registry.getSingleMetric('rooms_messages_sent_total')!.get();
    const counted = metric.values.find((v) => v.labels.event === 'message')!.value;
    // Every message to the reader, and to the sleeper only those queued before it was given up on.
    expect(counted).to.be.within(published + 1, 2 * published - 1);

    // The sleeper still writes: once the server has read its broadcast, a marker from the publisher follows it.
    const socket = member.link.socket as Socket;
    const read = socket.bytesRead;
    sleeper.client.send({ event: 'broadcast', message: 'after it was closed' });
    await eventually(() => socket.bytesRead > read, "the sleeper's broadcast to reach the server");
    publisher.client.send({ event: 'talk_with', auth: publisher.token, message: 'marker' });
    expect((await reader.client.next('message')).message).to.equal('marker');
  });
});

describe('offered more than a tick delivers', () => {
  it('holds frames back to later ticks, pausing their sender, and every member still gets every message once, in order', async () => {
    const { url, server } = await startServer({ messageRate: 0, tickBudget: 0 });
    const publisher = await join(url('1'), 'publisher');
    const readers = await Promise.all(Array.from({ length: 40 }, (_, i) => join(url('1'), `reader-${i}`)));
    // 1,000 broadcasts in one write, to 41 members; with tickBudget 0 a tick takes one of them.
    const socket = (publisher.client.ws as unknown as { _socket: Socket })._socket;
    socket.cork();
    for (let n = 0; n < 1_000; n += 1) publisher.client.send({ event: 'broadcast', message: n });
    socket.uncork();
    for (const member of [publisher, ...readers]) {
      for (let n = 0; n < 1_000; n += 1) expect((await member.client.next('message')).message).to.equal(n);
    }
    const deferred = await server.metrics.registry.getSingleMetric('rooms_deferred_frames_total')!.get();
    expect(deferred.values[0].value).to.be.above(0);
    // Its socket reads again once the backlog is through.
    expect((await publisher.client.request({ event: 'broadcast', message: 'after' })).message).to.equal('after');
  });

  it('carries out what a client sent before it closed, though it waited in the backlog', async () => {
    const { url } = await startServer({ messageRate: 0, tickBudget: 0 });
    const poster = await join(url('1'), 'poster');
    const readers = await Promise.all(Array.from({ length: 40 }, (_, i) => join(url('1'), `reader-${i}`)));
    // 600 broadcasts to 41 members, more than a tick takes, and the close frame, in one write.
    const socket = (poster.client.ws as unknown as { _socket: Socket })._socket;
    socket.cork();
    for (let n = 0; n < 600; n += 1) poster.client.send({ event: 'broadcast', message: n });
    poster.client.ws.close(1000);
    socket.uncork();
    for (const reader of readers) {
      for (let n = 0; n < 600; n += 1) expect((await reader.client.next('message')).message).to.equal(n);
    }
  });

  it('closes a connection the server gives up on while its frames wait, without waiting for the 30 s close timer', async () => {
    const { url, server } = await startServer({ tickBudget: 0 });
    await Promise.all(Array.from({ length: 5 }, (_, i) => join(url('1'), `reader-${i}`)));
    const flooder = await join(url('1'), 'flooder');
    // A tick takes one frame: the rest wait, and past the burst it is closed with 4429 while some still do.
    const socket = (flooder.client.ws as unknown as { _socket: Socket })._socket;
    socket.cork();
    for (let n = 0; n < 100; n += 1) flooder.client.send({ event: 'helloworld', message: n });
    socket.uncork();
    expect(await flooder.client.closed).to.deep.equal({ code: 4429, reason: 'rate limited' });
    const deferred = await server.metrics.registry.getSingleMetric('rooms_deferred_frames_total')!.get();
    expect(deferred.values[0].value).to.be.above(80);
    // Its socket reads again, so the server sees the close reply: the name is free at once, not in 30 s.
    const channel = server.registry.get('/channel', '1')!;
    await eventually(() => !channel.members.has('flooder'), 'the server to let go of the flooder');
  });
});
