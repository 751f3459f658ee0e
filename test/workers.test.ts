import type { ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { expect } from 'chai';
import { connect, type Client } from './support/client.js';
import { runRooms, spawnRooms, waitForOutput, type Finished } from './support/cli.js';
import { needRedis, RedisServer } from './support/redis.js';

interface Health {
  status: string;
  worker?: number;
  connections: number;
}

/** `rooms --workers N` in a child process of its own, with what the test needs to reach it. */
interface Workers {
  port: number;
  child: ChildProcess;
  done: Promise<Finished>;
  stdout: () => string;
  stderr: () => string;
  url: (id: string) => string;
}

const STARTED = /workers +(\d+) processes sharing port (\d+)\n/;

async function startWorkers(redis: string, args: string[] = []): Promise<Workers> {
  const { child, done, stdout, stderr } = spawnRooms(['--workers', '2', '--redis', redis, '--port', '0', '--message-rate', '0', '--log-level', 'info', ...args]);
  const [, , port] = await waitForOutput(child, stderr, STARTED, 'stderr');
  return { port: Number(port), child, done, stdout, stderr, url: (id) => `ws://127.0.0.1:${port}/channel?id=${id}` };
}

/** Each worker's pid by its id, from the `listening` line it logs. */
async function workerPid(workers: Workers, worker: number): Promise<number> {
  const [, pid] = await waitForOutput(workers.child, workers.stdout, new RegExp(`"worker":${worker},"pid":(\\d+)[^\\n]*"msg":"listening"`));
  return Number(pid);
}

/** GET over a new connection (no keep-alive), so that the primary hands it to the next worker in turn. */
function getFresh(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Asks /healthz over new connections until `count` different workers have answered; their answers by worker id. */
async function healthOfEach(port: number, count = 2): Promise<Map<number, Health>> {
  const answers = new Map<number, Health>();
  for (let asked = 0; answers.size < count; asked += 1) {
    if (asked === 50) throw new Error(`50 requests reached only workers ${[...answers.keys()].join(', ')}`);
    const health = JSON.parse((await getFresh(port, '/healthz')).body) as Health;
    answers.set(health.worker!, health);
  }
  return answers;
}

function connections(health: Map<number, Health>): Map<number, number> {
  return new Map([...health].map(([worker, h]) => [worker, h.connections]));
}

/**
 * Opens a connection that lands on a worker not in `avoid`: the primary deals connections out in
 * turn, so a few tries do it; a connection on the wrong worker is closed, and its worker seen to
 * count it no more, before the next try.
 */
async function connectElsewhere(workers: Workers, id: string, avoid: number[]): Promise<{ client: Client; worker: number }> {
  for (let attempt = 1; attempt <= 20; attempt += 1) {
    const before = connections(await healthOfEach(workers.port));
    const client = await connect(workers.url(id));
    const after = connections(await healthOfEach(workers.port));
    const worker = [...after.keys()].find((w) => after.get(w)! > (before.get(w) ?? 0));
    if (worker === undefined) throw new Error('the new connection was counted by no worker');
    if (!avoid.includes(worker)) return { client, worker };
    client.terminate();
    let counted = after.get(worker);
    while (counted !== before.get(worker)) counted = connections(await healthOfEach(workers.port)).get(worker);
  }
  throw new Error(`20 connections all landed on workers ${avoid.join(', ')}`);
}

/** Two members of channel `id`, named `a` and `b`, each on its own worker. */
async function joinOnBoth(workers: Workers, id: string, a: string, b: string): Promise<{ first: Client; second: Client; tokens: string[]; on: number[] }> {
  const one = await connectElsewhere(workers, id, []);
  const two = await connectElsewhere(workers, id, [one.worker]);
  const tokens: string[] = [];
  for (const [client, user] of [[one.client, a], [two.client, b]] as const) {
    tokens.push((await client.request({ event: 'auth', user, presence: true }, 'token')).message as string);
  }
  return { first: one.client, second: two.client, tokens, on: [one.worker, two.worker] };
}

/** The value of one series in a Prometheus text exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('--workers', function () {
  this.timeout(30_000);

  it('--workers 2 without --redis exits 2 saying why and what to do', async () => {
    const { code, stderr } = await runRooms(['--workers', '2']);
    expect(code).to.equal(2);
    expect(stderr).to.equal('rooms: workers 2 needs redis: each worker is a node, and nodes share channels only through Redis; set --redis (or ROOMS_REDIS), or run one worker\n');
  });

  it('a bad --workers or ROOMS_WORKERS exits 2 naming it and what it accepts', async () => {
    for (const [args, env, name, got] of [
      [['--workers', '0'], {}, '--workers', '"0"'],
      [['--workers', '-1'], {}, '--workers', '"-1"'],
      [[], { ROOMS_WORKERS: 'x' }, 'ROOMS_WORKERS', '"x"'],
    ] as const) {
      const { code, stderr } = await runRooms([...args], env);
      expect(code, name).to.equal(2);
      expect(stderr).to.equal(`rooms: ${name} must be an integer from 1 to 1024, or auto for one per CPU (got ${got})\n`);
    }
  });

  it('--workers 1 runs one process as before: no worker in /healthz, the logs or the banner', async () => {
    const { child, done, stdout, stderr } = spawnRooms(['--workers', '1', '--port', '0', '--log-level', 'info']);
    const [, port] = await waitForOutput(child, stdout, /"port":(\d+)[^\n]*"msg":"listening"\}\n/);
    await waitForOutput(child, stderr, /auth +[^\n]*\n/, 'stderr');
    const health = JSON.parse((await getFresh(Number(port), '/healthz')).body) as Health;
    expect(health).to.not.have.property('worker');
    expect(stdout()).to.not.include('"worker"');
    expect(stderr()).to.not.include('workers');
    child.kill('SIGTERM');
    expect((await done).code).to.equal(0);
  });

  describe('on Redis', () => {
    let redis: RedisServer;

    beforeEach(async function () {
      needRedis(this);
      redis = await RedisServer.start();
    });

    it('listens on one port (port 0 picks one for all), says so in the banner, and each worker logs its id and pid', async () => {
      const workers = await startWorkers(redis.url);
      expect(workers.stderr()).to.include(`rooms listening on ws://127.0.0.1:${workers.port}/channel?id=<channel>\n`);
      expect(workers.stderr()).to.include(`  workers    2 processes sharing port ${workers.port}\n`);
      const pids = [await workerPid(workers, 1), await workerPid(workers, 2)];
      expect(new Set([...pids, workers.child.pid])).to.have.length(3);
      for (const worker of [1, 2]) expect(workers.stdout()).to.match(new RegExp(`"worker":${worker},"pid":\\d+,"host":"127.0.0.1","port":${workers.port},`));
      const health = await healthOfEach(workers.port);
      expect([...health.keys()].sort()).to.deep.equal([1, 2]);
      for (const h of health.values()) expect(h).to.include({ status: 'ok' });
    });

    it('members on different workers chat: user_list, join, broadcast and talk_with cross workers with one seq', async () => {
      const workers = await startWorkers(redis.url);
      const { first: alice, second: bob, tokens, on } = await joinOnBoth(workers, '1', 'alice', 'bob');
      expect(on[0]).to.not.equal(on[1]);
      expect(await alice.next('join')).to.include({ user: 'bob' });
      const list = await bob.request({ event: 'user_list', auth: tokens[1] }, 'user_list');
      expect(list.message).to.deep.equal(['alice', 'bob']);
      bob.send({ event: 'broadcast', message: 'hi from the other worker' });
      const [toAlice, toBob] = [await alice.next('message'), await bob.next('message')];
      expect(toAlice).to.include({ message: 'hi from the other worker', from: 'bob' });
      expect(toAlice.seq).to.equal(toBob.seq);
      alice.send({ event: 'talk_with', auth: tokens[0], message: 'psst', with_cilents: ['bob'] });
      expect(await bob.next('message')).to.include({ message: 'psst', from: 'alice' });
    });

    it('one scrape of /metrics sums every worker: a connection on each makes rooms_connections 2', async () => {
      const workers = await startWorkers(redis.url);
      const { on } = await joinOnBoth(workers, '1', 'alice', 'bob');
      // Whichever worker takes the scrape, it answers for both.
      for (let scrape = 0; scrape < 2; scrape += 1) {
        const res = await getFresh(workers.port, '/metrics');
        expect(res.status).to.equal(200);
        expect(sample(res.body, 'rooms_connections')).to.equal(2);
        expect(sample(res.body, 'rooms_members{path="/channel"}')).to.equal(2);
        expect(sample(res.body, 'rooms_messages_received_total{event="auth"}')).to.equal(2);
        expect(sample(res.body, 'rooms_engine_up{engine="redis"}')).to.equal(1);
        for (const worker of on) {
          expect(sample(res.body, `rooms_worker_info{worker="${worker}"}`), `worker ${worker}`).to.equal(1);
          expect(sample(res.body, `process_resident_memory_bytes{worker="${worker}"}`), `worker ${worker}`).to.be.above(0);
        }
      }
    });

    it('a worker killed with SIGKILL is started again, logged with its signal, and the server keeps serving', async () => {
      const workers = await startWorkers(redis.url);
      const pid = await workerPid(workers, 1);
      process.kill(pid, 'SIGKILL');
      const [line] = await waitForOutput(workers.child, workers.stdout, /\{[^\n]*"msg":"worker exited; starting another"\}\n/);
      expect(JSON.parse(line)).to.include({ level: 40, role: 'primary', worker: 1, pid, code: null, signal: 'SIGKILL', restartIn: 100 });
      const replacement = await workerPid(workers, 3);
      expect(alive(pid)).to.equal(false);
      expect(alive(replacement)).to.equal(true);
      expect([...(await healthOfEach(workers.port)).keys()].sort()).to.deep.equal([2, 3]);
      const { first: alice, second: bob, on } = await joinOnBoth(workers, '1', 'alice', 'bob');
      expect(on.sort()).to.deep.equal([2, 3]);
      expect(await alice.next('join')).to.include({ user: 'bob' });
      alice.send({ event: 'broadcast', message: 'still here' });
      expect(await bob.next('message')).to.include({ message: 'still here', from: 'alice' });
    });

    it('a worker that dies again soon after its restart waits twice as long before the next', async () => {
      const workers = await startWorkers(redis.url);
      process.kill(await workerPid(workers, 1), 'SIGKILL');
      process.kill(await workerPid(workers, 3), 'SIGKILL');
      const [, again] = await waitForOutput(workers.child, workers.stdout, /"worker":3,[^\n]*"restartIn":(\d+),"msg":"worker exited; starting another"/);
      expect(Number(again)).to.equal(200);
      await workerPid(workers, 4);
    });

    it('SIGTERM drains every worker as one server drains (/readyz 503, members closed 1001), then the primary exits 0 with no worker left', async () => {
      const workers = await startWorkers(redis.url, ['--shutdown-timeout', '20000']);
      const pids = [await workerPid(workers, 1), await workerPid(workers, 2)];
      const { first, second } = await joinOnBoth(workers, '1', 'alice', 'bob');
      // Members that read nothing never answer the close frame: each worker drains until they do.
      const sockets = [first, second].map((c) => (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket);
      for (const socket of sockets) socket.pause();
      workers.child.kill('SIGTERM');
      let draining = false;
      while (!draining) draining = [...(await healthOfEach(workers.port)).values()].every((h) => h.status === 'shutting_down');
      const ready = await getFresh(workers.port, '/readyz');
      expect(ready.status).to.equal(503);
      expect(JSON.parse(ready.body)).to.deep.equal({ status: 'shutting_down' });
      for (const socket of sockets) socket.resume();
      for (const client of [first, second]) expect(await client.closed).to.deep.equal({ code: 1001, reason: 'server shutting down' });
      const { code, stdout } = await workers.done;
      expect(code).to.equal(0);
      for (const pid of pids) expect(alive(pid), `worker pid ${pid}`).to.equal(false);
      expect(stdout).to.match(/"role":"primary","signal":"SIGTERM","msg":"shutting down"/);
      expect(stdout).to.match(/"role":"primary","workers":2,"msg":"workers stopped"/);
      expect(stdout).to.not.include('worker exited');
    });
  });
});
