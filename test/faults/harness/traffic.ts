import { WebSocket, type RawData } from 'ws';
import { onCleanup } from '../../support/cleanup.js';

/**
 * The fault suite's traffic: members that are plain `ws` clients (not the project's client
 * library), each sending broadcasts with unique ids at a modest rate, and doing what a careful
 * client does when its connection drops: reconnect (to its own node, or to the next one when its
 * node is gone) with `since` and `epoch` of the last message it received, and send again, with the
 * same id, every message that was not acknowledged. Everything each member sends and receives is
 * recorded, per connection, for the checker (checker.ts).
 */

/** Where members connect: a node by its index in the cluster. */
export interface Endpoint {
  index: number;
  url: (channel: string) => string;
}

/** What the server answered to a request: `reply` is a token or a user_list, the others answer messages. */
export type Answer =
  | { kind: 'reply' }
  | { kind: 'seq'; seq: number }
  | { kind: 'duplicate'; seq: number }
  | { kind: 'local' }
  | { kind: 'unavailable' }
  | { kind: 'error'; code: string };

/** One sending of a request on one connection, and its answer if one came on that connection. */
export interface Attempt {
  what: 'message' | 'auth' | 'user_list';
  session: Session;
  sentAt: number;
  answeredAt: number | null;
  answer: Answer | null;
}

/** A message a member sends (and sends again, with the same id, until it is acknowledged). */
export interface Outgoing {
  id: string;
  attempts: Attempt[];
  /** The answer that settled it: a seq, a duplicate, local, or an error other than `unavailable`. */
  outcome: Answer | null;
  /** With a seq outcome: the epoch of the sender's own copy, which came before the ack. */
  epoch: string | null;
  /** Whether the sender's own copy (that id at that seq, or the local copy) came before the ack. */
  ownCopyFirst: boolean;
  /** When it was settled. */
  settledAt: number | null;
}

/** A message event received: `seq` and `epoch` are null for a local one. */
export interface Received {
  id: string;
  from: string;
  epoch: string | null;
  seq: number | null;
  at: number;
}

export interface Token {
  value: string;
  epoch: string | null;
  seq: number;
  /** The reply's `recovered`: null when the auth had no `since`. */
  recovered: boolean | null;
  at: number;
}

/** One connection of a member, from the upgrade to its end. */
export interface Session {
  index: number;
  node: number;
  ws: WebSocket;
  /** The position sent in auth (the last message received before, or the last token's standing). */
  since: { epoch: string; seq: number } | null;
  token: Token | null;
  /** Message events received while this was the member's connection, in order. */
  received: Received[];
  /** Message events received on it after the member gave it up (abandoned) without closing it. */
  late: Received[];
  presence: { event: 'join' | 'leave'; user: string; at: number }[];
  /**
   * How it ended for the member: the server (or the network) closed it, or the member terminated
   * it, or the member abandoned it: took its name elsewhere, leaving this socket open.
   */
  ended: { how: 'closed' | 'terminated' | 'abandoned'; code: number | null; at: number } | null;
  /** When the server closed a connection the member had abandoned, and with which code. */
  closedLater: { code: number; at: number } | null;
  /** Errors other than the expected ones, as received. */
  errors: string[];
}

export interface TrafficOptions {
  nodes: Endpoint[];
  channels: string[];
  /** Members per channel on each node. */
  perNode: number;
  /** Messages each member sends per second. */
  rate: number;
  /** Most messages a member has in flight (sent, not answered) at once. */
  window: number;
  /** Members that send only when told (probes), as [channel, node]. */
  quiet?: [string, number][];
}

type Frame = Record<string, unknown>;

/** Opening handshakes to a node that hangs (stopped) are given up after this. */
const HANDSHAKE_TIMEOUT = 2_000;

function parse(data: RawData): Frame | null {
  const text = Buffer.isBuffer(data) ? data.toString() : Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data).toString();
  const value: unknown = JSON.parse(text);
  return typeof value === 'object' && value !== null ? (value as Frame) : null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

