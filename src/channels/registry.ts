import { Channel, channelKey } from './channel.js';

/** Empty channels removed per turn of the event loop while reaping, so a big reap never stalls it. */
const REAP_SLICE = 2_000;

/** What the registry tells its owner: a channel was created, or removed (reaped or cleared). */
export interface RegistryHooks {
  created?: (channel: Channel) => void;
  removed?: (channel: Channel) => void;
}

/**
 * The CHANNELS registry: owns every channel, creates one on first use, and reaps the empty ones.
 */
export class ChannelRegistry {
  private readonly channels = new Map<string, Channel>();
  private reaping: Promise<number> | null = null;

  constructor(private readonly hooks: RegistryHooks = {}) {}

  /** How many channels exist. */
  get size(): number {
    return this.channels.size;
  }

  /** The channel at `path` with `id`, if it exists. */
  get(path: string, id: string): Channel | undefined {
    return this.channels.get(channelKey(path, id));
  }

  /** The channel with this key (`PATH?id=ID`), if it exists. */
  byKey(key: string): Channel | undefined {
    return this.channels.get(key);
  }

  /** The channel at `path` with `id`, created on first use. */
  getOrCreate(path: string, id: string): Channel {
    const k = channelKey(path, id);
    let channel = this.channels.get(k);
    if (channel === undefined) {
      channel = new Channel(path, id);
      this.channels.set(k, channel);
      this.hooks.created?.(channel);
    }
    return channel;
  }

  values(): IterableIterator<Channel> {
    return this.channels.values();
  }

  /**
   * Removes every channel that has no connection and closes its WebSocketServer; resolves with how
   * many were removed. Works in slices across turns of the event loop. Emptiness is checked at the
   * moment of removal, in the same turn as the removal, so a connection that arrived meanwhile
   * keeps its channel alive. A reap asked for while one runs joins it.
   */
  reap(): Promise<number> {
    this.reaping ??= this.reapSlices().finally(() => {
      this.reaping = null;
    });
    return this.reaping;
  }

  /** Removes and closes every channel, whatever it holds; used at shutdown. */
  clear(): void {
    for (const channel of this.channels.values()) this.remove(channel);
    this.channels.clear();
  }

  private remove(channel: Channel): void {
    channel.close();
    this.hooks.removed?.(channel);
  }

  private async reapSlices(): Promise<number> {
    let removed = 0;
    let inSlice = 0;
    for (const [k, channel] of this.channels) {
      if (channel.empty) {
        this.channels.delete(k);
        this.remove(channel);
        removed += 1;
      }
      inSlice += 1;
      if (inSlice === REAP_SLICE) {
        inSlice = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    return removed;
  }
}

