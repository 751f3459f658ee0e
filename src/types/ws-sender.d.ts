import 'ws';

// @types/ws leaves out the Sender class that ws exports; rooms uses its static frame builder to
// encode a broadcast frame once for every member.
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
}
