import { randomBytes } from 'node:crypto';

/**
 * The scale-out seam. Local fan-out (src/channels) never talks to a store directly: it publishes
 * through an Engine and receives what every node published through the EngineSink it gave it.
 * `memory` keeps everything in this process; `redis` shares channels between processes. Both are
 * checked by one contract suite (test/engine-contract.test.ts).
 *
 * Channels are named by their key, `PATH?id=ID`, the same on every node.
 */

/** Who receives a message. */
export interface Route {
  /** The sender's name. */
  from: string;
  /** Only these members receive it; absent, every member does. */
  to?: string[];
  /** With `to` absent: whether the sender receives it too (broadcast) or not (talk_with without names). */
  echo: boolean;
  /** Present when the client gave the message an id: `user \0 id`. See Engine.publish. */
  dedup?: string;
}

/**
 * A message about to be published. Its event JSON comes in two halves, because the seq and epoch
 * between them are only known once the engine has ordered the message: the engine writes
 * `head + ',"seq":N,"epoch":"E"' + tail`. So a message is serialized once, on the node it was sent to.
 */
export interface Draft {
  head: string;
  tail: string;
  route: Route;
  /** Where the sending node stands in the channel: a store behind it in that epoch starts a new one. */
  seen?: Position;
}

/** A message as every node receives it, and as history keeps it. */
export interface Publication {
  seq: number;
  epoch: string;
  route: Route;
  /** The complete message event, seq and epoch included. */
  json: string;
}

/** What publish did: the seq the message holds, and whether it was a duplicate (and so not delivered again). */
export interface Published {
  seq: number;
  epoch: string;
  duplicate: boolean;
  /** The store was behind `Draft.seen` (it lost recent writes), so this message began a new epoch. */
  behind?: boolean;
}

/**
 * An event that takes no seq and is not kept: at most once, to every node (to this node only while
 * the store is unreachable).
 */
export type Signal =
  /** A member joined or left; goes to the members that asked for presence, except that member. */
  | { kind: 'join' | 'leave'; user: string }
  /** A text event for every named member (helloworld). */
  | { kind: 'text'; json: string }
  /** A binary frame relayed unchanged to every named member but its sender. */
  | { kind: 'binary'; data: Buffer; except: string };

/** Where a channel's history stands. */
export interface Position {
  /** Changes whenever the channel's history is lost (expired, or the store flushed or restarted empty). */
  epoch: string;
  /** The seq of the last message published in the channel; 0 before the first. */
  seq: number;
}

export interface Recovery extends Position {
  /** The publications after `since`, in order; empty unless `recovered`. */
  publications: Publication[];
  /**
   * Whether `publications` holds every message after `since`: false when the epoch differs, when
   * `since` is ahead of the channel, or when history no longer reaches back to `since + 1`.
   */
  recovered: boolean;
  /**
   * The store was behind `since` in `epoch` (it lost recent writes: an older snapshot, a lagging
   * replica), so a new epoch began: what came after the store's last seq may be lost.
   */
  behind?: boolean;
}

/** What an engine calls on its node. */
export interface EngineSink {
  /** A publication in a channel this node subscribed to, in seq order per channel as published. */
  publication(channel: string, publication: Publication): void;
  signal(channel: string, signal: Signal): void;
  /** The store became reachable (true) or unreachable (false); called on changes, and again when an unreachable store's node becomes `isolated`. */
  state(up: boolean): void;
  /**
   * This node stopped hearing from the store without its connections closing (a timeout, a silent
   * partition): whatever was published since may not have reached it.
   */
  cut(): void;
}

/** A short random id for an epoch: unique enough that two histories never share one. */
export function newEpoch(): string {
  // Random bytes drawn 6 KB at a time: every Redis publish script gets a fresh candidate (used only
  // by a channel that has no epoch), and one randomBytes call per publish cost about 3 % of the node's CPU.
  if (pooled + EPOCH_BYTES > pool.length) {
    pool = randomBytes(EPOCH_BYTES * 1_024);
    pooled = 0;
  }
  pooled += EPOCH_BYTES;
  return pool.toString('base64url', pooled - EPOCH_BYTES, pooled);
}

const EPOCH_BYTES = 6;
let pool = Buffer.alloc(0);
let pooled = 0;

/** Where an engine delivers before `start` gives it its node's sink: nowhere. */
export const NO_SINK: EngineSink = {
  publication: () => undefined,
  signal: () => undefined,
  state: () => undefined,
  cut: () => undefined,
};

/** Thrown by every engine call that needs the store while it is unreachable. */
export class EngineUnavailable extends Error {
  constructor(
    reason: string,
    /** The store answered with an error (out of memory, read-only, busy) rather than not at all. */
    readonly refused = false,
  ) {
    super(`engine unavailable: ${reason}`);
    this.name = 'EngineUnavailable';
  }
}