export class Member {
  readonly sessions: Session[] = [];
  readonly outgoing = new Map<string, Outgoing>();
  /** The last position the member knows: of the last message received, or of the last token. */
  position: { epoch: string; seq: number } | null = null;
  private session: Session | null = null;
  private state: 'down' | 'connecting' | 'authing' | 'live' | 'parked' | 'stopped' = 'down';
  private timer: NodeJS.Timeout | null = null;
  private next = 1;
  private probes = 0;
  private requests = 0;
  private authPending = false;
  private readonly resend: string[] = [];
  /** Every id received on its connections while they were its own. */
  private readonly ids = new Set<string>();
  private readonly avoid = new Set<number>();
  private readonly lists = new Map<string, { resolve: (names: string[]) => void; reject: (err: Error) => void; attempt: Attempt }>();
  /** Requests other than messages (auth, user_list), for their answer times. */
  readonly others: Attempt[] = [];
  /** Waiters for a probe's answer, by id. */
  private readonly answered = new Map<string, (answer: Answer) => void>();

  constructor(
    readonly user: string,
    readonly channel: string,
    readonly home: number,
    private readonly traffic: Traffic,
    readonly quiet: boolean,
  ) {}

  get live(): boolean {
    return this.state === 'live';
  }

  /** The node of the connection it is on (or last tried). */
  get node(): number {
    return this.session?.node ?? this.home;
  }

  get current(): Session | null {
    return this.session;
  }

  /** Messages sent and not yet settled (acknowledged, duplicate or local). */
  get unsettled(): Outgoing[] {
    return [...this.outgoing.values()].filter((o) => o.outcome === null);
  }

  /** Whether it received `id` on one of its connections (not counting abandoned ones after it left them). */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Connects (the first time, or again after a drop). */
  connect(): Promise<void> {
    if (this.state !== 'down') return Promise.resolve();
    this.state = 'connecting';
    return this.open();
  }

  /** Starts sending at the traffic's rate (a quiet member only keeps its connection). */
  start(): void {
    const every = 1000 / this.traffic.options.rate;
    const first = setTimeout(() => {
      this.timer = setInterval(() => this.tick(), every);
      this.tick();
    }, Math.random() * every);
    this.timer = first;
  }

  /**
   * Sends one message now, outside the rate, and resolves with its id and first answer (one
   * answered `unavailable` is sent again later, like any other).
   */
  probe(): Promise<{ id: string; answer: Answer }> {
    if (this.session === null || this.state !== 'live') throw new Error(`${this.user} is not connected`);
    this.probes += 1;
    const id = `${this.user}:p${this.probes}`;
    const answered = new Promise<Answer>((resolve) => this.answered.set(id, resolve));
    this.send(this.create(id));
    return answered.then((answer) => ({ id, answer }));
  }

  /** Sends `n` new messages at once, outside the rate: so that some are in flight when a fault strikes. */
  burst(n: number): void {
    if (this.state !== 'live') return;
    for (let i = 0; i < n; i += 1) {
      const id = `${this.user}:${this.next}`;
      this.next += 1;
      this.send(this.create(id));
    }
  }

  /** Sends its marker (the marker round); it settles like any message. */
  mark(): string {
    const id = `${this.user}:marker`;
    const o = this.create(id);
    if (this.state === 'live') this.send(o);
    else this.resend.push(id);
    return id;
  }

  /** Asks the node it is on for the channel's user_list. */
  userList(): Promise<string[]> {
    const s = this.session;
    if (s === null || s.token === null || this.state !== 'live') return Promise.reject(new Error(`${this.user} is not connected`));
    this.requests += 1;
    const id = `ul:${this.requests}`;
    const attempt: Attempt = { what: 'user_list', session: s, sentAt: Date.now(), answeredAt: null, answer: null };
    this.others.push(attempt);
    s.ws.send(JSON.stringify({ event: 'user_list', auth: s.token.value, id }));
    return new Promise((resolve, reject) => this.lists.set(id, { resolve, reject, attempt }));
  }

  /** Drops its connection (client side) and stays away until {@link unpark}. */
  park(): void {
    const s = this.session;
    this.state = 'parked';
    this.session = null;
    if (s !== null) this.end(s, 'terminated', null);
    s?.ws.terminate();
    this.traffic.notify();
  }

  unpark(): Promise<void> {
    if (this.state !== 'parked') return Promise.resolve();
    this.state = 'down';
    return this.connect();
  }

