import calculateSlot from 'cluster-key-slot';
import { expect } from 'chai';
import { pino } from 'pino';
import { NO_SINK } from '../src/engine/engine.js';
import { RedisEngine } from '../src/engine/redis.js';
import { onCleanup } from './support/cleanup.js';
import { connect, join } from './support/client.js';
import { startNode, startNodes, type RoomsNode } from './support/node.js';
import { needRedis, RedisCluster, RedisServer } from './support/redis.js';

const NODE_ARGS = ['--presence-ttl', '2000', '--redis-timeout', '1000'];

/** Asks `check` every few milliseconds until it holds: Redis and /healthz tell no client when they change. */
async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const health = async (node: RoomsNode): Promise<string> => ((await (await fetch(node.http('/healthz'))).json()) as { status: string }).status;

/** Authenticates as `user`, sending auth again while the node answers `unavailable`, as a client does. */
async function admitted(node: RoomsNode, channel: string, user: string): Promise<void> {
  const client = await connect(node.url(channel));
  for (;;) {
    const reply = await client.request({ event: 'auth', user });
    if (reply.event === 'token') return;
    expect(reply, `auth of ${user}`).to.include({ event: 'error', code: 'unavailable' });
  }
}

describe('presence on Redis, when Redis loses it or a node goes', function () {
  this.timeout(60_000);

  beforeEach(function () {
    needRedis(this);
  });

  it('names Redis lost without any connection dropping (FLUSHALL) are claimed again at the next beat: no second node admits them', async () => {
    const redis = await RedisServer.start();
    const [a, b] = await startNodes(redis.url, 2, NODE_ARGS);
    await join(b.url('1'), 'bob');
    await redis.admin.flushall();
    await until('bob claimed again', async () => (await redis.admin.hexists('rooms:{/channel?id=1}:presence', 'bob')) === 1);
    const second = await connect(a.url('1'));
    expect(await second.request({ event: 'auth', user: 'bob' })).to.include({ event: 'error', code: 'name_taken' });
  });

  it("a dead node's names go at the join that finds it dead, announced before that join, though no live node has members there to beat it", async () => {
    const redis = await RedisServer.start();
    const b = await startNode(redis.url, NODE_ARGS);
    await join(b.url('1'), 'bob');
    const signals: string[] = [];
    const a = new RedisEngine({ url: redis.url, prefix: 'rooms', log: pino({ level: 'silent' }), timeout: 1_000, historySize: 100, historyTtl: 60_000, presenceTtl: 2_000 });
    onCleanup(() => a.close());
    let joined = (): void => undefined;
    const carolJoined = new Promise<void>((resolve) => (joined = resolve));
    await a.start({
      ...NO_SINK,
      signal: (_channel, signal) => {
        if (signal.kind !== 'join' && signal.kind !== 'leave') return;
        signals.push(`${signal.kind} ${signal.user}`);
        if (signal.kind === 'join' && signal.user === 'carol') joined();
      },
    });
    await a.subscribe('/channel?id=1');
    await b.kill();
    await until('bob to be listed no more', async () => (await a.members('/channel?id=1')).length === 0);
    expect(await a.join('/channel?id=1', 'carol')).to.equal(true);
    await carolJoined;
    expect(signals, 'bob leaves before carol joins').to.deep.equal(['leave bob', 'join carol']);
    expect(await redis.admin.hkeys('rooms:{/channel?id=1}:presence')).to.deep.equal(['carol']);
  });

  it('a node whose beats fail while no connection drops (CLUSTERDOWN: another shard lost its master) goes degraded, then cut off, and claims what it admitted meanwhile once back', async () => {
    const cluster = await RedisCluster.start();
    const slot = calculateSlot('rooms:{/channel?id=1}');
    const owner = await cluster.masterOf(slot);
    const victim = cluster.servers.find((s) => s !== owner)!;
    // A redisTimeout long enough that no failing beat times out: only their failing can tell the node.
    const args = ['--presence-ttl', '4000', '--redis-timeout', '2000'];
    const a = await startNode(cluster.url, args);
    const b = await startNode(cluster.url, args);
    await join(b.url('1'), 'alice');
    await victim.stop();
    await until('node b degraded', async () => (await health(b)) === 'degraded');
    await admitted(b, '1', 'bob');
    await victim.restart();
    await until('node b ok', async () => (await health(b)) === 'ok');
    await until('bob claimed', async () => (await owner.admin.hexists('rooms:{/channel?id=1}:presence', 'bob')) === 1);
    const second = await connect(a.url('1'));
    expect(await second.request({ event: 'auth', user: 'bob' })).to.include({ event: 'error', code: 'name_taken' });
  });
});
