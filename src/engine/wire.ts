import type { Publication, Route, Signal } from './engine.js';

/**
 * What travels on a channel's Redis Pub/Sub topic: one type byte, then
 * - `p` then, per publication, `SEQ EPOCH LENGTH ROUTE` newline `JSON`, LENGTH being the JSON's
 *   bytes: the publications of one batch, in seq order (written by the publish script)
 * - `j` USER, `l` USER: a join or leave (written by the presence scripts)
 * - `t` JSON: a text signal
 * - `b` EXCEPT newline BYTES: a binary relay (names hold no newline)
 */
export type Received = { kind: 'publications'; publications: Publication[] } | { kind: 'signal'; signal: Signal };

const NL = 0x0a;
/** A publication's header, `SEQ EPOCH LENGTH ROUTE`: seq and length positive decimal integers, the epoch not empty. */
const HEADER = /^([1-9][0-9]*) ([^ ]+) ([1-9][0-9]*) (.+)$/s;

export function encodeSignal(signal: Signal): Buffer {
  switch (signal.kind) {
    case 'join':
      return Buffer.from(`j${signal.user}`);
    case 'leave':
      return Buffer.from(`l${signal.user}`);
    case 'text':
      return Buffer.from(`t${signal.json}`);
    case 'binary':
      return Buffer.concat([Buffer.from(`b${signal.except}\n`), signal.data]);
  }
}

/** Decodes a Pub/Sub message; null for anything malformed (never throws). */
export function decodeWire(data: Buffer): Received | null {
  const type = data[0];
  if (type === 0x70 /* p */) {
    const publications = decodePublications(data);
    return publications === null ? null : { kind: 'publications', publications };
  }
  if (type === 0x6a /* j */) return { kind: 'signal', signal: { kind: 'join', user: data.toString('utf8', 1) } };
  if (type === 0x6c /* l */) return { kind: 'signal', signal: { kind: 'leave', user: data.toString('utf8', 1) } };
  if (type === 0x74 /* t */) return { kind: 'signal', signal: { kind: 'text', json: data.toString('utf8', 1) } };
  if (type === 0x62 /* b */) {
    const nl = data.indexOf(NL);
    if (nl === -1) return null;
    return { kind: 'signal', signal: { kind: 'binary', except: data.toString('utf8', 1, nl), data: data.subarray(nl + 1) } };
  }
  return null;
}

/** The publications of a `p` message; null when any of them is malformed, or there is none. */
function decodePublications(data: Buffer): Publication[] | null {
  const publications: Publication[] = [];
  let at = 1;
  while (at < data.length) {
    const nl = data.indexOf(NL, at);
    if (nl === -1) return null;
    const header = HEADER.exec(data.toString('utf8', at, nl));
    if (header === null) return null;
    const [, seqText = '', epoch = '', length = '', routeText = ''] = header;
    const seq = Number(seqText);
    const end = nl + 1 + Number(length);
    const route = parseRoute(routeText);
    if (!Number.isSafeInteger(seq) || end > data.length || route === null) return null;
    publications.push({ seq, epoch, route, json: data.toString('utf8', nl + 1, end) });
    at = end;
  }
  return publications.length === 0 ? null : publications;
}

/** A route as the publish script stores and sends it; null when it is not one. */
export function parseRoute(text: string): Route | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { from, to, echo, dedup } = value as Record<string, unknown>;
  if (typeof from !== 'string' || typeof echo !== 'boolean') return null;
  if (dedup !== undefined && typeof dedup !== 'string') return null;
  if (to !== undefined && !(Array.isArray(to) && to.every((n): n is string => typeof n === 'string'))) return null;
  return { from, echo, ...(to === undefined ? {} : { to }), ...(dedup === undefined ? {} : { dedup }) };
}
