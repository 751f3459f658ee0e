import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import WebSocket from 'ws';
import { Client, join } from './support/client.js';
import { onCleanup } from './support/cleanup.js';
import { eventually } from './support/eventually.js';
import { needRedis, RedisServer } from './support/redis.js';
import { startServer } from './support/server.js';

/** Seed 000's sendMessage: DataView.setInt32 for the type, then the JSON payload's UTF-8 bytes. */
function sendMessage(id: number, payload: unknown): ArrayBuffer {
  const payloadBuff = new TextEncoder().encode(JSON.stringify(payload));
  const buff = new Uint8Array(4 + payloadBuff.byteLength);
  const dv = new DataView(buff.buffer);
  dv.setInt32(0, id);
  buff.set(payloadBuff, 4);
  return dv.buffer;
}

/** Seed 000's onmessage: DataView.getInt32 for the type, the rest is the payload. */
function handleMessage(data: Buffer): { type: number; payload: Record<string, unknown> } {
  const view = new Uint8Array(data).buffer;
  const dv = new DataView(view);
  return { type: dv.getInt32(0), payload: JSON.parse(new TextDecoder().decode(view.slice(4))) as Record<string, unknown> };
}

async function envelopeClient(url: string, user: string): Promise<Client> {
  const client = new Client(url, {}, ['rooms.envelope']);
  await client.opened();
  expect(client.ws.protocol).to.equal('rooms.envelope');
  await client.request({ event: 'auth', user }, 'token');
  return client;
}

/**
 * Seed 000's client code, as the seed prints it: its encoding block (sendMessage), its decoding
 * block (ws.onmessage) and sendChatMessage, read from the seed document itself.
 */
function seed000Code(): string {
  const text = readFileSync(new URL('../../shared/seeds/000_5713e21310d3ddc5.txt', import.meta.url), 'utf8');
  const blocks = [...text.matchAll(/```(?:javascript|typescript)\n([\s\S]*?)```/g)].map((m) => m[1]);
  const wanted = blocks.filter((b) => b.includes('function sendMessage') || b.includes('ws.onmessage') || b.includes('function sendChatMessage'));
  expect(wanted).to.have.length(3);
  return wanted.join('\n');
}

/** Runs seed 000's client code unchanged on a socket: what the page around it would provide is given here. */
function seed000Client(url: string): { sendChatMessage: (text: string) => void; received: { type: number; payload: Record<string, unknown> }[]; opened: Promise<void> } {
  const ws = new WebSocket(url, 'rooms.envelope');
  ws.binaryType = 'arraybuffer';
  onCleanup(() => ws.terminate());
  const received: { type: number; payload: Record<string, unknown> }[] = [];
  const context = {
    ws,
    MessageType: { Chat: 0 },
    TextEncoder,
    Uint8Array,
    DataView,
    JSON,
    console: { log: () => undefined },
    ab2str: (buff: Uint8Array) => new TextDecoder().decode(buff),
    handleMessage: (type: number, payload: ArrayBuffer) => received.push({ type, payload: JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown> }),
  };
  runInNewContext(`${seed000Code()}\nthis.sendChatMessage = sendChatMessage;`, context);
  const { sendChatMessage } = context as unknown as { sendChatMessage: (text: string) => void };
  return { sendChatMessage, received, opened: new Promise((resolve) => ws.once('open', () => resolve())) };
}

