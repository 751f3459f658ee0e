// What the scenarios of several nodes on Redis share: the servers and nodes they run, members
// spread over the nodes and connected each to its own, and the figures each window gives.
import { CLUSTER_SHARDS, type ClientKind, type MemberSpec, type RedisTopology, type ServerName } from '../lib/api.js';
import { channelMembers, connectAll, sleep, split, type ConnectPlan, type Context, type Window } from './common.js';
import type { NodeSet, Worker } from './fleet.js';

/** The servers with a Redis to run on: rooms (its --redis) and Socket.IO 4 (@socket.io/redis-adapter). */
export const REDIS_SERVERS: readonly ServerName[] = ['rooms', 'socketio'];

/** Node processes per server. */
export const NODES = 3;

/** How titles name each topology. */
export const ON_TOPOLOGY: Record<RedisTopology, string> = { single: 'one Redis', cluster: `a ${CLUSTER_SHARDS}-shard cluster` };

export interface NodePlan extends ConnectPlan {
  /** The index of the node its members connect to. */
  node: number;
}

/** Deals `specs` out over `nodes` in turn, and each node's share over `workers`: a plan per node and worker. */
export function spread(specs: readonly MemberSpec[], nodes: readonly number[], workers: readonly Worker[], kind: ClientKind): NodePlan[] {
  return nodes.flatMap((node, n) => {
    const share = specs.filter((_, i) => i % nodes.length === n);
    return split(share, workers.length).map((block, w) => ({ node, worker: workers[w], members: block, kind }));
  });
}

/** The indexes of a node set's nodes, from `first` on. */
export function nodesFrom(set: NodeSet, first: number): number[] {
  return set.nodes.map((_, n) => n).slice(first);
}

/** Connects every plan's members to its node; throws if any connection or authentication failed. */
export async function connectNodes(ctx: Context, set: NodeSet, plans: readonly NodePlan[], slots: number): Promise<void> {
  await Promise.all(set.nodes.map((node, n) => connectAll(ctx, node, plans.filter((plan) => plan.node === n), slots)));
}

/**
 * One channel of `memberCount`: the publishing real client (slot 0) on the first node, in the
 * publisher worker; the others, receiving only, dealt out over `receiverNodes` and the receiving workers.
 */
export async function connectChannelAcross(
  ctx: Context,
  set: NodeSet,
  channel: string,
  memberCount: number,
  receiverNodes: readonly number[],
): Promise<{ publisher: Worker; all: Worker[] }> {
  const { publisher, receivers, all } = await ctx.fleet.workers();
  const { publishing, receiving } = channelMembers(channel, memberCount);
  await connectNodes(ctx, set, [{ node: 0, worker: publisher, members: publishing, kind: 'ws' }, ...spread(receiving, receiverNodes, receivers, ctx.kind)], 1);
  return { publisher, all };
}

/**
 * Redis's CPU per second, µs, over `ms` with the members connected and nothing published: its own
 * upkeep (the `hz` timer) and the nodes' (rooms' presence beats), which publishing did not cause.
 */
export async function redisIdle(set: NodeSet, ms: number): Promise<number> {
  const started = performance.now();
  const before = set.redisCpuUs();
  await sleep(ms);
  return ((set.redisCpuUs() - before) * 1000) / (performance.now() - started);
}

export interface RedisFigures {
  values: {
    rate: number;
    /** Every node's CPU per delivery, µs. */
    cpu: number;
    /**
     * Redis's CPU per published message, µs, less what it spends idle over as long; absent when
     * that is not above zero: the messages cost less than the idle figure's noise (a few hundred a
     * second, as Socket.IO publishes in (i)), so no figure can be given.
     */
    redisCpu?: number;
  };
  info: {
    delivered: number;
    /** Messages published over the window: its deliveries over the members each reaches. */
    published: number;
    /** Every node's CPU per published message, µs. */
    nodeCpuPerPublished: number;
    /** Redis's CPU per published message, µs, its idle CPU included. */
    redisCpuGross: number;
    /** The same less the idle CPU, whatever its sign (redisCpu when above zero). */
    redisCpuNet: number;
    /** Redis's CPU per second when nothing is published, µs (redisIdle). */
    redisIdlePerSecond: number;
  };
}

/** The figures of a window in which each published message reached `recipients` members, Redis using `idlePerSecond` µs/s idle. */
export function redisFigures(window: Window, recipients: number, idlePerSecond: number): RedisFigures {
  const published = window.delivered / recipients;
  const redisCpu = (window.redisCpuUs - idlePerSecond * window.seconds) / published;
  return {
    values: {
      rate: window.perSecond,
      cpu: window.cpuUsPerDelivery,
      ...(redisCpu > 0 ? { redisCpu } : {}),
    },
    info: {
      redisCpuNet: redisCpu,
      delivered: window.delivered,
      published,
      nodeCpuPerPublished: (window.cpuUsPerDelivery * window.delivered) / published,
      redisCpuGross: window.redisCpuUs / published,
      redisIdlePerSecond: idlePerSecond,
    },
  };
}
