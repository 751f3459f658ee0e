import { Sender } from 'ws';

const TEXT = 0x1;
const BINARY = 0x2;

function frame(payload: Buffer, opcode: number): Buffer {
  const parts = Sender.frame(payload, { fin: true, rsv1: false, opcode, mask: false, readOnly: true });
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** A complete unmasked text frame: built once, written to every member as it is. */
export function textFrame(json: string): Buffer {
  return frame(Buffer.from(json), TEXT);
}

/** A complete unmasked binary frame carrying `data` unchanged. */
export function binaryFrame(data: Buffer): Buffer {
  return frame(data, BINARY);
}

/** An unmasked ping with no payload: one buffer, queued to every member the heartbeat pings. */
export const PING = Buffer.from([0x89, 0x00]);
