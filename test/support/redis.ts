import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { dirname, join as joinPath } from 'node:path';
import { Redis } from 'ioredis';
import { onCleanup } from './cleanup.js';
import { resumeProcess, suspendProcess } from './node.js';

const INSTALL = 'redis-server is not installed: apt-get install -y redis-server (CI sets ROOMS_REQUIRE_REDIS=1 and installs it)';

/** Whether redis-server can be run here. */
export const redisAvailable = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Skips the calling suite when redis-server is missing, saying how to install it; fails instead
 * under ROOMS_REQUIRE_REDIS=1, so CI can never skip these tests.
 */
export function needRedis(ctx: Mocha.Context): void {
  if (redisAvailable) return;
  if (process.env.ROOMS_REQUIRE_REDIS === '1') throw new Error(INSTALL);
  console.log(`      skipped: ${INSTALL}`);
  ctx.skip();
}

export interface RedisServerOptions {
  /**
   * Addresses to listen on besides 127.0.0.1, such as the host end of a veth pair that a node in a
   * network namespace reaches Redis by. Redis then runs with `--protected-mode no`, which it needs
   * to accept connections on a non-loopback address without a password.
   */
  alsoBind?: string[];
  /**
   * A folder of the test's own where a SAVE writes its snapshot and a restart loads it, as a Redis
   * that restarts from an older RDB file does. Without it nothing is kept.
   */
  dir?: string;
  /** The port of a master on 127.0.0.1 to replicate (`--replicaof`); it is started once in sync. */
  replicaOf?: number;
  /** A password clients must give (`--requirepass`), also used to replicate a master (`--masterauth`). */
  password?: string;
  /** A node of a Redis Cluster (`--cluster-enabled yes`), its nodes.conf in `dir`, which it needs. */
  cluster?: boolean;
}

/** A real redis-server process of the test's own, on a free port, keeping nothing on disk. */
export class RedisServer {
  private child: ChildProcess | null = null;
  private shared: Redis | null = null;

