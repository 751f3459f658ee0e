import { expect } from 'chai';
import { connect, join } from './support/client.js';
import { openSocket, rawRequest, upgradeRequest } from './support/raw.js';
import { startServer } from './support/server.js';

describe('shutdown', () => {
  it('closes every member with 1001 "server shutting down"', async () => {
    const { url, server } = await startServer();
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('2'), 'bob');
    const anon = await connect(url('2'));
    await server.close();
    for (const c of [alice.client, bob.client, anon]) {
      expect(await c.closed).to.deep.equal({ code: 1001, reason: 'server shutting down' });
    }
    expect(server.registry.size).to.equal(0);
  });

  it('delivers what was queued before the close frame', async () => {
    const { url, server } = await startServer();
    const alice = await join(url('1'), 'alice');
    const bob = await join(url('1'), 'bob');
    alice.client.send({ event: 'broadcast', message: 'last words' });
    await alice.client.next('message');
    const closing = server.close();
    expect((await bob.client.next('message')).message).to.equal('last words');
    expect((await bob.client.closed).code).to.equal(1001);
    await closing;
  });

  it('refuses upgrades with 503 while shutting down', async () => {
    const { url, server, port } = await startServer({ shutdownTimeout: 10_000 });
    const slow = await join(url('1'), 'slow');
    // A member that does not read keeps the server in its closing state until cut.
    (slow.client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const early = await openSocket(port);
    const closing = server.close();
    const res = await rawRequest(early, upgradeRequest('/channel?id=1'));
    expect(res.status).to.equal(503);
    expect(res.body).to.equal('server shutting down; reconnect to another instance or later\n');
    slow.client.terminate();
    await closing;
  });

  it('keeps answering plain HTTP while it drains: /readyz 503, /healthz shutting_down, /livez ok, upgrades 503', async () => {
    const { url, server, port, http } = await startServer({ shutdownTimeout: 10_000 });
    const slow = await join(url('1'), 'slow');
    // A member that does not read never answers the close frame: the drain lasts until it goes.
    (slow.client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const closing = server.close();
    const ready = await fetch(http('/readyz'));
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.deep.equal({ status: 'shutting_down' });
    const health = await fetch(http('/healthz'));
    expect(health.status).to.equal(200);
    expect(await health.json()).to.include({ status: 'shutting_down', connections: 1 });
    const live = await fetch(http('/livez'));
    expect(live.status).to.equal(200);
    expect(await live.json()).to.deep.equal({ status: 'ok' });
    const upgrade = await rawRequest(await openSocket(port), upgradeRequest('/channel?id=1'));
    expect(upgrade.status).to.equal(503);
    slow.client.terminate();
    await closing;
    let refused: unknown = null;
    await fetch(http('/livez')).catch((err: unknown) => {
      refused = err;
    });
    expect(refused).to.be.instanceOf(TypeError);
  });

  it('cuts members that do not answer the close within shutdownTimeout', async () => {
    const { url, server } = await startServer({ shutdownTimeout: 50 });
    const slow = await join(url('1'), 'slow');
    (slow.client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await server.close();
    expect(server.connections).to.equal(0);
  });

  it('close() twice is harmless, and so is close() before listen()', async () => {
    const { server } = await startServer();
    await Promise.all([server.close(), server.close()]);
    await server.close();
    const { createRoomServer } = await import('../src/index.js');
    await createRoomServer({ logLevel: 'silent' }).close();
  });
});
