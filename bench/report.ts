// The report: every figure per server, the ratios of rooms to the ceiling, Socket.IO and Bun, the
// goals, as a text table for stdout and as docs/benchmarks.md.
import { CLUSTER_SHARDS, REDIS_TOPOLOGIES, type RedisTopology, type ServerName } from './lib/api.js';
import type { FigureRow, Results } from './results.js';
import { ON_TOPOLOGY } from './scenarios/on-redis.js';

export const SERVER_LABELS: Record<ServerName, string> = {
  rooms: 'rooms',
  'ws-batched': 'ws batched (ceiling)',
  'ws-send': 'ws send()',
  socketio: 'Socket.IO 4',
  bun: 'Bun (uWebSockets)',
};

/** The servers rooms is compared with, in the ratio columns (when they ran). */
export const RATIOS: ReadonlyArray<{ against: ServerName; label: string }> = [
  { against: 'ws-batched', label: 'rooms/ceiling' },
  { against: 'socketio', label: 'rooms/Socket.IO' },
  { against: 'bun', label: 'rooms/Bun' },
];

const ratiosOf = (results: Results): typeof RATIOS => RATIOS.filter(({ against }) => results.servers.includes(against));

export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function quotient(ours: number | null | undefined, theirs: number | null | undefined): number | null {
  if (ours === null || ours === undefined || theirs === null || theirs === undefined || theirs === 0) return null;
  return ours / theirs;
}

/** rooms' median over `against`'s, or null when either is missing. */
export function ratio(row: FigureRow, against: ServerName): number | null {
  return quotient(row.medians.rooms, row.medians[against]);
}

export const formatRatio = (value: number | null): string => (value === null ? 'n/a' : `${value.toFixed(2)}×`);

interface Goal {
  text: string;
  /** The server the goal compares rooms with: goals against a server that did not run are left out. */
  against: ServerName | null;
  figure: (row: FigureRow) => boolean;
  /** The number compared, and whether it meets the goal. */
  measure: (row: FigureRow, results: Results) => { shown: string; met: boolean } | null;
}

function ratioGoal(text: string, against: ServerName, min: number | null, max: number | null, figure: Goal['figure']): Goal {
  return {
    text,
    against,
    figure,
    measure: (row) => {
      const value = ratio(row, against);
      if (value === null) return null;
      return { shown: formatRatio(value), met: (min === null || value >= min) && (max === null || value <= max) };
    },
  };
}

function limitGoal(text: string, max: number, figure: Goal['figure']): Goal {
  return {
    text,
    against: null,
    figure,
    measure: (row) => {
      const value = row.medians.rooms;
      if (value === null || value === undefined) return null;
      return { shown: `${formatValue(value)} ${row.unit}`, met: value <= max };
    },
  };
}

/** rooms' figure of several nodes over its single-process baseline in the same run (FigureSpec.baseline), at most `max`. */
function baselineGoal(text: string, max: number, figure: Goal['figure']): Goal {
  return {
    text,
    against: null,
    figure,
    measure: (row, results) => {
      const ours = row.medians.rooms;
      const base = results.figures.find((other) => other.id === row.baseline)?.medians.rooms;
      const value = quotient(ours, base);
      if (value === null) return null;
      return { shown: `${formatRatio(value)} (${formatValue(ours)} over ${formatValue(base)} ${row.unit})`, met: value <= max };
    },
  };
}

const metric = (row: FigureRow): string => row.id.slice(row.id.indexOf('.') + 1);

