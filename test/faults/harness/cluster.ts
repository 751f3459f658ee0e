import { expect } from 'chai';
import { createNetns, type Netns } from '../../support/netns.js';
import { startNode, type RoomsNode } from '../../support/node.js';
import { RedisCluster, RedisServer, SentinelSet } from '../../support/redis.js';
import type { Endpoint, Traffic } from './traffic.js';

export interface ClusterOptions {
  presenceTtl: number;
  redisTimeout: number;
  /**
   * Runs the last node inside a network namespace of its own, reaching Redis over one veth pair and
   * its clients over another (see test/support/netns.ts), so its Redis link can be cut alone.
   */
  partitioned?: boolean;
  /**
   * Runs Redis as a Sentinel set (a master, a replica, three Sentinels; see test/support/redis.ts),
   * the nodes given its redis+sentinel:// URL; `redis` is then the first master.
   */
  sentinel?: boolean;
  /**
   * Runs Redis as a Redis Cluster of 3 masters, each with a replica (see test/support/redis.ts),
   * the nodes given its redis+cluster:// URL; `redis` is then its first server.
   */
  redisCluster?: boolean;
}

/** A Redis and three nodes on it, every process the test's own. */
export class Cluster {
  private constructor(
    readonly options: ClusterOptions,
    readonly redis: RedisServer,
    readonly nodes: RoomsNode[],
    readonly netns: Netns | null,
    readonly sentinels: SentinelSet | null,
    readonly shards: RedisCluster | null,
  ) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    // The namespace first: its removal is registered before the processes that run in it, so it
    // is removed after them.
    const netns = options.partitioned === true ? createNetns() : null;
    const sentinels = options.sentinel === true ? await SentinelSet.start() : null;
    const shards = options.redisCluster === true ? await RedisCluster.start({ replicas: 1 }) : null;
    const redis = sentinels?.servers[0] ?? shards?.servers[0] ?? (await RedisServer.start(netns === null ? {} : { alsoBind: [netns.redisHost] }));
    const url = sentinels?.url ?? shards?.url ?? redis.url;
    const args = ['--presence-ttl', String(options.presenceTtl), '--redis-timeout', String(options.redisTimeout)];
    const nodes = await Promise.all(
      [0, 1, 2].map((i) => (i === 2 && netns !== null ? startNode(redis.urlAt(netns.redisHost), args, {}, { netns: netns.name, host: netns.nodeHost }) : startNode(url, args))),
    );
    await sentinels?.ready();
    return new Cluster(options, redis, nodes, netns, sentinels, shards);
  }

  get endpoints(): Endpoint[] {
    return this.nodes.map((node, index) => ({ index, url: (channel: string) => node.url(channel) }));
  }

  /** One presence beat: how often a node beats, and probes Redis. */
  get beat(): number {
    return this.options.presenceTtl / 5;
  }

  async health(i: number): Promise<string> {
    const body = (await (await fetch(this.nodes[i].http('/healthz'))).json()) as { status: string };
    return body.status;
  }

  /** Asks /healthz until it reports `status`: the node changes it without telling any client. */
  async becomes(i: number, status: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    let last = '';
    while ((last = await this.health(i)) !== status) {
      if (Date.now() > deadline) throw new Error(`node ${i} never reported ${status} (still ${last})`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async allBecome(status: string, nodes: number[] = [0, 1, 2]): Promise<void> {
    await Promise.all(nodes.map((i) => this.becomes(i, status)));
  }
}

/**
 * Asks each of `nodes`, through a member connected to it, for every channel's user_list: each must
 * list every name with a live connection in the channel, once, and nothing else.
 */
export async function userListsAgree(traffic: Traffic, nodes: number[]): Promise<void> {
  for (const channel of traffic.options.channels) {
    const expected = traffic.liveNames(channel).sort();
    for (const node of nodes) {
      const asker = traffic.inChannel(channel).find((m) => m.live && m.node === node);
      if (asker === undefined) throw new Error(`no member of ${channel} is connected to node ${node} to ask it`);
      const names = await asker.userList();
      expect(names.length, `${channel} on node ${node} lists a name twice: ${names.join(',')}`).to.equal(new Set(names).size);
      expect([...names].sort(), `user_list of ${channel} on node ${node}`).to.deep.equal(expected);
    }
  }
}

/** When the first message sent at or after `since` was acknowledged with a seq, on any node. */
export function firstAck(traffic: Traffic, since: number): number {
  const acks = traffic.members.flatMap((m) => [...m.outgoing.values()].flatMap((o) => o.attempts)).filter((a) => a.answer?.kind === 'seq' && a.sentAt >= since);
  return Math.min(...acks.map((a) => a.answeredAt!));
}

/** Every member of a channel ends in the same epoch. */
export function oneEpochEach(traffic: Traffic): void {
  for (const channel of traffic.options.channels) {
    const epochs = new Set(traffic.inChannel(channel).map((m) => m.position!.epoch));
    expect(epochs.size, `${channel}: one epoch at the end`).to.equal(1);
  }
}

/** The settings every scenario runs with: short, so that each fault plays out in seconds. */
export const TIMING = { presenceTtl: 2_000, redisTimeout: 1_000 };

/** 18 members: two per channel on each of three nodes, each sending 6 messages a second. */
export const SHAPE = { channels: ['c0', 'c1', 'c2'], perNode: 2, rate: 6, window: 4 };
