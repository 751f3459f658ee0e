// The real client for the rooms protocol: the ws package's WebSocket.
import WebSocket, { type RawData } from 'ws';
import { MARKER_START, nowUs, parseMarker, parsed } from '../lib/marker.js';
import type { MemberSpec } from '../lib/api.js';
import { authReply, authRequest, broadcastRequest, channelPath, type BenchClient, type Target } from './client.js';
import { serverFrameLength } from './frames.js';
import type { Streams, Tally } from './tally.js';

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export class WsClient implements BenchClient {
  closed = false;
  private ws: WebSocket | null = null;
  private authenticated = false;

  constructor(
    readonly member: MemberSpec,
    readonly streams: Streams,
    private readonly target: Target,
    private readonly tally: Tally,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        if (error === undefined) resolve();
        else reject(error);
      };
      const url = `ws://127.0.0.1:${this.target.port}${channelPath(this.member.channel)}`;
      const ws = new WebSocket(url, { localAddress: this.target.localAddress, perMessageDeflate: false });
      this.ws = ws;
      ws.on('open', () => ws.send(authRequest(this.member.user)));
      ws.on('message', (data: RawData) => {
        const buf = toBuffer(data);
        if (this.authenticated) {
          this.onMessage(buf);
          return;
        }
        const reply = authReply(buf.toString());
        if (reply === 'token') {
          this.authenticated = true;
          settle();
        } else if (reply !== null) {
          ws.terminate();
          settle(reply);
        }
      });
      ws.on('error', (error) => settle(error));
      ws.on('close', () => {
        this.closed = true;
        settle(new Error('connection closed before authentication'));
      });
    });
  }

  publish(message: string): void {
    this.ws?.send(broadcastRequest(message));
  }

  close(): void {
    this.ws?.terminate();
  }

  private onMessage(buf: Buffer): void {
    const at = buf.indexOf(MARKER_START);
    if (at < 0 || !parseMarker(buf, at, buf.length)) return;
    this.streams.receive(parsed.slot, parsed.seq);
    this.tally.delivered(serverFrameLength(buf.length), nowUs() - parsed.sentUs);
  }
}
