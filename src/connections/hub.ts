import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Channel } from '../channels/channel.js';
import { Connection } from '../channels/connection.js';

/**
 * Every open connection of this server, across channels: counted per client address for
 * maxConnectionsPerIp and in all for maxConnections, found by socket, walked by the heartbeat and
 * at shutdown. Channels hold their own connections and members; the hub holds them all.
 */
export class Hub implements Iterable<Connection> {
  private readonly all = new Set<Connection>();
  private readonly perIp = new Map<string, number>();
  private readonly byWs = new WeakMap<WebSocket, Connection>();

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

  /** The connection on a socket, while it is open. */
  get(ws: WebSocket): Connection | undefined {
    return this.byWs.get(ws);
  }

  /** Takes a freshly upgraded socket into its channel as an unnamed connection. */
  add(channel: Channel, ws: WebSocket, socket: Duplex, ip: string): Connection {
    const connection = new Connection(ws, socket, channel, randomBytes(9).toString('base64url'), ip);
    this.byWs.set(ws, connection);
    this.all.add(connection);
    this.perIp.set(ip, this.fromIp(ip) + 1);
    channel.add(connection);
    return connection;
  }

  /** Forgets a connection whose socket closed; its channel learns separately. */
  remove(connection: Connection): void {
    this.byWs.delete(connection.ws);
    this.all.delete(connection);
    const fromIp = this.fromIp(connection.ip) - 1;
    if (fromIp <= 0) this.perIp.delete(connection.ip);
    else this.perIp.set(connection.ip, fromIp);
  }
}
