import { addressedTo, EngineUnavailable, type Engine, type EngineSink, type Position, type Publication, type Route, type Signal } from '../engine/engine.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import * as encode from '../protocol/encode.js';
import { sealEnvelope } from '../protocol/envelope.js';
import { binaryFrame, textFrame } from '../transport/frame.js';
import type { Outbox } from '../transport/outbox.js';
import type { Connection } from './connection.js';
import type { Channel, Remembered } from './channel.js';
import type { ChannelRegistry } from './registry.js';

/** One message's frames, each built once on first need: JSON text, and the binary envelope. */
export class MessageFrames {
  private text: Buffer | null = null;
  private envelope: Buffer | null = null;

  constructor(private readonly json: string) {}

  for(member: Connection): Buffer {
    if (member.envelope) return (this.envelope ??= binaryFrame(sealEnvelope(this.json)));
    return (this.text ??= textFrame(this.json));
  }
}

/** A fill that cannot reach the store tries again after this, doubling up to the cap. */
const FILL_RETRY_BASE = 100;
const FILL_RETRY_CAP = 2_000;
/** Errors Redis answers a fill with (out of memory, read-only, busy) that it may get over: tried this often. */
const FILL_REFUSALS = 5;

export interface DeliveryOptions {
  /**
   * historySize: the dedup keys remembered per channel, and the publications held while a gap is
   * filled (past it, history no longer holds the gap).
   */
  idLimit: number;
  idTtl: number;
  /** The store became reachable or unreachable. */
  onState: (up: boolean) => void;
  /** A member here missed messages that no history holds any more: it must be told (closed, to resume). */
  onMissed: (member: Connection) => void;
}

/**
 * Local fan-out: what the engine delivers to this node goes to the members here. Publications
 * arrive in seq order per channel; a jump in seq means this node missed some (its subscription
 * dropped), so it holds what arrives and fills the gap from history before going on, waiting for
 * the store as long as history may still hold them. One frame is built per publication, however
 * many members receive it.
 */
export class Delivery implements EngineSink {
  constructor(
    private readonly registry: ChannelRegistry,
    private readonly engine: Engine,
    private readonly outbox: Outbox<Connection>,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly options: DeliveryOptions,
  ) {}

  publication(key: string, p: Publication): void {
    const channel = this.registry.byKey(key);
    if (channel !== undefined) this.receive(channel, p);
  }

  signal(key: string, signal: Signal): void {
    const channel = this.registry.byKey(key);
    if (channel === undefined) return;
    switch (signal.kind) {
      case 'binary':
        // Opaque binary frames go to members that speak plain JSON; to an envelope client every binary frame is an envelope.
        return this.toLive(channel, () => binaryFrame(signal.data), 'binary', (m) => m.name !== signal.except && !m.envelope);
      case 'text':
        return this.toLive(channel, () => textFrame(signal.json), encode.eventOf(signal.json), () => true);
      default:
        return this.toLive(channel, () => textFrame(encode.presenceEvent(signal.kind, signal.user)), signal.kind, (m) => m.presence && m.name !== signal.user);
    }
  }

  /**
   * Sends a frame that takes no seq to the members here that are live (not being admitted) and
   * `want` it. The frame is built for the first of them: most members ask for no presence, and a
   * mass leave must not build a frame per leave for nobody.
   */
  private toLive(channel: Channel, build: () => Buffer, event: string, want: (member: Connection) => boolean): void {
    let frame: Buffer | null = null;
    let sent = 0;
    for (const member of channel.members.values()) {
      if (member.live && want(member) && this.outbox.send(member, (frame ??= build()))) sent += 1;
    }
    if (frame !== null) this.metrics.delivered(event, sent, frame.length);
  }

  state(up: boolean): void {
    this.options.onState(up);
  }

  cut(): void {
    for (const channel of this.registry.values()) channel.unsure = true;
  }

