import { spawnSync } from 'node:child_process';
import { onCleanup } from './cleanup.js';

/**
 * Network namespaces for partition tests: a node runs inside one (`ip netns exec NS node bin/rooms`)
 * and reaches Redis over one veth pair and its clients over another, so that the Redis link can be
 * cut while the clients' link stays up. Everything made here (namespaces, veth pairs, addresses in
 * 10.231.0.0/16) is deleted after the test; nothing of the host's own (eth*, lo, routes, firewall)
 * is touched.
 */

const WHY = 'network namespaces are not usable here (run as root on Linux with iproute2: apt-get install -y iproute2; CI sets ROOMS_REQUIRE_NETNS=1)';

let probed: string | null | undefined;
let made = 0;

function ip(args: string[]): { ok: boolean; output: string } {
  const run = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: run.status === 0, output: `${run.stdout ?? ''}${run.stderr ?? ''}${run.error?.message ?? ''}`.trim() };
}

function must(args: string[]): string {
  const run = ip(args);
  if (!run.ok) throw new Error(`ip ${args.join(' ')} failed: ${run.output}`);
  return run.output;
}

/** Why namespaces cannot be used here, or null when they can (checked once, by making and deleting one). */
function unusable(): string | null {
  if (probed !== undefined) return probed;
  if (process.getuid?.() !== 0) {
    probed = 'not running as root';
    return probed;
  }
  const name = `rooms-${process.pid}-probe`;
  const add = ip(['netns', 'add', name]);
  if (add.ok) ip(['netns', 'del', name]);
  probed = add.ok ? null : `ip netns add failed: ${add.output}`;
  return probed;
}

/**
 * Skips the calling test when network namespaces cannot be used (not root, or `ip netns` does not
 * work), saying why; fails instead under ROOMS_REQUIRE_NETNS=1, so CI can never skip these tests.
 */
export function needNetns(ctx: Mocha.Context): void {
  const reason = unusable();
  if (reason === null) return;
  if (process.env.ROOMS_REQUIRE_NETNS === '1') throw new Error(`${WHY}: ${reason}`);
  console.log(`      skipped: ${WHY}: ${reason}`);
  ctx.skip();
}

/** A namespace with two links to the host: one to Redis, one for clients. */
export interface Netns {
  name: string;
  /** The host end of the Redis link: Redis listens here too, and the node connects here. */
  redisHost: string;
  /** The namespace end of the client link: the node listens here, and clients connect here. */
  nodeHost: string;
  /** Cuts the Redis link silently, from inside the namespace (its end goes down); the client link stays. */
  cutRedis: () => void;
  /** Brings the Redis link back up. */
  restoreRedis: () => void;
}

/** 10.231.0.0/16 as 8,192 blocks of eight addresses: two /30s, one for each link. */
function block(n: number): { redisHost: string; redisInner: string; clientHost: string; nodeHost: string } {
  const at = (offset: number): string => `10.231.${(n * 8 + offset) >> 8}.${(n * 8 + offset) & 255}`;
  return { redisHost: at(1), redisInner: at(2), clientHost: at(5), nodeHost: at(6) };
}

/** A block none of whose addresses the host has on an interface, chosen from this process's pid. */
function freeBlock(): ReturnType<typeof block> {
  const used = ip(['-o', '-4', 'addr', 'show']).output;
  for (let tries = 0; tries < 8192; tries += 1) {
    const candidate = block((process.pid * 31 + made * 7 + tries) % 8192);
    if (!used.includes(`${candidate.redisHost}/`) && !used.includes(`${candidate.clientHost}/`)) return candidate;
  }
  throw new Error('no free /29 left in 10.231.0.0/16');
}

/**
 * Makes a namespace `rooms-PID-N` with its two veth pairs and their /30s. Its removal is registered
 * before anything is made, so a failure half-way still removes what was made.
 */
export function createNetns(): Netns {
  made += 1;
  const name = `rooms-${process.pid}-${made}`;
  const tag = `r${process.pid}n${made}`;
  const links = { redisHost: `${tag}rh`, redisInner: `${tag}ri`, clientHost: `${tag}ch`, clientInner: `${tag}ci` };
  const addresses = freeBlock();
  onCleanup(() => {
    // Deleting the host end of a veth pair deletes both ends; then the namespace itself.
    for (const link of [links.redisHost, links.clientHost]) ip(['link', 'del', link]);
    ip(['netns', 'del', name]);
  });
  must(['netns', 'add', name]);
  must(['-n', name, 'link', 'set', 'lo', 'up']);
  const pair = (host: string, inner: string, hostAddress: string, innerAddress: string): void => {
    must(['link', 'add', host, 'type', 'veth', 'peer', 'name', inner, 'netns', name]);
    must(['addr', 'add', `${hostAddress}/30`, 'dev', host]);
    must(['link', 'set', host, 'up']);
    must(['-n', name, 'addr', 'add', `${innerAddress}/30`, 'dev', inner]);
    must(['-n', name, 'link', 'set', inner, 'up']);
  };
  pair(links.redisHost, links.redisInner, addresses.redisHost, addresses.redisInner);
  pair(links.clientHost, links.clientInner, addresses.clientHost, addresses.nodeHost);
  return {
    name,
    redisHost: addresses.redisHost,
    nodeHost: addresses.nodeHost,
    cutRedis: () => void must(['netns', 'exec', name, 'ip', 'link', 'set', links.redisInner, 'down']),
    restoreRedis: () => void must(['netns', 'exec', name, 'ip', 'link', 'set', links.redisInner, 'up']),
  };
}
