// The real client for Socket.IO: socket.io-client, websocket transport only.
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { nowUs, parseMarkerString, parsed } from '../lib/marker.js';
import type { MemberSpec } from '../lib/api.js';
import type { BenchClient, Target } from './client.js';
import type { Streams, Tally } from './tally.js';

interface MessagePayload { message: string }

export class SioClient implements BenchClient {
  closed = false;
  private socket: Socket | null = null;

  constructor(
    readonly member: MemberSpec,
    readonly streams: Streams,
    private readonly target: Target,
    private readonly tally: Tally,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      // engine.io-client hands localAddress to ws; the typings do not list it.
      const options: Partial<ManagerOptions & SocketOptions> & { localAddress: string } = {
        transports: ['websocket'],
        auth: { room: this.member.channel, user: this.member.user },
        forceNew: true,
        reconnection: false,
        localAddress: this.target.localAddress,
      };
      const socket = io(`http://127.0.0.1:${this.target.port}`, options);
      this.socket = socket;
      socket.once('token', () => resolve());
      socket.once('connect_error', (error: Error) => reject(error));
      socket.on('message', (payload: MessagePayload) => this.onMessage(payload));
      socket.on('disconnect', () => {
        this.closed = true;
        reject(new Error('disconnected before authentication'));
      });
    });
  }

  publish(message: string): void {
    this.socket?.emit('broadcast', message);
  }

  close(): void {
    this.socket?.disconnect();
  }

  private onMessage(payload: MessagePayload): void {
    if (!parseMarkerString(payload.message)) return;
    this.streams.receive(parsed.slot, parsed.seq);
    // The frame size is not visible through socket.io-client: counted as 0 bytes.
    this.tally.delivered(0, nowUs() - parsed.sentUs);
  }
}
