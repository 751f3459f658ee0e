import { expect } from 'chai';
import { Client, join } from './support/client.js';
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

describe('typed binary envelope (rooms.envelope)', () => {
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