describe('typed binary envelope (rooms.envelope)', () => {
  it('seed 000\'s own client, which never sends auth, chats with JSON members under a generated session name', async () => {
    const { url } = await startServer();
    const json = await join(url('1'), 'alice');
    const seed = seed000Client(url('1'));
    await seed.opened;
    seed.sendChatMessage('hello from kratos');
    seed.sendChatMessage('and again');
    const first = await json.client.next('message');
    expect(first).to.include({ message: 'hello from kratos', seq: 1 });
    expect(first.from).to.match(/^session-[0-9a-f]{12}$/);
    expect(await json.client.next('message')).to.include({ message: 'and again', from: first.from, seq: 2 });
    const list = await json.client.request({ event: 'user_list', auth: json.token }, 'user_list');
    expect(list.message).to.deep.equal(['alice', first.from]);
    json.client.send({ event: 'broadcast', message: 'hello session' });
    await eventually(() => seed.received.length >= 3, 'the seed client to receive three messages');
    expect(seed.received.map((r) => r.payload.message)).to.deep.equal(['hello from kratos', 'and again', 'hello session']);
    expect(seed.received.every((r) => r.type === 0)).to.equal(true);
    expect(seed.received[2].payload).to.include({ sender: 'alice', seq: 3 });
  });

  it('with Redis, a session\'s envelopes keep their order while its generated name is claimed and its history read', async function () {
    needRedis(this);
    const redis = await RedisServer.start();
    const { url } = await startServer({ redis: redis.url, messageRate: 0 });
    const json = await join(url('1'), 'alice');
    const seed = new Client(url('1'), {}, ['rooms.envelope']);
    await seed.opened();
    // One at a time, as a user types: each frame its own write, some arriving during the claim's round trips.
    for (let n = 1; n <= 40; n += 1) {
      seed.send(Buffer.from(sendMessage(0, { message: `m${n}`, sender: '', timestamp: '' })));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const got: unknown[] = [];
    for (let n = 1; n <= 40; n += 1) got.push((await json.client.next('message')).message);
    expect(got).to.deep.equal(Array.from({ length: 40 }, (_, i) => `m${i + 1}`));
  });

  it('in token mode, an envelope without auth is still refused with not_authenticated', async () => {
    const { url } = await startServer({ authMode: 'token', jwtSecret: 'a-secret-shared-with-the-app-0123456789' });
    const client = new Client(url('1'), {}, ['rooms.envelope']);
    await client.opened();
    client.send(Buffer.from(sendMessage(0, { message: 'hi', sender: '', timestamp: '' })));
    expect(await client.next('error')).to.include({ code: 'not_authenticated' });
  });

  it('an envelope client and a JSON client see each other\'s messages, each in its own format', async () => {
    const { url } = await startServer();
    const kratos = await envelopeClient(url('1'), 'kratos');
    const json = await join(url('1'), 'alice');
    kratos.send(Buffer.from(sendMessage(0, { message: 'hello from the seed client', sender: '', timestamp: '' })));
    const own = handleMessage(await kratos.nextBinary());
    expect(own.type).to.equal(0);
    expect(own.payload).to.include({ message: 'hello from the seed client', sender: 'kratos', channel: '1', seq: 1 });
    expect(new Date(own.payload.timestamp as string).getTime()).to.be.closeTo(Date.now(), 60_000);
    expect(await json.client.next('message')).to.include({ message: 'hello from the seed client', from: 'kratos', seq: 1 });

    json.client.send({ event: 'broadcast', message: 'hello from JSON' });
    expect(await json.client.next('message')).to.include({ message: 'hello from JSON', seq: 2 });
    const got = handleMessage(await kratos.nextBinary());
    expect(got.type).to.equal(0);
    expect(got.payload).to.include({ message: 'hello from JSON', sender: 'alice', seq: 2 });
  });

  it('puts a message that is not a string into the ChatMessage as JSON text', async () => {
    const { url } = await startServer();
    const kratos = await envelopeClient(url('1'), 'kratos');
    const json = await join(url('1'), 'alice');
    json.client.send({ event: 'talk_with', auth: json.token, message: { x: [1, 2] } });
    expect(handleMessage(await kratos.nextBinary()).payload.message).to.equal('{"x":[1,2]}');
  });

  it('a direct message arrives in the envelope with to, the names it was sent to', async () => {
    const { url } = await startServer();
    const kratos = await envelopeClient(url('1'), 'kratos');
    const json = await join(url('1'), 'alice');
    json.client.send({ event: 'talk_with', auth: json.token, message: 'psst', with_clients: ['kratos'] });
    expect(handleMessage(await kratos.nextBinary()).payload).to.deep.include({ message: 'psst', sender: 'alice', to: ['kratos'] });
  });

  it('answers a frame that is not a type-0 envelope with bad_envelope and keeps the connection', async () => {
    const { url } = await startServer();
    const kratos = await envelopeClient(url('1'), 'kratos');
    kratos.send(Buffer.from([0, 0]));
    expect(await kratos.next('error')).to.include({ code: 'bad_envelope', message: 'envelope too short: 2 bytes, a 4-byte type comes first' });
    kratos.send(Buffer.from(sendMessage(7, { message: 'x' })));
    expect((await kratos.next('error')).message).to.equal('unknown envelope type 7; type 0 (ChatMessage) is the one there is');
    kratos.send(Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from('not json')]));
    expect((await kratos.next('error')).message).to.equal('envelope payload is not JSON');
    kratos.send(Buffer.from(sendMessage(0, { sender: 'x' })));
    expect((await kratos.next('error')).message).to.equal('a ChatMessage needs a "message" field');
    kratos.send(Buffer.from(sendMessage(0, { message: 'still here' })));
    expect(handleMessage(await kratos.nextBinary()).payload.message).to.equal('still here');
  });

  it('without the subprotocol, binary frames stay opaque: relayed as they are to JSON clients, not to envelope clients', async () => {
    const { url } = await startServer();
    const kratos = await envelopeClient(url('1'), 'kratos');
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    alice.client.send(Buffer.from([0, 0, 0, 0, 1, 2]));
    expect([...(await bob.client.nextBinary())]).to.deep.equal([0, 0, 0, 0, 1, 2]);
    alice.client.send({ event: 'broadcast', message: 'after' });
    expect(handleMessage(await kratos.nextBinary()).payload.message).to.equal('after');
  });
});
