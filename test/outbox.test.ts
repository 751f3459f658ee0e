import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { Outbox, type Recipient } from '../src/transport/outbox.js';
import { onCleanup } from './support/cleanup.js';
import { eventually } from './support/eventually.js';
import { openSocket } from './support/raw.js';

/** A recipient on a real loopback socket, whose far end counts and checks what arrives. */
interface Member extends Recipient {
  received: () => number;
}

/** `count` connected loopback pairs: the server's ends as recipients, the clients' ends reading. */
async function members(count: number, expected: (member: number, offset: number) => number): Promise<Member[]> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const clients = await Promise.all(Array.from({ length: count }, () => openSocket(port)));
  while (accepted.length < count) await once(server, 'connection');
  return clients.map((client, i) => {
    const socket = accepted.find((s) => s.remotePort === client.localPort)!;
    onCleanup(() => void socket.destroy());
    let received = 0;
    client.on('data', (chunk: Buffer) => {
      for (const byte of chunk) {
        // Every byte says which member it was queued for and where in its stream it belongs.
        if (byte !== expected(i, received)) throw new Error(`member ${i} got byte ${byte} at ${received}`);
        received += 1;
      }
    });
    return { pending: null, link: { socket, readyState: WebSocket.OPEN }, received: () => received };
  });
}

describe('outbox', () => {
  it('writes a flush too long for one turn of the event loop in slices, each member its frames in order, and takes new frames only once all are written', async () => {
    // 300 members, 8 frames of 32 KB each: 75 MB to write, far more than one 5 ms slice holds.
    const count = 300;
    const frames = 8;
    const size = 32 * 1024;
    const byteOf = (member: number, frame: number): number => (member * 7 + frame) % 251;
    const list = await members(count, (member, offset) => byteOf(member, Math.floor(offset / size)));
    // A budget of 0: the tick is full from its first frame, so a count left over from the slices shows.
    const outbox = new Outbox<Member>(64 * 1024 * 1024, () => expect.fail('no member is too slow here'), 0);
    const fullAtFlushed: boolean[] = [];
    outbox.onFlushed(() => fullAtFlushed.push(outbox.full));
    for (let f = 0; f < frames; f += 1) {
      for (const [m, member] of list.entries()) expect(outbox.send(member, Buffer.alloc(size, byteOf(m, f)))).to.equal(true);
    }
    // Runs after the flush's first slice, in the same turn of the loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const waiting = list.filter((member) => member.pending !== null).length;
    expect(waiting, 'members left for later slices').to.be.above(0).and.below(count);
    expect(outbox.full, 'a flush under way holds new frames from clients back').to.equal(true);
    expect(fullAtFlushed).to.deep.equal([]);

    // A frame more for everyone, as a delivery from Redis or a ping comes in between slices: after
    // the frames of members this flush has reached (in the next flush), and after those of members
    // it has not (in this one).
    for (const [m, member] of list.entries()) expect(outbox.send(member, Buffer.alloc(size, byteOf(m, frames)))).to.equal(true);
    const total = (frames + 1) * size;
    await eventually(() => list.every((member) => member.received() === total), 'every member reading all its frames, in order', 20_000);
    expect(list.every((member) => member.pending === null)).to.equal(true);
    // Two flushes, and after each the tick is open again, for the frames clients sent meanwhile.
    expect(fullAtFlushed).to.deep.equal([false, false]);
  });
});
