import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { onCleanup } from './cleanup.js';

export type Event = Record<string, unknown> & { event: string };

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A real ws client that queues what it receives, so a test can wait for the next event (or the
 * next one matching) without sleeping.
 */
export class Client {
  readonly ws: WebSocket;
  readonly closed: Promise<Closed>;
  private readonly inbox: (Event | Buffer)[] = [];
  private waiters: (() => void)[] = [];

  constructor(url: string, options: ClientOptions = {}, protocols: string[] = []) {
    this.ws = new WebSocket(url, protocols, options);
    this.ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      this.inbox.push(isBinary ? buf : (JSON.parse(buf.toString()) as Event));
      this.wake();
    });
    this.ws.on('error', () => this.wake());
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.wake();
        resolve({ code, reason: reason.toString() });
      });
    });
    onCleanup(() => this.terminate());
  }

  opened(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  send(frame: Record<string, unknown> | string | Buffer): void {
    this.ws.send(typeof frame === 'object' && !Buffer.isBuffer(frame) ? JSON.stringify(frame) : frame);
  }

  /** The next JSON event received (optionally the next with this event name), skipping nothing else. */
  async next(event?: string): Promise<Event> {
    const item = await this.take();
    if (Buffer.isBuffer(item)) throw new Error(`expected a text event, got ${item.length} binary bytes`);
    if (event !== undefined && item.event !== event) throw new Error(`expected event ${event}, got ${JSON.stringify(item)}`);
    return item;
  }

  /** The next binary frame received. */
  async nextBinary(): Promise<Buffer> {
    const item = await this.take();
    if (!Buffer.isBuffer(item)) throw new Error(`expected a binary frame, got ${JSON.stringify(item)}`);
    return item;
  }

  /** Sends a frame and waits for the next event, as a request and its reply. */
  async request(frame: Record<string, unknown> | string, event?: string): Promise<Event> {
    this.send(frame);
    return this.next(event);
  }

  /** Everything received and not yet taken. */
  get pending(): number {
    return this.inbox.length;
  }

  terminate(): void {
    this.ws.terminate();
  }

  private async take(): Promise<Event | Buffer> {
    while (this.inbox.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('connection closed while waiting for a frame');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.inbox.shift()!;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Opens a client and waits for the connection. */
export async function connect(url: string, options: ClientOptions = {}): Promise<Client> {
  const client = new Client(url, options);
  await client.opened();
  return client;
}

/** Opens a client and authenticates it; resolves with the client and its token. */
export async function join(url: string, user: string, extra: Record<string, unknown> = {}): Promise<{ client: Client; token: string }> {
  const client = await connect(url);
  const reply = await client.request({ event: 'auth', user, ...extra }, 'token');
  return { client, token: reply.message as string };
}

/** Takes a client's events until `done` holds for one; returns those that `keep` holds for, in order. */
export async function until(client: Client, done: (e: Event) => boolean, keep: (e: Event) => boolean = () => true): Promise<Event[]> {
  const kept: Event[] = [];
  for (;;) {
    const e = await client.next();
    if (keep(e)) kept.push(e);
    if (done(e)) return kept;
  }
}
