// The minimal receiving client: a bare net.Socket that speaks just enough WebSocket (and, for
// Socket.IO, Engine.IO) to authenticate, then only parses frame headers and reads the marker
// of each message, so that on 2 cores the clients take as little CPU from the server as possible.
// A stalled one stops reading once authenticated: a member that never reads (scenario h).
import { connect as netConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { MARKER_START, nowUs, parseMarker, parsed } from '../lib/marker.js';
import type { MemberSpec } from '../lib/api.js';
import { authReply, authRequest, broadcastRequest, channelPath, type BenchClient, type Target } from './client.js';
import { maskedFrame, maskedText, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG, OPCODE_TEXT, serverFrameLength } from './frames.js';
import type { Streams, Tally } from './tally.js';

const HEADER_END = Buffer.from('\r\n\r\n');

export class MinimalClient implements BenchClient {
  closed = false;
  private socket: Socket | null = null;
  /** Bytes of an incomplete frame (or HTTP response) waiting for the next chunk. */
  private carry: Buffer | null = null;
  private upgraded = false;
  private authenticated = false;
  private pending: { resolve(): void; reject(error: Error): void } | null = null;

  constructor(
    readonly member: MemberSpec,
    readonly streams: Streams,
    private readonly target: Target,
    private readonly tally: Tally,
    /** Pause the socket once authenticated, never to read again: what the server sends piles up in the kernel and then in the server. */
    private readonly stalls = false,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const socket = netConnect({ host: '127.0.0.1', port: this.target.port, localAddress: this.target.localAddress });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('connect', () => socket.write(this.upgradeRequest()));
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (error) => this.settle(error));
      socket.on('close', () => {
        this.closed = true;
        this.settle(new Error('connection closed before authentication'));
      });
    });
  }

  publish(message: string): void {
    const text = this.target.proto === 'rooms' ? broadcastRequest(message) : `42${JSON.stringify(['broadcast', message])}`;
    this.socket?.write(maskedText(text));
  }

  close(): void {
    this.socket?.destroy();
  }

  private settle(error?: Error): void {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    if (error === undefined) {
      pending.resolve();
    } else {
      this.socket?.destroy();
      pending.reject(error);
    }
  }

  private upgradeRequest(): string {
    const path = this.target.proto === 'rooms' ? channelPath(this.member.channel) : '/socket.io/?EIO=4&transport=websocket';
    return (
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${this.target.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`
    );
  }

  private sendText(text: string): void {
    this.socket?.write(maskedText(text));
  }

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let offset = 0;
    if (!this.upgraded) {
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        this.carry = buf;
        return;
      }
      const status = buf.toString('latin1', 0, buf.indexOf('\r\n'));
      if (!status.startsWith('HTTP/1.1 101')) {
        this.settle(new Error(`upgrade refused: ${status}`));
        return;
      }
      this.upgraded = true;
      offset = end + HEADER_END.length;
      if (this.target.proto === 'rooms') this.sendText(authRequest(this.member.user));
    }
    const now = nowUs();
    while (offset + 2 <= buf.length) {
      const second = buf[offset + 1];
      let length = second & 0x7f;
      let header = 2;
      if (length === 126) {
        if (offset + 4 > buf.length) break;
        length = buf.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (offset + 10 > buf.length) break;
        length = buf.readUInt32BE(offset + 2) * 0x1_0000_0000 + buf.readUInt32BE(offset + 6);
        header = 10;
      }
      if (offset + header + length > buf.length) break;
      this.onFrame(buf[offset] & 0x0f, buf, offset + header, offset + header + length, now);
      offset += header + length;
    }
    if (offset < buf.length) this.carry = buf.subarray(offset);
  }

  private onFrame(opcode: number, buf: Buffer, start: number, end: number, now: number): void {
    if (opcode === OPCODE_TEXT) {
      if (!this.authenticated) {
        this.onHandshakeText(buf.toString('utf8', start, end));
      } else if (end - start === 1 && buf[start] === 0x32) {
        this.sendText('3'); // Engine.IO ping
      } else {
        const at = buf.indexOf(MARKER_START, start);
        if (at >= 0 && at < end && parseMarker(buf, at, end)) {
          this.streams.receive(parsed.slot, parsed.seq);
          this.tally.delivered(serverFrameLength(end - start), now - parsed.sentUs);
        }
      }
    } else if (opcode === OPCODE_PING) {
      this.socket?.write(maskedFrame(OPCODE_PONG, buf.subarray(start, end)));
    } else if (opcode === OPCODE_CLOSE) {
      this.socket?.end();
    }
  }

  private onHandshakeText(text: string): void {
    if (this.target.proto === 'rooms') {
      const reply = authReply(text);
      if (reply === 'token') this.authenticate();
      else if (reply !== null) this.settle(reply);
      return;
    }
    // Engine.IO packet types: 0 open, 2 ping, 4 message; Socket.IO 0 connect, 2 event, 4 connect error.
    if (text.startsWith('0')) this.sendText(`40${JSON.stringify({ room: this.member.channel, user: this.member.user })}`);
    else if (text === '2') this.sendText('3');
    else if (text.startsWith('44')) this.settle(new Error(`Socket.IO connect refused: ${text.slice(2, 160)}`));
    else if (text.startsWith('42["token"')) this.authenticate();
  }

  private authenticate(): void {
    this.authenticated = true;
    if (this.stalls) this.socket?.pause();
    this.settle();
  }
}
