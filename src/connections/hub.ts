import { randomBytes } from 'node:crypto';
import type { Channel } from '../channels/channel.js';
import { Connection } from '../channels/connection.js';
import type { Link } from '../transport/link.js';

/**
 * Every open connection of this server, across channels: counted per client address for
 * maxConnectionsPerIp and in all for maxConnections, found by socket, walked by the heartbeat and
 * at shutdown. Channels hold their own connections and members; the hub holds them all.
 */
export class Hub implements Iterable<Connection> {
  private readonly all = new Set<Connection>();
  private readonly perIp = new Map<string, number>();
  /** Called once no connection is left, for a shutdown waiting on it. */
  private emptied: (() => void) | null = null;

  /** Open connections across all channels, named or not. */
  get size(): number {
    return this.all.size;
  }

  [Symbol.iterator](): Iterator<Connection> {
    return this.all[Symbol.iterator]();
  }

  /** Open connections from one client address. */
  fromIp(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  /** Takes a freshly upgraded socket into its channel as an unnamed connection. */
  add(channel: Channel, link: Link<Connection>, ip: string): Connection {
    const connection = new Connection(link, channel, randomBytes(9).toString('base64url'), ip);
    this.all.add(connection);
    this.perIp.set(ip, this.fromIp(ip) + 1);
    channel.add(connection);
    return connection;
  }

  /** Forgets a connection whose socket closed; its channel learns separately. */
  remove(connection: Connection): void {
    this.all.delete(connection);
    const fromIp = this.fromIp(connection.ip) - 1;
    if (fromIp <= 0) this.perIp.delete(connection.ip);
    else this.perIp.set(connection.ip, fromIp);
    if (this.all.size === 0) this.emptied?.();
  }

  /** Resolves once no connection is open (at once when none is). */
  drained(): Promise<void> {
    if (this.all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.emptied = () => {
        this.emptied = null;
        resolve();
      };
    });
  }
}
