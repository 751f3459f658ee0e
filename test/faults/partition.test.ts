import { expect } from 'chai';
import { needNetns } from '../support/netns.js';
import { needRedis } from '../support/redis.js';
import { check } from './harness/checker.js';
import { Cluster, SHAPE, TIMING, userListsAgree } from './harness/cluster.js';
import { expectClean, record, runs } from './harness/report.js';
import { Traffic, type Answer } from './harness/traffic.js';

describe('faults: a node cut off from Redis', function () {
  this.timeout(60_000);

  beforeEach(function () {
    needRedis(this);
    needNetns(this);
  });

  for (const run of runs()) {
    it(`a silent partition between one node and Redis (its clients still reach it): within redisTimeout and a beat it serves its members locally, no answer waits past redisTimeout + 1 s, the other nodes go on, and once the link is back it is ok, its names are re-claimed and nothing acknowledged is lost or doubled${run}`, async () => {
      // Node 2 runs in a network namespace: Redis over one veth pair, its clients over another.
      const cluster = await Cluster.start({ ...TIMING, partitioned: true });
      const netns = cluster.netns!;
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE, quiet: [['c0', 2]] });
      const prober = traffic.members.find((m) => m.quiet)!;
      await traffic.afterDeliveries(600);

      netns.cutRedis();
      const cutAt = Date.now();
      // Probes, each sent when the one before is answered, until one is served locally.
      const answers: Answer['kind'][] = [];
      let local: { id: string; at: number } | null = null;
      while (local === null) {
        const probe = await prober.probe();
        answers.push(probe.answer.kind);
        if (probe.answer.kind === 'local') local = { id: probe.id, at: Date.now() };
      }
      const ackedMs = local.at - cutAt;
      expect(answers.slice(0, -1), 'answers before the first local one').to.satisfy((kinds: string[]) => kinds.every((k) => k === 'unavailable'));
      const probeId = local.id;
      const neighbours = traffic.on(2).filter((m) => m.channel === 'c0');
      await traffic.until('the local probe at every member of c0 on node 2, without a seq', () => neighbours.every((m) => m.current!.received.some((r) => r.id === probeId && r.seq === null)));
      const servedAt = Date.now();
      const servedMs = servedAt - cutAt;
      await traffic.until('30 acks with a seq on nodes 0 and 1 during the cut', () => traffic.answers(0, 'seq', servedAt).length + traffic.answers(1, 'seq', servedAt).length >= 30);
      // The cut lasts until the other nodes have announced the leave of every member of node 2.
      const cut = traffic.members.filter((m) => m.node === 2);
      await traffic.until("every leave of node 2's members announced on nodes 0 and 1", () => cut.every((m) => [0, 1].every((n) => traffic.leaveSeen(m.channel, n, m.user, cutAt))));
      expect(await Promise.all([0, 1, 2].map((i) => cluster.health(i))), 'health during the cut').to.deep.equal(['ok', 'ok', 'degraded']);

      netns.restoreRedis();
      await cluster.becomes(2, 'ok');
      await userListsAgree(traffic, [0, 1, 2]);
      await traffic.afterDeliveries(600);
      await traffic.finish();

      const report = check('partition', traffic.members);
      record(report, { firstLocalMs: servedMs });
      console.log(`        first local ack ${ackedMs} ms after the cut (after ${answers.length - 1} unavailable), at every member of c0 on node 2 ${servedMs} ms after it`);
      expectClean(report);
      await userListsAgree(traffic, [0, 1, 2]);
      expect(servedMs, 'the local message at the members of node 2 within redisTimeout + a beat (+1 s) of the cut').to.be.at.most(TIMING.redisTimeout + cluster.beat + 1_000);
      expect(report.maxWaitMs, 'the longest wait for an answer').to.be.at.most(TIMING.redisTimeout + 1_000);
      for (const m of cut) expect(m.sessions.filter((s) => s.token !== null), `${m.user} stayed connected to node 2`).to.have.length(1);
    });
  }
});
