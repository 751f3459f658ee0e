import { expect } from 'chai';
import { join } from './support/client.js';
import { openSocket, rawRequest, upgradeRequest } from './support/raw.js';
import { startServer } from './support/server.js';

describe('upgrade routing', () => {
  async function refusal(path: string, headers: Record<string, string> = {}) {
    const { port } = await startServer({ paths: ['/channel', '/room'] });
    return rawRequest(await openSocket(port), upgradeRequest(path, headers));
  }

  it('answers an unknown path with 404 and a line naming where channels live, then closes', async () => {
    const res = await refusal('/foo?id=1');
    expect(res.status).to.equal(404);
    expect(res.body).to.equal('unknown path /foo; channels live under /channel?id=<id>\n');
    expect(res.headers['x-rooms-error']).to.equal('unknown_path');
    expect(res.closed).to.equal(true);
  });

  it('answers a missing id with 400', async () => {
    const res = await refusal('/channel');
    expect(res.status).to.equal(400);
    expect(res.body).to.equal('missing channel id; connect to /channel?id=<id>\n');
  });

  it('answers an empty id with 400', async () => {
    const res = await refusal('/room?id=');
    expect(res.status).to.equal(400);
    expect(res.body).to.equal('missing channel id; connect to /room?id=<id>\n');
  });

  it('answers an id with characters outside A-Z a-z 0-9 . _ ~ - with 400', async () => {
    const res = await refusal('/channel?id=a%2Fb');
    expect(res.status).to.equal(400);
    expect(res.body).to.equal('invalid channel id a/b; use 1 to 64 characters of A-Z a-z 0-9 . _ ~ -\n');
  });

  it('answers an id longer than 64 characters with 400', async () => {
    const res = await refusal(`/channel?id=${'x'.repeat(65)}`);
    expect(res.status).to.equal(400);
    expect(res.body).to.equal(`invalid channel id ${'x'.repeat(65)}; use 1 to 64 characters of A-Z a-z 0-9 . _ ~ -\n`);
  });

  it('answers an id given twice with 400', async () => {
    const res = await refusal('/channel?id=1&id=2');
    expect(res.status).to.equal(400);
    expect(res.body).to.equal('give the channel id once\n');
  });

  it('leaves handshake errors to ws: a missing Sec-WebSocket-Key gets its 400', async () => {
    const res = await refusal('/channel?id=1', { 'Sec-WebSocket-Key': '' });
    expect(res.status).to.equal(400);
    expect(res.body).to.equal('Missing or invalid Sec-WebSocket-Key header');
  });

  it('accepts the longest valid id and every allowed character', async () => {
    const { url } = await startServer();
    const id = `AZaz09._~-${'x'.repeat(54)}`;
    const { client } = await join(url(id), 'alice');
    const msg = await client.request({ event: 'broadcast', message: 'hi' }, 'message');
    expect(msg.channel).to.equal(id);
  });

  it('keeps channels under different paths apart even with the same id', async () => {
    const { url, server } = await startServer({ paths: ['/room1', '/room2'] });
    const a = await join(url('1', '/room1'), 'alice');
    const b = await join(url('1', '/room2'), 'bob');
    a.client.send({ event: 'broadcast', message: 'only room1' });
    expect((await a.client.next('message')).message).to.equal('only room1');
    const list = await b.client.request({ event: 'user_list', auth: b.token }, 'user_list');
    expect(list.message).to.deep.equal(['bob']);
    expect(server.registry.size).to.equal(2);
    expect(server.registry.get('/room1', '1')?.members.has('alice')).to.equal(true);
    expect(server.registry.get('/room2', '1')?.members.has('alice')).to.equal(false);
  });

  it('creates a channel on first use and keeps it in the registry', async () => {
    const { url, server } = await startServer();
    expect(server.registry.get('/channel', 'new')).to.equal(undefined);
    await join(url('new'), 'alice');
    expect(server.registry.get('/channel', 'new')?.members.size).to.equal(1);
  });
});
