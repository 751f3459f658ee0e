import type { Attempt, Member, Session } from './traffic.js';

/**
 * The end-to-end check, over every frame each member received, of what rooms promises:
 *
 * - an acknowledged message (an ack with a seq, neither local nor duplicate) reaches every member
 *   entitled to it, exactly once;
 * - each connection receives its channel's messages in seq order within each epoch, with no gap: a
 *   node that cannot fill a gap must close the connection (4001), so an open one has none, and a
 *   resume with `recovered: true` continues right after its `since`. A seq may be skipped only when
 *   the message there (as other members received it) is one this member already had: a node does
 *   not deliver an id twice to a member, so the ordered copy of a message first delivered locally
 *   (or in an earlier epoch) is left out;
 * - one message id (a message and what was sent again with its id) reaches one member at most
 *   once, across connections and epochs, local deliveries included;
 * - one seq in one epoch of a channel is one message for everyone, its `from` is its sender, and
 *   the sender's own copy comes before its ack.
 *
 * A member is entitled to what was published while it was continuously connected: on each of its
 * connections, from the reply's seq (or the resumed `since` with `recovered: true`) on, in every
 * epoch the connection went through, up to the last message it received on a connection that
 * ended. A resume with `recovered: false` excuses whatever lies between the two connections. All
 * traffic is broadcast, so every message of a channel is meant for every member in it.
 */

export interface Figures {
  /** Distinct messages sent, and every sending (the re-sent ones too). */
  sent: number;
  attempts: number;
  /** Distinct messages settled by an ack with a seq (neither local nor duplicate), by a local ack, by a duplicate ack. */
  acked: number;
  local: number;
  duplicate: number;
  /** `unavailable` answers. */
  unavailable: number;
  /** Deliveries of messages examined, and (member, acknowledged message) pairs owed. */
  deliveries: number;
  entitled: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  gaps: number;
  /** Seqs skipped because the member already had the message there (see above). */
  skipped: number;
  /** Acks with a seq whose sender had not received its own copy first. */
  ackBeforeCopy: number;
  /** Two different messages at one seq of one epoch of a channel. */
  seqConflicts: number;
  /** Errors and frames nothing asked for. */
  errors: number;
  recovered: number;
  notRecovered: number;
  /** Connections the server closed with 4001 missed_messages. */
  missedCloses: number;
  /** Deliveries on connections their member had abandoned (taken its name elsewhere). */
  abandonedDeliveries: number;
  /** The longest a request waited for its answer on a connection the member kept, and requests still unanswered on a live one. */
  maxWaitMs: number;
  unanswered: number;
}

export interface Report extends Figures {
  scenario: string;
  /** The first problems found, each in words. */
  problems: string[];
}

interface Coverage {
  epoch: string;
  /** Owed: every seq above `lower`, up to and including `upper`. */
  lower: number;
  upper: number;
}

interface Stream {
  epoch: string;
  lower: number;
  last: number;
}

const KEEP = 30;

