// WebSocket frames as a client writes them: FIN set, masked (RFC 6455 section 5.3).

export const OPCODE_TEXT = 0x1;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const lengthBytes = length > 65535 ? 8 : length > 125 ? 2 : 0;
  const header = 2 + lengthBytes + 4;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  const mask = (Math.random() * 0x1_0000_0000) >>> 0;
  frame.writeUInt32BE(mask, header - 4);
  for (let i = 0; i < length; i++) frame[header + i] = payload[i] ^ frame[header - 4 + (i & 3)];
  return frame;
}

export function maskedText(text: string): Buffer {
  return maskedFrame(OPCODE_TEXT, Buffer.from(text));
}

/** Bytes on the wire of an unmasked (server to client) frame with this payload length. */
export function serverFrameLength(payloadLength: number): number {
  return payloadLength + (payloadLength > 65535 ? 10 : payloadLength > 125 ? 4 : 2);
}
