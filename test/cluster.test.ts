import calculateSlot from 'cluster-key-slot';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { pino } from 'pino';
import { NO_SINK } from '../src/engine/engine.js';
import { RedisEngine } from '../src/engine/redis.js';
import { onCleanup, shared } from './support/cleanup.js';
import { failoverToLaggingReplica } from './support/failover.js';
import { connect, join, until, type Event } from './support/client.js';
import { waitForOutput } from './support/cli.js';
import { startNodes as startRoomsNodes, type RoomsNode } from './support/node.js';
import { needRedis, RedisCluster, RedisServer, SentinelSet } from './support/redis.js';

const isMessage = (e: Event): boolean => e.event === 'message';
const API_KEY = 'cluster-key-0123456789';
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// Every rule of docs/protocol.md across nodes: on one Redis, on the master of a Sentinel set, and on
// a 3-master Redis Cluster (each channel on its slot's shard, sharded Pub/Sub). Failovers and the
// Sentinel URL have suites of their own (sentinel.test.ts, faults/).
interface Topology {
  name: string;
  /** Opened before the suite: `start` gives each test a URL and the arguments its nodes need besides. */
  open: () => Promise<{ start: () => Promise<{ url: string; args: string[] }>; close: () => Promise<void> }>;
}

const topologies: Topology[] = [
  // One for the suite, each test with a key prefix of its own.
  { name: 'one Redis', open: () => sharedBy(() => RedisServer.start()) },
  { name: 'a Redis Sentinel set', open: () => sharedBy(() => SentinelSet.start()) },
  { name: 'a Redis Cluster', open: () => sharedBy(() => RedisCluster.start()) },
];

/** Opens a Redis topology for the whole suite; each test gets a key prefix of its own on it. */
async function sharedBy(start: () => Promise<{ url: string }>): ReturnType<Topology['open']> {
  const { value, close } = await shared(start);
  return { start: () => Promise.resolve({ url: value.url, args: ['--redis-prefix', `t${randomBytes(4).toString('hex')}`] }), close };
}