  /** Takes a publication in order: drops what was delivered already, fills a gap before going on. */
  receive(channel: Channel, p: Publication): void {
    if (channel.filling !== null) {
      channel.filling.push(p);
      return;
    }
    if (channel.seq !== null) {
      if (channel.epoch === p.epoch) {
        if (p.seq <= channel.seq) return;
        if (p.seq > channel.seq + 1) return this.startFill(channel, p);
      } else if (p.seq > 1 || channel.unsure) {
        // A new epoch (the history was lost): fetch its first messages if this node did not see
        // them, and find out whether the members here missed the end of the old one.
        return this.startFill(channel, p);
      }
    }
    this.deliver(channel, p);
  }

  /**
   * Reads what this node missed in a channel from history, delivers it, then what arrived
   * meanwhile. One fill runs per channel at a time; asking during one joins it.
   */
  fill(channel: Channel): Promise<void> {
    channel.filled ??= this.runFill(channel).finally(() => {
      channel.filled = null;
    });
    return channel.filled;
  }

  private startFill(channel: Channel, first: Publication): void {
    channel.filling = [first];
    this.fill(channel).catch((err: unknown) => this.log.error({ channel: channel.key, err }, 'failed to deliver what this node missed'));
  }

  /**
   * Fills the gap, waiting for the store (with backoff) as long as it cannot be reached: history
   * may still hold what was missed. The gap is given up only when history provably cannot fill it
   * (trimmed past it, or lost with a new epoch), and then the members here that missed messages are
   * told. Publications that arrive meanwhile wait in `filling`, in order.
   */
  private async runFill(channel: Channel): Promise<void> {
    channel.filling ??= [];
    let delay = FILL_RETRY_BASE;
    let waited = false;
    let refusals = 0;
    let position: Position | null = null;
    let filled = false;
    for (;;) {
      if (this.registry.byKey(channel.key) !== channel) {
        channel.filling = null;
        return;
      }
      // More arrived since the gap than history keeps: it no longer holds the gap.
      if ((channel.filling?.length ?? 0) > this.options.idLimit) break;
      try {
        ({ position, filled } = await this.catchUp(channel));
        break;
      } catch (err) {
        if (!(err instanceof EngineUnavailable) || (err.refused && ++refusals > FILL_REFUSALS)) {
          this.log.error({ channel: channel.key, err }, 'failed to fill what this node missed; telling its members');
          break;
        }
        if (!waited) this.log.warn({ channel: channel.key, err: err.message }, 'cannot read what this node missed yet; waiting for redis');
        waited = true;
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, FILL_RETRY_CAP);
      }
    }
    const arrived = channel.filling ?? [];
    channel.filling = null;
    if (!filled) {
      // What history could not give is lost to this node. Go on from just before the first message
      // that did arrive (or from where the channel stands), so that copies of anything older are
      // still dropped and the same gap is not filled again; the members that missed it are told,
      // and the senders of what it held are answered unavailable.
      const next = arrived[0] ?? null;
      if (next !== null) {
        channel.epoch = next.epoch;
        channel.seq = next.seq - 1;
      } else if (position !== null) {
        channel.epoch = position.epoch;
        channel.seq = position.seq;
      }
      if (channel.epoch !== null && channel.seq !== null) {
        this.missed(channel, channel.epoch, channel.seq);
        channel.abandon({ epoch: channel.epoch, seq: channel.seq });
      }
    }
    for (const p of arrived) this.receive(channel, p);
  }

  /**
   * One attempt at reading what this node missed from history and delivering it.
   * @throws EngineUnavailable when the store cannot be reached: nothing was decided yet.
   */
  private async catchUp(channel: Channel): Promise<{ position: Position | null; filled: boolean }> {
    const from = channel.seq;
    const epoch = channel.epoch;
    // Nothing was delivered here yet: there is no gap, only what arrives from now on.
    if (from === null || epoch === null) {
      channel.unsure = false;
      return { position: null, filled: true };
    }
    let recovery = await this.engine.recover(channel.key, from, epoch, true);
    if (recovery.epoch !== epoch) {
      // The history was lost and a new one began: what this node missed is all of the new one. If
      // this node had stopped hearing from the store, the old epoch's last messages may never have
      // reached it: its members are told before anything of the new epoch reaches them.
      if (channel.unsure || recovery.behind === true) {
        this.log.warn({ channel: channel.key, epoch: recovery.epoch }, 'history was lost while this node was cut off, or went back; telling its members');
        this.missed(channel, recovery.epoch, 0);
      }
      channel.epoch = recovery.epoch;
      channel.seq = 0;
      recovery = await this.engine.recover(channel.key, 0, recovery.epoch);
    }
    // Where this node stands is known again: filled, or its members are told (below) that it is not.
    channel.unsure = false;
    if (!recovery.recovered) {
      if (recovery.seq > (channel.seq ?? 0)) this.log.warn({ channel: channel.key, from, seq: recovery.seq }, 'history no longer holds what this node missed; telling its members');
      return { position: recovery, filled: false };
    }
    for (const p of recovery.publications) if (p.seq > (channel.seq ?? 0)) this.deliver(channel, p);
    return { position: recovery, filled: true };
  }

  /** Tells every live member here that has not had everything up to `epoch`/`seq` that it missed messages. */
  private missed(channel: Channel, epoch: string, seq: number): void {
    for (const member of [...channel.members.values()]) {
      if (!member.live || (member.floorEpoch === epoch && member.floor >= seq)) continue;
      this.options.onMissed(member);
    }
  }

  /** Sends a publication to every member here it is addressed to. */
  deliver(channel: Channel, p: Publication): void {
    const key = p.route.dedup;
    // A message sent again after the store forgot its id (a new epoch), or whose earlier send
    // reached the members here as a local copy, goes only to those who were not members then.
    const known = key === undefined ? undefined : channel.recall(key, this.options.idTtl);
    this.fanOut(channel, p.json, p.route, p, known?.order ?? 0);
    if (key !== undefined) channel.remember(key, p.seq, this.options.idLimit, this.options.idTtl);
    // After the fan-out: an ack waiting for this seq must follow the sender's own copy.
    channel.advance(p.epoch, p.seq);
  }

  /** A message made while this node is cut off from the store: to the live members here, without a seq. */
  local(channel: Channel, json: string, route: Route): void {
    this.fanOut(channel, json, route, null, 0);
    if (route.dedup !== undefined) channel.remember(route.dedup, null, this.options.idLimit, this.options.idTtl);
  }

  /** The seq a message with this dedup key got when it was delivered here (null: delivered locally), if it was. */
  recall(channel: Channel, key: string): Remembered | undefined {
    return channel.recall(key, this.options.idTtl);
  }

  /**
   * Queues a message, framed once per format, to the members here it is addressed to. A member
   * being admitted holds a publication for later (a local message, which has no seq to order it
   * by, is not for it); one that has had it already (replayed, or a member admitted before `hadIt`,
   * the order in which an earlier copy of the same message id went out here) is skipped.
   */
  private fanOut(channel: Channel, json: string, route: Route, p: Publication | null, hadIt: number): void {
    const frames = new MessageFrames(json);
    let sent = 0;
    // The common case, a message to everyone (but maybe its sender), decided once, not per member.
    const to = route.to;
    const except = to === undefined && !route.echo ? route.from : null;
    for (const member of channel.members.values()) {
      if (to === undefined ? member.name === except : !to.includes(member.name!)) continue;
      if (!member.live) {
        if (p !== null) member.hold(p);
        continue;
      }
      if (p !== null && member.floorEpoch === p.epoch && p.seq <= member.floor) continue;
      if (member.admitted < hadIt) continue;
      if (this.outbox.send(member, frames.for(member))) sent += 1;
    }
    // An API event name is the backend's choice: counted as `custom`, so it never grows the label set.
    this.metrics.delivered(encode.eventOf(json) === 'message' ? 'message' : 'custom', sent, Buffer.byteLength(json));
    channel.lastActivity = Date.now();
  }

  /**
   * Sends a member what it missed (`replay`, every publication after its `since`), then what
   * arrived for it while it was admitted and is newer than `seq`, the channel's seq at its auth.
   */
  release(member: Connection, epoch: string | null, replay: Publication[], seq: number): void {
    for (const p of replay) if (addressedTo(p.route, member.name!)) this.outbox.send(member, new MessageFrames(p.json).for(member));
    const held = member.goLive();
    member.floor = seq;
    member.floorEpoch = epoch;
    for (const p of held) {
      if (p.epoch === epoch && p.seq <= seq) continue;
      this.outbox.send(member, new MessageFrames(p.json).for(member));
    }
  }
}