  /**
   * Gives up its node, as a client whose pings went unanswered does, and takes its name to another
   * node. `abandon` leaves the old socket open (a client that went away without the node hearing
   * of it); otherwise the member terminates it.
   */
  move(abandon: boolean): Promise<void> {
    const s = this.session;
    if (s === null) throw new Error(`${this.user} has no connection to move from`);
    this.avoid.add(s.node);
    this.session = null;
    this.end(s, abandon ? 'abandoned' : 'terminated', null);
    if (!abandon) s.ws.terminate();
    this.state = 'connecting';
    return this.open();
  }

  stop(): void {
    this.state = 'stopped';
    this.halt();
    for (const s of this.sessions) s.ws.terminate();
  }

  /** Stops the timer only: nothing more is sent, connections stay open for a last look. */
  halt(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private create(id: string): Outgoing {
    const o: Outgoing = { id, attempts: [], outcome: null, epoch: null, ownCopyFirst: false, settledAt: null };
    this.outgoing.set(id, o);
    return o;
  }

  private tick(): void {
    if (this.state === 'down') return void this.connect();
    if (this.state === 'authing' && this.authPending && this.session !== null) return this.auth(this.session);
    if (this.state !== 'live' || this.session === null) return;
    const again = this.resend.shift();
    if (again !== undefined) {
      const o = this.outgoing.get(again);
      if (o !== undefined && o.outcome === null) this.send(o);
      return;
    }
    if (this.quiet || !this.traffic.sendingNew) return;
    const inFlight = [...this.outgoing.values()].filter((o) => o.outcome === null && o.attempts.some((a) => a.session === this.session && a.answer === null)).length;
    if (inFlight >= this.traffic.options.window) return;
    const id = `${this.user}:${this.next}`;
    this.next += 1;
    this.send(this.create(id));
  }

  private send(o: Outgoing): void {
    const s = this.session!;
    o.attempts.push({ what: 'message', session: s, sentAt: Date.now(), answeredAt: null, answer: null });
    s.ws.send(JSON.stringify({ event: 'broadcast', message: o.id, id: o.id }));
  }

  /** Tries the nodes in order (its own first, then the others), until one opens. */
  private async open(): Promise<void> {
    const order = [this.home, ...this.traffic.options.nodes.map((n) => n.index).filter((i) => i !== this.home)].filter((i) => !this.avoid.has(i));
    for (const node of order) {
      if (this.state !== 'connecting') return;
      const ws = new WebSocket(this.traffic.options.nodes[node].url(this.channel), { handshakeTimeout: HANDSHAKE_TIMEOUT });
      const opened = await new Promise<boolean>((resolve) => {
        ws.once('open', () => resolve(true));
        ws.once('error', () => resolve(false));
      });
      if (!opened) {
        ws.terminate();
        continue;
      }
      if (this.state !== 'connecting') {
        ws.terminate();
        return;
      }
      this.begin(ws, node);
      return;
    }
    // Every node refused: the next tick tries again.
    if (this.state === 'connecting') this.state = 'down';
  }

  private begin(ws: WebSocket, node: number): void {
    const s: Session = {
      index: this.sessions.length,
      node,
      ws,
      since: this.position,
      token: null,
      received: [],
      late: [],
      presence: [],
      ended: null,
      closedLater: null,
      errors: [],
    };
    this.sessions.push(s);
    this.session = s;
    this.state = 'authing';
    ws.on('error', () => undefined);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) this.frame(s, parse(data));
    });
    ws.on('close', (code: number) => this.closed(s, code));
    this.auth(s);
  }

  private auth(s: Session): void {
    this.authPending = false;
    this.requests += 1;
    const since = s.since === null ? {} : { since: s.since.seq, epoch: s.since.epoch };
    this.others.push({ what: 'auth', session: s, sentAt: Date.now(), answeredAt: null, answer: null });
    s.ws.send(JSON.stringify({ event: 'auth', user: this.user, presence: true, id: `auth:${this.requests}`, ...since }));
  }

  private frame(s: Session, f: Frame | null): void {
    if (f === null) return;
    const event = str(f.event);
    const now = Date.now();
    if (s !== this.session) {
      // A connection the member gave up: only what still arrives on it is recorded.
      if (event === 'message' && s.ended?.how === 'abandoned') s.late.push(this.received(f, now));
      return;
    }
    switch (event) {
      case 'message': {
        const r = this.received(f, now);
        s.received.push(r);
        this.ids.add(r.id);
        if (r.seq !== null && r.epoch !== null) this.position = { epoch: r.epoch, seq: r.seq };
        this.traffic.deliveries += 1;
        break;
      }
      case 'ack':
        this.ack(s, f, now);
        break;
      case 'token': {
        this.answerAuth(s, now, { kind: 'reply' });
        const epoch = str(f.epoch);
        const recovered = typeof f.recovered === 'boolean' ? f.recovered : null;
        s.token = { value: str(f.message) ?? '', epoch, seq: num(f.seq) ?? 0, recovered, at: now };
        // After recovered:true the replay follows: the position moves with the messages as they
        // come. Otherwise nothing before the reply's seq is coming, and the reply is the position.
        if (epoch !== null && recovered !== true) this.position = { epoch, seq: s.token.seq };
        this.state = 'live';
        this.resend.length = 0;
        // Everything not acknowledged goes again, with its id, in the order it was first sent.
        for (const o of this.outgoing.values()) if (o.outcome === null) this.send(o);
        break;
      }
      case 'join':
      case 'leave':
        s.presence.push({ event, user: str(f.user) ?? '', at: now });
        break;
      case 'user_list': {
        const re = str(f.re);
        const pending = re === null ? undefined : this.lists.get(re);
        if (pending !== undefined && re !== null) {
          this.lists.delete(re);
          pending.attempt.answeredAt = now;
          pending.attempt.answer = { kind: 'reply' };
          pending.resolve(Array.isArray(f.message) ? f.message.map(String) : []);
        }
        break;
      }
      case 'error':
        this.error(s, f, now);
        break;
      default:
        s.errors.push(JSON.stringify(f));
    }
    this.traffic.notify();
  }

  private received(f: Frame, at: number): Received {
    return { id: str(f.message) ?? JSON.stringify(f.message), from: str(f.from) ?? '', epoch: str(f.epoch), seq: num(f.seq), at };
  }

  private ack(s: Session, f: Frame, now: number): void {
    const id = str(f.re);
    const o = id === null ? undefined : this.outgoing.get(id);
    if (o === undefined) return void s.errors.push(`ack for nothing sent: ${JSON.stringify(f)}`);
    const seq = num(f.seq);
    const answer: Answer = f.local === true ? { kind: 'local' } : f.duplicate === true && seq !== null ? { kind: 'duplicate', seq } : seq !== null ? { kind: 'seq', seq } : { kind: 'error', code: 'ack without a seq' };
    if (answer.kind === 'error') s.errors.push(`an ack that is neither local nor has a seq: ${JSON.stringify(f)}`);
    this.answer(s, o, answer, now);
    if (o.outcome !== null) return;
    if (answer.kind === 'seq') {
      const own = s.received.findLast((r) => r.id === o.id && r.seq === answer.seq);
      o.ownCopyFirst = own !== undefined;
      o.epoch = own?.epoch ?? this.position?.epoch ?? null;
    } else if (answer.kind === 'local') {
      o.ownCopyFirst = s.received.some((r) => r.id === o.id && r.seq === null);
    }
    o.outcome = answer;
    o.settledAt = now;
  }

  private error(s: Session, f: Frame, now: number): void {
    const re = str(f.re);
    const code = str(f.code) ?? 'unknown';
    if (re !== null && re.startsWith('auth:')) {
      this.answerAuth(s, now, code === 'unavailable' ? { kind: 'unavailable' } : { kind: 'error', code });
      // unavailable: the store did not answer while the name was claimed; send auth again. Any
      // other refusal closes the connection, and the member reconnects.
      if (code === 'unavailable') this.authPending = true;
      else if (code !== 'name_taken') s.errors.push(JSON.stringify(f));
      return;
    }
    const o = re === null ? undefined : this.outgoing.get(re);
    if (o === undefined) {
      // A close without a request (missed_messages, too_slow): the close event follows.
      if (code !== 'missed_messages') s.errors.push(JSON.stringify(f));
      return;
    }
    if (code !== 'unavailable') {
      // Not a fault of the store: settled as it is, and counted as an error by the checker.
      s.errors.push(JSON.stringify(f));
      this.answer(s, o, { kind: 'error', code }, now);
      if (o.outcome === null) {
        o.outcome = { kind: 'error', code };
        o.settledAt = now;
      }
      return;
    }
    this.answer(s, o, { kind: 'unavailable' }, now);
    // It may or may not have gone out: it is sent again, with its id, at the next tick.
    if (o.outcome === null && !this.resend.includes(o.id)) this.resend.push(o.id);
  }

  /** Gives the oldest unanswered attempt of this message on this connection its answer. */
  private answer(s: Session, o: Outgoing, answer: Answer, now: number): void {
    const attempt = o.attempts.find((a) => a.session === s && a.answer === null);
    if (attempt === undefined) return void s.errors.push(`an answer to ${o.id} it was not waiting for: ${JSON.stringify(answer)}`);
    attempt.answer = answer;
    attempt.answeredAt = now;
    const waiter = this.answered.get(o.id);
    if (waiter !== undefined) {
      this.answered.delete(o.id);
      waiter(answer);
    }
  }

  private answerAuth(s: Session, now: number, answer: Answer): void {
    const attempt = this.others.find((a) => a.session === s && a.what === 'auth' && a.answer === null);
    if (attempt === undefined) return;
    attempt.answer = answer;
    attempt.answeredAt = now;
  }

  private end(s: Session, how: 'closed' | 'terminated' | 'abandoned', code: number | null): void {
    if (s.ended === null) s.ended = { how, code, at: Date.now() };
  }

  private closed(s: Session, code: number): void {
    for (const [id, pending] of this.lists) {
      if (pending.attempt.session === s) {
        this.lists.delete(id);
        pending.reject(new Error(`${this.user}'s connection closed (${code}) before its user_list came`));
      }
    }
    if (s !== this.session) {
      if (s.ended?.how === 'abandoned' && s.closedLater === null) s.closedLater = { code, at: Date.now() };
      return this.traffic.notify();
    }
    this.end(s, 'closed', code);
    this.session = null;
    if (this.state === 'stopped' || this.state === 'parked') return this.traffic.notify();
    // A dropped connection is tried again at once; one refused before its token (a name still
    // taken, say) at the next tick.
    this.state = s.token === null ? 'down' : 'connecting';
    this.traffic.notify();
    if (this.state === 'connecting') void this.open();
  }
}