for (const topology of topologies) describe(`several nodes on ${topology.name}`, function () {
  this.timeout(60_000);
  let opened: Awaited<ReturnType<Topology['open']>> | null = null;
  let redis: { url: string; args: string[] };
  const startNodes = (n: number, args: string[] = [], env: Record<string, string> = {}): Promise<RoomsNode[]> => startRoomsNodes(redis.url, n, [...redis.args, ...args], env);
  // Three nodes with the default settings for the tests that need no others, each test in
  // channels of its own (`id`): a node takes longer to start than most of these tests take to run.
  let trio: { value: RoomsNode[]; close: () => Promise<void> } | null = null;
  let id = '';
  let tests = 0;
  const nodes = (n: number): RoomsNode[] => trio!.value.slice(0, n);

  before(async function () {
    needRedis(this);
    opened = await topology.open();
    const suite = await opened.start();
    trio = await shared(() => startRoomsNodes(suite.url, 3, suite.args, { ROOMS_API_KEYS: JSON.stringify([{ name: 'backend', key: API_KEY }]) }));
  });

  after(async () => {
    await trio?.close();
    await opened?.close();
  });

  beforeEach(async function () {
    needRedis(this);
    redis = await opened!.start();
    tests += 1;
    id = `t${tests}`;
  });

  it('user_list lists the members of every node, in join order', async () => {
    const [a, b, c] = nodes(3);
    await join(a.url(id), 'alice');
    await join(b.url(id), 'bob');
    const carol = await join(c.url(id), 'carol');
    const list = await carol.client.request({ event: 'user_list', auth: carol.token });
    expect(list.message).to.deep.equal(['alice', 'bob', 'carol']);
  });

  it('a name is unique in a channel across nodes', async () => {
    const [a, b] = nodes(2);
    await join(a.url(id), 'alice');
    const second = await connect(b.url(id));
    expect(await second.request({ event: 'auth', user: 'alice' })).to.include({ event: 'error', code: 'name_taken' });
    expect((await second.closed).code).to.equal(4409);
    await join(b.url(`${id}b`), 'alice');
  });

  it('of two nodes admitting the same name at the same moment, exactly one admits it', async () => {
    const [a, b] = nodes(2);
    for (let round = 0; round < 20; round += 1) {
      const x = await connect(a.url(`${id}race${round}`));
      const y = await connect(b.url(`${id}race${round}`));
      x.send({ event: 'auth', user: 'same' });
      y.send({ event: 'auth', user: 'same' });
      const replies = [await x.next(), await y.next()].map((e) => (e.event === 'token' ? 'token' : e.code));
      expect(replies.sort(), `round ${round}`).to.deep.equal(['name_taken', 'token']);
    }
  });

  it('talk_with reaches a member on another node; publish and broadcast reach every member on every node once', async () => {
    const [a, b, c] = nodes(3);
    const alice = await join(a.url(id), 'alice');
    const bob = await join(b.url(id), 'bob');
    const carol = await join(c.url(id), 'carol');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'psst', with_cilents: ['carol'], id: 1 });
    expect(await alice.client.next('ack')).to.include({ re: 1, seq: 1 });
    expect(await carol.client.next('message')).to.include({ message: 'psst', from: 'alice', seq: 1 });
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'all but me', id: 2 });
    await alice.client.next('ack');
    for (const who of [bob, carol]) expect(await who.client.next('message'), 'all but me').to.include({ message: 'all but me', seq: 2 });
    bob.client.send({ event: 'broadcast', message: 'everyone', id: 3 });
    expect(await bob.client.next('message')).to.include({ message: 'everyone', seq: 3 });
    expect(await bob.client.next('ack')).to.include({ re: 3, seq: 3 });
    expect(await carol.client.next('message')).to.include({ message: 'everyone', seq: 3 });
    expect(await alice.client.next('message')).to.include({ message: 'everyone', seq: 3 });
    // Nothing else arrived: a user_list answer is the next thing each of them sees.
    for (const who of [alice, bob, carol]) expect((await who.client.request({ event: 'user_list', auth: who.token })).event).to.equal('user_list');
  });

  it('join and leave reach presence members on every node', async () => {
    const [a, b] = nodes(2);
    const watcher = await join(a.url(id), 'watcher', { presence: true });
    const bob = await join(b.url(id), 'bob');
    expect(await watcher.client.next()).to.deep.equal({ event: 'join', user: 'bob' });
    bob.client.send({ event: 'close' });
    expect(await watcher.client.next()).to.deep.equal({ event: 'leave', user: 'bob' });
  });

  it('helloworld and binary frames reach the members of other nodes', async () => {
    const [a, b] = nodes(2);
    const alice = await join(a.url(id), 'alice');
    const bob = await join(b.url(id), 'bob');
    alice.client.send({ event: 'helloworld', message: 'there' });
    expect(await bob.client.next()).to.deep.equal({ event: 'helloworld', message: 'helloworld there' });
    alice.client.send(Buffer.from([1, 2, 3]));
    expect([...(await bob.client.nextBinary())]).to.deep.equal([1, 2, 3]);
  });

  it('every member on every node sees the same seq for the same message, in the same order', async () => {
    const members = await Promise.all(nodes(3).map((n, i) => join(n.url(id), `m${i}`)));
    const each = 20;
    for (let i = 0; i < each; i += 1) for (const m of members) m.client.send({ event: 'broadcast', message: `${m.client === members[0].client ? 'a' : 'x'}${i}` });
    const total = each * members.length;
    const seen = await Promise.all(members.map((m) => until(m.client, (e) => isMessage(e) && e.seq === total, isMessage)));
    const order = seen.map((events) => events.map((e) => `${e.seq as number}:${e.from as string}:${e.message as string}`));
    expect(seen[0].map((e) => e.seq)).to.deep.equal(range(1, total));
    expect(order[1]).to.deep.equal(order[0]);
    expect(order[2]).to.deep.equal(order[0]);
  });

  it('a client that drops resumes on another node with since and misses nothing', async () => {
    const [a, b, c] = nodes(3);
    const alice = await join(a.url(id), 'alice');
    const bob = await join(b.url(id), 'bob');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 0 });
    const last = await bob.client.next('message');
    bob.client.terminate();
    for (let i = 1; i <= 10; i += 1) alice.client.send({ event: 'talk_with', auth: alice.token, message: i, id: i });
    await until(alice.client, (e) => e.event === 'ack' && e.re === 10);
    const back = await connect(c.url(id));
    const reply = await back.request({ event: 'auth', user: 'bob', since: last.seq, epoch: last.epoch }, 'token');
    expect(reply).to.include({ recovered: true, seq: 11 });
    const got = await until(back, (e) => e.message === 10, isMessage);
    expect(got.map((e) => e.message)).to.deep.equal(range(1, 10));
  });

  it('a resume loses nothing and repeats nothing while messages keep arriving during the replay', async () => {
    const [a, b] = nodes(2);
    const alice = await join(a.url(id), 'alice');
    const bob = await join(b.url(id), 'bob');
    const total = 600;
    let sent = 0;
    const send = (n: number): void => {
      for (let i = 0; i < n && sent < total; i += 1) {
        sent += 1;
        alice.client.send({ event: 'talk_with', auth: alice.token, message: sent, id: sent });
      }
    };
    send(100);
    const before = await until(bob.client, (e) => e.message === 30, isMessage);
    bob.client.terminate();
    const last = before[before.length - 1];
    const back = await connect(b.url(id));
    back.send({ event: 'auth', user: 'bob', since: last.seq, epoch: last.epoch });
    send(total);
    const after = await until(back, (e) => e.message === total, isMessage);
    expect([...before, ...after].map((e) => e.seq)).to.deep.equal(range(1, total));
  });

  it('the HTTP API publishes through any node to the members of every node, in the channel\'s seq', async () => {
    const key = API_KEY;
    const [a, b] = nodes(2);
    const alice = await join(a.url(id), 'alice');
    alice.client.send({ event: 'broadcast', message: 'first' });
    await alice.client.next('message');
    const post = (body: unknown): Promise<Response> =>
      fetch(b.http(`/api/channels/channel/${id}/messages`), { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
    const answer = await post({ message: 'from the backend' });
    expect(answer.status).to.equal(200);
    expect(await answer.json()).to.include({ seq: 2 });
    expect(await alice.client.next('message')).to.include({ message: 'from the backend', from: 'backend', seq: 2 });
    const missing = await post({ message: 'x', to: ['nobody'] });
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: { missing: string[] } }).error.missing).to.deep.equal(['nobody']);
    const empty = await fetch(b.http(`/api/channels/channel/${id}none/messages`), { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: '{"message":1}' });
    expect(empty.status).to.equal(404);
  });

  it('says recovered: false when the Redis history was trimmed past since', async () => {
    const [a] = await startNodes(1, ['--history-size', '10']);
    const alice = await join(a.url('1'), 'alice');
    for (let i = 1; i <= 300; i += 1) alice.client.send({ event: 'broadcast', message: i, id: i });
    const answers = await until(alice.client, (e) => e.re === 300, (e) => e.re !== undefined);
    expect(answers.filter((e) => e.event !== 'ack')).to.deep.equal([]);
    const back = await connect(a.url('1'));
    expect(await back.request({ event: 'auth', user: 'bob', since: 1 }, 'token')).to.include({ recovered: false, seq: 300 });
    const recent = await connect(a.url('1'));
    expect(await recent.request({ event: 'auth', user: 'carol', since: 295 }, 'token')).to.include({ recovered: true });
    expect((await until(recent, (e) => e.message === 300, isMessage)).map((e) => e.message)).to.deep.equal([296, 297, 298, 299, 300]);
  });

  it('a node that reaps a channel leaves the history and members that other nodes still use', async () => {
    const [a, b] = await startNodes(2, ['--reap-schedule', '* * * * * *']);
    const bob = await join(b.url('1'), 'bob');
    const alice = await join(a.url('1'), 'alice');
    alice.client.send({ event: 'broadcast', message: 'kept', id: 1 });
    const kept = await until(alice.client, (e) => e.event === 'ack');
    alice.client.send({ event: 'close' });
    await alice.client.closed;
    await waitForOutput(a.child, a.output, /"removed":1,/);
    expect(await bob.client.next('message')).to.include({ message: 'kept' });
    expect((await bob.client.request({ event: 'user_list', auth: bob.token })).message).to.deep.equal(['bob']);
    const back = await connect(a.url('1'));
    const reply = await back.request({ event: 'auth', user: 'carol', since: 0 }, 'token');
    expect(reply).to.include({ recovered: true, seq: kept[0].seq });
    expect(await back.next('message')).to.include({ message: 'kept' });
    expect((await back.request({ event: 'user_list', auth: reply.message })).message).to.deep.equal(['bob', 'carol']);
  });
});

