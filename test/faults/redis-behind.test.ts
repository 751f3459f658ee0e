import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { onCleanup } from '../support/cleanup.js';
import { connect, join, until } from '../support/client.js';
import { startNodes, type RoomsNode } from '../support/node.js';
import { needRedis, RedisServer } from '../support/redis.js';

async function healthy(node: RoomsNode): Promise<void> {
  for (;;) {
    const body = (await (await fetch(node.http('/healthz'))).json()) as { status: string };
    if (body.status === 'ok') return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('faults: Redis comes back behind what the nodes saw', function () {
  this.timeout(60_000);

  it('restarted from an older snapshot in the same epoch: a message sent after it reaches the members, under a new epoch; no ack goes out for a copy nobody got; a resume from past the snapshot is not recovered', async function () {
    needRedis(this);
    const dir = await mkdtemp(joinPath(tmpdir(), 'rooms-redis-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const redis = await RedisServer.start({ dir });
    const admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    onCleanup(() => void admin.disconnect());
    await admin.connect();
    const [a, b] = await startNodes(redis.url, 2);
    const alice = await join(a.url('1'), 'alice');
    const bob = await join(b.url('1'), 'bob');
    const send = async (text: string, id: number): Promise<void> => {
      alice.client.send({ event: 'talk_with', auth: alice.token, message: text, id });
      expect(await alice.client.next('ack')).to.include({ re: id, seq: id });
    };
    for (let i = 1; i <= 3; i += 1) await send(`m${i}`, i);
    await admin.save();
    for (let i = 4; i <= 6; i += 1) await send(`m${i}`, i);
    const seen = await until(bob.client, (e) => e.seq === 6, (e) => e.event === 'message');
    const epoch = seen[0].epoch as string;

    // Redis dies and comes back from the snapshot: same epoch, seq 3.
    admin.disconnect();
    await redis.stop();
    await redis.restart();
    await healthy(a);
    await healthy(b);

    // Members who were there before may be told that the history went back (4001); new ones join now.
    const carol = await join(a.url('1'), 'carol');
    const dave = await join(b.url('1'), 'dave');
    carol.client.send({ event: 'broadcast', message: 'after', id: 'after' });
    const got = await until(dave.client, (e) => e.message === 'after', (e) => e.event === 'message');
    expect(got[got.length - 1]).to.include({ message: 'after', from: 'carol', seq: 1 });
    expect(got[got.length - 1].epoch, 'a new epoch: seqs 4 to 6 of the old one are not given out again').to.not.equal(epoch);
    const answer = await until(carol.client, (e) => e.event === 'ack');
    expect(answer.map((e) => [e.event, e.message]), 'own copy before the ack').to.deep.equal([['message', 'after'], ['ack', undefined]]);
    expect(answer[1]).to.include({ re: 'after', seq: 1 });
    for (const old of [alice, bob]) {
      if (old.client.ws.readyState !== old.client.ws.OPEN) expect((await old.client.closed).code, 'told it missed messages').to.equal(4001);
    }

    const eve = await connect(a.url('1'));
    const reply = await eve.request({ event: 'auth', user: 'eve', since: 6, epoch }, 'token');
    expect(reply).to.include({ recovered: false });
  });
});
