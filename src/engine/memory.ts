import {
  newEpoch,
  NO_SINK,
  replay,
  type Draft,
  type Engine,
  type EngineOptions,
  type EngineSink,
  type Publication,
  type Published,
  type Recovery,
  type Signal,
} from './engine.js';

interface ChannelState {
  epoch: string;
  seq: number;
  /** The last historySize publications, oldest first; emptied historyTtl after the last one, as Redis expires its stream. */
  log: Publication[];
  /** Dedup keys seen within historyTtl, with the seq they got. */
  seen: Map<string, { seq: number; at: number }>;
  /** Names in the order they joined. */
  names: Set<string>;
  subscribed: boolean;
  /** When the channel last published or was subscribed to. */
  touched: number;
  /** When the channel last published. */
  published: number;
}

/** How often forgotten channels and expired history are swept, at most. */
const SWEEP_EVERY = 60_000;

/**
 * The default engine: one process. Delivery is synchronous, inside publish and signal. A channel's
 * history outlives its last member (and the reaper) for historyTtl, so a client that comes back
 * after the channel was reaped still resumes.
 */
export class MemoryEngine implements Engine {
  readonly kind = 'memory';
  readonly up = true;
  readonly isolated = false;
  private readonly channels = new Map<string, ChannelState>();
  private timer: NodeJS.Timeout | null = null;

  private sink: EngineSink = NO_SINK;

  constructor(private readonly options: EngineOptions) {}

  start(sink: EngineSink): Promise<void> {
    this.sink = sink;
    this.timer ??= setInterval(() => this.sweep(Date.now()), Math.min(SWEEP_EVERY, this.options.historyTtl)).unref();
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.channels.clear();
    return Promise.resolve();
  }

  subscribe(channel: string): Promise<void> {
    const state = this.state(channel);
    state.subscribed = true;
    state.touched = Date.now();
    return Promise.resolve();
  }

  unsubscribe(channel: string): void {
    const state = this.channels.get(channel);
    if (state !== undefined) state.subscribed = false;
  }

  publish(channel: string, draft: Draft): Promise<Published> {
    const now = Date.now();
    const state = this.state(channel);
    this.expire(state, now);
    const key = draft.route.dedup;
    if (key !== undefined) {
      const seen = state.seen.get(key);
      if (seen !== undefined) return Promise.resolve({ seq: seen.seq, epoch: state.epoch, duplicate: true });
    }
    const seq = (state.seq += 1);
    const json = `${draft.head},"seq":${seq},"epoch":"${state.epoch}"${draft.tail}`;
    const publication: Publication = { seq, epoch: state.epoch, route: draft.route, json };
    state.log.push(publication);
    if (state.log.length > this.options.historySize) state.log.shift();
    if (key !== undefined) state.seen.set(key, { seq, at: now });
    state.touched = now;
    state.published = now;
    if (state.subscribed) this.sink.publication(channel, publication);
    return Promise.resolve({ seq, epoch: state.epoch, duplicate: false });
  }

  signal(channel: string, signal: Signal): void {
    if (this.channels.get(channel)?.subscribed === true) this.sink.signal(channel, signal);
  }

  join(channel: string, user: string): Promise<boolean> {
    const state = this.state(channel);
    if (state.names.has(user)) return Promise.resolve(false);
    state.names.add(user);
    this.signal(channel, { kind: 'join', user });
    return Promise.resolve(true);
  }

  leave(channel: string, user: string): Promise<void> {
    if (this.channels.get(channel)?.names.delete(user) === true) this.signal(channel, { kind: 'leave', user });
    return Promise.resolve();
  }

  members(channel: string): Promise<string[]> {
    return Promise.resolve([...(this.channels.get(channel)?.names ?? [])]);
  }

  recover(channel: string, since: number | null, epoch: string | null): Promise<Recovery> {
    const state = this.state(channel);
    this.expire(state, Date.now());
    const position = { epoch: state.epoch, seq: state.seq };
    if (since === null) return Promise.resolve({ ...position, publications: [], recovered: false });
    const start = state.log.findIndex((p) => p.seq > since);
    const publications = start === -1 ? [] : state.log.slice(start);
    return Promise.resolve({ ...position, ...replay(position, since, epoch, publications) });
  }

  private state(channel: string): ChannelState {
    let state = this.channels.get(channel);
    if (state === undefined) {
      state = { epoch: newEpoch(), seq: 0, log: [], seen: new Map(), names: new Set(), subscribed: false, touched: Date.now(), published: 0 };
      this.channels.set(channel, state);
    }
    return state;
  }

  /** Drops the history historyTtl after the last message, and ids seen longer ago than that. */
  private expire(state: ChannelState, now: number): void {
    const horizon = now - this.options.historyTtl;
    if (state.log.length > 0 && state.published < horizon) state.log = [];
    for (const [key, seen] of state.seen) {
      if (seen.at >= horizon) break;
      state.seen.delete(key);
    }
  }

  /** Forgets channels nobody is in whose history has expired, as Redis expires their keys. */
  private sweep(now: number): void {
    for (const [channel, state] of this.channels) {
      this.expire(state, now);
      if (!state.subscribed && state.names.size === 0 && state.touched < now - this.options.historyTtl) this.channels.delete(channel);
    }
  }
}