/**
 * The members, and waiting on what they see: every frame any member receives wakes the waiters,
 * so a test waits for events (acks, deliveries), never for time.
 */
export class Traffic {
  readonly members: Member[] = [];
  deliveries = 0;
  sendingNew = true;
  private readonly waiters = new Map<() => void, NodeJS.Timeout>();

  private constructor(readonly options: TrafficOptions) {
    let n = 0;
    for (const channel of options.channels) {
      for (const node of options.nodes) {
        for (let i = 0; i < options.perNode; i += 1) this.members.push(new Member(`m${n++}`, channel, node.index, this, false));
      }
    }
    for (const [channel, node] of options.quiet ?? []) this.members.push(new Member(`probe${n++}`, channel, node, this, true));
  }

  /** Connects every member; once all are in, they start sending. Stopped after the test. */
  static async start(options: TrafficOptions): Promise<Traffic> {
    const traffic = new Traffic(options);
    onCleanup(() => traffic.stop());
    await Promise.all(traffic.members.map((m) => m.connect()));
    await traffic.until('every member in', () => traffic.members.every((m) => m.live)).catch((err: Error) => {
      throw new Error(`${err.message}: ${traffic.describeAbsent()}`);
    });
    for (const m of traffic.members) m.start();
    return traffic;
  }

