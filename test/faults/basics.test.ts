import { expect } from 'chai';
import { Redis } from 'ioredis';
import { onCleanup } from '../support/cleanup.js';
import { connect, join, until, type Client, type Event } from '../support/client.js';
import { startNodes, type RoomsNode } from '../support/node.js';
import { needRedis, RedisServer } from '../support/redis.js';

async function health(node: RoomsNode): Promise<string> {
  const body = (await (await fetch(node.http('/healthz'))).json()) as { status: string };
  return body.status;
}

/** Asks /healthz until it reports `status`: the node changes it without telling any client. */
async function healthBecomes(node: RoomsNode, status: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await health(node)) !== status) {
    if (Date.now() > deadline) throw new Error(`node never reported ${status}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A member that sends `count` broadcasts, each after the ack of the one before, and reads until it
 * has `total` messages. When its node dies it reconnects to the next URL with since and epoch,
 * and sends again, with the same id, what was not acknowledged: what a reconnecting client does.
 */
class Sender {
  readonly received: Event[] = [];
  readonly acked = new Set<number>();
  recovered: boolean[] = [];

  constructor(
    readonly user: string,
    private readonly urls: string[],
    private readonly count: number,
    private readonly total: number,
    private readonly onMessage: () => void,
  ) {}

  private client: Client | null = null;

  /** Connects to the first URL and authenticates, without sending anything yet. */
  async enter(): Promise<void> {
    this.client = await connect(this.urls[0]);
    await this.client.request({ event: 'auth', user: this.user }, 'token');
  }

  /** Sends and reads until every message is in, moving to the next URL when a node dies. */
  async run(): Promise<void> {
    for (let i = 0; i < this.urls.length; i += 1) {
      const client = this.client ?? (await this.reconnect(this.urls[i]));
      this.client = null;
      let next = 1;
      while (next <= this.count && this.acked.has(next)) next += 1;
      const sendNext = (): void => {
        if (next <= this.count) client.send({ event: 'broadcast', message: `${this.user}:${next}`, id: next });
      };
      sendNext();
      try {
        for (;;) {
          const e = await client.next();
          if (e.event === 'ack') {
            this.acked.add(e.re as number);
            next = (e.re as number) + 1;
            sendNext();
          } else if (e.event === 'message') {
            this.received.push(e);
            this.onMessage();
          }
          if (this.received.length === this.total && this.acked.size === this.count) return;
        }
      } catch {
        // The node died under this connection: go on with the next one.
      }
    }
    throw new Error(`${this.user} ran out of nodes with ${this.received.length} of ${this.total} messages`);
  }

  private async reconnect(url: string): Promise<Client> {
    const client = await connect(url);
    const last = this.received[this.received.length - 1];
    const reply = await client.request({ event: 'auth', user: this.user, since: last.seq, epoch: last.epoch }, 'token');
    this.recovered.push(reply.recovered as boolean);
    return client;
  }
}

describe('faults', function () {
  this.timeout(90_000);
  let redis: RedisServer;

  beforeEach(async function () {
    needRedis(this);
    redis = await RedisServer.start();
  });

  it('Redis stopped mid-traffic: nodes keep serving their own members, say degraded, log it once, and resync when it is back', async () => {
    const [a, b] = await startNodes(redis.url, 2);
    const alice = await join(a.url('1'), 'alice');
    const bob = await join(a.url('1'), 'bob');
    const carol = await join(b.url('1'), 'carol');
    const sent = 200;
    for (let i = 1; i <= sent; i += 1) alice.client.send({ event: 'talk_with', auth: alice.token, message: i, id: i });
    await redis.stop();
    // Every message gets exactly one answer: an ack (with a seq, or local once Redis is known to be
    // down) or `unavailable`. What Redis had ordered but not yet published when it died is lost with
    // it (it kept nothing): the rest reaches bob once each, in order.
    const answers: Event[] = [];
    const answered = new Set<unknown>();
    while (answered.size < sent) {
      const e = await alice.client.next();
      expect(['ack', 'error']).to.include(e.event);
      if (e.event === 'error') expect(e.code).to.equal('unavailable');
      expect(answered.has(e.re), `one answer for ${String(e.re)}`).to.equal(false);
      answered.add(e.re);
      answers.push(e);
    }
    await healthBecomes(a, 'degraded');
    await healthBecomes(b, 'degraded');
    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'marker' });
    const delivered = (await until(bob.client, (e) => e.message === 'marker', (e) => e.event === 'message' && e.message !== 'marker')).map((e) => e.message as number);
    expect(delivered.join(','), 'in order, no duplicate').to.equal([...delivered].sort((x, y) => x - y).filter((v, i, all) => all.indexOf(v) === i).join(','));
    const local = answers.filter((e) => e.local === true).map((e) => e.re as number);
    for (const id of local) expect(delivered, `local ${id} delivered`).to.include(id);

    alice.client.send({ event: 'talk_with', auth: alice.token, message: 'while down', id: 'down' });
    expect(await alice.client.next('ack')).to.deep.equal({ event: 'ack', re: 'down', local: true });
    const whileDown = await bob.client.next('message');
    expect(whileDown).to.include({ message: 'while down', from: 'alice' });
    expect(whileDown).to.not.have.property('seq');
    const dave = await join(a.url('1'), 'dave');
    expect((await dave.client.request({ event: 'user_list', auth: dave.token })).message).to.deep.equal(['alice', 'bob', 'dave']);

    await redis.restart();
    await healthBecomes(a, 'ok');
    await healthBecomes(b, 'ok');
    carol.client.send({ event: 'user_list', auth: carol.token });
    const [list] = await until(carol.client, (e) => e.event === 'user_list', (e) => e.event === 'user_list');
    expect(list.message).to.have.members(['alice', 'bob', 'carol', 'dave']);
    alice.client.send({ event: 'broadcast', message: 'back', id: 'back' });
    expect(await carol.client.next('message')).to.include({ message: 'back', seq: 1 });
    for (const node of [a, b]) {
      expect(node.child.exitCode, 'still running').to.equal(null);
      expect(node.output().match(/redis unreachable/g), 'logged once').to.have.length(1);
    }
  });

  it('a node whose subscription dropped catches up from history: its members miss nothing published meanwhile', async () => {
    const [a, b] = await startNodes(redis.url, 2);
    const alice = await join(a.url('1'), 'alice');
    const bob = await join(b.url('1'), 'bob');
    const admin = new Redis(redis.url);
    onCleanup(() => void admin.disconnect());
    // Every node's Pub/Sub connection drops; their command connections stay.
    await admin.client('KILL', 'TYPE', 'pubsub');
    bob.client.send({ event: 'broadcast', message: 'while deaf', id: 1 });
    expect(await bob.client.next('message')).to.include({ message: 'while deaf', seq: 1 });
    expect(await bob.client.next('ack')).to.include({ re: 1, seq: 1 });
    expect(await alice.client.next('message')).to.include({ message: 'while deaf', seq: 1 });
    bob.client.send({ event: 'broadcast', message: 'after', id: 2 });
    expect(await alice.client.next('message')).to.include({ message: 'after', seq: 2 });
  });

  it('a node SIGKILLed while 50 clients send: its members leave everywhere within presenceTtl, and its clients resume elsewhere losing nothing; every message reaches every member once, in order', async () => {
    const presenceTtl = 2_000;
    const nodes = await startNodes(redis.url, 3, ['--presence-ttl', String(presenceTtl), '--redis-timeout', '1000']);
    const [a, b, c] = nodes as [RoomsNode, RoomsNode, RoomsNode];
    const watcher = await join(c.url('1'), 'watcher', { presence: true });
    const perClient = 12;
    const clients = 50;
    const total = perClient * clients;
    let deliveries = 0;
    let kill: () => void = () => undefined;
    const killNow = new Promise<void>((resolve) => (kill = resolve));
    const senders = Array.from({ length: clients }, (_, i) => {
      const home = nodes[i % 3];
      const elsewhere = home === a ? [b, c] : [home];
      return new Sender(`u${i}`, [home.url('1'), ...elsewhere.map((n) => n.url('1'))], perClient, total, () => {
        deliveries += 1;
        if (deliveries === Math.floor((total * clients) / 3)) kill();
      });
    });
    const onA = senders.filter((_, i) => i % 3 === 0).map((s) => s.user);
    // Everyone is in before anyone sends, so that every member is owed every message.
    await Promise.all(senders.map((s) => s.enter()));
    const running = senders.map((s) => s.run());
    await killNow;
    await a.kill();
    const killedAt = Date.now();
    const left = new Set<string>();
    const watched: Event[] = [];
    while (left.size < onA.length) {
      const e = await watcher.client.next();
      if (e.event === 'leave' && onA.includes(e.user as string)) left.add(e.user as string);
      if (e.event === 'message') watched.push(e);
    }
    expect(Date.now() - killedAt, 'leaves within presenceTtl').to.be.below(presenceTtl + 1_000);
    await Promise.all(running);
    for (const s of senders) {
      const seqs = s.received.map((e) => e.seq);
      expect(seqs, `${s.user} in order, no gap, no duplicate`).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
      expect(s.acked.size, `${s.user} acked`).to.equal(perClient);
    }
    const first = senders[0].received.map((e) => `${e.seq as number}:${e.message as string}`);
    for (const s of senders) expect(s.received.map((e) => `${e.seq as number}:${e.message as string}`)).to.deep.equal(first);
    expect(new Set(first.map((k) => k.split(':').slice(1).join(':'))).size, 'each message once').to.equal(total);
    for (const s of senders.filter((x) => onA.includes(x.user))) expect(s.recovered).to.deep.equal([true]);
  });
});
