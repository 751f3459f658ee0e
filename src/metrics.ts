import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerSeat } from './workers/seat.js';

/** What `rooms_resumes_total` counts: a client asked to resume after a reconnect, and got its missed messages or not. */
export type ResumeOutcome = 'recovered' | 'not_recovered';

/** What the server state gauges read at scrape time. */
export interface MetricsSources {
  connections: () => number;
  channels: () => number;
  /** Named members per channel path (paths come from config, so the label stays low-cardinality). */
  membersPerPath: () => Map<string, number>;
}

/**
 * The Node process metrics are one per process: every server in it shares one registry of them. In
 * a worker of `rooms --workers N` they carry its `worker` label, so that the aggregated scrape keeps
 * one series per worker instead of adding up (or averaging) processes.
 */
let processRegistry: Registry | null = null;

function processMetrics(labels: Record<string, string>): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, labels });
  }
  return processRegistry;
}

/**
 * The Prometheus metrics of one server, in a registry of its own (never prom-client's global one),
 * so several servers in one process do not clash. Labels are only ever event names, status codes,
 * error codes, channel paths and outcomes: never a channel id or a user name.
 */
export class Metrics {
  /** The server's metrics merged with the process metrics; what GET /metrics serves of this process. */
  readonly registry: Registry;
  private readonly worker: WorkerSeat | null;
  private readonly messagesIn: Counter<'event'>;
  private readonly messagesOut: Counter<'event'>;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly refusals: Counter<'status' | 'code'>;
  private readonly errors: Counter<'code'>;
  private readonly slowConsumers: Counter;
  private readonly deferredFrames: Counter;
  private readonly reapedChannels: Counter;
  private readonly resumes: Counter<'outcome'>;
  private readonly engineUp: Gauge<'engine'>;
  private readonly webhookEvents: Counter<'outcome'>;

  /** `worker`: this server is one worker of `rooms --workers N`, and a scrape answers for all of them. */
  constructor(sources: MetricsSources, worker: WorkerSeat | null = null) {
    const own = new Registry();
    const registers = [own];
    this.worker = worker;
    new Gauge({ name: 'rooms_connections', help: 'Open WebSocket connections, named or not.', registers, collect() { this.set(sources.connections()); } });
    new Gauge({ name: 'rooms_channels', help: 'Channels that exist, empty ones included until reaped.', registers, collect() { this.set(sources.channels()); } });
    new Gauge({
      name: 'rooms_members',
      help: 'Named members, by channel path.',
      labelNames: ['path'],
      registers,
      collect() {
        this.reset();
        for (const [path, members] of sources.membersPerPath()) this.set({ path }, members);
      },
    });
    this.messagesIn = new Counter({ name: 'rooms_messages_received_total', help: 'Frames received from clients (and messages posted to the API, event "api"), by event.', labelNames: ['event'], registers });
    this.messagesOut = new Counter({ name: 'rooms_messages_sent_total', help: 'Events queued to members, one per recipient, by event.', labelNames: ['event'], registers });
    this.bytesIn = new Counter({ name: 'rooms_received_bytes_total', help: 'Payload bytes of the frames received from clients and of API messages.', registers });
    this.bytesOut = new Counter({ name: 'rooms_sent_bytes_total', help: 'Bytes of the frames queued to members, headers included.', registers });
    this.refusals = new Counter({ name: 'rooms_refusals_total', help: 'Upgrades and HTTP requests refused, by status and error code.', labelNames: ['status', 'code'], registers });
    this.errors = new Counter({ name: 'rooms_errors_total', help: 'Error events sent on connections, by error code.', labelNames: ['code'], registers });
    this.slowConsumers = new Counter({ name: 'rooms_slow_consumers_total', help: 'Members closed with 4000 too slow.', registers });
    this.deferredFrames = new Counter({ name: 'rooms_deferred_frames_total', help: 'Frames from clients held back to a later tick because the tick had spent its tickBudget of fan-out (overload).', registers });
    this.reapedChannels = new Counter({ name: 'rooms_channels_reaped_total', help: 'Empty channels removed by the reaper.', registers });
    this.resumes = new Counter({ name: 'rooms_resumes_total', help: 'Resumes after a reconnect, by outcome (recovered, not_recovered).', labelNames: ['outcome'], registers });
    // Across workers the lowest: 1 only while every worker is connected.
    this.engineUp = new Gauge({ name: 'rooms_engine_up', help: '1 when the engine (memory, or redis) is connected, else 0.', labelNames: ['engine'], registers, aggregator: 'min' });
    this.webhookEvents = new Counter({ name: 'rooms_webhook_events_total', help: 'Webhook events, by outcome (sent, failed after every retry, dropped from a full queue).', labelNames: ['outcome'], registers });
    // Zero-valued series exist from the start, so a rate() over them works before the first event.
    for (const outcome of ['recovered', 'not_recovered'] as const) this.resumes.inc({ outcome }, 0);
    for (const outcome of ['sent', 'failed', 'dropped'] as const) this.webhookEvents.inc({ outcome }, 0);
    const labels: Record<string, string> = {};
    if (worker !== null) {
      labels.worker = String(worker.id);
      new Gauge({ name: 'rooms_worker_info', help: 'Always 1, labelled with the cluster worker id: one series per worker that answered the scrape.', labelNames: ['worker'], registers }).set(labels, 1);
    }
    this.registry = Registry.merge([own, processMetrics(labels)]);
    worker?.share(this.registry);
  }

  /** What GET /metrics serves: this server's metrics, or in a worker every worker's, aggregated by the primary. */
  exposition(): Promise<string> {
    return this.worker === null ? this.registry.metrics() : this.worker.clusterMetrics();
  }

  /** A frame came in (`event` is its event, `binary`, or `invalid` when it did not decode). */
  messageIn(event: string, bytes: number): void {
    this.messagesIn.inc({ event });
    this.bytesIn.inc(bytes);
  }

  /** One frame of `bytes` bytes was queued to `count` members. */
  delivered(event: string, count: number, bytes: number): void {
    if (count === 0) return;
    this.messagesOut.inc({ event }, count);
    this.bytesOut.inc(count * bytes);
  }

  /** An upgrade or an HTTP request was refused. */
  refused(status: number, code: string): void {
    this.refusals.inc({ status: String(status), code });
  }

  /** An error event was sent on a connection. */
  error(code: string): void {
    this.errors.inc({ code });
  }

  slowConsumer(): void {
    this.slowConsumers.inc();
  }

  /** A client's frame waits for a later tick: this one queued its budget. */
  deferred(): void {
    this.deferredFrames.inc();
  }

  reaped(removed: number): void {
    this.reapedChannels.inc(removed);
  }

  /** A resume was answered; called by the engine's resume path. */
  resume(outcome: ResumeOutcome): void {
    this.resumes.inc({ outcome });
  }

  /** The engine connected (up) or lost its connection. */
  engineState(engine: string, up: boolean): void {
    this.engineUp.set({ engine }, up ? 1 : 0);
  }

  /** Webhook events that reached their endpoint, failed after every retry, or were dropped. */
  webhook(outcome: 'sent' | 'failed' | 'dropped', events: number): void {
    this.webhookEvents.inc({ outcome }, events);
  }
}
