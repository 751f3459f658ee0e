import { WebSocket } from 'ws';

/**
 * The WebSocket class each channel's WebSocketServer is given (its `WebSocket` option): ws runs
 * the whole handshake (key, version, subprotocol, the 101) and then calls `setSocket` on it to
 * start its own frame reader and writer. This one starts nothing, so that the socket is left to a
 * Link (src/transport/link.ts) and no per-connection Receiver or Sender is made. ws 8 calls
 * `setSocket(socket, head, options)` once per upgrade, after writing the 101 (websocket-server.js,
 * completeUpgrade); test/link.test.ts checks a real upgrade leaves the socket to the Link.
 */
export class Handover extends WebSocket {
  setSocket(): void {}
}