  private constructor(
    public port: number,
    private readonly options: RedisServerOptions,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The URL on one of the addresses it listens on (127.0.0.1 or one of `alsoBind`). */
  urlAt(host: string): string {
    return `redis://${host}:${this.port}`;
  }

  /** Starts a redis-server on a free port; it is stopped after the test. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options);
    onCleanup(() => server.stop());
    await onFreePort(server, () => server.restart());
    return server;
  }

  /** Starts it again on the same port: empty, as a Redis that restarts without persistence does, or from the last SAVE in `dir`. */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('redis-server is already running');
    const { alsoBind = [], dir, replicaOf, password, cluster = false } = this.options;
    const bind = ['--bind', '127.0.0.1', ...alsoBind, ...(alsoBind.length > 0 ? ['--protected-mode', 'no'] : [])];
    const extra = [
      ...(dir === undefined ? [] : ['--dir', dir]),
      ...(replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)]),
      ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password]),
      // A master silent for 1 s is failed, and its replica promoted, within a few seconds.
      ...(cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${this.port}.conf`, '--cluster-node-timeout', '1000'] : []),
    ];
    // A master sends a replica its first snapshot at once, not after the default 5 s wait for others.
    const args = ['--port', String(this.port), ...bind, ...extra, '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'];
    this.child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // A replica is ready once it holds its master's data.
    await started(this.child, replicaOf === undefined ? 'Ready to accept connections' : 'MASTER <-> REPLICA sync: Finished with success', () => (this.child = null));
  }

  /** A client for commands, shared, and made again once the server restarted; disconnected after the test. */
  get admin(): Redis {
    if (this.shared === null || this.shared.status === 'end') {
      const client = new Redis({ port: this.port, password: this.options.password, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      onCleanup(() => client.disconnect());
      this.shared = client;
    }
    return this.shared;
  }

  /** Kills it at once (SIGKILL): clients see their connections drop. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    await kill(child);
  }

  /**
   * SIGSTOP: Redis hangs with every connection open, answering nothing, as a Redis that is stuck
   * (or a link that went silent) does. Resolves once the kernel reports it stopped.
   */
  pause(): Promise<void> {
    return suspendProcess(this.running());
  }

  /** SIGCONT after {@link pause}: it answers again, on the same connections, with its data. */
  resume(): Promise<void> {
    return resumeProcess(this.running());
  }

  private running(): ChildProcess {
    if (this.child === null) throw new Error('redis-server is not running');
    return this.child;
  }
}

export interface RedisClusterOptions {
  /** Masters, each with a share of the 16384 slots; 3 unless given. */
  masters?: number;
  /** Replicas per master, for a test that fails a master over; none unless given. */
  replicas?: number;
}

/**
 * A Redis Cluster of the test's own: redis-server processes with `--cluster-enabled yes` on free
 * ports, joined by `redis-cli --cluster create`, their nodes.conf files in a temporary folder; all
 * are killed and the folder removed after the test.
 */
export class RedisCluster {
  private constructor(readonly servers: RedisServer[]) {}

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const { masters = 3, replicas = 0 } = options;
    const dir = await mkdtemp(joinPath(tmpdir(), 'rooms-cluster-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const servers = await Promise.all(Array.from({ length: masters * (1 + replicas) }, () => RedisServer.start({ cluster: true, dir })));
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    const created = spawn('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    created.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    created.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(created, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`redis-cli --cluster create failed (${code}): ${output}`);
    const cluster = new RedisCluster(servers);
    await cluster.settled(servers);
    return cluster;
  }

  /** The URL rooms is given: every node as a seed. */
  get url(): string {
    return `redis+cluster://${this.servers.map((s) => `127.0.0.1:${s.port}`).join(',')}`;
  }

  /** The server that is master of `slot` now, as the first running server that answers says. */
  async masterOf(slot: number, running = this.servers): Promise<RedisServer> {
    const ranges = (await running[0].admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    if (range === undefined) throw new Error(`no node serves slot ${slot}`);
    return this.byPort(range[2][1]);
  }

  /** The replica of `master`, as `master` itself says. */
  async replicaOf(master: RedisServer): Promise<RedisServer> {
    const id = ((await master.admin.call('CLUSTER', 'MYID')) as string).trim();
    const lines = ((await master.admin.call('CLUSTER', 'REPLICAS', id)) as string[]).map((l) => l.split(' '));
    if (lines.length === 0) throw new Error(`master ${master.port} has no replica`);
    return this.byPort(Number(lines[0][1].split('@')[0].split(':')[1]));
  }

  /**
   * SIGKILLs `master`, and resolves once its replica has been promoted and every other server sees
   * the cluster whole again (cluster_state:ok, the slots served): a shard's failover.
   */
  async killMaster(master: RedisServer): Promise<RedisServer> {
    const replica = await this.replicaOf(master);
    await master.stop();
    await this.failedOver(master);
    return replica;
  }

  /** Resolves once every server but `master` (dead) sees the cluster whole without it: its replica serves its slots. */
  failedOver(master: RedisServer): Promise<void> {
    return this.settled(this.servers.filter((s) => s !== master), master);
  }

  /**
   * Moves `slot` from its master to `to`, keys and all, as `redis-cli --cluster reshard` does one
   * slot: IMPORTING on the target, MIGRATING on the source, MIGRATE of each key, then the new owner
   * told to every master.
   */
  async moveSlot(slot: number, to: RedisServer): Promise<void> {
    const from = await this.masterOf(slot);
    if (from === to) throw new Error(`slot ${slot} is on ${to.port} already`);
    const [source, target] = [from.admin, to.admin];
    const [fromId, toId] = await Promise.all([source.call('CLUSTER', 'MYID'), target.call('CLUSTER', 'MYID')]);
    await target.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', String(fromId));
    await source.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', String(toId));
    for (;;) {
      const keys = (await source.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[];
      if (keys.length === 0) break;
      await source.call('MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', 'KEYS', ...keys);
    }
    for (const server of [to, from, ...this.servers.filter((s) => s !== to && s !== from)]) {
      await server.admin.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', String(toId)).catch(() => undefined);
    }
    await this.settled(this.servers);
  }

  private byPort(port: number): RedisServer {
    const server = this.servers.find((s) => s.port === port);
    if (server === undefined) throw new Error(`the cluster names a node on port ${port}, which is not one of its servers`);
    return server;
  }

  /**
   * Resolves once each of `servers` says cluster_state:ok and they agree on every slot's master,
   * none of them `gone`, asking them every few milliseconds (the cluster bus tells no client when
   * it settles).
   */
  private async settled(servers: RedisServer[], gone?: RedisServer, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const infos = await Promise.all(servers.map((s) => s.admin.call('CLUSTER', 'INFO').then(String, () => '')));
      const views = await Promise.all(servers.map((s) => s.admin.call('CLUSTER', 'SLOTS').then(owners, () => '')));
      const agreed = views.every((v) => v !== '' && v === views[0]) && (gone === undefined || !views[0].includes(`@${gone.port} `) && !views[0].endsWith(`@${gone.port}`));
      if (infos.every((info) => info.includes('cluster_state:ok')) && agreed) return;
      if (Date.now() > deadline) throw new Error(`the cluster did not settle within ${ms} ms:\n${infos.join('\n')}`);
      await delay(20);
    }
  }
}

