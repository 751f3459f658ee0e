import type { Connection } from '../channels/connection.js';
import type { Replies } from '../connections/replies.js';
import { EngineUnavailable, type Engine, type Recovery } from '../engine/engine.js';
import type { Metrics } from '../metrics.js';
import * as encode from '../protocol/encode.js';
import type { Request, RequestId } from '../protocol/messages.js';
import type { TokenSigner } from '../auth/token.js';
import type { Channel } from '../channels/channel.js';
import type { Delivery } from '../channels/delivery.js';
import type { ChannelRegistry } from '../channels/registry.js';

export interface PresenceOptions {
  engine: Engine;
  delivery: Delivery;
  registry: ChannelRegistry;
  replies: Replies;
  signer: TokenSigner;
  metrics: Metrics;
  /** Told when a named member joins (`added`) or leaves (`removed`) its channel on this node; for webhooks. */
  onMembership: (channel: Channel, user: string, change: 'added' | 'removed') => void;
}

type Auth = Extract<Request, { event: 'auth' }>;

/** How a name is claimed: `silent` sends no `token` reply (a session that never sent auth). */
export interface Admission {
  silent: boolean;
}

/** How long after a refused re-claim the names are claimed again. */
const RETRY_CLAIMS = 1_000;

/**
 * Names across nodes: claiming a name for a connection (and resuming it where it left off), the
 * user list, giving a name back when its connection goes, and claiming every name again after the
 * store came back.
 */
export class Presence {
  private readonly engine: Engine;
  private readonly replies: Replies;
  /** Resyncs queued or under way, and the last of them. */
  private resyncs = 0;
  private resyncing: Promise<void> = Promise.resolve();
  /** A resync is queued and has not started yet. */
  private queued = false;

  constructor(private readonly options: PresenceOptions) {
    this.engine = options.engine;
    this.replies = options.replies;
  }

  /** Whether every resync after the store came back is done. */
  get synced(): boolean {
    return this.resyncs === 0;
  }

  /**
   * Claims `name` for a connection on every node, then answers with the token and where the
   * channel stands, then replays what the client missed since `since`. `done` runs when the claim
   * is over, whatever became of it.
   */
  admit(connection: Connection, name: string, request: Auth, how: Admission, done: () => void): void {
    const channel = connection.channel;
    if (!channel.reserve(name)) return this.replies.fail(connection, 'name_taken', { re: request.id });
    connection.claiming();
    this.replies.guard(connection, 'to claim a name', () =>
      this.claim(connection, name, request, how).finally(() => {
        channel.unreserve(name);
        if (connection.state === 'claiming') connection.reopen();
        done();
      }),
    );
  }

  /**
   * Publications that arrive while the name is claimed and the history read are held for the
   * connection and follow the replay, so the client sees no gap and no duplicate.
   */
  private async claim(connection: Connection, name: string, request: Auth, how: Admission): Promise<void> {
    const channel = connection.channel;
    const since = request.since ?? connection.resume?.since ?? null;
    const epoch = request.epoch ?? connection.resume?.epoch ?? null;
    await channel.ready;
    let joined: boolean;
    try {
      joined = await this.engine.join(channel.key, name, since !== null);
    } catch (err) {
      if (!(err instanceof EngineUnavailable)) throw err;
      // Cut off from the store: this node's own members decide, and the name is claimed again once
      // it is back. A store that failed this once, or that this node is not yet cut off from, must
      // not let two nodes admit one name: the claim that comes back is not sure to be made again.
      if (!this.engine.isolated) return this.replies.fail(connection, 'unavailable', { message: 'cluster store did not answer: send auth again', re: request.id });
      joined = true;
      this.engine.signal(channel.key, { kind: 'join', user: name });
    }
    if (!connection.open) {
      if (joined) await this.engine.leave(channel.key, name);
      return;
    }
    if (!joined) return this.replies.fail(connection, 'name_taken', { re: request.id });
    connection.presence = request.presence;
    connection.replaying(name, this.options.signer.sign({ path: channel.path, channel: channel.id, user: name, connection: connection.id }));
    channel.admit(connection);
    this.options.onMembership(channel, name, 'added');
    let recovery: Recovery | null = null;
    try {
      recovery = await this.engine.recover(channel.key, since, epoch);
    } catch (err) {
      if (!(err instanceof EngineUnavailable)) throw err;
      // Where the channel stands is unknown: the reply says only what this node knows.
    }
    if (!connection.open) return;
    // The store had gone back in time: what this node delivered past its seq is in no history.
    if (recovery?.behind === true) channel.unsure = true;
    if (recovery !== null && channel.seq === null) {
      // The first member here: from now on a jump past this seq is a gap this node must fill.
      channel.epoch = recovery.epoch;
      channel.seq = recovery.seq;
    }
    const resumed = since === null ? undefined : (recovery?.recovered ?? false);
    // since 0 without an epoch asks for the history, from a client that saw nothing: not a resume.
    if (resumed !== undefined && (since !== 0 || epoch !== null)) this.options.metrics.resume(resumed ? 'recovered' : 'not_recovered');
    const standing = recovery ?? { epoch: channel.epoch ?? undefined, seq: channel.seq ?? 0 };
    if (!how.silent) this.replies.send(connection, encode.tokenEvent(connection.token!, request.id, { epoch: standing.epoch, seq: standing.seq, recovered: resumed }));
    this.options.delivery.release(connection, standing.epoch ?? null, recovery?.publications ?? [], standing.seq);
  }

