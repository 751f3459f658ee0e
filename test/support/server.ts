import { once } from 'node:events';
import { createRoomServer, type RoomServer, type RoomServerOptions } from '../../src/index.js';
import { onCleanup } from './cleanup.js';

export interface Started {
  server: RoomServer;
  port: number;
  /** ws:// URL of a channel. */
  url: (id: string, path?: string) => string;
  /** http:// URL of an endpoint. */
  http: (path: string) => string;
}

/** Starts a room server on 127.0.0.1 port 0 with quiet logs; it is closed after the test. */
export async function startServer(options: RoomServerOptions = {}): Promise<Started> {
  const server = createRoomServer({ port: 0, host: '127.0.0.1', logLevel: 'silent', ...options });
  onCleanup(() => server.close());
  const { port } = await server.listen();
  return {
    server,
    port,
    url: (id, path = '/channel') => `ws://127.0.0.1:${port}${path}?id=${id}`,
    http: (path) => `http://127.0.0.1:${port}${path}`,
  };
}

export { once };

/** The value of one series (`name{labels}`) in a server's /metrics; NaN when it has none yet. */
export async function metric(http: (path: string) => string, series: string): Promise<number> {
  const text = await (await fetch(http('/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}