/** CLUSTER SLOTS reduced to each range and its master's port, sorted: what two nodes must agree on. */
function owners(reply: unknown): string {
  const ranges = (reply as [number, number, [string, number]][]).map(([from, to, master]) => `${from}-${to}@${master[1]}`);
  return ranges.sort().join(' ');
}

/** The Sentinels' name for the master of a {@link SentinelSet}. */
export const MASTER_NAME = 'rooms-test';

export interface SentinelSetOptions {
  /** Redis's password, on the master and the replica. */
  password?: string;
  /** The Sentinels' own password (their `requirepass`). */
  sentinelPassword?: string;
}

/**
 * A master, its replica and three Sentinels (quorum 2), every one a redis-server of the test's own
 * on a free port, the Sentinels' config files in a temporary folder; all are killed and the folder
 * removed after the test. The Sentinels find a master down after 1 s of silence.
 */
export class SentinelSet {
  /** The servers of the masters added by {@link monitor}. */
  private readonly others: RedisServer[] = [];

  private constructor(
    /** The master first, then its replica; which is master changes with a failover. */
    readonly servers: RedisServer[],
    readonly sentinels: Sentinel[],
    private readonly options: SentinelSetOptions,
    /** The temporary folder of the set's files. */
    private readonly dir: string,
  ) {}

  /** Starts the set; a test that fails the master over waits for {@link ready} first. */
  static async start(options: SentinelSetOptions = {}): Promise<SentinelSet> {
    const dir = await mkdtemp(joinPath(tmpdir(), 'rooms-sentinel-'));
    // Registered before the processes, so removed after they are killed.
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    // Each server in a folder of its own: a replica writes the snapshot it syncs from there.
    const dirs = [joinPath(dir, 'master'), joinPath(dir, 'replica')];
    for (const d of dirs) await mkdir(d);
    const master = await RedisServer.start({ password: options.password, dir: dirs[0] });
    const replica = await RedisServer.start({ password: options.password, dir: dirs[1], replicaOf: master.port });
    const sentinels = await Promise.all([0, 1, 2].map((i) => Sentinel.start(joinPath(dir, `sentinel-${i}.conf`), master.port, options)));
    return new SentinelSet([master, replica], sentinels, options, dir);
  }

  /** The URL rooms is given: every Sentinel, the master's name, and the passwords. */
  get url(): string {
    const auth = this.options.password === undefined ? '' : `:${encodeURIComponent(this.options.password)}@`;
    const query = this.options.sentinelPassword === undefined ? '' : `?sentinelPassword=${encodeURIComponent(this.options.sentinelPassword)}`;
    return `redis+sentinel://${auth}${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER_NAME}${query}`;
  }

