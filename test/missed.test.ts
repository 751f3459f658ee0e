import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { Recovery } from '../src/client/index.js';
import { onCleanup } from './support/cleanup.js';
import { join } from './support/client.js';
import { startNodes } from './support/node.js';
import { needRedis, RedisServer } from './support/redis.js';
import { roomsClient } from './support/rooms-client.js';

describe('a node that missed messages its history no longer holds', function () {
  this.timeout(60_000);

  it('closes its members with 4001 missed_messages; the client library resumes, says recovered: false and goes on', async function () {
    needRedis(this);
    const redis = await RedisServer.start();
    const admin = new Redis(redis.url);
    onCleanup(() => void admin.disconnect());
    // One entry per stream node, so that MAXLEN ~ trims to historySize, not to a node of 100.
    await admin.config('SET', 'stream-node-max-entries', '1');
    const [a, b] = await startNodes(redis.url, 2, ['--history-size', '3', '--presence-ttl', '10000']);
    const bob = roomsClient(b.url('1'), { user: 'bob', minDelay: 50 });
    await bob.client.connect();
    const alice = await join(a.url('1'), 'alice');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'before', id: 0 });
    expect(await alice.client.next('ack')).to.include({ re: 0, seq: 1 });
    await bob.received(1);

    // b cannot run while its Pub/Sub connection is closed under it and more than its history goes by.
    b.child.kill('SIGSTOP');
    onCleanup(() => void b.child.kill('SIGCONT'));
    await admin.client('KILL', 'TYPE', 'pubsub');
    for (let i = 1; i <= 6; i += 1) {
      alice.client.send({ event: 'talk_with', auth: alice.token, message: `gone ${i}`, id: i });
      expect(await alice.client.next('ack')).to.include({ re: i, seq: i + 1 });
    }
    const states = bob.states.length;
    const recovered = new Promise<Recovery>((resolve) => bob.client.on('recovered', resolve));
    b.child.kill('SIGCONT');

    const reconnecting = await bob.reaches('reconnecting', states);
    expect(reconnecting).to.include({ code: 4001 });
    expect(await recovered).to.deep.include({ recovered: false, seq: 7 });
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'after', id: 7 });
    const [, after] = await bob.received(2);
    expect(after).to.include({ message: 'after', seq: 8 });
    expect(bob.messages.map((m) => m.message), 'nothing of the gap arrives as if it were complete').to.deep.equal(['before', 'after']);
    expect(b.output()).to.match(/history no longer holds what this node missed; telling its members/);
  });
});
