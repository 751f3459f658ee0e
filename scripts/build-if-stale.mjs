// `npm start`'s prestart: runs `npm run build` only when a source is newer than the last build, so
// a start with nothing changed takes a moment instead of a full rebuild. `npm run build` ends with
// `node scripts/build-if-stale.mjs --stamp`, which writes the stamp; so `npm ci` (whose prepare
// builds) leaves a fresh one. Sources: everything under src/, package.json and tsconfig*.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';

const root = process.cwd();
const stamp = join(root, 'dist', '.build-stamp');

/** The newest mtime of a file, or of a directory and everything under it (0 when it is missing). */
function newest(path) {
  const info = statSync(path, { throwIfNoEntry: false });
  if (info === undefined) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  // A directory's own mtime moves when a file in it is removed or renamed: that counts as a change.
  return readdirSync(path).reduce((max, entry) => Math.max(max, newest(join(path, entry))), info.mtimeMs);
}

function stale() {
  const built = statSync(stamp, { throwIfNoEntry: false });
  if (built === undefined) return true;
  const sources = ['src', 'package.json', ...readdirSync(root).filter((name) => /^tsconfig.*\.json$/.test(name))];
  return sources.some((name) => newest(join(root, name)) > built.mtimeMs);
}

/** Marks the build as made from the sources as they were at `at`. */
function writeStamp(at) {
  mkdirSync(dirname(stamp), { recursive: true });
  writeFileSync(stamp, `${at.toISOString()}\n`);
  utimesSync(stamp, at, at);
}

if (process.argv.includes('--stamp')) {
  writeStamp(new Date());
} else if (stale()) {
  const started = new Date();
  process.stderr.write('rooms: the sources changed since the last build; running npm run build\n');
  // Under npm, npm_execpath is npm's own script: run that one, not whichever npm is on PATH. The
  // build's output goes to stderr, so that the server's stdout stays JSON log lines only.
  const npm = process.env.npm_execpath;
  const stdio = ['ignore', 2, 2];
  const build = npm === undefined ? spawnSync('npm', ['run', 'build'], { stdio }) : spawnSync(process.execPath, [npm, 'run', 'build'], { stdio });
  if (build.status !== 0) process.exit(build.status ?? 1);
  // Date the stamp from the build's start, so that a source saved during the build is seen next time.
  writeStamp(started);
}
