import { expect } from 'chai';
import { needRedis } from '../support/redis.js';
import { check } from './harness/checker.js';
import { Cluster, SHAPE, TIMING, userListsAgree } from './harness/cluster.js';
import { expectClean, record, runs } from './harness/report.js';
import { Traffic, type Member } from './harness/traffic.js';

describe('faults: a node stopped', function () {
  this.timeout(60_000);

  beforeEach(function () {
    needRedis(this);
  });

  for (const run of runs()) {
    it(`a node SIGSTOPped for longer than presenceTtl: the others announce its members' leaves and keep no ghost; once it runs again it re-claims the names nobody took, closes the connections whose names were taken elsewhere, and every node lists each name once${run}`, async () => {
      const cluster = await Cluster.start(TIMING);
      const traffic = await Traffic.start({ nodes: cluster.endpoints, ...SHAPE });
      await traffic.afterDeliveries(600);
      // Of node 1's two members in each channel, one stays on it through the stop; the other gives
      // it up and takes its name to another node: in c0 terminating its old socket, in c1 and c2
      // leaving it open, as a client that vanished without the node hearing of it.
      const stayers: Member[] = [];
      const movers: { member: Member; abandon: boolean }[] = [];
      for (const [i, channel] of SHAPE.channels.entries()) {
        const [stay, move] = traffic.inChannel(channel).filter((m) => m.home === 1);
        stayers.push(stay);
        movers.push({ member: move, abandon: i > 0 });
      }
      const stoppedAt = Date.now();
      await cluster.nodes[1].pause();
      await Promise.all(movers.map(({ member, abandon }) => member.move(abandon)));
      await traffic.until('the movers admitted elsewhere, every leave of node 1 announced on nodes 0 and 2, and 1.5 × presenceTtl gone by', () => {
        const moved = movers.every(({ member }) => member.live && member.node !== 1);
        const announced = [...stayers, ...movers.map((x) => x.member)].every((m) => [0, 2].every((n) => traffic.leaveSeen(m.channel, n, m.user, stoppedAt)));
        return moved && announced && Date.now() - stoppedAt > 1.5 * TIMING.presenceTtl;
      });
      // No ghost: nodes 0 and 2 list exactly the members connected to them.
      for (const channel of SHAPE.channels) {
        const here = traffic.inChannel(channel).filter((m) => m.live && m.node !== 1);
        for (const node of [0, 2]) {
          const names = await here.find((m) => m.node === node)!.userList();
          expect([...names].sort(), `user_list of ${channel} on node ${node} while node 1 is stopped`).to.deep.equal(here.map((m) => m.user).sort());
        }
      }
      await cluster.nodes[1].resume();
      await cluster.becomes(1, 'ok');
      const okAt = Date.now();
      const abandoned = movers.filter((x) => x.abandon).map(({ member }) => member.sessions.find((s) => s.ended?.how === 'abandoned')!);
      await traffic.until('node 1 closing the connections whose names were taken elsewhere', () => abandoned.every((s) => s.closedLater !== null));
      await traffic.afterDeliveries(600);
      await traffic.finish();

      const report = check('node-stop', traffic.members);
      const servedAfterOk = abandoned.reduce((n, s) => n + s.late.filter((r) => r.at >= okAt).length, 0);
      record(report, { servedAfterOk });
      console.log(`        abandoned connections closed with ${abandoned.map((s) => s.closedLater!.code).join(', ')}; deliveries to them after node 1 said ok: ${servedAfterOk}`);
      expectClean(report);
      await userListsAgree(traffic, [0, 1, 2]);
      expect(servedAfterOk, 'a connection whose name was taken elsewhere served after node 1 is back').to.equal(0);
      for (const m of stayers) expect(m.sessions.filter((s) => s.token !== null), `${m.user} stayed on node 1`).to.have.length(1);
    });
  }
});
