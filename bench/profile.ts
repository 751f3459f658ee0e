// Summarises what the benchmark's profiling options write, as markdown for bench/profile-notes.md:
//
//   npx tsx bench/profile.ts FILE.cpuprofile [--top N]
//     self time grouped (ws framing, socket.write and streams, rooms' own code per file, JSON, GC, ...)
//     and the N functions with the most self time
//   npx tsx bench/profile.ts BASE.heapsnapshot LOADED.heapsnapshot --per N
//     what LOADED holds more than BASE, per each of N members (count and bytes per node kind)
//
// CPU profiles come from BENCH_NODE_ARGS="--cpu-prof ...", heap snapshots from --heap-snapshots DIR.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from './lib/children.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

const NATIVE_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String']);
const JSON_BUILTINS = new Set(['stringify', 'parse', 'JSON.stringify', 'JSON.parse']);

/** A script's path from node_modules, src or bench on (so that profiles taken in another checkout read the same). */
function shortPath(url: string): string {
  if (!url.startsWith('file:')) return url;
  const path = new URL(url).pathname;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) return path.slice(modules + 1);
  const at = Math.max(path.lastIndexOf('/src/'), path.lastIndexOf('/bench/'));
  return at >= 0 ? path.slice(at + 1) : relative(ROOT, path);
}

/** The group a function's self time goes to: the first rule that matches. */
function groupOf({ functionName, url }: CallFrame): string {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'native outside JS (VM, libuv, epoll)';
  if (url.includes('/node_modules/ws/lib/sender')) return 'ws Sender (framing)';
  if (url.includes('/node_modules/ws/lib/receiver')) return 'ws Receiver (reading frames)';
  if (url.includes('/node_modules/ws/')) return 'ws, other (WebSocket, handshake)';
  if (url === '' && NATIVE_WRITES.has(functionName)) return 'socket writes (native writev/write calls)';
  if (/^node:(net|stream|internal\/(streams|stream_base_commons|net))/.test(url)) return 'socket.write and stream machinery (JS)';
  if (url === '' && JSON_BUILTINS.has(functionName)) return 'JSON';
  if (url.includes('/node_modules/')) return `other packages: ${shortPath(url).split('/')[1]}`;
  if (url.includes('/src/')) return `rooms: ${shortPath(url)}`;
  if (/\/bench\/servers\/(?!host|stall-probe)/.test(url)) return `peer: ${shortPath(url)}`;
  if (url.includes('/bench/')) return 'harness (IPC, probes)';
  if (/^node:(timers|internal\/(timers|process\/task_queues))/.test(url)) return 'timers, setImmediate, microtasks';
  if (/^node:(buffer|internal\/buffer)/.test(url)) return 'Buffer';
  if (url.startsWith('node:')) return 'other Node internals';
  return url === '' ? 'other builtins and native' : 'other';
}

function where({ functionName, url, lineNumber }: CallFrame): string {
  const file = url === '' ? 'native' : shortPath(url);
  // tsx compiles src and bench on the fly: their line numbers are the generated code's, so none.
  const line = url.startsWith('node:') || url.includes('/node_modules/') ? `:${lineNumber + 1}` : '';
  return `${functionName === '' ? '(anonymous)' : functionName} (${file}${line})`;
}

/** The nodes under the inspector's own calls: the cost of stopping the profile, not of the server. */
function profilerNodes(profile: CpuProfile): Set<number> {
  const children = new Map(profile.nodes.map((node) => [node.id, node.children ?? []]));
  const found = new Set<number>();
  const mark = (id: number): void => {
    found.add(id);
    for (const child of children.get(id) ?? []) mark(child);
  };
  for (const node of profile.nodes) if (node.callFrame.url === 'node:inspector' && !found.has(node.id)) mark(node.id);
  return found;
}

const percent = (part: number, whole: number): string => `${((part * 100) / whole).toFixed(1)} %`;

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function cpuSummary(file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const profiler = profilerNodes(profile);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (!profiler.has(id)) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = frames.get(id)!;
    const group = groupOf(frame);
    if (group === '(idle)') continue;
    busy += us;
    groups.set(group, (groups.get(group) ?? 0) + us);
    const name = where(frame);
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const sorted = (map: Map<string, number>, count: number): string[][] =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([name, us]) => [name, `${(us / 1000).toFixed(0)} ms`, percent(us, busy)]);
  return [
    `${file}: ${(busy / 1000).toFixed(0)} ms busy (idle and the profiler's own calls left out)`,
    '',
    table(['self time in', 'ms', 'of busy'], sorted(groups, groups.size)),
    '',
    table([`top ${top} functions`, 'ms', 'of busy'], sorted(functions, top)),
  ].join('\n');
}

/** Count and self size per node kind: objects by constructor, closures by function name, the rest by type. */
function heapKinds(file: string): Map<string, { count: number; bytes: number }> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  const named = new Set(['object', 'closure', 'native', 'hidden', 'array', 'object shape', 'synthetic']);
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt]];
    const key = named.has(type) ? `${type}: ${snapshot.strings[snapshot.nodes[i + nameAt]]}` : type;
    const kind = kinds.get(key) ?? { count: 0, bytes: 0 };
    kind.count++;
    kind.bytes += snapshot.nodes[i + sizeAt];
    kinds.set(key, kind);
  }
  return kinds;
}

function heapSummary(base: string, loaded: string, members: number, top: number): string {
  const before = heapKinds(base);
  const rows: { key: string; count: number; bytes: number }[] = [];
  for (const [key, { count, bytes }] of heapKinds(loaded)) {
    const was = before.get(key) ?? { count: 0, bytes: 0 };
    rows.push({ key, count: count - was.count, bytes: bytes - was.bytes });
  }
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  rows.sort((a, b) => b.bytes - a.bytes);
  return [
    `${loaded} over ${base}: ${(total / members).toFixed(0)} bytes of heap per member (${members.toLocaleString('en-US')} members)`,
    '',
    table(
      ['node kind', 'per member', 'bytes per member', 'share'],
      rows.slice(0, top).map((row) => [row.key.replace(/\|/g, '\\|'), (row.count / members).toFixed(2), (row.bytes / members).toFixed(0), percent(row.bytes, total)]),
    ),
  ].join('\n');
}

function main(argv: string[]): void {
  const files = argv.filter((arg, i) => !arg.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  const flag = (name: string, fallback: number): number => {
    const at = argv.indexOf(name);
    return at < 0 ? fallback : Number(argv[at + 1]);
  };
  const top = flag('--top', 25);
  if (files.length === 1 && files[0].endsWith('.cpuprofile')) {
    process.stdout.write(`${cpuSummary(files[0], top)}\n`);
  } else if (files.length === 2 && files.every((file) => file.endsWith('.heapsnapshot')) && argv.includes('--per')) {
    process.stdout.write(`${heapSummary(files[0], files[1], flag('--per', 1), top)}\n`);
  } else {
    process.stderr.write('usage: npx tsx bench/profile.ts FILE.cpuprofile [--top N]\n       npx tsx bench/profile.ts BASE.heapsnapshot LOADED.heapsnapshot --per MEMBERS [--top N]\n');
    process.exitCode = 2;
  }
}

main(process.argv.slice(2));
