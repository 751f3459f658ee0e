import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../log.js';
import { isMessage, type Collect, type Collected, type MetricsJson, type Scrape, type Scraped } from './messages.js';

/** The first restart of a worker that died waits this long; each death in a row doubles it. */
const FIRST_RESTART_DELAY = 100;
const MAX_RESTART_DELAY = 10_000;
/** A worker that ran this long before it died was healthy: the next restart waits the first delay again. */
const HEALTHY_AFTER = 30_000;
/** How long a scrape waits for every listening worker's metrics before it fails. */
const COLLECT_TIMEOUT = 5_000;

/** A worker exited before it listened: the server cannot run (the worker said why on stderr). */
export class WorkerFailed extends Error {
  constructor(
    readonly worker: number,
    readonly code: number | null,
    readonly signal: string | null,
  ) {
    super(`worker ${worker} ${code === null ? `was killed by ${signal}` : `exited with ${code}`} before it listened`);
  }
}

/** One of the N places the primary keeps a worker running in. */
interface Slot {
  worker: Worker | null;
  startedAt: number;
  /** Deaths in a row, each after less than HEALTHY_AFTER: the exponent of the next restart delay. */
  deaths: number;
  restart: NodeJS.Timeout | null;
}

/** A scrape in progress: the workers asked for their metrics that have not answered yet. */
interface Collection {
  waiting: Set<Worker>;
  answers: MetricsJson[];
  timer: NodeJS.Timeout;
  finish: (err: Error | null) => void;
}

type State = 'new' | 'starting' | 'running' | 'stopping';

/**
 * The primary of `rooms --workers N` (node:cluster): it starts N workers on the one port, starts
 * again (with backoff) any that dies, and at stop drains them all. It opens no Redis connection and
 * serves nothing: its only other work is to aggregate the workers' metrics when one of them is
 * scraped, with prom-client's cluster aggregation (counters summed, each metric's `aggregator`
 * otherwise).
 */
export class Primary {
  private readonly slots: Slot[];
  /** Workers that listen and have not exited: the ones a scrape asks for their metrics. */
  private readonly listening = new Set<Worker>();
  private readonly collections = new Map<number, Collection>();
  private nextCollection = 0;
  private state: State = 'new';
  private stopping: Promise<number> | null = null;

  constructor(
    count: number,
    private readonly log: Logger,
  ) {
    this.slots = Array.from({ length: count }, (): Slot => ({ worker: null, startedAt: 0, deaths: 0, restart: null }));
  }