const GOALS: Goal[] = [
  ratioGoal('flood ≥ 0.8× ceiling', 'ws-batched', 0.8, null, (row) => row.scenario === 'a' && metric(row) === 'rate'),
  ratioGoal('flood ≥ 5× Socket.IO', 'socketio', 5, null, (row) => row.scenario === 'a' && metric(row) === 'rate'),
  ratioGoal('p99 at fixed rate ≤ 1.2× ws send()', 'ws-send', null, 1.2, (row) => row.scenario === 'b' && metric(row) === 'p99'),
  limitGoal('idle ≤ 9 KB RSS per member', 9, (row) => row.scenario === 'd' && metric(row) === 'rss'),
  limitGoal('reap stall ≤ 50 ms', 50, (row) => row.scenario === 'f' && metric(row) === 'stall'),
  // Issue 15: the write path at uWebSockets' cost, and no stall at 18,000 members or under overload.
  ratioGoal('flood ≥ 0.95× Bun', 'bun', 0.95, null, (row) => row.scenario === 'a' && metric(row) === 'rate'),
  ratioGoal('flood CPU per delivery ≤ 1.1× Bun', 'bun', null, 1.1, (row) => row.scenario === 'a' && metric(row) === 'cpu'),
  limitGoal('idle ≤ 4 KB RSS per member', 4, (row) => row.scenario === 'd' && metric(row) === 'rss'),
  limitGoal('scale p99 ≤ 50 ms', 50, (row) => row.scenario === 'g' && metric(row) === 'p99'),
  limitGoal('scale: no stall over 50 ms', 50, (row) => row.scenario === 'g' && metric(row) === 'stall'),
  limitGoal('closing all: no stall over 100 ms', 100, (row) => row.scenario === 'g' && metric(row) === 'closeStall'),
  limitGoal('overload: /healthz within 100 ms', 100, (row) => row.scenario === 'h' && metric(row) === 'healthMax'),
  limitGoal('overload: no reader closed', 0, (row) => row.scenario === 'h' && metric(row) === 'readersClosed'),
  limitGoal('overload: readers get every message in order', 0, (row) => row.scenario === 'h' && metric(row) === 'lost'),
  // Issue 14: the Redis path, against Socket.IO on its Redis adapter.
  ratioGoal('cross-node fan-out ≥ 10× Socket.IO', 'socketio', 10, null, (row) => row.scenario === 'i' && metric(row) === 'rate'),
  ratioGoal('many channels on Redis ≥ 3× Socket.IO', 'socketio', 3, null, (row) => row.scenario === 'j' && metric(row) === 'rate'),
  baselineGoal('CPU per delivery across nodes ≤ 1.2× one process', 1.2, (row) => row.baseline !== undefined),
  // At (k)'s fixed rate Redis's idle CPU outweighs the messages, and what is left once it is taken off is noise: only the floods count.
  ratioGoal("Redis CPU per published message ≤ Socket.IO's", 'socketio', null, 1, (row) => (row.scenario === 'i' || row.scenario === 'j') && metric(row) === 'redisCpu'),
];

interface GoalLine {
  goal: string;
  figure: string;
  shown: string;
  verdict: string;
}

function goalLines(results: Results): GoalLine[] {
  const goals = GOALS.filter((goal) => goal.against === null || results.servers.includes(goal.against));
  return goals.flatMap((goal) =>
    results.figures.filter(goal.figure).map((row) => {
      const measured = goal.measure(row, results);
      return {
        goal: goal.text,
        figure: row.label,
        shown: measured?.shown ?? 'n/a',
        verdict: measured === null ? 'not measured' : measured.met ? 'met' : 'not met',
      };
    }),
  );
}

function tableCells(results: Results): string[][] {
  const ratios = ratiosOf(results);
  const header = ['figure', 'unit', ...results.servers.map((s) => SERVER_LABELS[s]), ...ratios.map(({ label }) => label)];
  const rows = results.figures.map((row) => [
    row.label,
    `${row.unit} (${row.better} is better)`,
    ...results.servers.map((server) => formatValue(row.medians[server])),
    ...ratios.map(({ against }) => formatRatio(ratio(row, against))),
  ]);
  return [header, ...rows];
}

