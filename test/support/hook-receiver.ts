import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './cleanup.js';

export interface Received {
  headers: IncomingMessage['headers'];
  /** The raw body bytes, as signed. */
  raw: Buffer;
  body: { time_ms: number; events: Record<string, unknown>[] };
}

/**
 * A real HTTP server taking webhook requests. `answer` picks each request's status (by its
 * number, from 0), or null to never answer. Closed after the test.
 */
export async function startReceiver(answer: (n: number) => number | null = () => 200): Promise<{ url: string; requests: Received[]; events: () => Record<string, unknown>[]; waitForEvents: (n: number) => Promise<void> }> {
  const requests: Received[] = [];
  let waiters: (() => void)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = requests.length;
      const raw = Buffer.concat(chunks);
      const status = answer(n);
      if (status === null) return;
      if (status >= 200 && status < 300) requests.push({ headers: req.headers, raw, body: JSON.parse(raw.toString()) as Received['body'] });
      else requests.push({ headers: req.headers, raw, body: { time_ms: 0, events: [] } });
      res.writeHead(status).end();
      const wake = waiters;
      waiters = [];
      for (const w of wake) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const events = (): Record<string, unknown>[] => requests.flatMap((r) => r.body.events);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    requests,
    events,
    async waitForEvents(n) {
      while (events().length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}