export function check(scenario: string, members: Member[]): Report {
  const f: Figures = {
    sent: 0,
    attempts: 0,
    acked: 0,
    local: 0,
    duplicate: 0,
    unavailable: 0,
    deliveries: 0,
    entitled: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    gaps: 0,
    skipped: 0,
    ackBeforeCopy: 0,
    seqConflicts: 0,
    errors: 0,
    recovered: 0,
    notRecovered: 0,
    missedCloses: 0,
    abandonedDeliveries: 0,
    maxWaitMs: 0,
    unanswered: 0,
  };
  const problems: string[] = [];
  const problem = (text: string): void => {
    if (problems.length < KEEP) problems.push(text);
  };

  const acked: { channel: string; id: string; epoch: string; seq: number }[] = [];
  for (const m of members) {
    for (const o of m.outgoing.values()) {
      f.sent += 1;
      f.attempts += o.attempts.length;
      f.unavailable += o.attempts.filter((a) => a.answer?.kind === 'unavailable').length;
      const outcome = o.outcome;
      if (outcome === null) continue;
      if (outcome.kind === 'local') f.local += 1;
      if (outcome.kind === 'duplicate') f.duplicate += 1;
      if (outcome.kind !== 'seq') {
        if (outcome.kind === 'local' && !o.ownCopyFirst) {
          f.ackBeforeCopy += 1;
          problem(`${o.id}: local ack before the sender's own local copy`);
        }
        continue;
      }
      f.acked += 1;
      if (!o.ownCopyFirst) {
        f.ackBeforeCopy += 1;
        problem(`${o.id}: ack with seq ${outcome.seq} before the sender's own copy at that seq`);
      }
      if (o.epoch !== null) acked.push({ channel: m.channel, id: o.id, epoch: o.epoch, seq: outcome.seq });
    }
    for (const a of [...[...m.outgoing.values()].flatMap((o) => o.attempts), ...m.others]) wait(f, a, problem, m.user);
  }

  // What is at each seq, as members received it: one message for everyone.
  const atSeq = new Map<string, string>();
  for (const m of members) {
    for (const r of m.sessions.flatMap((s) => s.received)) {
      if (r.seq === null || r.epoch === null) continue;
      const key = `${m.channel}|${r.epoch}|${r.seq}`;
      const other = atSeq.get(key);
      if (other === undefined) atSeq.set(key, r.id);
      else if (other !== r.id) {
        f.seqConflicts += 1;
        problem(`${m.channel} ${r.epoch}:${r.seq} is ${other} for one member and ${r.id} for ${m.user}`);
      }
    }
  }
  const coverage = new Map<Member, Coverage[]>();
  const received = new Map<Member, Map<string, number>>();
  for (const m of members) {
    const counts = new Map<string, number>();
    const covered: Coverage[] = [];
    for (const s of m.sessions) {
      for (const e of s.errors) {
        f.errors += 1;
        problem(`${m.user} on node ${s.node}: ${e}`);
      }
      f.abandonedDeliveries += s.late.length;
      if (s.ended?.code === 4001) f.missedCloses += 1;
      if (s.token === null) {
        if (s.received.length > 0) {
          f.outOfOrder += s.received.length;
          problem(`${m.user} connection ${s.index}: ${s.received.length} messages before its token`);
        }
        continue;
      }
      covered.push(...session(m, s, f, counts, atSeq, problem));
    }
    for (const [id, n] of counts) {
      if (n > 1) {
        f.duplicated += n - 1;
        problem(`${m.user} received ${id} ${n} times`);
      }
    }
    coverage.set(m, covered);
    received.set(m, counts);
  }

  for (const a of acked) {
    for (const m of members) {
      if (m.channel !== a.channel) continue;
      if (!coverage.get(m)!.some((c) => c.epoch === a.epoch && a.seq > c.lower && a.seq <= c.upper)) continue;
      f.entitled += 1;
      if (!received.get(m)!.has(a.id)) {
        f.lost += 1;
        problem(`${m.user} never received ${a.id} (acknowledged at ${a.epoch}:${a.seq}) though it was connected for it`);
      }
    }
  }
  return { scenario, ...f, problems };
}