  /**
   * Asks a Sentinel to fail the master over now, as `SENTINEL FAILOVER` does: the old master is
   * still up. A Sentinel that just restarted refuses (NOGOODSLAVE) until it has heard from the
   * replica again: it is asked again then.
   */
  async failover(name = MASTER_NAME, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        await this.sentinels[0].admin.call('SENTINEL', 'FAILOVER', name);
        return;
      } catch (err) {
        if (!String(err).includes('NOGOODSLAVE') || Date.now() > deadline) throw err;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /**
   * Has the Sentinels monitor one more master `name` (its own master and replica, started here),
   * with the same timings as the set's; {@link failover} waits until they know its replica.
   */
  async monitor(name: string): Promise<RedisServer[]> {
    const dirs = [joinPath(this.dir, `${name}-master`), joinPath(this.dir, `${name}-replica`)];
    for (const d of dirs) await mkdir(d);
    const master = await RedisServer.start({ dir: dirs[0] });
    const replica = await RedisServer.start({ dir: dirs[1], replicaOf: master.port });
    this.others.push(master, replica);
    for (const s of this.sentinels) {
      await s.admin.call('SENTINEL', 'MONITOR', name, '127.0.0.1', String(master.port), '2');
      await s.admin.call('SENTINEL', 'SET', name, 'down-after-milliseconds', '1000', 'failover-timeout', '3000');
    }
    return [master, replica];
  }

  /** Restarts each Sentinel in turn (SIGKILL, then the same port and config file), as a rolling restart does. */
  async restartSentinels(): Promise<void> {
    for (const s of this.sentinels) await s.restart();
  }

  /** How many connections rooms nodes hold on `server` (their connection names start with rooms:). */
  async roomsConnections(server: RedisServer): Promise<number> {
    const list = (await server.admin.client('LIST')) as string;
    return list.split('\n').filter((line) => / name=rooms:/.test(line)).length;
  }

  /**
   * Subscribes to +switch-master on a Sentinel, and resolves with `promoted`, which resolves with
   * the new master when a Sentinel announces it (or fails after `ms`). Call it before causing the
   * failover.
   */
  async watchSwitch(ms = 20_000, name = MASTER_NAME): Promise<{ promoted: Promise<RedisServer> }> {
    const client = this.sentinels[0].connect();
    await client.subscribe('+switch-master');
    let guard: NodeJS.Timeout | undefined;
    onCleanup(() => clearTimeout(guard));
    const promoted = new Promise<RedisServer>((resolve, reject) => {
      guard = setTimeout(() => reject(new Error(`no +switch-master within ${ms} ms; the Sentinels said:\n${this.sentinels.map((s) => s.log).join('\n')}`)), ms);
      client.on('message', (_channel: string, message: string) => {
        // "<name> <old ip> <old port> <new ip> <new port>"
        if (message.split(' ')[0] !== name) return;
        clearTimeout(guard);
        client.disconnect();
        try {
          resolve(this.server(Number(message.split(' ')[4])));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    return { promoted };
  }

  /**
   * Resolves once every Sentinel knows the replica and the two other Sentinels (they find each
   * other through the master's hello channel, every 2 s): only then can a quorum see the master
   * down and elect a leader to fail it over. Waits on the Sentinels' +slave and +sentinel events.
   */
  async ready(ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    const watchers = this.sentinels.map((s) => s.connect());
    let events = 0;
    let wake = (): void => undefined;
    for (const w of watchers) {
      w.on('pmessage', () => {
        events += 1;
        wake();
      });
      await w.psubscribe('+slave', '+sentinel');
    }
    try {
      for (;;) {
        const seen = events;
        if (await this.agreed()) return;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`the Sentinels did not find the replica and each other within ${ms} ms`);
        // An event while the Sentinels were asked: ask again at once.
        if (events !== seen) continue;
        await new Promise<void>((resolve) => {
          const guard = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(guard);
            resolve();
          };
        });
      }
    } finally {
      for (const w of watchers) await w.punsubscribe().catch(() => undefined);
    }
  }

  private async agreed(): Promise<boolean> {
    const known = await Promise.all(
      this.sentinels.map(async (s) => {
        const peers = (await s.admin.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
        const replicas = (await s.admin.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[];
        return peers.length === 2 && replicas.length === 1;
      }),
    );
    return known.every(Boolean);
  }

  private server(port: number): RedisServer {
    const server = [...this.servers, ...this.others].find((s) => s.port === port);
    if (server === undefined) throw new Error(`the Sentinels name a master on port ${port}, which is not in the set`);
    return server;
  }
}

/** One `redis-server --sentinel` with a config file of its own (Sentinel rewrites it). */
export class Sentinel {
  /** What it printed: its events, for a test's error message. */
  log = '';
  private shared: Redis | null = null;
  private readonly clients: Redis[] = [];
  private child: ChildProcess | null = null;

  private constructor(
    public port: number,
    private readonly file: string,
    private readonly masterPort: number,
    private readonly options: SentinelSetOptions,
  ) {}

  static async start(file: string, masterPort: number, options: SentinelSetOptions): Promise<Sentinel> {
    const sentinel = new Sentinel(await freePort(), file, masterPort, options);
    onCleanup(async () => {
      for (const c of sentinel.clients) c.disconnect();
      if (sentinel.child !== null) await kill(sentinel.child);
    });
    await onFreePort(sentinel, async () => {
      await writeFile(sentinel.file, sentinel.config());
      await sentinel.run();
    });
    return sentinel;
  }

  /** SIGKILLs it and starts it again on its port, from the config file it rewrote (its peers, the replica, the epoch). */
  async restart(): Promise<void> {
    if (this.child !== null) await kill(this.child);
    this.child = null;
    // The shared client does not reconnect: the next admin call opens another.
    this.shared?.disconnect();
    this.shared = null;
    await this.run();
  }

  private async run(): Promise<void> {
    const child = spawn('redis-server', [this.file, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    await started(child, '+monitor master', () => (this.child = null));
  }

  /** SIGSTOP: it misses what happens meanwhile, as a Sentinel behind a partition does. */
  pause(): Promise<void> {
    if (this.child === null) throw new Error('the Sentinel is not running');
    return suspendProcess(this.child);
  }

  /** SIGCONT after {@link pause}: it catches up from its peers. */
  resume(): Promise<void> {
    if (this.child === null) throw new Error('the Sentinel is not running');
    return resumeProcess(this.child);
  }

  /** A client of this Sentinel for commands, shared; disconnected after the test. */
  get admin(): Redis {
    return (this.shared ??= this.connect());
  }

  /** A connection of its own to this Sentinel (to subscribe on); disconnected after the test. */
  connect(): Redis {
    const client = new Redis({ host: '127.0.0.1', port: this.port, password: this.options.sentinelPassword, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    this.clients.push(client);
    return client;
  }

  private config(): string {
    const { password, sentinelPassword } = this.options;
    return [
      `port ${this.port}`,
      'bind 127.0.0.1',
      `dir ${dirname(this.file)}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${this.masterPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 3000`,
      ...(password === undefined ? [] : [`sentinel auth-pass ${MASTER_NAME} ${password}`]),
      ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`]),
      '',
    ].join('\n');
  }
}

/** Runs `start` on the port of `holder`; between finding a free port and binding it another socket may take it, so it tries others. */
async function onFreePort(holder: { port: number }, start: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (err) {
      if (attempt === 5 || !String(err).includes('Address already in use')) throw err;
      holder.port = await freePort();
    }
  }
}

/** Resolves once a redis-server child printed `ready`; rejects (after `exited`) if it exits first. */
async function started(child: ChildProcess, ready: string, exited: () => void): Promise<void> {
  const stdout = child.stdout!;
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(ready)) {
        stdout.off('data', onData);
        resolve();
      }
    };
    stdout.on('data', onData);
    child.once('exit', (code) => {
      exited();
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
  });
  stdout.resume();
  child.stderr!.resume();
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