  /**
   * Starts one worker, then, once it listens, the others (so that a port in use is said once);
   * resolves with the port they share. Rejects with {@link WorkerFailed} when a worker exits before
   * it listens, after stopping the others.
   */
  async start(): Promise<number> {
    if (this.state !== 'new') throw new Error(`cannot start: the primary is ${this.state}`);
    this.state = 'starting';
    try {
      const [first, ...others] = this.slots;
      const port = await listened(this.fork(first));
      await Promise.all(others.map((slot) => listened(this.fork(slot))));
      this.state = 'running';
      this.log.info({ workers: this.slots.length, port }, 'workers listening');
      return port;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Sends SIGTERM to every worker, each of which drains as one server does (`/readyz` 503, members
   * closed with 1001), and resolves once all have exited: with 0, or 1 when one did not exit cleanly.
   * Calling it again returns the same promise.
   */
  stop(): Promise<number> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  private async drain(): Promise<number> {
    this.state = 'stopping';
    for (const slot of this.slots) {
      if (slot.restart !== null) clearTimeout(slot.restart);
      slot.restart = null;
    }
    const workers = this.slots.flatMap((slot) => (slot.worker === null ? [] : [slot.worker]));
    const exits = workers.map(exitOf);
    for (const worker of workers) worker.process.kill('SIGTERM');
    const ends = await Promise.all(exits);
    // A worker still starting may die of the signal before it handles it: that is a clean stop too.
    const failed = ends.filter((end) => end.code !== 0 && end.signal !== 'SIGTERM');
    for (const end of failed) this.log.error(end, 'worker did not stop cleanly');
    this.log.info({ workers: workers.length }, 'workers stopped');
    return failed.length === 0 ? 0 : 1;
  }

  private fork(slot: Slot): Worker {
    const worker = cluster.fork();
    slot.worker = worker;
    slot.startedAt = Date.now();
    worker.on('listening', () => this.listening.add(worker));
    worker.on('message', (message: unknown) => this.receive(worker, message));
    worker.on('exit', (code: number | null, signal: string | null) => this.exited(slot, worker, code, signal));
    return worker;
  }

  private exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    const hadListened = this.listening.delete(worker);
    for (const [id, collection] of this.collections) this.answered(id, collection, worker);
    if (slot.worker === worker) slot.worker = null;
    // While stopping, drain() counts the exit; while starting, start() reports a worker that died
    // before it listened. One that listened and died while the others start is started again.
    if (this.state === 'stopping' || this.state === 'new' || (this.state === 'starting' && !hadListened)) return;
    const upFor = Date.now() - slot.startedAt;
    if (upFor >= HEALTHY_AFTER) slot.deaths = 0;
    const restartIn = Math.min(MAX_RESTART_DELAY, FIRST_RESTART_DELAY * 2 ** slot.deaths);
    slot.deaths += 1;
    this.log.warn({ worker: worker.id, pid: worker.process.pid, code, signal, upFor, restartIn }, 'worker exited; starting another');
    slot.restart = setTimeout(() => {
      slot.restart = null;
      this.fork(slot);
    }, restartIn);
  }

  private receive(worker: Worker, message: unknown): void {
    if (isMessage<Scrape>(message, 'rooms:scrape')) void this.scrape(worker, message.id);
    else if (isMessage<Collected>(message, 'rooms:collected')) {
      const collection = this.collections.get(message.id);
      if (collection === undefined) return;
      if ('error' in message) {
        collection.finish(new Error(`worker ${worker.id} could not read its metrics: ${message.error}`));
        return;
      }
      collection.answers.push(message.metrics);
      this.answered(message.id, collection, worker);
    }
  }

  private async scrape(worker: Worker, id: number): Promise<void> {
    let answer: Scraped;
    try {
      answer = { type: 'rooms:scraped', id, text: await this.collect() };
    } catch (err) {
      answer = { type: 'rooms:scraped', id, error: (err as Error).message };
    }
    if (worker.isConnected()) worker.send(answer);
  }

  /**
   * Asks every listening worker for its metrics and aggregates them. Only listening workers are
   * asked: one still loading has no listener yet and would drop the request (prom-client's
   * clusterMetrics() asks every worker and then waits out its timeout). A worker that exits
   * meanwhile is no longer waited for.
   */
  private collect(): Promise<string> {
    const id = this.nextCollection++;
    const workers = [...this.listening].filter((w) => w.isConnected());
    return new Promise((resolve, reject) => {
      const collection: Collection = {
        waiting: new Set(workers),
        answers: [],
        timer: setTimeout(() => {
          const late = [...collection.waiting].map((w) => w.id).join(', ');
          collection.finish(new Error(`worker ${late} sent no metrics within ${COLLECT_TIMEOUT} ms`));
        }, COLLECT_TIMEOUT),
        finish: (err) => {
          clearTimeout(collection.timer);
          this.collections.delete(id);
          if (err !== null) reject(err);
          else AggregatorRegistry.aggregate(collection.answers).metrics().then(resolve, reject);
        },
      };
      collection.timer.unref();
      this.collections.set(id, collection);
      const request: Collect = { type: 'rooms:collect', id };
      for (const worker of workers) worker.send(request);
      if (workers.length === 0) collection.finish(null);
    });
  }

  /** The worker answered (or exited): the collection is complete once no worker is left to wait for. */
  private answered(id: number, collection: Collection, worker: Worker): void {
    if (!collection.waiting.delete(worker)) return;
    if (collection.waiting.size === 0 && this.collections.has(id)) collection.finish(null);
  }
}

/** Resolves with the port once the worker listens; rejects with WorkerFailed if it exits first. */
function listened(worker: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null): void => reject(new WorkerFailed(worker.id, code, signal));
    worker.once('exit', onExit);
    worker.once('listening', (address: { port: number }) => {
      worker.off('exit', onExit);
      resolve(address.port);
    });
  });
}

/** How the worker ended, once it has. */
async function exitOf(worker: Worker): Promise<{ worker: number; code: number | null; signal: string | null }> {
  const { exitCode, signalCode } = worker.process;
  if (exitCode !== null || signalCode !== null) return { worker: worker.id, code: exitCode, signal: signalCode };
  const [code, signal] = (await once(worker, 'exit')) as [number | null, string | null];
  return { worker: worker.id, code, signal };
}
