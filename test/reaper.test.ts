import { expect } from 'chai';
import { connect, join } from './support/client.js';
import { eventually } from './support/eventually.js';
import { once, startServer } from './support/server.js';

describe('reaper', () => {
  it('removes channels without connections and keeps the others, when called directly', async () => {
    const { url, server } = await startServer();
    const gone = await join(url('gone'), 'alice');
    await join(url('kept'), 'bob');
    await connect(url('pending'));
    gone.client.send({ event: 'close' });
    await eventually(() => server.registry.get('/channel', 'gone')!.empty, 'the channel to empty');
    const wss = server.registry.get('/channel', 'gone')!.wss;
    const closed = once(wss, 'close');
    expect(await server.registry.reap()).to.equal(1);
    await closed;
    expect(server.registry.get('/channel', 'gone')).to.equal(undefined);
    expect(server.registry.get('/channel', 'kept')).to.not.equal(undefined);
    expect(server.registry.get('/channel', 'pending')).to.not.equal(undefined);
  });

  it('runs on its cron schedule and reports how many it removed', async () => {
    const { url, server } = await startServer({ reapSchedule: '* * * * * *' });
    const { client } = await join(url('1'), 'alice');
    client.send({ event: 'close' });
    await eventually(() => server.connections === 0, 'the server to drop the connection');
    // A reap that began before the close may report 0; the one after it removes the channel.
    let removed = 0;
    while (server.registry.size > 0) removed += ((await once(server, 'reap')) as [number])[0];
    expect(removed).to.equal(1);
  });

  it('a channel reaped and asked for again is created anew and works', async () => {
    const { url, server } = await startServer();
    const first = await join(url('1'), 'alice');
    first.client.send({ event: 'close' });
    await eventually(() => server.connections === 0, 'the server to drop the connection');
    expect(await server.registry.reap()).to.equal(1);
    const again = await join(url('1'), 'alice');
    expect((await again.client.request({ event: 'broadcast', message: 'back' })).seq).to.equal(1);
  });

  it('connections arriving while a reap is under way land in live channels', async () => {
    const { url, server } = await startServer();
    const total = 50_000;
    for (let i = 0; i < total; i += 1) server.registry.getOrCreate('/channel', `c${i}`);
    // The reap works in slices; connections to channels it has not reached yet arrive meanwhile.
    const reaping = server.registry.reap();
    const ids = [49_999, 45_000, 40_000, 30_000, 20_000].map((i) => `c${i}`);
    const members = await Promise.all(ids.map((id) => join(url(id), `user-${id}`)));
    const removed = await reaping;
    expect(removed).to.be.at.least(total - ids.length);
    for (const [i, id] of ids.entries()) {
      const channel = server.registry.get('/channel', id);
      expect(channel, id).to.not.equal(undefined);
      expect(channel!.members.has(`user-${id}`)).to.equal(true);
      const { client } = members[i];
      expect((await client.request({ event: 'broadcast', message: id })).channel).to.equal(id);
    }
    expect(server.registry.size).to.equal(ids.length);
  });

  it('a second reap asked for during one joins it', async () => {
    const { server } = await startServer();
    for (let i = 0; i < 5_000; i += 1) server.registry.getOrCreate('/channel', `c${i}`);
    const [a, b] = await Promise.all([server.registry.reap(), server.registry.reap()]);
    expect(a).to.equal(5_000);
    expect(b).to.equal(5_000);
  });
});
