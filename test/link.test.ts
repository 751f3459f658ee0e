import { createServer, type Socket } from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import { Receiver } from 'ws';
import { Link, type LinkEvents } from '../src/transport/link.js';
import { onCleanup } from './support/cleanup.js';
import { join } from './support/client.js';
import { openSocket } from './support/raw.js';
import { startServer } from './support/server.js';

const MAX_PAYLOAD = 1_000;

/** What a frame reader made of the bytes it was given, in order. */
type Event = ['message', string, boolean] | ['pong'] | ['ping', string] | ['close', number, string] | ['error', number];

interface FrameSpec {
  opcode: number;
  fin: boolean;
  rsv: number;
  masked: boolean;
  key: Uint8Array;
  payload: Uint8Array;
  /** How the length is written: the shortest form, or 16 or 64 bits whatever it is. */
  width: 'short' | '16' | '64';
}

function encode(f: FrameSpec): Buffer {
  const n = f.payload.length;
  const width = f.width === 'short' && n >= 126 ? (n < 65_536 ? '16' : '64') : f.width === '16' && n >= 65_536 ? '64' : f.width;
  const header = width === 'short' ? Buffer.from([0, n]) : width === '16' ? Buffer.alloc(4) : Buffer.alloc(10);
  if (width === '16') {
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else if (width === '64') {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  header[0] = (f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode;
  if (!f.masked) return Buffer.concat([header, f.payload]);
  header[1] |= 0x80;
  const masked = Buffer.from(f.payload.map((b, i) => b ^ f.key[i % 4]));
  return Buffer.concat([header, f.key, masked]);
}

const utf8 = (text: string): Uint8Array => Buffer.from(text);
const closePayload = (code: number, reason: Uint8Array): Uint8Array => {
  const out = Buffer.alloc(2 + reason.length);
  out.writeUInt16BE(code, 0);
  out.set(reason, 2);
  return out;
};

/** Text payloads: valid UTF-8 mostly, sometimes bytes that are not. */
const text = fc.oneof({ weight: 5, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map(utf8) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) });
const closeCode = fc.oneof(fc.constantFrom(1000, 1001, 1003, 1004, 1005, 1006, 1007, 1011, 1014, 1015, 2999, 3000, 4999, 5000), fc.integer({ min: 0, max: 6000 }));
const payloadFor = (opcode: number): fc.Arbitrary<Uint8Array> => {
  if (opcode === 0x1 || opcode === 0x0) return text;
  if (opcode === 0x8) {
    return fc.oneof(
      { weight: 3, arbitrary: fc.tuple(closeCode, fc.oneof(fc.string({ maxLength: 40 }).map(utf8), fc.uint8Array({ maxLength: 10 }))).map(([c, r]) => closePayload(c, r)) },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2 }) },
    );
  }
  if (opcode >= 0x8) return fc.uint8Array({ maxLength: 130 });
  return fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ maxLength: 400 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 900, maxLength: 1_200 }) });
};

const frameSpec: fc.Arbitrary<FrameSpec> = fc
  .oneof(
    { weight: 12, arbitrary: fc.constantFrom(0x1, 0x2) },
    { weight: 3, arbitrary: fc.constant(0x0) },
    { weight: 4, arbitrary: fc.constantFrom(0x9, 0xa) },
    { weight: 2, arbitrary: fc.constant(0x8) },
    { weight: 1, arbitrary: fc.constantFrom(0x3, 0x7, 0xb, 0xf) },
  )
  .chain((opcode) =>
    fc.record({
      opcode: fc.constant(opcode),
      fin: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      rsv: fc.oneof({ weight: 40, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }),
      masked: fc.oneof({ weight: 40, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      key: fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 4 }) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(4)) }),
      payload: payloadFor(opcode),
      width: fc.constantFrom<FrameSpec['width']>('short', 'short', 'short', '16', '64'),
    }),
  );

/** A header announcing more than 2^53 - 1 bytes, which neither reader can hold. */
const HUGE = Buffer.from([0x82, 0xff, 0x00, 0x20, 0, 0, 0, 0, 0, 0]);
/** The normal end every stream gets, so that both readers always stop: a close with 1000. */
const BYE = encode({ opcode: 0x8, fin: true, rsv: 0, masked: true, key: new Uint8Array([1, 2, 3, 4]), payload: closePayload(1000, utf8('bye')), width: 'short' });

/** ws's status code for an error, kept under a symbol of its own. */
function statusOf(err: Error): number {
  const key = Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code');
  return key === undefined ? -1 : (err as unknown as Record<symbol, number>)[key];
}