/** Checks one connection's stream; returns what it was owed. */
function session(m: Member, s: Session, f: Figures, counts: Map<string, number>, atSeq: ReadonlyMap<string, string>, problem: (text: string) => void): Coverage[] {
  const token = s.token!;
  const where = `${m.user} connection ${s.index} (node ${s.node})`;
  if (s.since !== null) {
    if (token.recovered === true) f.recovered += 1;
    else f.notRecovered += 1;
    if (token.recovered === null) {
      f.errors += 1;
      problem(`${where}: a resume answered without recovered`);
    }
    if (token.recovered === true && token.epoch !== s.since.epoch) {
      f.errors += 1;
      problem(`${where}: recovered:true across an epoch change (${s.since.epoch} to ${token.epoch})`);
    }
  }
  const start = token.recovered === true && s.since !== null ? s.since : token.epoch === null ? null : { epoch: token.epoch, seq: token.seq };
  const streams: Stream[] = start === null ? [] : [{ epoch: start.epoch, lower: start.seq, last: start.seq }];
  const kind = token.recovered === true ? 'a recovered:true resume' : s.since === null ? 'a first connection' : 'a recovered:false resume';
  for (const r of s.received) {
    f.deliveries += 1;
    if (r.id.slice(0, r.id.indexOf(':')) !== r.from) {
      f.errors += 1;
      problem(`${where}: ${r.id} came from ${r.from}`);
    }
    const seen = counts.get(r.id) ?? 0;
    counts.set(r.id, seen + 1);
    if (r.seq === null || r.epoch === null) continue;
    let cur = streams[streams.length - 1];
    if (cur === undefined) {
      // The reply gave no epoch: the stream starts with its first message.
      cur = { epoch: r.epoch, lower: r.seq - 1, last: r.seq - 1 };
      streams.push(cur);
    } else if (cur.epoch !== r.epoch) {
      if (streams.some((x) => x.epoch === r.epoch)) {
        f.outOfOrder += 1;
        problem(`${where}: ${r.id} at ${r.epoch}:${r.seq} after the epoch had moved on to ${cur.epoch}`);
        continue;
      }
      cur = { epoch: r.epoch, lower: 0, last: 0 };
      streams.push(cur);
    }
    if (r.seq <= cur.last) {
      // The same id twice is counted as a duplicate; a different one out of place is out of order.
      if (seen === 0) {
        f.outOfOrder += 1;
        problem(`${where}: ${r.id} at ${r.epoch}:${r.seq} after seq ${cur.last}`);
      }
      continue;
    }
    const missed: number[] = [];
    for (let seq = cur.last + 1; seq < r.seq; seq += 1) {
      const there = atSeq.get(`${m.channel}|${r.epoch}|${seq}`);
      if (there !== undefined && counts.has(there)) f.skipped += 1;
      else missed.push(seq);
    }
    if (missed.length > 0) {
      f.gaps += missed.length;
      problem(`${where}, ${kind}: seq jumped from ${cur.last} to ${r.seq} in epoch ${r.epoch} without a close, missing ${missed.join(',')}`);
    }
    cur.last = r.seq;
  }
  // An epoch the connection moved on from is owed in full, as is the last one of a connection still
  // open; the last epoch of a connection that ended is owed up to what it received.
  return streams.map((x, i) => ({ epoch: x.epoch, lower: x.lower, upper: i < streams.length - 1 || s.ended === null ? Infinity : x.last }));
}

/** Counts a request's wait for its answer, on connections the member did not give up. */
function wait(f: Figures, a: Attempt, problem: (text: string) => void, user: string): void {
  if (a.session.ended?.how === 'abandoned' || a.session.ended?.how === 'terminated') return;
  if (a.answeredAt !== null) {
    f.maxWaitMs = Math.max(f.maxWaitMs, a.answeredAt - a.sentAt);
    return;
  }
  if (a.session.ended === null) {
    f.unanswered += 1;
    f.maxWaitMs = Math.max(f.maxWaitMs, Date.now() - a.sentAt);
    problem(`${user}: a ${a.what} sent on node ${a.session.node} is still unanswered after ${Date.now() - a.sentAt} ms`);
  }
}

/** One line of figures, as printed after each run. */
export function summary(r: Report): string {
  return [
    `[${r.scenario}] sent ${r.sent} (${r.attempts} sendings), acked ${r.acked}, local ${r.local}, duplicate ${r.duplicate}, unavailable ${r.unavailable}`,
    `deliveries checked ${r.deliveries} (owed ${r.entitled}): lost ${r.lost}, duplicated ${r.duplicated}, out of order ${r.outOfOrder}, gaps ${r.gaps} (skipped as already had ${r.skipped}), ack before copy ${r.ackBeforeCopy}, seq conflicts ${r.seqConflicts}, errors ${r.errors}`,
    `resumes recovered ${r.recovered} / not ${r.notRecovered}, 4001 closes ${r.missedCloses}, deliveries on abandoned connections ${r.abandonedDeliveries}, max answer wait ${r.maxWaitMs} ms, unanswered ${r.unanswered}`,
  ].join('\n        ');
}
