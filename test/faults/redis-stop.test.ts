import { expect } from 'chai';
import { needRedis } from '../support/redis.js';
import { check } from './harness/checker.js';
import { Cluster, SHAPE, TIMING, userListsAgree } from './harness/cluster.js';
import { expectClean, record, runs } from './harness/report.js';
import { Traffic } from './harness/traffic.js';

describe('faults: Redis stopped', function () {
  this.timeout(60_000);

  beforeEach(function () {
    needRedis(this);
  });

  for (const run of runs()) {
    it(`Redis SIGSTOPped for 2.5 × redisTimeout mid-traffic: every node serves locally within redisTimeout and a beat, no answer waits past redisTimeout + 1 s, and once Redis answers again nothing acknowledged is lost or doubled${run}`, async () => {
      const cluster = await Cluster.start(TIMING);
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE });
      await traffic.afterDeliveries(600);
      const stoppedAt = Date.now();
      await cluster.redis.pause();
      // Traffic goes on through the stop; it lasts until every node has served locally and at least
      // 2.5 × redisTimeout have passed.
      const locals = (): number[] => [0, 1, 2].map((n) => Math.min(...traffic.answers(n, 'local', stoppedAt).map((a) => a.answeredAt!)));
      await traffic.until('a local ack on every node, 2.5 × redisTimeout into the stop', () => locals().every(Number.isFinite) && Date.now() - stoppedAt >= 2.5 * TIMING.redisTimeout);
      const detected = locals().map((at) => at - stoppedAt);
      await cluster.allBecome('degraded');
      await cluster.redis.resume();
      await cluster.allBecome('ok');
      await traffic.afterDeliveries(600);
      await traffic.finish();

      const report = check('redis-stop', traffic.members);
      record(report, { firstLocalMs: Math.max(...detected) });
      console.log(`        first local ack per node after the stop: ${detected.join(', ')} ms`);
      expectClean(report);
      await userListsAgree(traffic, [0, 1, 2]);
      const bound = TIMING.redisTimeout + cluster.beat + 1_000;
      for (const [n, ms] of detected.entries()) expect(ms, `node ${n} served locally within redisTimeout + a beat (+1 s)`).to.be.at.most(bound);
      expect(report.maxWaitMs, 'the longest wait for an answer').to.be.at.most(TIMING.redisTimeout + 1_000);
    });
  }
});