function aligned(cells: string[][]): string {
  const widths = cells[0].map((_, column) => Math.max(...cells.map((row) => [...row[column]].length)));
  const line = (row: string[]): string =>
    row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function markdownTable(cells: string[][], rightFrom: number): string {
  const line = (row: string[]): string => `| ${row.join(' | ')} |`;
  const rule = cells[0].map((_, column) => (column >= rightFrom ? '---:' : '---'));
  return [line(cells[0]), line(rule), ...cells.slice(1).map(line)].join('\n');
}

export function textReport(results: Results): string {
  const goals = goalLines(results).map((g) => [g.goal, g.figure, g.shown, g.verdict]);
  const runs = results.options.runs;
  return [
    `medians of ${runs} run${runs === 1 ? '' : 's'}${results.options.smoke ? ' (SMOKE sizes: not figures to quote)' : ''}; ` +
      `receiving clients: ${results.options.kind}; ${results.machine.cores} cores, ${results.machine.cpu}`,
    '',
    aligned(tableCells(results)),
    '',
    aligned([['goal for rooms', 'figure', 'measured', 'verdict'], ...goals]),
  ].join('\n');
}

/** The range of mean frame sizes the flood's clients saw on the wire, over servers and runs. */
function floodFrameBytes(results: Results): string {
  const sizes = results.runs
    .filter((run) => run.scenario === 'a' && (run.info.frameBytes ?? 0) > 0)
    .map((run) => run.info.frameBytes);
  if (sizes.length === 0) return 'not visible to this client kind';
  const low = Math.round(Math.min(...sizes));
  const high = Math.round(Math.max(...sizes));
  return low === high ? `${low} bytes` : `${low} to ${high} bytes depending on the server's envelope`;
}

/** How rooms and Socket.IO use each Redis topology, for docs/benchmarks.md. */
const TOPOLOGY_NOTES: Record<RedisTopology, string> = {
  single: `On ${ON_TOPOLOGY.single}, rooms runs with \`--redis redis://\` and its defaults otherwise (a publish is
one script call on its command connection, which also appends the message to the channel's
history); Socket.IO with @socket.io/redis-adapter on ioredis (a PUBLISH per message).`,
  cluster: `On ${ON_TOPOLOGY.cluster} (${CLUSTER_SHARDS} masters, no replicas, joined by \`redis-cli --cluster create\`),
rooms gets \`redis+cluster://\` with every master as a seed, and keeps each channel on its
slot's shard (its keys, scripts and sharded Pub/Sub); Socket.IO runs the adapter's
\`createShardedAdapter\` on the \`redis\` package's cluster client (ioredis's cannot do sharded
Pub/Sub on a cluster): an SPUBLISH per message on the room's own channel, which each node
SSUBSCRIBEs to once it holds a member of that room. Redis's CPU there is the sum over the
${CLUSTER_SHARDS} redis-server processes.`,
};

/** What docs/benchmarks.md says of the servers in the measurements of several nodes, if the run had any. */
function onRedis(results: Results): string {
  const across = results.measurements.flatMap(({ scenario, nodes }) => (nodes === undefined ? [] : [{ scenario, ...nodes }]));
  if (across.length === 0) return '';
  const scenarios = [...new Set(across.map(({ scenario }) => `(${scenario})`))].join(', ');
  const shapes = [...new Set(across.map(({ count, redis }) => `${count} nodes on ${ON_TOPOLOGY[redis]}`))].join(', and as ');
  const topologies = REDIS_TOPOLOGIES.filter((topology) => across.some(({ redis }) => redis === topology));
  return `
Across nodes, in ${scenarios}: rooms and Socket.IO 4 each run as ${shapes} of their own
(redis-server processes keeping nothing on disk), nodes and Redis started fresh for every run.
${topologies.map((topology) => TOPOLOGY_NOTES[topology]).join('\n')}
There the *Socket.IO 4* column is Socket.IO on its Redis adapter, and CPU per delivery is every
node's CPU, summed. Redis CPU per published message is the CPU time of the redis-server processes
over the window (every thread's schedstat in /proc, in ns), less what they used in as long with
every member connected and nothing published (their own upkeep and the nodes' beats), divided by
the messages published in the window (the deliveries over the members each message reaches).
`;
}

/**
 * docs/benchmarks.md. `profile` is the hand-written "Where the time goes" section
 * (bench/profile-notes.md, measured separately with a CPU profile and a heap snapshot), or null.
 */
export function markdownReport(results: Results, chartFile: string, profile: string | null): string {
  const { machine, options } = results;
  const goals = goalLines(results).map((g) => [g.goal, g.figure, g.shown, g.verdict]);
  const ratios = ratiosOf(results);
  const bun = results.servers.includes('bun') ? `, Bun ${machine.bun}` : '';
  return `# Benchmarks

<!-- Generated by \`npx tsx bench/run.ts\` (bench/report.ts, bench/profile-notes.md): edit those, not this file. -->

Measured ${results.createdAt.slice(0, 10)} on ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB,
${machine.os}, Node ${machine.node}${bun}, ${machine.openFiles} open files per process; code at \`${machine.commit}\`.
${options.note === '' ? '' : `${options.note}\n`}**Figures are noisy**: the server and the load generators share those ${machine.cores} cores over loopback,
so each figure is the median of ${options.runs} run${options.runs === 1 ? '' : 's'}, and runs of the same
figure often differ by 10% or more (every run's value is in \`bench/results/results.json\`).
Receiving clients: **${options.kind}**${options.kind === 'minimal' ? ' (a bare `net.Socket` that only parses frame headers and the message marker)' : ' (the real ws / socket.io-client)'}.

![Benchmark chart: each figure per server](${chartFile})

## Figures

${markdownTable(tableCells(results), 2)}

${ratios.length === 0 ? '' : `${ratios.map(({ label }) => label).join(', ')}: rooms' median over that server's, above 1 is better
for figures where higher is better, below 1 where lower is better. n/a: the scenario does not apply to that server, was not
run, or failed in every run (results.json says why).
`}
## Goals for rooms

${markdownTable([['goal', 'figure', 'measured', 'verdict'], ...goals], 4)}

The benchmark asserts nothing: these verdicts are reported, never enforced.
${profile === null ? '' : `\n${profile.trim()}\n`}
## What is measured

${results.measurements.map((m) => `- **${m.title}.** ${m.method}`).join('\n')}

Servers, each in its own process: *rooms* (this project); *ws batched*, the practical ceiling for
Node (each message serialized and framed once, frames queued per member and written with one
\`socket.write\` per member per tick); *ws send()*, raw ws calling \`send()\` per member;
*Socket.IO 4* (\`io.to(room).emit\`, websocket transport only); *Bun*, the fastest pub/sub a
JavaScript user can pick: \`Bun.serve\` (uWebSockets, in C++) with \`ws.subscribe\` and \`server.publish\`,
compression off, run by the bun binary. A fresh server process per run.
${onRedis(results)}
Load generators run in their own processes (a publisher and ${options.workers} receiving workers), with
sockets bound to source addresses 127.0.0.2 and up. They count at the clients: every receiver must
get every message exactly once and in order, or the run fails. Latency comes from a send timestamp
in each message's payload, recorded in HDR histograms. Published messages are
${results.sizes.messageLength}-character strings (a marker with a counter and a send timestamp); a delivered
frame, with its JSON envelope, is ${floodFrameBytes(results)}. Server CPU is the server
process's user + system time read from /proc (10 ms resolution), divided by the deliveries (or
connections) counted at the clients in the same window.

## Running it

\`\`\`sh
npx tsx bench/run.ts                      # everything, 3 runs each (about 20 minutes)
npx tsx bench/run.ts --smoke              # tiny sizes, a few seconds per scenario (what CI runs)
npx tsx bench/run.ts --only a --servers rooms,ws-batched,bun --runs 5 --client ws
npx tsx bench/run.ts --only a,i,j,k --servers rooms,socketio   # across nodes on Redis: needs redis-server
\`\`\`
`;
}