  notify(): void {
    for (const check of [...this.waiters.keys()]) check();
  }

  /**
   * Resolves once `condition` holds, checked on every event the members see. Fails after `ms`
   * (a guard, so that a broken run says what it was waiting for instead of hanging).
   */
  until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let done: boolean;
        try {
          done = condition();
        } catch (err) {
          this.waiters.delete(check);
          clearTimeout(guard);
          return reject(err instanceof Error ? err : new Error(String(err)));
        }
        if (!done) return;
        this.waiters.delete(check);
        clearTimeout(guard);
        resolve();
      };
      const guard = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      this.waiters.set(check, guard);
      check();
    });
  }

  /** Resolves once `n` more messages have been delivered to members. */
  afterDeliveries(n: number): Promise<void> {
    const target = this.deliveries + n;
    return this.until(`${n} more deliveries`, () => this.deliveries >= target);
  }

  /** Members whose connection is on `node` now. */
  on(node: number): Member[] {
    return this.members.filter((m) => m.live && m.node === node);
  }

  inChannel(channel: string): Member[] {
    return this.members.filter((m) => m.channel === channel);
  }

  /** Attempts answered on `node` at or after `since`, whose answer was of `kind`. */
  answers(node: number, kind: Answer['kind'], since: number): Attempt[] {
    return this.members.flatMap((m) => [...m.outgoing.values()].flatMap((o) => o.attempts)).filter((a) => a.session.node === node && a.answer?.kind === kind && a.answeredAt! >= since);
  }

  /**
   * The marker round: members stop sending new messages, every message in flight is settled
   * (those answered `unavailable` are sent again), then each member sends a marker and every member
   * waits for every marker of its channel. A marker comes after every message acknowledged before
   * it, so once they are all in, everything acknowledged is in. A member that resumed with
   * `recovered: false` after a marker was acknowledged is excused that marker.
   */
  async finish(): Promise<void> {
    this.sendingNew = false;
    await this.until('every member back and every message settled', () => this.members.every((m) => m.live && m.unsettled.length === 0), 30_000).catch((err: Error) => {
      throw new Error(`${err.message}; unsettled: ${this.describeUnsettled()}`);
    });
    const markers = this.members.map((m) => ({ member: m, id: m.mark() }));
    await this.until('every marker acknowledged', () => markers.every(({ member, id }) => member.outgoing.get(id)!.outcome !== null));
    for (const { member, id } of markers) {
      const outcome = member.outgoing.get(id)!.outcome!;
      if (outcome.kind !== 'seq' && outcome.kind !== 'duplicate') throw new Error(`${id} was answered ${JSON.stringify(outcome)}: a node still counts as cut off`);
    }
    const missing = (): string[] =>
      this.members.flatMap((m) =>
        markers
          .filter(({ member, id }) => member.channel === m.channel && !m.has(id) && !excused(m, member.outgoing.get(id)!.settledAt!))
          .map(({ id }) => `${m.user} lacks ${id}`),
      );
    await this.until('every marker at every member of its channel', () => missing().length === 0).catch((err: Error) => {
      throw new Error(`${err.message}: ${missing().slice(0, 10).join(', ')}`);
    });
    for (const m of this.members) m.halt();
  }

  /** Whether a member of `channel` connected to `node` was told, at or after `since`, that `user` left. */
  leaveSeen(channel: string, node: number, user: string, since: number): boolean {
    return this.inChannel(channel).some((m) => m.live && m.node === node && m.current!.presence.some((p) => p.event === 'leave' && p.user === user && p.at >= since));
  }

  /** The names with a live connection in `channel`. */
  liveNames(channel: string): string[] {
    return this.inChannel(channel)
      .filter((m) => m.live)
      .map((m) => m.user);
  }

  stop(): void {
    for (const m of this.members) m.stop();
    for (const guard of this.waiters.values()) clearTimeout(guard);
    this.waiters.clear();
  }

  /** Who is not connected, and how its last connection went. */
  private describeAbsent(): string {
    return this.members
      .filter((m) => !m.live)
      .slice(0, 5)
      .map((m) => {
        const s = m.sessions[m.sessions.length - 1];
        if (s === undefined) return `${m.user}: no node accepted its connection`;
        return `${m.user} on node ${s.node}: ${s.token === null ? 'no token' : 'token'}, ${s.ended === null ? 'open' : `ended ${s.ended.how} ${String(s.ended.code)}`}${s.errors.length > 0 ? `, ${s.errors.join(' ')}` : ''}`;
      })
      .join('; ');
  }

  private describeUnsettled(): string {
    const now = Date.now();
    return this.members
      .flatMap((m) =>
        m.unsettled.map((o) => {
          const last = o.attempts[o.attempts.length - 1];
          return `${o.id} (${m.live ? 'live' : 'not connected'}, last sent ${last === undefined ? 'never' : `${now - last.sentAt} ms ago on node ${last.session.node}, ${last.answer === null ? 'no answer' : JSON.stringify(last.answer)}`})`;
        }),
      )
      .slice(0, 10)
      .join('; ');
  }
}

/** Whether `m` resumed with `recovered: false` after `at`: what came before that is excused. */
function excused(m: Member, at: number): boolean {
  return m.sessions.some((s) => s.token !== null && s.token.recovered === false && s.token.at >= at);
}
