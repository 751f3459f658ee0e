// The /healthz prober, a process of its own: while scenario (h) overloads a server, it sends
// GET /healthz every few milliseconds, each on a fresh connection as a load balancer's check
// would, without waiting for earlier answers, and times each from its start to the end of its
// response. A stalled server shows as slow answers, and as requests still unanswered at the end.
import { get, type ClientRequest } from 'node:http';
import type { HealthApi, HealthEvents, HealthSamples } from '../lib/api.js';
import { nowMs } from '../lib/marker.js';
import { emitEvent, serveRpc } from '../lib/rpc.js';

let timer: NodeJS.Timeout | null = null;
let result: HealthSamples = { samples: [], failed: 0 };
/** Requests without an answer yet, and when each started. */
const outstanding = new Map<ClientRequest, number>();

function record(started: number, failed: boolean): void {
  result.samples.push({ at: started, ms: nowMs() - started });
  if (failed) result.failed++;
}

function ask(port: number): void {
  const started = nowMs();
  const request = get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (response) => {
    response.resume();
    response.on('end', () => {
      if (outstanding.delete(request)) record(started, response.statusCode !== 200);
    });
  });
  outstanding.set(request, started);
  request.on('error', () => {
    if (outstanding.delete(request)) record(started, true);
  });
}

function stop(): HealthSamples {
  if (timer !== null) clearInterval(timer);
  timer = null;
  for (const [request, started] of outstanding) {
    record(started, false);
    request.destroy();
  }
  outstanding.clear();
  const done = result;
  result = { samples: [], failed: 0 };
  return done;
}

serveRpc<HealthApi>({
  start: ({ port, intervalMs }) => {
    stop();
    timer = setInterval(() => ask(port), intervalMs);
    return null;
  },
  stop,
});
emitEvent<HealthEvents, 'ready'>('ready', null);
