import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisSentinelTarget, SentinelAddress } from './redis-url.js';

/** A lost connection to a Sentinel is tried again about this often (jittered), so a restarted Sentinel is heard again within a second or two. */
const RECONNECT = 1_000;
const KEEPALIVE = 10_000;
const SWITCH_MASTER = '+switch-master';

/** The master a Sentinel names, with the addresses its host resolves to. */
export interface MasterAddress {
  host: string;
  port: number;
  addresses: string[];
}

/**
 * The engine's own watch on the Sentinels, in place of ioredis's failover detector (which
 * reconnects to a Sentinel only every 60 s and acts on any master's +switch-master): per Sentinel,
 * a subscriber to +switch-master that reports the watched master's only, and a connection to ask
 * which server is master.
 */
export class SentinelWatch {
  private readonly subscribers: Redis[];
  private readonly askers: Redis[];

  constructor(
    private readonly target: RedisSentinelTarget,
    timeout: number,
    switched: (master: MasterAddress) => void,
  ) {
    const open = (address: SentinelAddress, extra: RedisOptions): Redis => {
      const client = new Redis({
        host: address.host,
        port: address.port,
        username: target.sentinelUsername ?? undefined,
        password: target.sentinelPassword ?? undefined,
        tls: target.tls ? {} : undefined,
        lazyConnect: true,
        enableReadyCheck: false,
        keepAlive: KEEPALIVE,
        connectTimeout: timeout,
        retryStrategy: () => RECONNECT * (0.5 + Math.random()),
        ...extra,
      });
      // A Sentinel that is down is tried again; what it said is not this node's health.
      client.on('error', () => undefined);
      return client;
    };
    this.subscribers = target.sentinels.map((address) => open(address, { maxRetriesPerRequest: null }));
    this.askers = target.sentinels.map((address) => open(address, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: timeout }));
    for (const subscriber of this.subscribers) {
      // "<name> <old ip> <old port> <new ip> <new port>": another master's failover is none of this node's business.
      subscriber.on('message', (channel: string, message: string) => {
        const [name, , , host, port] = message.split(' ');
        if (channel !== SWITCH_MASTER || name !== target.name || host === undefined || port === undefined) return;
        void addressOf(host, port).then((master) => {
          if (master !== null) switched(master);
        });
      });
    }
  }

  start(): void {
    for (const subscriber of this.subscribers) subscriber.subscribe(SWITCH_MASTER).catch(() => undefined);
    for (const asker of this.askers) asker.connect().catch(() => undefined);
  }

  close(): void {
    for (const client of [...this.subscribers, ...this.askers]) client.disconnect();
  }

  /** The master that more than half of the Sentinels that answered name, or null when there is none. */
  async master(): Promise<MasterAddress | null> {
    const ready = this.askers.filter((a) => a.status === 'ready');
    const answers = await Promise.all(ready.map((a) => a.call('SENTINEL', 'get-master-addr-by-name', this.target.name).catch(() => null)));
    const counts = new Map<string, number>();
    let answered = 0;
    for (const answer of answers) {
      if (!Array.isArray(answer) || typeof answer[0] !== 'string' || typeof answer[1] !== 'string') continue;
      answered += 1;
      const key = `${answer[0]} ${answer[1]}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const [key] = [...counts].find(([, n]) => n * 2 > answered) ?? [];
    if (key === undefined) return null;
    const [host, port] = key.split(' ') as [string, string];
    return addressOf(host, port);
  }
}

/** A master's host and port, with the addresses its host resolves to; null when it resolves to none. */
async function addressOf(host: string, port: string): Promise<MasterAddress | null> {
  const addresses = isIP(host) === 0 ? (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address) : [host];
  return addresses.length === 0 ? null : { host, port: Number(port), addresses };
}

/** Whether a socket connected to `address`:`port` is connected to that master. */
export function isOn(address: string, port: number, master: MasterAddress): boolean {
  const plain = (a: string): string => a.replace(/^::ffff:/, '');
  return port === master.port && master.addresses.some((a) => plain(a) === plain(address));
}
