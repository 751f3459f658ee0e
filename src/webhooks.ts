import { createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Webhook, WebhookEvent } from './config.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** The header holding `sha256=` and the hex HMAC-SHA256 of the request body's exact bytes. */
export const SIGNATURE_HEADER = 'X-Rooms-Signature';
/** Most events in one request; more wait for the next one. */
const MAX_BATCH = 100;
/** The first retry waits about this long; each next one twice as long, up to MAX_BACKOFF. */
const FIRST_BACKOFF = 500;
const MAX_BACKOFF = 30_000;

/** One event as it appears in a webhook request's `events` list. */
export interface WebhookPayloadEvent {
  name: WebhookEvent;
  /** The channel's path, such as `/channel`. */
  path: string;
  /** The channel id. */
  channel: string;
  /** The member, for member_added and member_removed. */
  user?: string;
}

export interface WebhooksOptions {
  webhooks: readonly Webhook[];
  secret: string;
  batchWait: number;
  queueSize: number;
  retries: number;
  timeout: number;
  log: Logger;
  metrics: Metrics;
}

/** `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: what a receiver recomputes to check a request. */
export function sign(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Sends channel and member events to the configured endpoints (one node sends: this server's own
 * events). emit() only queues: nothing on the fan-out path waits for an endpoint. Each endpoint
 * has its own bounded queue, sends one request at a time (so events arrive in order) holding up to
 * 100 events, and retries a failed request with exponential backoff before dropping its events.
 */
export class Webhooks {
  private readonly endpoints: Endpoint[];
  private readonly agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  private closing: Promise<void> | null = null;

  constructor(options: WebhooksOptions) {
    this.endpoints = options.webhooks.map((hook) => new Endpoint(hook, options, this.agents));
  }

  /** Queues an event for every endpoint that asked for its name. Never throws, never waits. */
  emit(event: WebhookPayloadEvent): void {
    for (const endpoint of this.endpoints) endpoint.push(event);
  }

  /**
   * Stops sending: clears every timer, then sends each endpoint one last request, without retry,
   * holding every event it has not acknowledged (a request in flight is cut and its events sent
   * again, so an endpoint may see those twice). Resolves within `timeout`. Harmless twice.
   */
  async close(): Promise<void> {
    this.closing ??= Promise.all(this.endpoints.map((endpoint) => endpoint.drain())).then(() => {
      this.agents.http.destroy();
      this.agents.https.destroy();
    });
    return this.closing;
  }
}

class Endpoint {
  private readonly queue: WebhookPayloadEvent[] = [];
  private readonly wanted: ReadonlySet<WebhookEvent>;
  private readonly url: URL;
  /** The events being sent, or waiting to be retried; null when idle. */
  private batch: WebhookPayloadEvent[] | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: ClientRequest | null = null;
  private dropped = 0;
  private closed = false;

  constructor(
    hook: Webhook,
    private readonly options: WebhooksOptions,
    private readonly agents: { http: HttpAgent; https: HttpsAgent },
  ) {
    this.wanted = new Set(hook.events);
    this.url = new URL(hook.url);
  }

  push(event: WebhookPayloadEvent): void {
    if (this.closed || !this.wanted.has(event.name)) return;
    if (this.queue.length >= this.options.queueSize) {
      this.options.metrics.webhook('dropped', 1);
      if (this.dropped === 0) {
        this.options.log.warn({ url: this.url.origin, queued: this.queue.length }, 'webhook queue full: dropping new events until the endpoint catches up');
      }
      this.dropped += 1;
      return;
    }
    this.queue.push(event);
    this.schedule();
  }

  /** The last request at shutdown: everything not yet acknowledged, once. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.inFlight?.destroy();
    this.inFlight = null;
    const events = [...(this.batch ?? []), ...this.queue];
    this.batch = null;
    this.queue.length = 0;
    if (events.length === 0) return;
    const failure = await this.request(events);
    if (failure === null) return this.options.metrics.webhook('sent', events.length);
    this.options.metrics.webhook('dropped', events.length);
    this.options.log.warn({ url: this.url.origin, reason: failure, unsent: events.length }, 'webhook events left unsent at shutdown');
  }

  /** Starts the wait for the next batch, unless one is already waiting, in flight or being retried. */
  private schedule(): void {
    if (this.closed || this.timer !== null || this.batch !== null || this.queue.length === 0) return;
    this.timer = setTimeout(this.next, this.options.batchWait);
    this.timer.unref();
  }

  private readonly next = (): void => {
    this.timer = null;
    this.batch = this.queue.splice(0, MAX_BATCH);
    this.attempt = 0;
    this.post();
  };

  private readonly post = (): void => {
    this.timer = null;
    const batch = this.batch!;
    void this.request(batch).then((failure) => {
      // After close(), drain() owns whatever this request carried.
      if (this.closed) return;
      if (failure === null) this.sent(batch.length);
      else this.failed(failure);
    });
  };

  /** POSTs the events once; resolves with null when the endpoint answered 2xx, else why not. Never rejects. */
  private request(events: WebhookPayloadEvent[]): Promise<string | null> {
    const body = JSON.stringify({ time_ms: Date.now(), events });
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(this.url, {
      method: 'POST',
      agent: this.url.protocol === 'https:' ? this.agents.https : this.agents.http,
      timeout: this.options.timeout,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'User-Agent': 'rooms-webhooks',
        [SIGNATURE_HEADER]: sign(this.options.secret, body),
      },
    });
    this.inFlight = req;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (failure: string | null): void => {
        if (settled) return;
        settled = true;
        if (this.inFlight === req) this.inFlight = null;
        resolve(failure);
      };
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeout} ms`)));
      req.on('error', (err) => settle(err.message));
      req.on('response', (res) => {
        res.resume();
        res.on('error', (err) => settle(err.message));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          settle(status >= 200 && status < 300 ? null : `answered ${status}`);
        });
      });
      req.end(body);
    });
  }

  private sent(events: number): void {
    this.options.metrics.webhook('sent', events);
    if (this.dropped > 0) this.options.log.warn({ url: this.url.origin, dropped: this.dropped }, 'webhook endpoint caught up; events were dropped meanwhile');
    this.dropped = 0;
    this.batch = null;
    this.schedule();
  }

  private failed(reason: string): void {
    const batch = this.batch!;
    this.attempt += 1;
    if (this.attempt > this.options.retries) {
      this.options.metrics.webhook('failed', batch.length);
      this.options.log.error({ url: this.url.origin, reason, events: batch.length, attempts: this.attempt }, 'webhook request failed after every retry; its events are dropped');
      this.batch = null;
      return this.schedule();
    }
    // Full jitter over half the backoff, so endpoints recovering together are not hit in step.
    const backoff = Math.min(FIRST_BACKOFF * 2 ** (this.attempt - 1), MAX_BACKOFF);
    const wait = Math.round(backoff / 2 + (Math.random() * backoff) / 2);
    this.options.log.warn({ url: this.url.origin, reason, retryInMs: wait, attempt: this.attempt }, 'webhook request failed; retrying');
    this.timer = setTimeout(this.post, wait);
    this.timer.unref();
  }
}
