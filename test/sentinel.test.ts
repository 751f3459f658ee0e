import { expect } from 'chai';
import { spawnRooms, waitForOutput } from './support/cli.js';
import { failoverToLaggingReplica, ready } from './support/failover.js';
import { connect, join, until } from './support/client.js';
import { startNodes } from './support/node.js';
import { MASTER_NAME, needRedis, SentinelSet, type RedisServer } from './support/redis.js';

const REDIS_PASSWORD = 'redis-pass/with+odd@chars';
const SENTINEL_PASSWORD = 'sentinel-pass+0123';

/** Resolves once no rooms node holds a connection on `server`; fails after `ms`. */
async function left(set: SentinelSet, server: RedisServer, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let held = 0;
  while ((held = await set.roomsConnections(server)) > 0) {
    if (Date.now() > deadline) throw new Error(`${held} rooms connections still on the old master ${ms} ms after +switch-master`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('several nodes on a Redis Sentinel set', function () {
  this.timeout(30_000);

  beforeEach(function () {
    needRedis(this);
  });

  it('with passwords for Redis and for the Sentinels, user_list lists the members of both nodes and a name is unique across them', async () => {
    const set = await SentinelSet.start({ password: REDIS_PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
    const [a, b] = await startNodes(set.url, 2);
    await join(a.url('1'), 'alice');
    const bob = await join(b.url('1'), 'bob');
    expect((await bob.client.request({ event: 'user_list', auth: bob.token })).message).to.deep.equal(['alice', 'bob']);
    const second = await connect(b.url('1'));
    expect(await second.request({ event: 'auth', user: 'alice' })).to.include({ event: 'error', code: 'name_taken' });
  });

  it('the banner and the logs show the Sentinel URL without either password', async () => {
    const set = await SentinelSet.start({ password: REDIS_PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
    const { child, done, stdout, stderr } = spawnRooms(['--port', '0', '--log-level', 'info'], { ROOMS_REDIS: set.url });
    await waitForOutput(child, stderr, /engine +[^\n]*\n/, 'stderr');
    const hosts = set.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    expect(stderr()).to.include(`  engine     redis redis+sentinel://${hosts}/rooms-test\n`);
    // The master dies: the node logs that Redis is unreachable, with the URL.
    await set.servers[0].stop();
    await waitForOutput(child, stdout, /redis unreachable/);
    child.kill('SIGTERM');
    const { stdout: all, stderr: errors } = await done;
    expect(all).to.include(`"url":"redis+sentinel://${hosts}/rooms-test"`);
    for (const secret of [REDIS_PASSWORD, SENTINEL_PASSWORD, encodeURIComponent(REDIS_PASSWORD), encodeURIComponent(SENTINEL_PASSWORD)]) expect(all + errors).not.to.include(secret);
  });

  it('a failover to a replica that lagged: a new epoch, so seqs past the replica are not given out again; a resume from before is recovered:false, and new messages reach both nodes', async () => {
    const set = await SentinelSet.start();
    const [master, replica] = set.servers;
    const nodes = await startNodes(set.url, 2, ['--presence-ttl', '2000', '--redis-timeout', '1000']);
    await set.ready();
    const { promoted } = await set.watchSwitch();
    await failoverToLaggingReplica(nodes, master, replica, async () => {
      expect(await promoted, 'the replica that lagged promoted').to.equal(replica);
    });
  });

  it('starts degraded at once when no Sentinel answers or none knows the master name, logs which, and stops at SIGTERM; under --workers too', async () => {
    const set = await SentinelSet.start();
    const down = 'redis+sentinel://127.0.0.1:1/mymaster';
    const runs = [
      { url: down, args: [], said: '"err":"no Sentinel answered at 127.0.0.1:1"' },
      { url: set.url.replace(`/${MASTER_NAME}`, '/mymastr'), args: [], said: 'no Sentinel knows a master named \\"mymastr\\"' },
      { url: down, args: ['--workers', '2'], said: 'no Sentinel answered' },
    ];
    await Promise.all(
      runs.map(async ({ url, args, said }) => {
        const { child, done, stdout, stderr } = spawnRooms(['--port', '0', '--log-level', 'info', ...args], { ROOMS_REDIS: url });
        await waitForOutput(child, stderr, /engine +redis/, 'stderr');
        expect(stdout(), url).to.include(said);
        child.kill('SIGTERM');
        const { code, stderr: errors } = await done;
        expect(code, `${url} ${args.join(' ')}`).to.equal(0);
        expect(errors).not.to.include('Unhandled error');
      }),
    );
  });

  it('after a rolling restart of every Sentinel, SENTINEL FAILOVER still moves both nodes to the promoted server', async () => {
    const set = await SentinelSet.start();
    const [master, replica] = set.servers;
    const [a, b] = await startNodes(set.url, 2, ['--presence-ttl', '2000', '--redis-timeout', '1000']);
    await set.ready();
    await set.restartSentinels();
    const { promoted } = await set.watchSwitch();
    await set.failover();
    expect(await promoted).to.equal(replica);
    // Sentinel demotes the old master only some 10 s later: until then a node left on it acks into a history the others no longer read.
    await left(set, master, 5_000);
    await Promise.all([ready(a), ready(b)]);
    expect(await set.roomsConnections(replica), 'both connections of both nodes on the promoted server').to.equal(4);
    const alice = await join(a.url('1'), 'alice');
    const bob = await join(b.url('1'), 'bob');
    alice.client.send({ event: 'broadcast', message: 'moved', id: 1 });
    const ack = (await until(alice.client, (e) => e.event === 'ack' && e.re === 1)).pop()!;
    expect(ack).to.not.have.property('local');
    expect(await bob.client.next('message')).to.include({ message: 'moved', seq: ack.seq });
    expect(await replica.admin.xlen('rooms:{/channel?id=1}:log')).to.equal(1);
  });

  it('a Sentinel that missed a failover and announces it late leaves the nodes on the promoted server', async () => {
    const set = await SentinelSet.start();
    const [master, replica] = set.servers;
    const [a] = await startNodes(set.url, 1, ['--presence-ttl', '2000', '--redis-timeout', '1000']);
    await set.ready();
    const late = set.sentinels[2];
    const heard = late.connect();
    await heard.subscribe('+switch-master');
    const announced = new Promise<void>((resolve) => heard.on('message', (_channel: string, message: string) => message.startsWith(`${MASTER_NAME} `) && resolve()));
    await late.pause();
    const { promoted } = await set.watchSwitch();
    await set.failover();
    expect(await promoted).to.equal(replica);
    await left(set, master, 5_000);
    await ready(a);
    const cuts = (a.output().match(/redis unreachable/g) ?? []).length;
    await late.resume();
    await announced;
    const alice = await join(a.url('1'), 'alice');
    alice.client.send({ event: 'broadcast', message: 'still here', id: 1 });
    const ack = (await until(alice.client, (e) => e.event === 'ack' && e.re === 1)).pop()!;
    expect(ack, 'acknowledged through Redis, not locally').to.have.property('seq');
    expect(ack).to.not.have.property('local');
    expect((a.output().match(/redis unreachable/g) ?? []).length, 'cut off by the late announcement').to.equal(cuts);
    expect(await set.roomsConnections(replica)).to.equal(2);
  });

  it('a failover of another master the same Sentinels watch leaves the nodes where they are', async () => {
    const set = await SentinelSet.start();
    const [a] = await startNodes(set.url, 1, ['--presence-ttl', '2000', '--redis-timeout', '1000']);
    await set.monitor('other');
    const alice = await join(a.url('1'), 'alice');
    const { promoted } = await set.watchSwitch(20_000, 'other');
    await set.failover('other');
    await promoted;
    alice.client.send({ event: 'broadcast', message: 'after', id: 1 });
    const ack = (await until(alice.client, (e) => e.event === 'ack' && e.re === 1)).pop()!;
    expect(ack, 'acknowledged through Redis, not locally').to.include({ seq: 1 }).and.not.have.property('local');
    expect((await fetch(a.http('/readyz'))).status).to.equal(200);
    expect(a.output()).not.to.include('redis unreachable');
  });
});
