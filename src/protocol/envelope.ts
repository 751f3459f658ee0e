import type { ChatMessage } from '../wire/messages.js';

/**
 * The typed binary envelope that chat clients built on a typed message enum speak: a 4-byte
 * big-endian message type, then a JSON payload. A client gets it by asking for the WebSocket subprotocol `rooms.envelope`;
 * its chat messages then travel as envelopes, and everything else stays JSON text.
 */
export const ENVELOPE_PROTOCOL = 'rooms.envelope';

/** Message types, as those clients number them. */
export const CHAT = 0;

/** A ChatMessage, as a client sends it (the server sets `sender` and `timestamp` itself). */
export type Opened = { ok: true; message: unknown } | { ok: false; reason: string };

/** Reads a client's envelope; never throws. */
export function openEnvelope(data: Buffer): Opened {
  if (data.length < 4) return { ok: false, reason: `envelope too short: ${data.length} bytes, a 4-byte type comes first` };
  const type = data.readInt32BE(0);
  if (type !== CHAT) return { ok: false, reason: `unknown envelope type ${type}; type 0 (ChatMessage) is the one there is` };
  let payload: unknown;
  try {
    payload = JSON.parse(data.toString('utf8', 4));
  } catch {
    return { ok: false, reason: 'envelope payload is not JSON' };
  }
  if (typeof payload !== 'object' || payload === null || !('message' in payload)) {
    return { ok: false, reason: 'a ChatMessage needs a "message" field' };
  }
  return { ok: true, message: (payload).message };
}

/**
 * The envelope for a message event: a ChatMessage with the fields those clients read (`message` as a string,
 * `sender`, `timestamp` in ISO 8601) plus the event's channel, `to` on a direct message, and seq and
 * epoch, for resume.
 */
export function sealEnvelope(json: string): Buffer {
  const e = JSON.parse(json) as ChatMessage;
  const payload = {
    message: typeof e.message === 'string' ? e.message : JSON.stringify(e.message),
    sender: e.from,
    timestamp: new Date(e.ts).toISOString(),
    channel: e.channel,
    to: e.to,
    seq: e.seq,
    epoch: e.epoch,
  };
  const body = Buffer.from(JSON.stringify(payload));
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeInt32BE(CHAT, 0);
  body.copy(out, 4);
  return out;
}