/** ws's Receiver given the chunks, with the events it emits; it stops taking chunks once it ended. */
async function throughWs(chunks: Buffer[]): Promise<Event[]> {
  const events: Event[] = [];
  const receiver = new Receiver({ isServer: true, maxPayload: MAX_PAYLOAD });
  let over = false;
  receiver.on('message', (data: Buffer, isBinary: boolean) => events.push(['message', data.toString('hex'), isBinary]));
  receiver.on('ping', (data: Buffer) => events.push(['ping', data.toString('hex')]));
  receiver.on('pong', () => events.push(['pong']));
  receiver.on('conclude', (code: number, reason: Buffer) => {
    over = true;
    events.push(['close', code, reason.toString('hex')]);
  });
  receiver.on('error', (err: Error) => {
    over = true;
    events.push(['error', statusOf(err)]);
  });
  const done = new Promise((resolve) => receiver.once('close', resolve));
  for (const chunk of chunks) {
    if (over) break;
    receiver.write(chunk);
  }
  if (!over) receiver.end();
  await done;
  return events;
}

/** A socket pair on loopback: the server's side for a Link, the client's to read what the Link writes. */
async function socketPair(): Promise<{ server: Socket; client: Socket }> {
  const listener = createServer();
  onCleanup(() => {
    listener.close();
  });
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const client = await openSocket(address.port);
  const server = await accepted;
  onCleanup(() => {
    server.destroy();
  });
  return { server, client };
}

/**
 * A Link given the chunks: the events it tells its owner, and what it wrote to the client (pongs,
 * then its close frame) until it ended the socket.
 */
async function throughLink(chunks: Buffer[]): Promise<{ events: Event[]; written: Buffer; closes: number }> {
  const { server, client } = await socketPair();
  const received: Buffer[] = [];
  client.on('data', (chunk: Buffer) => received.push(chunk));
  const ended = new Promise((resolve) => client.once('end', resolve));
  const events: Event[] = [];
  let closes = 0;
  const recorder: LinkEvents<null> = {
    message: (_, data, isBinary) => events.push(['message', data.toString('hex'), isBinary]),
    pong: () => events.push(['pong']),
    error: (_, err) => events.push(['error', err.status]),
    close: () => (closes += 1),
  };
  const link = new Link<null>(server, { maxPayload: MAX_PAYLOAD, events: recorder });
  link.owner = null;
  link.start(Buffer.alloc(0));
  for (const chunk of chunks) link.read(chunk);
  await ended;
  const closed = new Promise((resolve) => server.once('close', resolve));
  client.end();
  await closed;
  return { events, written: Buffer.concat(received), closes };
}

/** What the client should receive from a Link, from ws's events: a pong per ping, then the close frame. */
function expectedWrites(events: Event[]): Buffer {
  const out: Buffer[] = [];
  const control = (first: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([first, payload.length]), payload]);
  for (const event of events) {
    if (event[0] === 'ping') out.push(control(0x8a, Buffer.from(event[1], 'hex')));
    if (event[0] === 'close') out.push(event[1] === 1005 ? Buffer.from([0x88, 0]) : control(0x88, Buffer.concat([closePayload(event[1], Buffer.from(event[2], 'hex'))])));
    if (event[0] === 'error') out.push(control(0x88, Buffer.from(closePayload(event[1], new Uint8Array(0)))));
  }
  return Buffer.concat(out);
}

/** Cuts bytes into chunks of the given sizes, taken in turn. */
function cut(bytes: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i += 1) {
    const size = sizes[i % sizes.length];
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('link: the frame reader', () => {
  it('makes of any bytes what ws\'s Receiver makes of them: the same messages, pongs, close code and errors, however the bytes are cut', async () => {
    const stream = fc.tuple(fc.array(frameSpec, { maxLength: 12 }), fc.boolean(), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }));
    await fc.assert(
      fc.asyncProperty(stream, async ([frames, huge, sizes]) => {
        const bytes = Buffer.concat([...frames.map(encode), ...(huge ? [HUGE] : []), BYE]);
        // ws's Receiver keeps views of the chunks it is given, and the Link unmasks in place: each gets its own copy.
        const wsEvents = await throughWs(cut(Buffer.from(bytes), sizes));
        const link = await throughLink(cut(Buffer.from(bytes), sizes));
        expect(link.events).to.deep.equal(wsEvents.filter((e) => e[0] !== 'ping' && e[0] !== 'close'));
        expect(link.written.toString('hex')).to.equal(expectedWrites(wsEvents).toString('hex'));
        expect(link.closes).to.equal(1);
      }),
      { numRuns: 1_000 },
    );
  });

  it('takes over the socket after ws\'s handshake: ws adds no reader of its own, and a message arrives in one piece', async () => {
    const { url, server } = await startServer({ maxMessageBytes: 60_000 });
    const { client: alice } = await join(url('1'), 'alice');
    const { client: bob } = await join(url('1'), 'bob');
    const link = server.registry.get('/channel', '1')!.members.get('alice')!.link;
    expect(link.socket.listenerCount('data')).to.equal(1);
    alice.send({ event: 'broadcast', message: 'x'.repeat(50_000) });
    expect((await bob.next('message')).message).to.have.length(50_000);
  });
});
