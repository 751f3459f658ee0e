import { WebSocketServer } from 'ws';
import type { Outbox } from '../transport/outbox.js';
import type { Member } from './member.js';

/** Options every channel's WebSocketServer is created with. */
export interface ChannelOptions {
  maxPayload: number;
}

/**
 * One channel: its own WebSocketServer, the connections in it, the named members in join order,
 * and local fan-out. A channel is identified by its path and id together, so `/room?id=1` and
 * `/channel?id=1` are different channels.
 */
export class Channel {
  readonly wss: WebSocketServer;
  /** Every open connection, named or not. A channel with none is empty and may be reaped. */
  readonly connections = new Set<Member>();
  /** Named members by name, in the order they were admitted. */
  readonly members = new Map<string, Member>();
  readonly created = Date.now();
  /** The seq of the last message delivered in this channel. */
  seq = 0;
  /** When a member last joined or left, or a message took a seq here (ms since the epoch). */
  lastActivity = this.created;

  constructor(
    readonly path: string,
    readonly id: string,
    options: ChannelOptions,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxPayload,
    });
  }

  get empty(): boolean {
    return this.connections.size === 0;
  }

  /** Sends one frame to every named member, except `except` when given; returns how many got it. */
  fanOut(outbox: Outbox, frame: Buffer, except?: Member): number {
    let sent = 0;
    for (const member of this.members.values()) {
      if (member !== except) {
        outbox.send(member, frame);
        sent += 1;
      }
    }
    return sent;
  }

  /** Sends a join or leave frame to the members that asked for presence, except `except`; returns how many got it. */
  announce(outbox: Outbox, frame: Buffer, except: Member): number {
    let sent = 0;
    for (const member of this.members.values()) {
      if (member.presence && member !== except) {
        outbox.send(member, frame);
        sent += 1;
      }
    }
    return sent;
  }

  /** Closes the WebSocketServer; called by the registry once the channel is removed. */
  close(): void {
    this.wss.close();
  }
}
