import type { Writable } from 'node:stream';
import 'ws';

// @types/ws leaves out the Sender and Receiver classes that ws exports. rooms uses Sender's static
// frame builder to encode a broadcast frame once for every member; test/link.test.ts checks the
// Link's frame reader against Receiver, byte for byte.
declare module 'ws' {
  interface FrameOptions {
    fin: boolean;
    rsv1: boolean;
    opcode: number;
    mask: boolean;
    readOnly: boolean;
  }

  class Sender {
    static frame(data: Buffer, options: FrameOptions): Buffer[];
  }

  interface ReceiverOptions {
    isServer: boolean;
    maxPayload: number;
  }

  class Receiver extends Writable {
    constructor(options: ReceiverOptions);
  }
}
