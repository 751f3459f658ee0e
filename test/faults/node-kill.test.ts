import { expect } from 'chai';
import { needRedis } from '../support/redis.js';
import { check } from './harness/checker.js';
import { Cluster, SHAPE, TIMING, userListsAgree } from './harness/cluster.js';
import { expectClean, record, runs } from './harness/report.js';
import { Traffic } from './harness/traffic.js';

describe('faults: a node killed', function () {
  this.timeout(60_000);

  beforeEach(function () {
    needRedis(this);
  });

  for (const run of runs()) {
    it(`a node SIGKILLed mid-traffic: its members resume on the other nodes with recovered:true, re-send what was not acknowledged, and nothing acknowledged is lost or doubled${run}`, async () => {
      const cluster = await Cluster.start(TIMING);
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE });
      await traffic.afterDeliveries(600);
      const moving = traffic.on(1);
      // Messages in flight when it dies: its members send them again, with their ids, elsewhere.
      for (const m of moving) m.burst(4);
      await cluster.nodes[1].kill();
      await traffic.until('every member of the killed node back on another node', () => moving.every((m) => m.live && m.node !== 1));
      await traffic.afterDeliveries(600);
      await traffic.finish();

      const report = check('node-kill', traffic.members);
      record(report);
      expectClean(report);
      await userListsAgree(traffic, [0, 2]);
      for (const m of moving) {
        const resumes = m.sessions.slice(1).filter((s) => s.token !== null);
        expect(resumes.map((s) => s.token!.recovered), `${m.user}'s resumes`).to.deep.equal(resumes.map(() => true));
      }
      expect(report.notRecovered, 'resumes with recovered:false').to.equal(0);
    });
  }
});