  /** The names in the channel on every node; this node's alone while the store is unreachable. */
  userList(connection: Connection, re: RequestId | undefined): void {
    this.replies.guard(connection, 'to list the users', async () => {
      let names: string[];
      try {
        names = await this.engine.members(connection.channel.key);
      } catch (err) {
        if (!(err instanceof EngineUnavailable)) throw err;
        names = [...connection.channel.members.keys()];
      }
      this.replies.send(connection, encode.userListEvent(names, re));
    });
  }

  /** A connection closed: it leaves its channel, and a member's name is given back on every node. */
  left(connection: Connection): void {
    const channel = connection.channel;
    const name = connection.name;
    if (!channel.remove(connection) || name === null) return;
    this.replies.guard(connection, 'to leave the channel', () => this.engine.leave(channel.key, name));
    this.options.onMembership(channel, name, 'removed');
  }

  /**
   * Runs a resync after any still under way; the node counts as degraded until all are done. One
   * waiting to start is enough: it claims every name as things stand when it starts (a resync's own
   * claims may each report names lost, and must not queue one more resync apiece).
   */
  resync(): void {
    if (this.queued) return;
    this.queued = true;
    this.resyncs += 1;
    this.resyncing = this.resyncing
      .then(() => {
        this.queued = false;
        return this.claimAgain();
      })
      .catch((err: unknown) => this.replies.log.error({ err }, 'resync after Redis came back failed'))
      .finally(() => {
        this.resyncs -= 1;
      });
  }

  /**
   * After the store came back (or lost this node's presence): claims every member's name again,
   * closing a member whose name another node admitted meanwhile, and fills each channel's gap.
   */
  private async claimAgain(): Promise<void> {
    let unclaimed = 0;
    for (const channel of [...this.options.registry.values()]) {
      for (const [name, member] of [...channel.members]) {
        if (channel.members.get(name) !== member) continue;
        try {
          if (!(await this.engine.join(channel.key, name))) this.replies.fail(member, 'name_taken');
        } catch {
          unclaimed += 1;
          continue;
        }
        // It left while its name was being claimed again: give the name back.
        if (channel.members.get(name) !== member) await this.engine.leave(channel.key, name);
      }
      await this.options.delivery.fill(channel);
    }
    // Redis refused some claims while it was up (out of memory, read-only, busy): try again soon,
    // so that no name stays unclaimed and open to another node. When it goes down instead, its
    // return starts a resync anyway.
    if (unclaimed > 0 && this.engine.up) {
      this.replies.log.warn({ unclaimed }, 'redis refused to claim some names again; retrying');
      setTimeout(() => {
        if (this.engine.up) this.resync();
      }, RETRY_CLAIMS).unref();
    }
  }
}
