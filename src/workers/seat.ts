import cluster, { type Worker } from 'node:cluster';
import type { Registry } from 'prom-client';
import { isMessage, type Collect, type Collected, type Scrape, type Scraped } from './messages.js';

/** The primary answers a scrape within its own 5 s; past this, it is not a rooms primary that listens. */
const SCRAPE_TIMEOUT = 10_000;

interface Pending {
  resolve: (text: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A worker's end of `rooms --workers N`: which worker this process is, and the IPC channel to the
 * primary over which one scrape sees every worker's metrics. Create it in a cluster worker before
 * the server listens, so that it answers the primary from the moment the primary counts it in.
 */
export class WorkerSeat {
  /** The cluster worker id: 1 to N at start; a worker the primary starts again gets the next unused one. */
  readonly id: number;
  private readonly worker: Worker;
  private registry: Registry | null = null;
  private readonly scrapes = new Map<number, Pending>();
  private nextScrape = 0;

  constructor() {
    if (cluster.worker === undefined) throw new Error('a WorkerSeat exists only in a cluster worker');
    this.worker = cluster.worker;
    this.id = this.worker.id;
    process.on('message', (message: unknown) => this.receive(message));
    // Without a primary nobody answers: fail what waits rather than leave HTTP requests hanging.
    process.once('disconnect', () => {
      for (const pending of this.scrapes.values()) {
        clearTimeout(pending.timer);
        pending.reject(new Error('the primary is gone'));
      }
      this.scrapes.clear();
    });
  }

  /** The registry whose metrics this worker sends when the primary collects. */
  share(registry: Registry): void {
    this.registry = registry;
  }

  /**
   * Every listening worker's metrics, aggregated by the primary, as Prometheus text. The primary
   * answers, with an error when a worker did not send its metrics in time; one that does not
   * (another program's cluster primary) fails the scrape after SCRAPE_TIMEOUT.
   */
  clusterMetrics(): Promise<string> {
    const id = this.nextScrape++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.scrapes.delete(id);
        reject(new Error(`the primary did not answer a scrape within ${SCRAPE_TIMEOUT} ms`));
      }, SCRAPE_TIMEOUT);
      timer.unref();
      this.scrapes.set(id, { resolve, reject, timer });
      const request: Scrape = { type: 'rooms:scrape', id };
      this.worker.send(request);
    });
  }

  /** Closes the IPC channel once the server has drained, so that the process can exit. */
  leave(): void {
    if (this.worker.isConnected()) this.worker.disconnect();
  }

  private receive(message: unknown): void {
    if (isMessage<Collect>(message, 'rooms:collect')) void this.collect(message.id);
    else if (isMessage<Scraped>(message, 'rooms:scraped')) {
      const pending = this.scrapes.get(message.id);
      if (pending === undefined) return;
      this.scrapes.delete(message.id);
      clearTimeout(pending.timer);
      if ('text' in message) pending.resolve(message.text);
      else pending.reject(new Error(message.error));
    }
  }

  private async collect(id: number): Promise<void> {
    let answer: Collected;
    try {
      if (this.registry === null) throw new Error(`worker ${this.id} has no metrics yet`);
      answer = { type: 'rooms:collected', id, metrics: await this.registry.getMetricsAsJSON() };
    } catch (err) {
      answer = { type: 'rooms:collected', id, error: (err as Error).message };
    }
    if (this.worker.isConnected()) this.worker.send(answer);
  }
}