describe('several nodes on a Redis Cluster: its shards', function () {
  this.timeout(60_000);

  beforeEach(function () {
    needRedis(this);
  });

  it('a channel lives on the shard that owns its slot: its keys are there alone, and the nodes subscribe to it there with sharded Pub/Sub only', async () => {
    const redis = await RedisCluster.start();
    const [a, b] = await startRoomsNodes(redis.url, 2);
    // Channels until two are on different masters.
    const ids: string[] = [];
    const masters = new Set<number>();
    for (let i = 0; masters.size < 2; i += 1) {
      const port = (await redis.masterOf(calculateSlot(`rooms:{/channel?id=s${i}}`))).port;
      if (!masters.has(port)) ids.push(`s${i}`);
      masters.add(port);
    }
    for (const id of ids) {
      const alice = await join(a.url(id), 'alice');
      const bob = await join(b.url(id), 'bob');
      alice.client.send({ event: 'broadcast', message: id, id: 1 });
      expect(await bob.client.next('message')).to.include({ message: id });
    }
    for (const id of ids) {
      const topic = `rooms:{/channel?id=${id}}`;
      const owner = await redis.masterOf(calculateSlot(topic));
      for (const server of redis.servers) {
        const keys = (await server.admin.call('KEYS', `${topic}*`)) as string[];
        const sharded = (await server.admin.call('PUBSUB', 'SHARDNUMSUB', topic)) as [string, number];
        const classic = (await server.admin.call('PUBSUB', 'NUMSUB', topic)) as [string, number];
        const mine = server === owner;
        expect(keys.length > 0, `${id}'s keys on ${server.port} (owner ${owner.port})`).to.equal(mine);
        expect(sharded[1], `${id}'s sharded subscribers on ${server.port}`).to.equal(mine ? 2 : 0);
        expect(classic[1], `${id}'s classic subscribers on ${server.port}`).to.equal(0);
      }
    }
  });

  it('a shard failing over to a replica that lagged: a new epoch, so seqs past the replica are not given out again; a resume from before is recovered:false, and new messages reach both nodes', async () => {
    const redis = await RedisCluster.start({ replicas: 1 });
    const master = await redis.masterOf(calculateSlot('rooms:{/channel?id=1}'));
    const replica = await redis.replicaOf(master);
    const nodes = await startRoomsNodes(redis.url, 2, ['--presence-ttl', '2000', '--redis-timeout', '1000']);
    await failoverToLaggingReplica(nodes, master, replica, async () => {
      await redis.failedOver(master);
      expect((await redis.masterOf(calculateSlot('rooms:{/channel?id=1}'), [replica])).port, 'the replica that lagged promoted').to.equal(replica.port);
    });
  });

  it('a channel subscribed while its shard refuses new connections: the node is not up until the subscription is in place, then is again, and hears the channel', async () => {
    const redis = await RedisCluster.start();
    const topic = 'p:{/c?id=t}';
    const owner = await redis.masterOf(calculateSlot(topic));
    const states: boolean[] = [];
    const heard: number[] = [];
    let wake = (): void => undefined;
    const make = (): RedisEngine => new RedisEngine({ url: redis.url, prefix: 'p', log: pino({ level: 'silent' }), timeout: 1_000, historySize: 100, historyTtl: 60_000, presenceTtl: 2_000 });
    const [one, two] = [make(), make()];
    onCleanup(() => one.close());
    onCleanup(() => two.close());
    const changed = (): void => wake();
    await one.start({
      ...NO_SINK,
      state: (up) => {
        states.push(up);
        changed();
      },
      publication: (_channel, p) => {
        heard.push(p.seq);
        changed();
      },
    });
    await two.start(NO_SINK);
    // Resolves once `done` holds, checked at each state and publication the sink hears.
    const until = (what: string, done: () => boolean): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 20_000);
        wake = () => {
          if (!done()) return;
          clearTimeout(timer);
          wake = () => undefined;
          resolve();
        };
        wake();
      });
    // The node's commands reach the shard; then the shard takes no new connection (maxclients reached).
    await one.join('/c?id=t', 'u');
    const clients = Number(/connected_clients:(\d+)/.exec(String(await owner.admin.info('clients')))![1]);
    await owner.admin.config('SET', 'maxclients', String(clients));
    await one.subscribe('/c?id=t');
    expect(one.up, 'up while the channel is not subscribed').to.equal(false);
    expect(states, 'the sink told').to.deep.equal([true, false]);
    await owner.admin.config('SET', 'maxclients', '10000');
    await until('up again', () => states.length > 2 && states[states.length - 1]);
    expect(one.up).to.equal(true);
    // Down (and perhaps cut off, once that lasted redisTimeout) until the subscription was in place.
    expect(states.slice(1, -1).every((up) => !up) && states[states.length - 1], `states ${JSON.stringify(states)}`).to.equal(true);
    await two.publish('/c?id=t', { head: '{"event":"message","message":1', tail: '}', route: { from: 'v', echo: true } });
    await until('the message heard', () => heard.length > 0);
    expect(heard).to.deep.equal([1]);
  });
});