export interface Engine {
  readonly kind: 'memory' | 'redis';
  /** Whether the store is reachable now; the memory engine always is. */
  readonly up: boolean;
  /**
   * Whether this node is cut off from the store on every connection: it can neither publish nor
   * receive, so nothing ordered earlier can still arrive, and a message can only reach the members
   * here. Never true of the memory engine.
   */
  readonly isolated: boolean;

  /**
   * Connects, and from then on delivers to `sink`. Resolves even when the store cannot be reached
   * yet: the engine keeps trying and reports through `state`.
   */
  start(sink: EngineSink): Promise<void>;
  /** Stops for good: unsubscribes, removes this node's presence, disconnects. Harmless twice. */
  close(): Promise<void>;

  /**
   * Starts delivering the channel's publications and signals to this node's sink. Resolves once
   * delivery has started, or at once while the store is unreachable (delivery then starts when it
   * is back). A history read made after it resolves misses nothing that follows it.
   */
  subscribe(channel: string): Promise<void>;
  /** Stops delivering the channel to this node. Shared state (history, presence) stays for the others. */
  unsubscribe(channel: string): void;

  /**
   * Orders a message in its channel and delivers it to every subscribed node exactly once, this
   * node included. Atomically: takes the next seq (per channel, cluster-wide, from 1 with each
   * epoch), appends the message to history, and publishes it, so every node sees the channel's
   * messages in seq order. With `route.dedup`, a key already published within `historyTtl` is not
   * published again: the result holds the first seq and `duplicate: true`.
   * @throws EngineUnavailable when the store cannot be reached; the message may or may not have
   * been published, so a client should retry with the same id.
   */
  publish(channel: string, draft: Draft): Promise<Published>;
  /** Sends a signal to every subscribed node, at most once; never throws. */
  signal(channel: string, signal: Signal): void;

  /**
   * Admits a name into the channel's presence unless a live member on any node holds it; of two
   * nodes admitting the same name at once, exactly one gets true. A true result announces `join`.
   * With Redis, a name this node already holds is taken again without a second `join` (how a node
   * re-claims its members' names after an outage); in memory, where every name is this node's,
   * it is refused.
   *
   * `patient` is for a client coming back: its old connection may still hold the name on a node
   * that just died. Rather than refuse at once, join then waits while that node stays silent, and
   * takes the name once the node counts as dead; it refuses as soon as the node beats again.
   * @throws EngineUnavailable
   */
  join(channel: string, user: string, patient?: boolean): Promise<boolean>;
  /** Removes a name this node holds and announces `leave`. Never throws. */
  leave(channel: string, user: string): Promise<void>;
  /**
   * The names in the channel on every live node, in the order they joined. Members of a node that
   * stopped beating for `presenceTtl` are removed (with `leave`) by the other nodes.
   * @throws EngineUnavailable
   */
  members(channel: string): Promise<string[]>;

  /**
   * Where the channel stands, and with `since`, every publication after it if history still holds
   * them all (and `epoch`, when given, is the channel's). `own` says that since and epoch are what
   * this node delivered (a gap fill), not what a client claims: a store behind that position then
   * starts a new epoch (see `Recovery.behind`); a client's claim never changes the channel.
   * @throws EngineUnavailable
   */
  recover(channel: string, since: number | null, epoch: string | null, own?: boolean): Promise<Recovery>;
}

/** Settings every engine takes. */
export interface EngineOptions {
  /** Messages kept per channel. */
  historySize: number;
  /** Milliseconds a channel's history (and the ids seen in it) outlive its last message. */
  historyTtl: number;
  /** Milliseconds after which a silent node's members are removed. */
  presenceTtl: number;
}

/** Whether a publication goes to `user`, under its route. */
export function addressedTo(route: Route, user: string): boolean {
  if (route.to !== undefined) return route.to.includes(user);
  return route.echo || route.from !== user;
}

/**
 * What a recovery replays, shared by the engines: the publications after `since`, when they are
 * every one of them. `since` 0 without an epoch comes from a client that saw nothing yet and asks
 * for the channel's history (the chat page's last messages on join): it gets whatever is kept,
 * `recovered` only when that reaches back to the first message.
 */
export function replay(position: Position, since: number, epoch: string | null, kept: Publication[]): Pick<Recovery, 'publications' | 'recovered'> {
  const ok = recovered(position, since, epoch, kept[0]?.seq);
  return { publications: ok || (since === 0 && epoch === null) ? kept : [], recovered: ok };
}

function recovered(position: Position, since: number, epoch: string | null, first: number | undefined): boolean {
  if (epoch !== null && epoch !== position.epoch) return false;
  if (since > position.seq) return false;
  if (since === position.seq) return true;
  return first === since + 1;
}
