import { expect } from 'chai';
import { join } from './support/client.js';
import { openSocket, rawRequest, upgradeRequest } from './support/raw.js';
import { startServer } from './support/server.js';

describe('the upgrade request itself', () => {
  it('drops a client that dribbles its headers after handshakeTimeout, while others connect normally', async () => {
    const { port, url } = await startServer({ handshakeTimeout: 300 });
    const dribbler = await openSocket(port);
    const started = Date.now();
    const dropped = new Promise<number>((resolve) => dribbler.on('close', () => resolve(Date.now() - started)));
    dribbler.on('error', () => undefined);
    dribbler.resume();
    dribbler.write('GET /channel?id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const { client } = await join(url('1'), 'alice');
    expect((await client.request({ event: 'broadcast', message: 'meanwhile' })).message).to.equal('meanwhile');
    const after = await dropped;
    expect(after).to.be.at.least(250);
    expect(after).to.be.below(5_000);
  });

  it('drops a connection that sends nothing at all after handshakeTimeout', async () => {
    const { port } = await startServer({ handshakeTimeout: 300 });
    const silent = await openSocket(port);
    silent.on('error', () => undefined);
    silent.resume();
    await new Promise<void>((resolve) => silent.on('close', () => resolve()));
    expect(silent.destroyed).to.equal(true);
  });

  it('answers headers larger than 8 KiB with 431', async () => {
    const { port } = await startServer();
    const res = await rawRequest(await openSocket(port), upgradeRequest('/channel?id=1', { 'X-Padding': 'x'.repeat(9_000) }));
    expect(res.status).to.equal(431);
  });
});
