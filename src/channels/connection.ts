import type { Identity } from '../auth/jwt.js';
import type { Channel } from '../channels/channel.js';
import type { Publication } from '../engine/engine.js';
import type { Bucket } from '../protocol/rate.js';
import { OPEN, type Link } from '../transport/link.js';
import type { Close } from '../wire/closes.js';

/** Where a client coming back left off: the seq of the last message it saw, and that message's epoch. */
export interface Resume {
  since: number;
  epoch: string | null;
}

/**
 * Where a connection is in its life. Every change goes through one of Connection's transition
 * methods, which refuse a change the table below does not allow:
 *
 * | state | what it means | goes to |
 * | --- | --- | --- |
 * | `open` | upgraded, no name yet; its auth deadline runs | `verifying`, `claiming`, `closing` |
 * | `verifying` | the token from its `auth` is being checked | `open`, `claiming`, `closing` |
 * | `claiming` | its name is being claimed on every node | `open` (refused), `replaying`, `closing` |
 * | `replaying` | named; its token reply and replay go out, live publications are held | `live`, `closing` |
 * | `live` | a member: it receives what the channel delivers | `closing` |
 * | `closing` | the server closed it and waits for the close to finish | `closed` |
 * | `closed` | gone | |
 *
 * (Any state goes to `closed` when the client goes first.)
 */
export type ConnectionState = 'open' | 'verifying' | 'claiming' | 'replaying' | 'live' | 'closing' | 'closed';

const NEXT: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  open: ['verifying', 'claiming', 'closing', 'closed'],
  verifying: ['open', 'claiming', 'closing', 'closed'],
  claiming: ['open', 'replaying', 'closing', 'closed'],
  replaying: ['live', 'closing', 'closed'],
  live: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

/**
 * One WebSocket connection in a channel. It becomes a named member of its channel with `auth`;
 * until then it only holds a place in its channel (so the channel is not reaped under it).
 */
export class Connection {
  /** In token mode, who the verified token says this is; set at the upgrade or by auth. */
  identity: Identity | null = null;
  /** Whether this member asked for join and leave events. */
  presence = false;
  /** Cleared by every heartbeat ping, set again by the pong that answers it. */
  alive = true;
  /** When the heartbeat last pinged it (ms). Owned by the Heartbeat. */
  pingedAt = 0;
  /** Frames queued for the next flush: none, one, or several in order. Owned by the Outbox. */
  pending: Buffer | Buffer[] | null = null;
  /** The auth deadline, cleared once the connection is named or gone. Owned by the Session. */
  authTimer: NodeJS.Timeout | null = null;
  /** Closes the connection when its token expires. Owned by the Session. */
  expiryTimer: NodeJS.Timeout | null = null;
  /** The rate limit's bucket; null when the server has no rate limit. */
  bucket: Bucket | null = null;
  /** Whether the client asked for the `rooms.envelope` subprotocol: its chat messages are binary envelopes. */
  envelope = false;
  /**
   * While an envelope client that never sent `auth` is admitted under a generated name: its chat
   * messages so far, sent once the name is claimed. Null otherwise. Owned by the Session.
   */
  early: unknown[] | null = null;
  /** Frames it sent that wait, in order, for the outbox to have room (its socket is paused meanwhile); null when none do. Owned by the Session. */
  backlog: { data: Buffer; isBinary: boolean }[] | null = null;
  /** Requests carried out but not answered yet (a publish waiting for its ack, a look-up). Owned by Replies. */
  unanswered = 0;
  /** Set when the server decided to close it once every request it made is answered; it reads nothing more meanwhile. Owned by Replies. */
  parting: Close | null = null;
  /** `since` and `epoch` from the upgrade URL, used by an auth that gives neither. */
  resume: Resume | null = null;
  /** When it became a member of its channel, in the channel's own order (see Channel.admit). */
  admitted = 0;
  /** Publications up to this seq in `floorEpoch` reached the member already (replayed, or before it joined). */
  floor = 0;
  floorEpoch: string | null = null;
  private current: ConnectionState = 'open';
  private user: string | null = null;
  private issued: string | null = null;
  /** While `replaying`: publications that arrived for it, held until its token reply and replay have gone out. */
  private held: Publication[] = [];

  constructor(
    /** The client's WebSocket: its socket, where batched frames are written, and the frames it sends. */
    readonly link: Link<Connection>,
    readonly channel: Channel,
    /** Random per connection; part of what the token is bound to. */
    readonly id: string,
    /** The client's IP address, counted against maxConnectionsPerIp. */
    readonly ip: string,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** The user name, from `replaying` on. */
  get name(): string | null {
    return this.user;
  }

  /** The token handed out in the `token` reply, compared with what later requests carry. */
  get token(): string | null {
    return this.issued;
  }

  /** Whether `auth` may start: neither named nor on its way to a name. */
  get unnamed(): boolean {
    return this.current === 'open';
  }

  /** Whether publications reach it now (not being admitted, not closing). */
  get live(): boolean {
    return this.current === 'live';
  }

  /** Whether the server has decided to close it (or it is gone): nothing it sends is carried out any more. */
  get ending(): boolean {
    return this.current === 'closing' || this.current === 'closed';
  }

  /** Whether the server still talks to it: neither side has started to close it. */
  get open(): boolean {
    return this.current !== 'closing' && this.current !== 'closed' && this.link.readyState === OPEN;
  }

  verifying(): void {
    this.move('verifying');
  }

  /** Back to `open`: a token check or a name claim ended without a name. */
  reopen(): void {
    this.move('open');
  }

  claiming(): void {
    this.move('claiming');
  }

  /** Named: the token reply and the replay go out next; live publications are held meanwhile. */
  replaying(name: string, token: string): void {
    this.move('replaying');
    this.user = name;
    this.issued = token;
    this.held = [];
  }

  /** Keeps a publication that arrived while replaying, for {@link goLive}. */
  hold(p: Publication): void {
    if (this.current === 'replaying') this.held.push(p);
  }

  /** A member from now on; returns what was held while it was replaying. */
  goLive(): Publication[] {
    this.move('live');
    const held = this.held;
    this.held = [];
    return held;
  }

  closing(): void {
    if (this.current !== 'closing' && this.current !== 'closed') this.move('closing');
  }

  closed(): void {
    this.current = 'closed';
    this.held = [];
  }

  private move(to: ConnectionState): void {
    if (!NEXT[this.current].includes(to)) throw new Error(`connection cannot go from ${this.current} to ${to}`);
    this.current = to;
  }
}
