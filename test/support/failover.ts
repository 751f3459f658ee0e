import { expect } from 'chai';
import { connect, join, until, type Event } from './client.js';
import type { RoomsNode } from './node.js';
import type { RedisServer } from './redis.js';

const isMessage = (e: Event): boolean => e.event === 'message';

/** Asks /readyz until it answers 200: the node changes it without telling any client. */
export async function ready(node: RoomsNode): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await fetch(node.http('/readyz'))).status !== 200) {
    if (Date.now() > deadline) throw new Error(`node on ${node.port} never became ready`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A failover to a replica that lagged, on two nodes, in channel 1 (its keys `rooms:{/channel?id=1}`
 * on `master`): m1 to m3 reach the replica, which then stops and loses its link, m4 to m6 only the
 * master, which dies; `promoted` resolves once the replica serves the channel. Then the channel
 * must start a new epoch, so that seqs 4 to 6 are not given out again under the old one: a resume
 * from m6 is recovered:false, and the members from before either go on in the new epoch or are
 * told to resume (4001), never missing a message unawares.
 */
export async function failoverToLaggingReplica(nodes: RoomsNode[], master: RedisServer, replica: RedisServer, promoted: () => Promise<void>): Promise<void> {
  const [a, b] = nodes;
  const alice = await join(a.url('1'), 'alice');
  const bob = await join(b.url('1'), 'bob');
  const send = async (i: number): Promise<void> => {
    alice.client.send({ event: 'broadcast', message: `m${i}`, id: i });
    await until(alice.client, (e) => e.event === 'ack' && e.re === i);
  };
  for (let i = 1; i <= 3; i += 1) await send(i);
  // The replica falls behind: stopped, and its link to the master cut, before m4 to m6.
  await replica.pause();
  await master.admin.client('KILL', 'TYPE', 'replica');
  for (let i = 4; i <= 6; i += 1) await send(i);
  const seen = await until(bob.client, (e) => e.message === 'm6', isMessage);
  const epoch = seen[0].epoch as string;
  await master.stop();
  await replica.resume();
  // Still a replica, which no node writes to: it holds the epoch at m3. (A cluster's replica
  // answers reads after READONLY only; any other refuses the command, and needs none.)
  await replica.admin.call('READONLY').catch(() => undefined);
  expect(await replica.admin.mget('rooms:{/channel?id=1}:epoch', 'rooms:{/channel?id=1}:seq'), 'the replica holds the epoch up to m3').to.deep.equal([epoch, '3']);
  await promoted();
  await Promise.all([ready(a), ready(b)]);

  const dave = await connect(b.url('1'));
  const reply = await dave.request({ event: 'auth', user: 'dave', since: 6, epoch }, 'token');
  expect(reply).to.include({ recovered: false });
  expect(reply.epoch, 'a new epoch: seqs 4 to 6 are not given out again under the old one').to.not.equal(epoch);
  const carol = await join(a.url('1'), 'carol');
  carol.client.send({ event: 'broadcast', message: 'after', id: 'after' });
  const got = await until(dave, (e) => e.message === 'after', isMessage);
  expect(got[got.length - 1]).to.include({ from: 'carol', seq: 1, epoch: reply.epoch });
  for (const old of [alice, bob]) {
    const after = until(old.client, (e) => e.message === 'after', isMessage).then((events) => events.pop()!);
    const outcome = await Promise.race([after, old.client.closed.then((closed) => closed.code)]);
    if (typeof outcome === 'number') expect(outcome, 'told it missed messages').to.equal(4001);
    else expect(outcome).to.include({ seq: 1, epoch: reply.epoch });
  }
}
