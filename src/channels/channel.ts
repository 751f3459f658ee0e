import { WebSocketServer } from 'ws';
import type { Publication } from '../engine/engine.js';
import { ENVELOPE_PROTOCOL } from '../protocol/envelope.js';
import type { Member } from './member.js';

/** Options every channel's WebSocketServer is created with. */
export interface ChannelOptions {
  maxPayload: number;
}

/** Something to do once this node has delivered a given seq (an ack after the sender's own copy). */
interface Waiting {
  epoch: string;
  seq: number;
  run: () => void;
}

/**
 * One channel on this node: its own WebSocketServer, the connections in it, the named members in
 * join order, and where its stream of publications stands here. A channel is identified by its
 * path and id together, so `/room?id=1` and `/channel?id=1` are different channels; `key` names it
 * to the engine, the same on every node.
 */
export class Channel {
  readonly wss: WebSocketServer;
  readonly key: string;
  /** Every open connection, named or not. A channel with none is empty and may be reaped. */
  readonly connections = new Set<Member>();
  /** Named members on this node by name, in the order they were admitted. */
  readonly members = new Map<string, Member>();
  /** Names being admitted on this node: held so that two connections here cannot race for one. */
  readonly admitting = new Set<string>();
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
  /** When a member last joined or left here, or a message was delivered here (ms since the epoch). */
  lastActivity = this.created;
  private waiting: Waiting[] = [];

  constructor(
    readonly path: string,
    readonly id: string,
    options: ChannelOptions,
  ) {
    this.key = channelKey(path, id);
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxPayload,
      // The one subprotocol there is; a client asking for others gets none, and speaks JSON.
      handleProtocols: (protocols) => (protocols.has(ENVELOPE_PROTOCOL) ? ENVELOPE_PROTOCOL : false),
    });
  }

  get empty(): boolean {
    return this.connections.size === 0;
  }

  /** Whether the publication at `epoch`/`seq` has been delivered on this node. */
  delivered(epoch: string, seq: number): boolean {
    return this.epoch === epoch && this.seq !== null && this.seq >= seq;
  }

  /** Runs `run` once the publication at `epoch`/`seq` has been delivered here (at once if it has). */
  afterDelivered(epoch: string, seq: number, run: () => void): void {
    if (this.delivered(epoch, seq)) run();
    else this.waiting.push({ epoch, seq, run });
  }

  /** Marks a publication delivered and runs what waited for it (or for anything in an older epoch). */
  advance(epoch: string, seq: number): void {
    this.epoch = epoch;
    this.seq = seq;
    if (this.waiting.length === 0) return;
    const still: Waiting[] = [];
    for (const w of this.waiting) {
      if (w.epoch !== epoch || w.seq <= seq) w.run();
      else still.push(w);
    }
    this.waiting = still;
  }

  /**
   * Runs everything still waiting for a delivery: with the store gone, publications it ordered may
   * never reach this node, and their acks (the message was ordered and kept) must not wait forever.
   */
  settle(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.run();
  }

  /** Closes the WebSocketServer; called by the registry once the channel is removed. */
  close(): void {
    this.waiting = [];
    this.wss.close();
  }
}

/** How a channel is named to the engine: `PATH?id=ID`. */
export function channelKey(path: string, id: string): string {
  return `${path}?id=${id}`;
}
