import { expect } from 'chai';
import { needRedis } from '../support/redis.js';
import { check } from './harness/checker.js';
import { Cluster, firstAck, oneEpochEach, SHAPE, TIMING, userListsAgree } from './harness/cluster.js';
import { expectClean, record, runs } from './harness/report.js';
import { Traffic } from './harness/traffic.js';

describe('faults: Redis Sentinel fails the master over', function () {
  this.timeout(60_000);

  beforeEach(function () {
    needRedis(this);
  });

  for (const run of runs()) {
    it(`the master SIGKILLed mid-traffic: the nodes serve locally, then move to the promoted replica, resubscribe and fill from its history; nothing acknowledged is lost or doubled, or the members are told recovered:false${run}`, async () => {
      const cluster = await Cluster.start({ ...TIMING, sentinel: true });
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE });
      await traffic.afterDeliveries(600);
      const { promoted } = await cluster.sentinels!.watchSwitch();
      // Messages in flight when the master dies: some may have gone out, and are sent again with their ids.
      for (const m of traffic.members) m.burst(2);
      const startedAt = Date.now();
      await cluster.redis.stop();
      const killedAt = Date.now();
      expect(await promoted, 'the replica promoted').to.equal(cluster.sentinels!.servers[1]);
      const switchMs = Date.now() - startedAt;
      await cluster.allBecome('ok');
      await traffic.afterDeliveries(600);
      await traffic.finish();

      const report = check('sentinel-kill', traffic.members);
      const firstAckMs = firstAck(traffic, killedAt) - startedAt;
      record(report, { switchMs, firstAckMs });
      console.log(`        +switch-master ${switchMs} ms after the kill, first ack on the new master ${firstAckMs} ms after it`);
      expectClean(report);
      await userListsAgree(traffic, [0, 1, 2]);
      oneEpochEach(traffic);
    });

    it(`SENTINEL FAILOVER mid-traffic, the old master still up: the nodes leave it at +switch-master for the new one; nothing acknowledged is lost or doubled, or the members are told recovered:false${run}`, async () => {
      const cluster = await Cluster.start({ ...TIMING, sentinel: true });
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE });
      await traffic.afterDeliveries(600);
      const sentinels = cluster.sentinels!;
      const { promoted } = await sentinels.watchSwitch();
      const startedAt = Date.now();
      await sentinels.failover();
      expect(await promoted, 'the replica promoted').to.equal(sentinels.servers[1]);
      const switchedAt = Date.now();
      await cluster.allBecome('ok');
      await traffic.afterDeliveries(600);
      await traffic.finish();

      const report = check('sentinel-failover', traffic.members);
      const switchMs = switchedAt - startedAt;
      const firstAckMs = firstAck(traffic, switchedAt) - startedAt;
      record(report, { switchMs, firstAckMs });
      console.log(`        +switch-master ${switchMs} ms after SENTINEL FAILOVER, first ack of a message sent after it ${firstAckMs} ms after the command`);
      expectClean(report);
      await userListsAgree(traffic, [0, 1, 2]);
      oneEpochEach(traffic);
      // The old master is still up and still a master for some 10 s: a node that missed the switch would be acking there unseen.
      expect(await sentinels.roomsConnections(sentinels.servers[0]), 'rooms connections left on the old master').to.equal(0);
      expect(await sentinels.roomsConnections(sentinels.servers[1]), 'rooms connections on the promoted server').to.equal(6);
    });
  }
});
