import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { pino } from 'pino';
import { newEpoch, type Draft, type Engine, type EngineOptions, type EngineSink, type Publication, type Signal } from '../src/engine/engine.js';
import { MemoryEngine } from '../src/engine/memory.js';
import { RedisEngine } from '../src/engine/redis.js';
import { onCleanup, shared } from './support/cleanup.js';
import { needRedis, RedisCluster, RedisServer, SentinelSet } from './support/redis.js';

/** A sink that records what an engine delivers and lets a test wait for it. */
class Recorder implements EngineSink {
  readonly publications: { channel: string; p: Publication }[] = [];
  readonly signals: { channel: string; s: Signal }[] = [];
  readonly states: boolean[] = [];
  cuts = 0;
  private waiters: (() => void)[] = [];

  publication(channel: string, p: Publication): void {
    this.publications.push({ channel, p });
    this.wake();
  }

  signal(channel: string, s: Signal): void {
    this.signals.push({ channel, s });
    this.wake();
  }

  state(up: boolean): void {
    this.states.push(up);
    this.wake();
  }

  cut(): void {
    this.cuts += 1;
    this.wake();
  }

  async until(what: string, condition: () => boolean): Promise<void> {
    while (!condition()) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 5_000);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * redisTimeout of the Redis engines, which is also how long start() waits for them to be up: above
 * the 2 s default, because a busy shared machine once took longer than that to connect a fresh
 * cluster's shards (the contract is about what an engine does once up, not how fast it gets there).
 * presenceTtl keeps it below 0.6 × presenceTtl, as the configuration requires.
 */
const REDIS_TIMEOUT = 5_000;

const OPTIONS: EngineOptions = { historySize: 1_000, historyTtl: 60_000, presenceTtl: 10_000 };

function draft(text: string, extra: Partial<Draft> = {}): Draft {
  return { head: `{"event":"message","message":${JSON.stringify(text)},"from":"alice","channel":"1"`, tail: ',"ts":1}', route: { from: 'alice', echo: true }, ...extra };
}

function messages(recorder: Recorder, channel: string): string[] {
  return recorder.publications.filter((r) => r.channel === channel).map((r) => (JSON.parse(r.p.json) as { message: string }).message);
}

type Make = (options: EngineOptions) => Promise<Engine>;

/** The suite's Redis Cluster: slower to make than the tests it serves, so one for them all, each engine with a prefix of its own. */
let sharedCluster: RedisCluster | null = null;

/** `open`, when given, runs before the kind's suite, and what it returns after it; `make` is called for each test. */
const kinds: { name: string; before?: (ctx: Mocha.Context) => void; open?: () => Promise<() => Promise<void>>; make: () => Make }[] = [
  {
    name: 'memory',
    make: () => (options) => Promise.resolve(new MemoryEngine(options)),
  },
  {
    name: 'redis',
    before: (ctx) => needRedis(ctx),
    make: () => {
      let redis: Promise<RedisServer> | null = null;
      return async (options) => {
        redis ??= RedisServer.start();
        const server = await redis;
        const log = pino({ level: 'silent' });
        return new RedisEngine({ ...options, url: server.url, prefix: `t${randomBytes(3).toString('hex')}`, log, timeout: REDIS_TIMEOUT });
      };
    },
  },
  {
    // The same engine, its connections made through Sentinels to the master they name.
    name: 'redis via sentinel',
    before: (ctx) => needRedis(ctx),
    make: () => {
      let set: Promise<SentinelSet> | null = null;
      return async (options) => {
        set ??= SentinelSet.start();
        const { url } = await set;
        const log = pino({ level: 'silent' });
        return new RedisEngine({ ...options, url, prefix: `t${randomBytes(3).toString('hex')}`, log, timeout: REDIS_TIMEOUT });
      };
    },
  },
  {
    // The same engine on a 3-master Redis Cluster: each channel on its slot's shard, sharded Pub/Sub.
    name: 'redis cluster',
    before: (ctx) => needRedis(ctx),
    open: async () => {
      const { value, close } = await shared(() => RedisCluster.start());
      sharedCluster = value;
      return close;
    },
    make: () => (options) => {
      const log = pino({ level: 'silent' });
      return Promise.resolve(new RedisEngine({ ...options, url: sharedCluster!.url, prefix: `t${randomBytes(3).toString('hex')}`, log, timeout: REDIS_TIMEOUT }));
    },
  },
];

for (const kind of kinds) {
  describe(`engine contract: ${kind.name}`, function () {
    let make: Make;
    let close: (() => Promise<void>) | undefined;

    before(async function () {
      kind.before?.(this);
      close = await kind.open?.();
    });

    after(() => close?.());

    beforeEach(function () {
      kind.before?.(this);
      make = kind.make();
    });

    async function engine(options: Partial<EngineOptions> = {}): Promise<{ engine: Engine; sink: Recorder }> {
      const sink = new Recorder();
      const e = await make({ ...OPTIONS, ...options });
      onCleanup(() => e.close());
      await e.start(sink);
      return { engine: e, sink };
    }

    it('is up once started', async () => {
      const { engine: e } = await engine();
      expect(e.up).to.equal(true);
    });

    it('numbers each channel from 1, in publish order, and delivers to the subscribed node with seq and epoch filled in', async () => {
      const { engine: e, sink } = await engine();
      await e.subscribe('/c?id=a');
      await e.subscribe('/c?id=b');
      const a1 = await e.publish('/c?id=a', draft('a1'));
      const a2 = await e.publish('/c?id=a', draft('a2'));
      const b1 = await e.publish('/c?id=b', draft('b1'));
      expect([a1.seq, a2.seq, b1.seq]).to.deep.equal([1, 2, 1]);
      expect(a1.duplicate).to.equal(false);
      await sink.until('three publications', () => sink.publications.length === 3);
      expect(messages(sink, '/c?id=a')).to.deep.equal(['a1', 'a2']);
      const first = sink.publications[0].p;
      expect(JSON.parse(first.json)).to.deep.equal({ event: 'message', message: 'a1', from: 'alice', channel: '1', seq: 1, epoch: a1.epoch, ts: 1 });
      expect(first.route).to.deep.equal({ from: 'alice', echo: true });
    });

    it('delivers nothing of a channel the node did not subscribe to, or unsubscribed from', async () => {
      const { engine: e, sink } = await engine();
      await e.subscribe('/c?id=on');
      await e.publish('/c?id=off', draft('never'));
      e.unsubscribe('/c?id=on');
      await e.publish('/c?id=on', draft('gone'));
      await e.subscribe('/c?id=marker');
      await e.publish('/c?id=marker', draft('marker'));
      await sink.until('the marker', () => sink.publications.length >= 1);
      expect(sink.publications.map((r) => r.channel)).to.deep.equal(['/c?id=marker']);
    });

    it('publishes a dedup key once: the second publish says duplicate with the first seq and delivers nothing', async () => {
      const { engine: e, sink } = await engine();
      await e.subscribe('/c?id=d');
      const first = await e.publish('/c?id=d', draft('once', { route: { from: 'alice', echo: true, dedup: 'alice\u00007' } }));
      const again = await e.publish('/c?id=d', draft('once', { route: { from: 'alice', echo: true, dedup: 'alice\u00007' } }));
      const other = await e.publish('/c?id=d', draft('next', { route: { from: 'alice', echo: true, dedup: 'bob\u00007' } }));
      expect(again).to.deep.equal({ seq: first.seq, epoch: first.epoch, duplicate: true });
      expect(other.seq).to.equal(first.seq + 1);
      await sink.until('two publications', () => sink.publications.length === 2);
      expect(messages(sink, '/c?id=d')).to.deep.equal(['once', 'next']);
    });

    it('publishes messages sent in one tick in call order, across channels, a repeated id among them once, and each delivered with its own route', async () => {
      const { engine: e, sink } = await engine();
      await e.subscribe('/c?id=x');
      await e.subscribe('/c?id=y');
      const once = { from: 'alice', echo: true, dedup: 'alice\u00001' };
      const published = await Promise.all([
        e.publish('/c?id=x', draft('x1', { route: once })),
        e.publish('/c?id=y', draft('y1')),
        e.publish('/c?id=x', draft('x2 ✓ 😀', { route: { from: 'bob', to: ['carol'], echo: false } })),
        e.publish('/c?id=x', draft('x1', { route: once })),
        e.publish('/c?id=x', draft('x3')),
      ]);
      expect(published.map((p) => [p.seq, p.duplicate])).to.deep.equal([
        [1, false],
        [1, false],
        [2, false],
        [1, true],
        [3, false],
      ]);
      await sink.until('four publications', () => sink.publications.length === 4);
      expect(messages(sink, '/c?id=x')).to.deep.equal(['x1', 'x2 ✓ 😀', 'x3']);
      expect(messages(sink, '/c?id=y')).to.deep.equal(['y1']);
      const x = sink.publications.filter((r) => r.channel === '/c?id=x').map((r) => r.p);
      expect(x.map((p) => p.seq)).to.deep.equal([1, 2, 3]);
      expect(x.map((p) => p.route)).to.deep.equal([once, { from: 'bob', to: ['carol'], echo: false }, { from: 'alice', echo: true }]);
      expect(JSON.parse(x[1].json)).to.include({ message: 'x2 ✓ 😀', seq: 2, epoch: published[2].epoch });
    });

    it('recovers every publication after since, in order, with the epoch', async () => {
      const { engine: e } = await engine();
      for (let i = 1; i <= 5; i += 1) await e.publish('/c?id=r', draft(`m${i}`));
      const position = await e.recover('/c?id=r', null, null);
      expect(position.seq).to.equal(5);
      expect(position.publications).to.deep.equal([]);
      const r = await e.recover('/c?id=r', 2, position.epoch);
      expect(r.recovered).to.equal(true);
      expect(r.publications.map((p) => p.seq)).to.deep.equal([3, 4, 5]);
      expect(r.publications.map((p) => (JSON.parse(p.json) as { message: string }).message)).to.deep.equal(['m3', 'm4', 'm5']);
      const upToDate = await e.recover('/c?id=r', 5, position.epoch);
      expect(upToDate).to.include({ recovered: true, seq: 5 });
      expect(upToDate.publications).to.deep.equal([]);
    });

    it('keeps one epoch for a channel, including before its first message', async () => {
      const { engine: e } = await engine();
      const before = await e.recover('/c?id=e', null, null);
      const published = await e.publish('/c?id=e', draft('x'));
      expect(before.seq).to.equal(0);
      expect(published.epoch).to.equal(before.epoch);
    });

    it('does not recover across another epoch, from ahead of the channel, or past what history holds', async () => {
      const { engine: e } = await engine({ historySize: 10 });
      for (let i = 1; i <= 300; i += 1) await e.publish('/c?id=t', draft(`m${i}`));
      const { epoch } = await e.recover('/c?id=t', null, null);
      expect((await e.recover('/c?id=t', 299, 'another')).recovered).to.equal(false);
      expect((await e.recover('/c?id=t', 301, epoch)).recovered).to.equal(false);
      const trimmed = await e.recover('/c?id=t', 1, epoch);
      expect(trimmed.recovered).to.equal(false);
      expect(trimmed.publications).to.deep.equal([]);
      const recent = await e.recover('/c?id=t', 295, epoch);
      expect(recent.publications.map((p) => p.seq)).to.deep.equal([296, 297, 298, 299, 300]);
    });

    it('gives since 0 without an epoch whatever history holds, recovered only when it reaches back to seq 1', async () => {
      const { engine: e } = await engine({ historySize: 10 });
      for (let i = 1; i <= 3; i += 1) await e.publish('/c?id=h', draft(`m${i}`));
      const whole = await e.recover('/c?id=h', 0, null);
      expect(whole.recovered).to.equal(true);
      expect(whole.publications.map((p) => p.seq)).to.deep.equal([1, 2, 3]);
      for (let i = 4; i <= 300; i += 1) await e.publish('/c?id=h', draft(`m${i}`));
      const kept = await e.recover('/c?id=h', 0, null);
      expect(kept.recovered).to.equal(false);
      const seqs = kept.publications.map((p) => p.seq);
      expect(seqs.length).to.be.at.least(10);
      expect(seqs[0]).to.be.above(1);
      expect(seqs).to.deep.equal(seqs.map((_, i) => 301 - seqs.length + i));
      const { epoch } = kept;
      expect((await e.recover('/c?id=h', 0, epoch)).publications).to.deep.equal([]);
    });

    it('admits a name once per channel, lists names in join order, and frees a name on leave', async () => {
      const { engine: e, sink } = await engine();
      await e.subscribe('/c?id=p');
      expect(await e.join('/c?id=p', 'bob')).to.equal(true);
      expect(await e.join('/c?id=p', 'alice')).to.equal(true);
      expect(await e.join('/c?id=q', 'bob')).to.equal(true);
      expect(await e.members('/c?id=p')).to.deep.equal(['bob', 'alice']);
      await e.leave('/c?id=p', 'bob');
      expect(await e.members('/c?id=p')).to.deep.equal(['alice']);
      await sink.until('join, join, leave', () => sink.signals.length === 3);
      expect(sink.signals.map((r) => r.s)).to.deep.equal([
        { kind: 'join', user: 'bob' },
        { kind: 'join', user: 'alice' },
        { kind: 'leave', user: 'bob' },
      ]);
    });

    it('relays text and binary signals to the subscribed node', async () => {
      const { engine: e, sink } = await engine();
      await e.subscribe('/c?id=s');
      e.signal('/c?id=s', { kind: 'text', json: '{"event":"helloworld"}' });
      e.signal('/c?id=s', { kind: 'binary', data: Buffer.from([0, 1, 2, 255]), except: 'alice' });
      await sink.until('two signals', () => sink.signals.length === 2);
      expect(sink.signals[0].s).to.deep.equal({ kind: 'text', json: '{"event":"helloworld"}' });
      const binary = sink.signals[1].s;
      expect(binary.kind).to.equal('binary');
      if (binary.kind === 'binary') {
        expect([...binary.data]).to.deep.equal([0, 1, 2, 255]);
        expect(binary.except).to.equal('alice');
      }
    });

    it('close() twice is harmless', async () => {
      const { engine: e } = await engine();
      await e.close();
      await e.close();
    });
  });
}

describe('newEpoch', () => {
  it('gives a different 8-character id every time, across refills of its pool of random bytes', () => {
    const epochs = Array.from({ length: 5_000 }, () => newEpoch());
    expect(new Set(epochs).size).to.equal(epochs.length);
    for (const epoch of epochs) expect(epoch).to.match(/^[A-Za-z0-9_-]{8}$/);
  });
});
