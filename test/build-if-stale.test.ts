import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { onCleanup } from './support/cleanup.js';

const SCRIPT = fileURLToPath(new URL('../scripts/build-if-stale.mjs', import.meta.url));

/** A project whose `npm run build` appends a line to builds.log and ends, like the real one, by writing the stamp. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rooms-build-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const build = `node -e "require('fs').appendFileSync('builds.log', 'built\\\\n')" && node ${JSON.stringify(SCRIPT)} --stamp`;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'stale-test', private: true, scripts: { build } }));
  writeFileSync(join(dir, 'tsconfig.json'), '{}');
  mkdirSync(join(dir, 'src', 'web'), { recursive: true });
  writeFileSync(join(dir, 'src', 'index.ts'), 'export {};\n');
  writeFileSync(join(dir, 'src', 'web', 'page.ts'), 'export {};\n');
  return dir;
}

/** Runs the prestart script in `dir`, resolving with its exit code once it is done. */
function prestart(dir: string): Promise<number | null> {
  const child = spawn(process.execPath, [SCRIPT], { cwd: dir, stdio: 'ignore' });
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.on('close', resolve));
}

function builds(dir: string): number {
  try {
    return readFileSync(join(dir, 'builds.log'), 'utf8').split('\n').filter((line) => line !== '').length;
  } catch {
    return 0;
  }
}

/** Dates a file now, as an edit made after the last build. */
function touch(path: string): void {
  const now = new Date();
  utimesSync(path, now, now);
}

describe('scripts/build-if-stale.mjs (npm start’s prestart)', function () {
  // Each build spawns npm.
  this.timeout(60_000);

  it('builds without a stamp, then only when a source, tsconfig or package.json is newer than the last build', async () => {
    const dir = project();
    expect(await prestart(dir)).to.equal(0);
    expect(builds(dir), 'no stamp yet').to.equal(1);
    expect(await prestart(dir)).to.equal(0);
    expect(builds(dir), 'nothing changed').to.equal(1);
    for (const [n, changed] of ['src/web/page.ts', 'tsconfig.json', 'package.json'].entries()) {
      touch(join(dir, changed));
      expect(await prestart(dir)).to.equal(0);
      expect(builds(dir), changed).to.equal(n + 2);
      expect(await prestart(dir)).to.equal(0);
      expect(builds(dir), `${changed}, built since`).to.equal(n + 2);
    }
  });

  it('builds again once a source is removed, or dist/ is gone', async () => {
    const dir = project();
    expect(await prestart(dir)).to.equal(0);
    expect(builds(dir)).to.equal(1);
    expect(await prestart(dir)).to.equal(0);
    expect(builds(dir)).to.equal(1);
    rmSync(join(dir, 'src', 'web', 'page.ts'));
    expect(await prestart(dir)).to.equal(0);
    expect(builds(dir), 'a source removed').to.equal(2);
    rmSync(join(dir, 'dist'), { recursive: true });
    expect(await prestart(dir)).to.equal(0);
    expect(builds(dir), 'dist/ gone').to.equal(3);
    expect(await prestart(dir)).to.equal(0);
    expect(builds(dir)).to.equal(3);
  });

  it('exits with the failing build’s code', async () => {
    const dir = project();
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'stale-test', private: true, scripts: { build: 'node -e "process.exit(3)"' } }));
    expect(await prestart(dir)).to.equal(3);
    expect(await prestart(dir), 'still no stamp: tries again').to.equal(3);
  });
});
