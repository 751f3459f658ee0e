import { expect } from 'chai';
import { needRedis } from '../support/redis.js';
import { check } from './harness/checker.js';
import { Cluster, SHAPE, TIMING, userListsAgree } from './harness/cluster.js';
import { expectClean, record, runs } from './harness/report.js';
import { Traffic } from './harness/traffic.js';

describe('faults: Redis killed and restarted empty', function () {
  this.timeout(60_000);

  beforeEach(function () {
    needRedis(this);
  });

  for (const run of runs()) {
    it(`Redis SIGKILLed mid-traffic and restarted empty on its port: nodes serve locally, then a new epoch; nothing acknowledged is lost or doubled, and a resume from the old epoch is recovered:false${run}`, async () => {
      const cluster = await Cluster.start(TIMING);
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE });
      await traffic.afterDeliveries(600);
      const before = new Map(SHAPE.channels.map((channel) => [channel, traffic.inChannel(channel)[0].position!.epoch]));
      // One member per channel, each on a node of its own, is away through the outage and comes
      // back once Redis has restarted: it resumes from the old epoch. It leaves just after sending a
      // few messages, so their acks are lost and it sends them again in the new epoch.
      const away = SHAPE.channels.map((channel, i) => traffic.inChannel(channel).find((m) => m.home === i)!);
      for (const m of away) {
        m.burst(3);
        m.park();
      }
      // Messages in flight when Redis dies: some may have gone out, and are sent again with their ids.
      for (const m of traffic.members) m.burst(2);
      const killedAt = Date.now();
      await cluster.redis.stop();
      await cluster.allBecome('degraded');
      await traffic.until('a local ack on every node', () => [0, 1, 2].every((n) => traffic.answers(n, 'local', killedAt).length > 0));
      await cluster.redis.restart();
      await cluster.allBecome('ok');
      await traffic.afterDeliveries(600);
      await Promise.all(away.map((m) => m.unpark()));
      await traffic.finish();

      const report = check('redis-kill', traffic.members);
      // Which nodes delivered each id in the old epoch: such a node must answer a re-send of it duplicate.
      const deliveredBefore = new Map<string, Set<number>>();
      for (const m of traffic.members) {
        for (const s of m.sessions) {
          for (const r of s.received) if (r.epoch === before.get(m.channel)) deliveredBefore.set(r.id, (deliveredBefore.get(r.id) ?? new Set()).add(s.node));
        }
      }
      const outgoing = traffic.members.flatMap((m) => [...m.outgoing.values()]);
      const forgotten = outgoing.filter((o) => o.attempts.some((a) => a.answer?.kind === 'seq' && a.sentAt > killedAt && deliveredBefore.get(o.id)?.has(a.session.node) === true));
      const acrossEpochs = outgoing.filter((o) => o.outcome?.kind === 'duplicate' && deliveredBefore.has(o.id)).length;
      record(report, { acrossEpochs });
      console.log(`        re-sent after the restart and answered duplicate for a copy delivered before it: ${acrossEpochs}`);
      expectClean(report);
      await userListsAgree(traffic, [0, 1, 2]);
      expect(
        forgotten.map((o) => o.id),
        'ids a node delivered before Redis restarted, sent again after it and given a new seq there instead of duplicate',
      ).to.deep.equal([]);
      for (const m of away) expect(m.current!.token, `${m.user} resumed from the old epoch`).to.include({ recovered: false });
      for (const channel of SHAPE.channels) {
        const epochs = new Set(traffic.inChannel(channel).map((m) => m.position!.epoch));
        expect(epochs.size, `${channel}: one epoch at the end`).to.equal(1);
        expect([...epochs][0], `${channel}: a new epoch`).to.not.equal(before.get(channel));
      }
    });
  }
});
