// ws exports its frame builder (Sender.frame) at run time; @types/ws does not declare it.
import 'ws';

declare module 'ws' {
  namespace WebSocket {
    interface FrameOptions {
      fin: boolean;
      opcode: number;
      mask: boolean;
      readOnly: boolean;
      rsv1: boolean;
    }
    class Sender {
      static frame(data: Buffer, options: FrameOptions): Buffer[];
    }
  }
}
