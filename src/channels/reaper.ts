import { schedule, type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.js';
import type { ChannelRegistry } from './registry.js';

/** The node-cron job that removes empty channels on a schedule (every five minutes by default). */
export class Reaper {
  private task: ScheduledTask | null = null;

  constructor(
    private readonly cron: string,
    private readonly registry: ChannelRegistry,
    private readonly log: Logger,
    private readonly onReap: (removed: number) => void,
  ) {}

  start(): void {
    const log = this.log;
    this.task ??= schedule(this.cron, () => this.run(), {
      name: 'rooms-reaper',
      noOverlap: true,
      logger: {
        info: (message) => log.debug(message),
        warn: (message) => log.warn(message),
        error: (message) => log.error(message),
        debug: (message) => log.debug(message),
      },
    });
  }

  /** Stops the job for good; harmless when called twice. */
  stop(): void {
    if (this.task !== null) void this.task.destroy();
    this.task = null;
  }

  private async run(): Promise<void> {
    const removed = await this.registry.reap();
    this.log.info({ removed, channels: this.registry.size }, 'reaped empty channels');
    this.onReap(removed);
  }
}
