import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Identity } from '../auth/jwt.js';
import type { Publication } from '../engine/engine.js';
import type { Bucket } from '../protocol/rate.js';
import type { Channel } from './channel.js';

/** Where a client coming back left off: the seq of the last message it saw, and that message's epoch. */
export interface Resume {
  since: number;
  epoch: string | null;
}

/**
 * One connection in a channel. It becomes a named member with `auth`; until then it only holds a
 * place in its channel (so the channel is not reaped under it) and an auth deadline.
 */
export class Member {
  /** The user name, once `auth` succeeded. */
  name: string | null = null;
  /** The token handed out in the `token` reply, compared with what later requests carry. */
  token: string | null = null;
  /** Whether this member asked for join and leave events. */
  presence = false;
  /** Cleared by every heartbeat tick, set again by the pong that answers it. */
  alive = true;
  /** Frames queued for the next flush: none, one, or several in order. */
  pending: Buffer | Buffer[] | null = null;
  /** The auth deadline, cleared once the connection is named or gone. */
  authTimer: NodeJS.Timeout | null = null;
  /** In token mode, who the verified token says this is; set at the upgrade or by auth. */
  identity: Identity | null = null;
  /** Whether a token from the auth event is being verified. */
  verifying = false;
  /** Closes the connection when its token expires. */
  expiryTimer: NodeJS.Timeout | null = null;
  /** The rate limit's bucket; null when the server has no rate limit. */
  bucket: Bucket | null = null;
  /** Whether the client asked for the `rooms.envelope` subprotocol: its chat messages are binary envelopes. */
  envelope = false;
  /** Whether an auth is in progress (a name being claimed across nodes, history being read). */
  admitting = false;
  /** `since` and `epoch` from the upgrade URL, used by an auth that gives neither. */
  resume: Resume | null = null;
  /**
   * While the member is being admitted: publications that arrived for it, held until its token
   * reply and its replay have gone out, so that nothing overtakes them.
   */
  held: Publication[] | null = null;
  /** Publications up to this seq in `floorEpoch` reached the member already (replayed, or before it joined). */
  floor = 0;
  floorEpoch: string | null = null;

  constructor(
    readonly ws: WebSocket,
    /** The raw socket under `ws`, where batched frames are written. */
    readonly socket: Duplex,
    readonly channel: Channel,
    /** Random per connection; part of what the token is bound to. */
    readonly connection: string,
    /** The client's IP address, counted against maxConnectionsPerIp. */
    readonly ip: string,
  ) {}
}
