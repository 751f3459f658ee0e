import { writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { expect } from 'chai';
import { join } from './support/client.js';
import { runRooms, spawnRooms, waitForOutput } from './support/cli.js';
import { onCleanup } from './support/cleanup.js';

const LISTENING = /rooms listening on ws:\/\/127\.0\.0\.1:(\d+)\/channel\?id=<channel>\n/;

function tempConfig(content: unknown): string {
  const dir = mkdtempSync(joinPath(tmpdir(), 'rooms-'));
  const file = joinPath(dir, 'rooms.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('bin/rooms', () => {
  it('--help lists every option with its default', async () => {
    const { code, stdout } = await runRooms(['--help']);
    expect(code).to.equal(0);
    for (const text of ['--port <port>', '(default: 3000', '--host <host>', '"127.0.0.1"', '--path <path>', '["/channel"]', '--config <file>', '--log-level <level>', '"info"', '--auth-timeout', '--heartbeat-interval', '--reap-schedule', '"*/5 * * * *"']) {
      expect(stdout).to.include(text);
    }
  });

  it('--version prints the package version', async () => {
    const { code, stdout } = await runRooms(['--version']);
    expect(code).to.equal(0);
    expect(stdout).to.match(/^\d+\.\d+\.\d+\n$/);
  });

  it('an unknown flag exits 2 naming it', async () => {
    const { code, stderr } = await runRooms(['--prot', '3000']);
    expect(code).to.equal(2);
    expect(stderr).to.include("error: unknown option '--prot'");
  });

  it('a port out of range exits 2 with one line naming the setting and what it accepts', async () => {
    const { code, stderr } = await runRooms(['--port', '70000']);
    expect(code).to.equal(2);
    expect(stderr).to.equal('rooms: --port must be an integer from 0 to 65535 (got "70000")\n');
  });

  it('a path without its leading slash exits 2', async () => {
    const { code, stderr } = await runRooms(['--path', 'channel']);
    expect(code).to.equal(2);
    expect(stderr).to.equal('rooms: --path must be a URL path starting with / made of A-Z a-z 0-9 . _ ~ - / (got "channel")\n');
  });

  it('a Redis address that is not a redis:// URL exits 2 saying what to give', async () => {
    const { code, stderr } = await runRooms(['--redis', 'localhost:6379']);
    expect(code).to.equal(2);
    expect(stderr).to.equal('rooms: --redis does not start with redis://, rediss://, redis+sentinel:// or redis+cluster:// (rediss for TLS): write redis://HOST:PORT, redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster for Sentinel, or redis+cluster://127.0.0.1:7000,127.0.0.1:7001 for a cluster\n');
  });

  it('starts with an unreachable Redis, says degraded on /healthz, and serves its own members', async () => {
    const { child, stdout } = spawnRooms(['--port', '0', '--redis', 'redis://127.0.0.1:1', '--log-level', 'info']);
    const [, port] = await waitForOutput(child, stdout, /"port":(\d+)[^\n]*"msg":"listening"/);
    expect(stdout()).to.match(/redis unreachable; serving local members only and retrying/);
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string; engine: string };
    expect(health).to.include({ status: 'degraded', engine: 'redis' });
    const alice = await join(`ws://127.0.0.1:${port}/channel?id=1`, 'alice');
    alice.client.send({ event: 'broadcast', message: 'alone', id: 1 });
    expect(await alice.client.next('message')).to.include({ message: 'alone' });
    expect(await alice.client.next('ack')).to.deep.equal({ event: 'ack', re: 1, local: true });
  });

  it('a bad environment value exits 2 naming the variable', async () => {
    const { code, stderr } = await runRooms([], { ROOMS_AUTH_TIMEOUT: 'soon' });
    expect(code).to.equal(2);
    expect(stderr).to.equal('rooms: ROOMS_AUTH_TIMEOUT must be an integer from 1 to 3600000 (got "soon")\n');
  });

  it('a short secret exits 2 naming the setting without printing the secret, from env or a config file', async () => {
    for (const variable of ['ROOMS_SECRET', 'ROOMS_JWT_SECRET', 'ROOMS_WEBHOOK_SECRET']) {
      const { code, stdout, stderr } = await runRooms([], { [variable]: 'hunter2' });
      expect(code, variable).to.equal(2);
      expect(stderr, variable).to.match(new RegExp(`^rooms: ${variable} must be a string of at least \\d+ characters, or null \\(got 7 characters; the value is not shown\\)\n$`));
      expect(stdout + stderr, variable).not.to.include('hunter2');
    }
    const file = tempConfig({ jwtSecret: 'hunter2' });
    const { code, stdout, stderr } = await runRooms(['--config', file]);
    expect(code).to.equal(2);
    expect(stderr).to.include('jwtSecret must be a string of at least 32 characters');
    expect(stdout + stderr).not.to.include('hunter2');
  });

  it('an unknown key in the config file exits 2 naming it', async () => {
    const file = tempConfig({ port: 0, prot: 1 });
    const { code, stderr } = await runRooms(['--config', file]);
    expect(code).to.equal(2);
    expect(stderr).to.match(/^rooms: .*rooms\.json: unknown setting "prot"; known settings: port, host, paths/);
  });

  it('a missing config file exits 2', async () => {
    const { code, stderr } = await runRooms(['--config', '/nonexistent/rooms.json']);
    expect(code).to.equal(2);
    expect(stderr).to.equal('rooms: --config /nonexistent/rooms.json: cannot read the file (ENOENT)\n');
  });

  it('a port in use exits 1 with one clear line', async () => {
    const blocker = createServer();
    onCleanup(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const { code, stderr } = await runRooms(['--port', String(port), '--log-level', 'silent']);
    expect(code).to.equal(1);
    expect(stderr).to.equal(`rooms: port ${port} on 127.0.0.1 is in use; stop what holds it or pick another with --port\n`);
  });

  it('starts, prints where clients go, serves a client, and exits 0 on SIGTERM after closing it with 1001', async () => {
    const { child, done, stderr } = spawnRooms(['--port', '0', '--log-level', 'warn']);
    const [, port] = await waitForOutput(child, stderr, LISTENING, 'stderr');
    const { client } = await join(`ws://127.0.0.1:${port}/channel?id=1`, 'alice');
    expect((await client.request({ event: 'broadcast', message: 'hi' })).message).to.equal('hi');
    child.kill('SIGTERM');
    expect(await client.closed).to.deep.equal({ code: 1001, reason: 'server shutting down' });
    expect((await done).code).to.equal(0);
  });

  it('merges config file < env < flags and logs JSON lines at the chosen level', async () => {
    const file = tempConfig({ port: 1, paths: ['/from-file'], logLevel: 'error' });
    const { child, done, stdout, stderr } = spawnRooms(['--config', file, '--port', '0', '--log-level', 'info'], { ROOMS_PATHS: '/a,/b', ROOMS_PORT: '2' });
    const [, port] = await waitForOutput(child, stderr, /rooms listening on ws:\/\/127\.0\.0\.1:(\d+)\/b\?id=<channel>\n/, 'stderr');
    expect(stderr()).to.include(`ws://127.0.0.1:${port}/a?id=<channel>`);
    // pino writes its lines on its own schedule: wait for the start event too.
    await waitForOutput(child, stdout, /"msg":"listening"\}\n/);
    const log = stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(log.find((e) => e.msg === 'listening')).to.deep.include({ level: 30, name: 'rooms', port: Number(port), paths: ['/a', '/b'] });
    child.kill('SIGINT');
    expect((await done).code).to.equal(0);
  });

  it('keeps stdout JSON lines only, and tells a person on stderr where everything is: memory, open, no admin', async () => {
    const { child, done, stdout, stderr } = spawnRooms(['--port', '0', '--log-level', 'info']);
    const [, port] = await waitForOutput(child, stdout, /"port":(\d+)[^\n]*"msg":"listening"\}\n/);
    await waitForOutput(child, stderr, /auth +[^\n]*\n/, 'stderr');
    expect(stderr()).to.equal(
      [
        `rooms listening on ws://127.0.0.1:${port}/channel?id=<channel>`,
        `  chat page  http://127.0.0.1:${port}/`,
        '  admin      off: no apiKeys (set apiKeys or ROOMS_API_KEYS, see docs/api.md)',
        '  engine     memory (this process only)',
        '  auth       open: clients pick their names',
        '',
      ].join('\n'),
    );
    child.kill('SIGTERM');
    const { code, stdout: all } = await done;
    expect(code).to.equal(0);
    const lines = all.split('\n');
    expect(lines.pop(), 'stdout ends with a newline').to.equal('');
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.to.throw();
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).to.include.members(['listening', 'shutting down']);
  });

  it('the banner shows the admin page, the Redis URL without its password, and token mode', async () => {
    const env = {
      ROOMS_API_KEYS: '[{"name":"ops","key":"ops-key-0123456789abcdef"}]',
      ROOMS_AUTH_MODE: 'token',
      ROOMS_JWT_SECRET: 'jwt-secret-0123456789abcdef0123456789',
      ROOMS_REDIS: 'redis://user:hunter2pass@127.0.0.1:1/0',
    };
    const { child, done, stdout, stderr } = spawnRooms(['--port', '0', '--log-level', 'info'], env);
    const [, port] = await waitForOutput(child, stderr, /listening on ws:\/\/127\.0\.0\.1:(\d+)\/[^\n]*\n[^]*auth +[^\n]*\n/, 'stderr');
    expect(stderr()).to.include(`  admin      http://127.0.0.1:${port}/admin\n`);
    expect(stderr()).to.include('  engine     redis redis://127.0.0.1:1/0\n');
    expect(stderr()).to.include('  auth       token: names come from JWTs signed with jwtSecret\n');
    await waitForOutput(child, stdout, /"msg":"listening"\}\n/);
    child.kill('SIGTERM');
    const { stdout: all, stderr: errors } = await done;
    expect(all + errors).not.to.include('hunter2pass');
    for (const line of all.split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line) as unknown, line).not.to.throw();
  });

  it('`rooms serve` takes the same options', async () => {
    const { child, done, stderr } = spawnRooms(['serve', '--port', '0', '--path', '/room1', '--path', '/room2', '--log-level', 'silent']);
    await waitForOutput(child, stderr, /\/room2\?id=<channel>\n/, 'stderr');
    expect(stderr()).to.match(/ws:\/\/127\.0\.0\.1:\d+\/room1\?id=<channel>\n/);
    child.kill('SIGINT');
    expect((await done).code).to.equal(0);
  });
});
