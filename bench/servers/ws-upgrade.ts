// The HTTP side shared by the raw ws peers: one noServer WebSocketServer, upgrades routed by
// channel id, and scenario (f) done the naive way, with one WebSocketServer per channel.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BenchServer } from './host.js';
import { channelIdOf } from './peer-protocol.js';

type OnConnection = (ws: WebSocket, socket: Duplex, channelId: string) => void;

export async function listenChannels(onConnection: OnConnection): Promise<BenchServer> {
  const wss = new WebSocketServer({ noServer: true });
  const http = createServer((_, response) => response.writeHead(404).end());
  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const id = channelIdOf(request.url);
    if (id === null) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, socket, id));
  });
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
  const naive = new Map<string, WebSocketServer>();
  return {
    port: (http.address() as AddressInfo).port,
    connections: () => wss.clients.size,
    createEmptyChannels(count) {
      for (let i = 0; i < count; i++) naive.set(`c${i}`, new WebSocketServer({ noServer: true }));
    },
    reapEmptyChannels() {
      let removed = 0;
      for (const [id, server] of naive) {
        if (server.clients.size > 0) continue;
        server.close();
        naive.delete(id);
        removed++;
      }
      return removed;
    },
  };
}
