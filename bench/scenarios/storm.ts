// (e) Connection storm: connections opened, upgraded and authenticated as fast as the server
// takes them, with a bounded number in flight per worker (below the listen backlog).
import type { Sizes } from '../lib/sizes.js';
import { connectAll, members, split, verify, type Outcome } from './common.js';
import type { Measurement } from './measurement.js';

export function storm(sizes: Sizes): Measurement {
  const { connections, channels, inFlight } = sizes.storm;
  const perChannel = Math.ceil(connections / channels);
  return {
    key: 'e',
    scenario: 'e',
    title: `(e) Connection storm: ${connections.toLocaleString('en-US')} connections, ${inFlight} in flight per worker`,
    method:
      `Each worker opens its share of connections, ${inFlight} in flight at a time (below the listen backlog), each ` +
      `upgrading and sending auth; the rate runs from the first connect to the last token reply.`,
    figures: [
      { metric: 'rate', label: `storm ${connections.toLocaleString('en-US')}: authenticated`, unit: 'conn/s', better: 'higher' },
      { metric: 'cpu', label: `storm: server CPU per connection`, unit: 'µs', better: 'lower' },
    ],
    async run(server, ctx): Promise<Outcome> {
      const { receivers } = await ctx.fleet.workers();
      const rooms = Array.from({ length: channels }, (_, c) => members(`storm${c}`, perChannel, () => 0, false));
      const everyone = rooms.flat().slice(0, connections);
      const before = await server.cpuUs();
      const results = await connectAll(
        ctx,
        server,
        split(everyone, receivers.length).map((block, i) => ({ worker: receivers[i], members: block, kind: ctx.kind })),
        1,
        inFlight,
      );
      const after = await server.cpuUs();
      const started = Math.min(...results.map((r) => r.startedAt));
      const finished = Math.max(...results.map((r) => r.finishedAt));
      const problems = await verify(ctx, receivers, []);
      return {
        values: { rate: (connections * 1000) / (finished - started), cpu: (after - before) / connections },
        info: { connections, channels, inFlight, elapsedMs: finished - started },
        problems,
      };
    },
  };
}
