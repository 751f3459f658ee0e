import calculateSlot from 'cluster-key-slot';
import { expect } from 'chai';
import { pino } from 'pino';
import { newEpoch, NO_SINK, type Draft } from '../src/engine/engine.js';
import { RedisEngine } from '../src/engine/redis.js';
import { scripts } from '../src/engine/scripts.js';
import { onCleanup } from './support/cleanup.js';
import { connect, join } from './support/client.js';
import { startNode, startNodes, type RoomsNode } from './support/node.js';
import { roomsClient } from './support/rooms-client.js';
import { metric, startServer } from './support/server.js';
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

  it('a resync claims every name once: names lost from many channels at once do not queue a resync per channel', async () => {
    const redis = await RedisServer.start();
    // A beat every 2 s: the auth below comes before the next one, so a join is the first to find the names gone.
    const node = await startNode(redis.url, ['--presence-ttl', '10000']);
    const channels = Array.from({ length: 30 }, (_, i) => `c${i}`);
    for (const id of channels) await join(node.url(id), `m-${id}`);
    const calls = async (): Promise<number> => Number(/cmdstat_evalsha:calls=(\d+)/.exec(String(await redis.admin.info('commandstats')))?.[1] ?? 0);
    await redis.admin.flushall();
    const before = await calls();
    // A second member in c0: its join is the first to find the node missing from a channel it has members in.
    await join(node.url('c0'), 'late');
    await until('every name claimed again', async () => (await Promise.all(channels.map((id) => redis.admin.hexists(`rooms:{/channel?id=${id}}:presence`, `m-${id}`)))).every((n) => n === 1));
    await until('the resyncs done', async () => (await health(node)) === 'ok');
    // Two resyncs at most (each a claim and a history read per channel, 62 scripts) and the beats:
    // a resync queued by each of the resync's claims that found the node missing made 31 (about 1,900).
    expect((await calls()) - before).to.be.below(channels.length * 6);
  });

  it('the client library sends auth again while the node cannot claim its name, and goes live on the same socket once it can', async () => {
    const redis = await RedisServer.start();
    const { url, http } = await startServer({ redis: redis.url });
    // Redis refuses every write (NOREPLICAS): the node is up, and cannot claim a name.
    await redis.admin.config('SET', 'min-replicas-to-write', '1');
    const alice = roomsClient(url('1'), { user: 'alice', minDelay: 50 });
    const errors: unknown[] = [];
    alice.client.on('error', (err) => errors.push(err));
    const live = alice.client.connect();
    await until('auth answered unavailable', async () => (await metric(http, 'rooms_errors_total{code="unavailable"}')) > 0);
    await redis.admin.config('SET', 'min-replicas-to-write', '0');
    await live;
    expect(errors, 'no error for the application').to.deep.equal([]);
    expect(alice.states.map((s) => s.state)).to.deep.equal(['connecting', 'live']);
  });
});

describe('the publish script keeps a channel position', () => {
  beforeEach(function () {
    needRedis(this);
  });

  it('is called once per channel for the messages a node publishes in one tick, and publishes them as one Pub/Sub message', async () => {
    const redis = await RedisServer.start();
    const engine = new RedisEngine({ url: redis.url, prefix: 'p', log: pino({ level: 'silent' }), timeout: 2_000, historySize: 100, historyTtl: 60_000, presenceTtl: 60_000 });
    onCleanup(() => engine.close());
    const heard: number[] = [];
    let wake = (): void => undefined;
    await engine.start({
      ...NO_SINK,
      publication: (_channel, p) => {
        heard.push(p.seq);
        wake();
      },
    });
    await engine.subscribe('/c?id=1');
    const calls = async (): Promise<Record<string, number>> => {
      const info = await redis.admin.info('commandstats');
      return Object.fromEntries([...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map(([, name, n]) => [name, Number(n)]));
    };
    const before = await calls();
    const draft = (n: number): Draft => ({ head: `{"event":"message","message":${n}`, tail: '}', route: { from: 'a', echo: true } });
    const published = await Promise.all(Array.from({ length: 50 }, (_, n) => engine.publish('/c?id=1', draft(n))));
    const after = await calls();
    const made = (command: string): number => (after[command] ?? 0) - (before[command] ?? 0);
    expect(published.map((p) => p.seq)).to.deep.equal(Array.from({ length: 50 }, (_, n) => n + 1));
    expect(made('evalsha'), 'publish scripts').to.equal(1);
    expect(made('publish'), 'Pub/Sub messages').to.equal(1);
    expect(made('xadd'), 'history entries').to.equal(50);
    await new Promise<void>((resolve) => {
      wake = () => heard.length === 50 && resolve();
      wake();
    });
    expect(heard).to.deep.equal(published.map((p) => p.seq));
    // More than a batch holds: batches of at most 100 messages, and of 256 K characters.
    const many = await Promise.all(Array.from({ length: 250 }, (_, n) => engine.publish('/c?id=1', draft(n))));
    const large = (n: number): Draft => ({ ...draft(n), tail: `,"pad":"${'x'.repeat(100_000)}"}` });
    const big = await Promise.all(Array.from({ length: 3 }, (_, n) => engine.publish('/c?id=1', large(n))));
    const last = await calls();
    expect((last.evalsha ?? 0) - (after.evalsha ?? 0), 'publish scripts for 250 messages, then 3 of 100 KB').to.equal(3 + 2);
    expect([...many, ...big].map((p) => p.seq)).to.deep.equal(Array.from({ length: 253 }, (_, n) => n + 51));
  });

  it("its seq outlives its epoch, never the reverse: a seq that expired first would count from 1 again in the same epoch", async () => {
    const redis = await RedisServer.start();
    const { PUBLISH } = scripts('PUBLISH');
    const ttl = 60_000;
    for (let i = 0; i < 3; i += 1) {
      await redis.admin.eval(PUBLISH.lua, 4, 'k:{c}:seq', 'k:{c}:epoch', 'k:{c}:log', 'k:{c}:seq', newEpoch(), ttl, 10, ttl, 'k:{c}', '{"event":"message"', '}', '{"from":"a","echo":true}', '0', '', -1);
      const [seq, epoch] = await Promise.all([redis.admin.pttl('k:{c}:seq'), redis.admin.pttl('k:{c}:epoch')]);
      expect(seq - epoch, `publish ${i + 1}: seq's ttl ${seq} against epoch's ${epoch}`).to.be.above(900);
      expect(epoch).to.be.at.least(ttl);
    }
  });
});
