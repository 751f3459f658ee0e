// The fixed-width marker at the start of every published message:
//   #SSSS:CCCCCCCCCC@UUUUUUUUUUUUUUUU|xxxx...
// S: publisher slot in its channel, C: the publisher's message counter (from 0),
// U: send time in microseconds since the epoch (performance.timeOrigin + performance.now(),
// comparable across processes of one machine). A minimal client finds it with indexOf('#')
// and reads the digits without parsing JSON; channel ids and user names cannot contain '#'.

export const MARKER_START = 0x23; // '#'
const MARKER_LENGTH = 34;

/** Wall-clock time in microseconds, comparable across processes on one machine. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Wall-clock time in milliseconds, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function makeMessage(slot: number, seq: number, length: number): string {
  const marker = `#${String(slot).padStart(4, '0')}:${String(seq).padStart(10, '0')}@${String(nowUs()).padStart(16, '0')}|`;
  return length > MARKER_LENGTH ? marker.padEnd(length, 'x') : marker;
}

/** Filled by the parse functions, to avoid an allocation per message. */
export const parsed = { slot: 0, seq: 0, sentUs: 0 };

function digits(buf: Uint8Array, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Parses the marker starting at `at` (the '#') if it ends before `end`. */
export function parseMarker(buf: Uint8Array, at: number, end: number): boolean {
  if (at + MARKER_LENGTH > end || buf[at + 5] !== 0x3a || buf[at + 16] !== 0x40 || buf[at + 33] !== 0x7c) return false;
  parsed.slot = digits(buf, at + 1, 4);
  parsed.seq = digits(buf, at + 6, 10);
  parsed.sentUs = digits(buf, at + 17, 16);
  return parsed.slot >= 0 && parsed.seq >= 0 && parsed.sentUs >= 0;
}

/** The same for a decoded string (socket.io-client hands over parsed objects). */
export function parseMarkerString(text: string): boolean {
  const at = text.indexOf('#');
  if (at < 0) return false;
  return parseMarker(Buffer.from(text.slice(at, at + MARKER_LENGTH), 'latin1'), 0, MARKER_LENGTH);
}
