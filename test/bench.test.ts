import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { build } from 'esbuild';
import { onCleanup } from './support/cleanup.js';
import { needRedis } from './support/redis.js';

interface Results {
  servers: string[];
  figures: { id: string; medians: Record<string, number | null> }[];
  runs: { measurement: string; server: string; problems: string[] }[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The harness and the server sources as JavaScript, file for file, in node_modules/.cache (where
 * node finds the packages they import), so that the harness runs its children without tsx (see
 * bench/lib/children.ts); returns the compiled bench/run.ts.
 */
async function compiled(): Promise<string> {
  const sources = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
      .map((entry) => join(entry.parentPath, entry.name));
  const outdir = join(ROOT, 'node_modules', '.cache', 'rooms-bench');
  rmSync(outdir, { recursive: true, force: true });
  // The web pages are built for browsers by npm run build, and the bench serves none.
  const entryPoints = [...sources('bench'), ...sources('src').filter((file) => !file.startsWith(join(ROOT, 'src', 'web') + sep))];
  await build({ entryPoints, outdir, outbase: ROOT, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
  return join(outdir, 'bench', 'run.js');
}

// The benchmark is not a test and asserts no timings; this only keeps it from rotting: every
// scenario runs against every server it applies to at tiny sizes, with nothing lost or duplicated.
// The scenarios across nodes start redis-server processes of their own: one server, and for (j) a
// 3-shard cluster too.
describe('the benchmark, at smoke sizes', function () {
  this.timeout(180_000);

  before(function () {
    needRedis(this);
  });

  it('runs every scenario against every server and reports a figure for each', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rooms-bench-'));
    const child = spawn(process.execPath, [await compiled(), '--smoke', '--no-docs', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).to.equal(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    expect(results.servers).to.deep.equal(['rooms', 'ws-batched', 'ws-send', 'socketio', 'bun']);
    const scenarios = new Set(results.figures.map((f) => f.id[0]));
    expect([...scenarios].sort()).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k']);
    expect(results.figures.map((f) => f.id)).to.include.members(['j-single.rate', 'j-cluster.rate']);
    for (const figure of results.figures) expect(figure.medians.rooms, figure.id).to.be.a('number');
    for (const run of results.runs) expect(run.problems, `${run.measurement} ${run.server}`).to.deep.equal([]);
  });
});
