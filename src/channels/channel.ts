import { WebSocketServer } from 'ws';
import type { Publication } from '../engine/engine.js';
import { ENVELOPE_PROTOCOL } from '../protocol/envelope.js';
import { Handover } from '../transport/handover.js';
import type { Connection } from './connection.js';

/**
 * Something to do once this node has delivered a given seq (an ack after the sender's own copy),
 * or to give up on when that delivery will not come.
 */
interface Waiting {
  epoch: string;
  seq: number;
  run: () => void;
  fail: () => void;
}

/**
 * One channel on this node: its own WebSocketServer, the connections in it, the named members in
 * join order (one name each), and where its stream of publications stands here. A channel is
 * identified by its path and id together, so `/room?id=1` and `/channel?id=1` are different
 * channels; `key` names it to the engine, the same on every node. Only its own methods change its
 * connections and members.
 */
export class Channel {
  readonly wss: WebSocketServer;
  readonly key: string;
  private readonly open = new Set<Connection>();
  private readonly named = new Map<string, Connection>();
  /** Names being claimed on this node: held so that two connections here cannot race for one. */
  private readonly claimed = new Set<string>();
  readonly created = Date.now();
  /** Settles once the engine delivers this channel's publications to this node. */
  ready: Promise<void> = Promise.resolve();
  /** The epoch and seq of the last publication delivered here; null before the first. */
  epoch: string | null = null;
  seq: number | null = null;
  /** While a gap is being filled from history: publications that arrived meanwhile, in order. */
  filling: Publication[] | null = null;
  /** The fill under way, if any: one at a time. */
  filled: Promise<void> | null = null;
  /**
   * Set when this node stopped hearing from the store without the store closing (a timeout): what
   * was published since is unknown until a fill in the same epoch succeeds. If the epoch changes
   * first, the old epoch's last messages may be lost to the members here, and they must be told.
   */
  unsure = false;
  /** The dedup keys of messages delivered here, oldest first: see {@link Channel.remember}. */
  private readonly ids = new Map<string, Remembered>();
  /** Orders admissions and deliveries here, to tell who was a member when a message went out. */
  private clock = 0;
  /** When a member last joined or left here, or a message was delivered here (ms since the epoch). */
  lastActivity = this.created;
  private waiting: Waiting[] = [];

  constructor(
    readonly path: string,
    readonly id: string,
  ) {
    this.key = channelKey(path, id);
    // ws does the handshake; the connection after it is a Link (src/transport/link.ts).
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      WebSocket: Handover,
      // The one subprotocol there is; a client asking for others gets none, and speaks JSON.
      handleProtocols: (protocols) => (protocols.has(ENVELOPE_PROTOCOL) ? ENVELOPE_PROTOCOL : false),
    });
  }

  /** Every open connection, named or not. A channel with none is empty and may be reaped. */
  get connections(): ReadonlySet<Connection> {
    return this.open;
  }

  /** Named members on this node by name, in the order they were admitted. */
  get members(): ReadonlyMap<string, Connection> {
    return this.named;
  }

  get empty(): boolean {
    return this.open.size === 0;
  }

  /** A connection joins the channel (unnamed). */
  add(connection: Connection): void {
    this.open.add(connection);
  }

  /** Holds a name for a connection about to claim it; false when a member here has it or is claiming it. */
  reserve(name: string): boolean {
    if (this.named.has(name) || this.claimed.has(name)) return false;
    this.claimed.add(name);
    return true;
  }

  /** Lets go of a reserved name (the claim is over, one way or the other). */
  unreserve(name: string): void {
    this.claimed.delete(name);
  }

  /** A connection that claimed its name becomes a named member. */
  admit(connection: Connection): void {
    this.named.set(connection.name!, connection);
    connection.admitted = ++this.clock;
    this.lastActivity = Date.now();
  }

  /** A connection leaves; true when it was a named member here (its name is free again). */
  remove(connection: Connection): boolean {
    this.open.delete(connection);
    const name = connection.name;
    if (name === null || this.named.get(name) !== connection) return false;
    this.named.delete(name);
    this.lastActivity = Date.now();
    return true;
  }

  /** Whether the publication at `epoch`/`seq` has been delivered on this node. */
  delivered(epoch: string, seq: number): boolean {
    return this.epoch === epoch && this.seq !== null && this.seq >= seq;
  }

  /**
   * Runs `run` once the publication at `epoch`/`seq` has been delivered here (at once if it has), or
   * `fail` when {@link abandon} gives up on it. Returns what stops the wait (the caller's deadline).
   */
  afterDelivered(epoch: string, seq: number, run: () => void, fail: () => void): () => void {
    if (this.delivered(epoch, seq)) {
      run();
      return NOTHING;
    }
    const waiting: Waiting = { epoch, seq, run, fail };
    this.waiting.push(waiting);
    return () => {
      this.waiting = this.waiting.filter((w) => w !== waiting);
    };
  }

  /** Marks a publication delivered and runs what waited for it (or for anything in an older epoch). */
  advance(epoch: string, seq: number): void {
    this.epoch = epoch;
    this.seq = seq;
    if (this.waiting.length === 0) return;
    const still: Waiting[] = [];
    for (const w of this.waiting) {
      // A wait in another epoch is not answered by this delivery: it runs once its own epoch is
      // delivered here, or its caller's deadline stops it.
      if (w.epoch === epoch && w.seq <= seq) w.run();
      else still.push(w);
    }
    this.waiting = still;
  }

  /**
   * Gives up on what waits for publications the store ordered that will not be delivered here:
   * every one when the node is cut off, or those up to `through` when a gap could not be filled.
   * Their senders are told the message may not have gone out, so that they send it again with the
   * same id.
   */
  abandon(through?: { epoch: string; seq: number }): void {
    const still: Waiting[] = [];
    for (const w of this.waiting) {
      if (through === undefined || w.epoch !== through.epoch || w.seq <= through.seq) w.fail();
      else still.push(w);
    }
    this.waiting = still;
  }

  /**
   * Remembers the dedup key of a message delivered here (`seq` null for a local one), for
   * `historyTtl` and the last `limit` keys. The store forgets its keys with its history (Redis
   * restarted empty): a message sent again after that is recognised here, and not delivered twice.
   */
  remember(key: string, seq: number | null, limit: number, ttl: number): void {
    const now = Date.now();
    this.ids.delete(key);
    this.ids.set(key, { seq, at: now, order: ++this.clock });
    for (const [oldest, entry] of this.ids) {
      if (this.ids.size <= limit && entry.at > now - ttl) break;
      this.ids.delete(oldest);
    }
  }

  /** The entry of a dedup key delivered here within `ttl`, if any. */
  recall(key: string, ttl: number): Remembered | undefined {
    const entry = this.ids.get(key);
    return entry !== undefined && entry.at > Date.now() - ttl ? entry : undefined;
  }

  /** Closes the WebSocketServer; called by the registry once the channel is removed. */
  close(): void {
    this.waiting = [];
    this.wss.close();
  }
}

const NOTHING = (): void => undefined;

/** A message id delivered here: the seq it had (null for a local copy), when, and in what order with admissions. */
export interface Remembered {
  seq: number | null;
  at: number;
  /** Members admitted before this had the message; those admitted after did not. */
  order: number;
}

/** How a channel is named to the engine: `PATH?id=ID`. */
export function channelKey(path: string, id: string): string {
  return `${path}?id=${id}`;
}
