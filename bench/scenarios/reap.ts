// (f) Reaping empty channels, inside the server process: total time and the longest event-loop stall.
import type { Sizes } from '../lib/sizes.js';
import type { Outcome } from './common.js';
import type { Measurement } from './measurement.js';

const REAP_TIMEOUT_MS = 600_000;

export function reap(sizes: Sizes): Measurement {
  const { channels } = sizes.reap;
  const shape = `${channels.toLocaleString('en-US')} empty channels`;
  return {
    key: 'f',
    scenario: 'f',
    title: `(f) Reaping ${shape}`,
    method:
      'Inside the server process: rooms reaps through its registry; the ws peers close and drop one noServer ' +
      'WebSocketServer per channel in one synchronous loop, as a naive server would; Socket.IO keeps no empty rooms, ' +
      'so it removes the one phantom socket id of each room in one loop. The stall is the longest gap seen by a ' +
      '1 ms timer, so about 1 ms means none. Not Bun: uWebSockets frees a topic with its last subscriber, so it ' +
      'never holds an empty channel to reap.',
    servers: ['rooms', 'ws-batched', 'ws-send', 'socketio'],
    figures: [
      { metric: 'total', label: `reap ${shape}: total time`, unit: 'ms', better: 'lower' },
      { metric: 'stall', label: `reap ${shape}: longest event-loop stall`, unit: 'ms', better: 'lower' },
    ],
    async run(server): Promise<Outcome> {
      const result = await server.rpc.call('reap', { channels }, REAP_TIMEOUT_MS);
      const problems = result.removed === channels ? [] : [`reaped ${result.removed} of ${channels} channels`];
      return {
        values: { total: result.reapMs, stall: result.maxStallMs },
        info: { channels, removed: result.removed, createMs: result.createMs },
        problems,
      };
    },
  };
}
