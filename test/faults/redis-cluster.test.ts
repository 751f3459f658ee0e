import calculateSlot from 'cluster-key-slot';
import { expect } from 'chai';
import { needRedis } from '../support/redis.js';
import { check } from './harness/checker.js';
import { Cluster, oneEpochEach, SHAPE, TIMING, userListsAgree } from './harness/cluster.js';
import { expectClean, record, runs } from './harness/report.js';
import { Traffic } from './harness/traffic.js';

/** The Redis Cluster slot of a channel of the harness: its keys and topic share the tag `{/channel?id=ID}`. */
const slotOf = (id: string): number => calculateSlot(`rooms:{/channel?id=${id}}`);

describe('faults: a Redis Cluster shard fails over, or a channel slot moves', function () {
  this.timeout(90_000);

  beforeEach(function () {
    needRedis(this);
  });

  for (const run of runs()) {
    it(`the master of a channel's shard SIGKILLed mid-traffic: its replica is promoted, the nodes follow it, resubscribe and fill from its history; nothing acknowledged is lost or doubled, or the members are told recovered:false${run}`, async () => {
      const cluster = await Cluster.start({ ...TIMING, redisCluster: true });
      const shards = cluster.shards!;
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE });
      await traffic.afterDeliveries(600);
      const master = await shards.masterOf(slotOf('c0'));
      // Messages in flight when the master dies: some may have gone out, and are sent again with their ids.
      for (const m of traffic.members) m.burst(2);
      const startedAt = Date.now();
      const promoted = await shards.killMaster(master);
      const promotedMs = Date.now() - startedAt;
      expect((await shards.masterOf(slotOf('c0'), [promoted])).port, 'c0 on the promoted replica').to.equal(promoted.port);
      await cluster.allBecome('ok');
      const okMs = Date.now() - startedAt;
      await traffic.afterDeliveries(600);
      await traffic.finish();

      const report = check('cluster-kill', traffic.members);
      record(report, { promotedMs, okMs });
      console.log(`        replica promoted ${promotedMs} ms after the kill (cluster-node-timeout 1000), every node ok again ${okMs} ms after it`);
      expectClean(report);
      await userListsAgree(traffic, [0, 1, 2]);
      oneEpochEach(traffic);
    });

    it(`a channel's slot migrated to another master mid-traffic: the nodes follow it there, subscribe again and fill; nothing acknowledged is lost or doubled${run}`, async () => {
      const cluster = await Cluster.start({ ...TIMING, redisCluster: true });
      const shards = cluster.shards!;
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE });
      await traffic.afterDeliveries(600);
      const slot = slotOf('c0');
      const from = await shards.masterOf(slot);
      const others = await Promise.all([slotOf('c1'), slotOf('c2'), 0, 8_000, 16_000].map((s) => shards.masterOf(s)));
      const to = others.find((s) => s !== from)!;
      const startedAt = Date.now();
      await shards.moveSlot(slot, to);
      const movedMs = Date.now() - startedAt;
      expect((await shards.masterOf(slot)).port, 'c0 on its new master').to.equal(to.port);
      await traffic.afterDeliveries(600);
      await traffic.finish();

      const report = check('cluster-migrate', traffic.members);
      record(report, { movedMs });
      console.log(`        slot ${slot} moved from ${from.port} to ${to.port} in ${movedMs} ms`);
      expectClean(report);
      await userListsAgree(traffic, [0, 1, 2]);
      oneEpochEach(traffic);
      // Every node now listens to c0 where it lives: its sharded topic has a subscriber per node on the new master.
      expect(await to.admin.call('PUBSUB', 'SHARDNUMSUB', 'rooms:{/channel?id=c0}'), 'subscribers on the new master').to.deep.equal(['rooms:{/channel?id=c0}', 3]);
    });
  }
});
