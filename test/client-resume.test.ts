import { expect } from 'chai';
import type { Recovery } from '../src/client/index.js';
import { roomsClient } from './support/rooms-client.js';
import { startServer } from './support/server.js';

describe('client library: resume', () => {
  it('loses nothing across a server-side kill of its socket while another member keeps sending', async () => {
    // Bob sends faster than the default rate limit allows: that is not what this test is about.
    const { url, server } = await startServer({ messageRate: 0 });
    const alice = roomsClient(url('1'), { user: 'alice', minDelay: 50 });
    const bob = roomsClient(url('1'), { user: 'bob' });
    await alice.client.connect();
    await bob.client.connect();
    const recovered = new Promise<Recovery>((resolve) => alice.client.on('recovered', resolve));
    const before = alice.states.length;
    const total = 60;
    for (let i = 1; i <= total; i += 1) {
      if (i === 21) server.registry.get('/channel', '1')!.members.get('alice')!.link.terminate();
      await bob.client.publish(`m${i}`);
    }
    const got = await alice.received(total);
    expect(alice.states.slice(before).map((s) => s.state)).to.include.members(['reconnecting', 'live']);
    expect((await recovered).recovered).to.equal(true);
    expect(got.map((m) => m.message)).to.deep.equal(Array.from({ length: total }, (_, i) => `m${i + 1}`));
    expect(got.map((m) => m.seq)).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
    expect(alice.messages).to.have.length(total);
  });

  it('a request re-sent after a reconnection is delivered once and resolves as a duplicate', async () => {
    const { url, server } = await startServer();
    const alice = roomsClient(url('1'), { user: 'alice', minDelay: 50 });
    const bob = roomsClient(url('1'), { user: 'bob' });
    await alice.client.connect();
    await bob.client.connect();
    // The server takes the message, then loses the socket before its ack is written.
    // Alice's next frame is the publish: the link reads it first (its listener came first), then the socket goes.
    const link = server.registry.get('/channel', '1')!.members.get('alice')!.link;
    link.socket.once('data', () => link.terminate());
    const ack = await alice.client.publish('only once');
    expect(ack).to.deep.equal({ seq: 1, duplicate: true, local: false });
    await alice.client.publish('after');
    expect((await bob.received(2)).map((m) => [m.message, m.seq])).to.deep.equal([['only once', 1], ['after', 2]]);
    expect(bob.messages).to.have.length(2);
  });

  it('says recovered: false when the history no longer reaches back, and goes on from where the channel is', async () => {
    const { url, server } = await startServer({ historySize: 2 });
    const alice = roomsClient(url('1'), { user: 'alice', minDelay: 50 });
    const bob = roomsClient(url('1'), { user: 'bob' });
    await alice.client.connect();
    await bob.client.connect();
    await bob.client.publish('seen');
    await alice.received(1);
    const recovered = new Promise<Recovery>((resolve) => alice.client.on('recovered', resolve));
    const before = alice.states.length;
    server.registry.get('/channel', '1')!.members.get('alice')!.link.terminate();
    await alice.reaches('reconnecting', before);
    for (const text of ['lost 1', 'lost 2', 'lost 3']) await bob.client.publish(text);
    expect(await recovered).to.deep.include({ recovered: false, seq: 4 });
    await bob.client.publish('live');
    expect((await alice.received(2)).map((m) => m.message)).to.deep.equal(['seen', 'live']);
  });
});
