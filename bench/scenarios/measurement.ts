// What a scenario offers run.ts: one or more measurements, each with the figures it produces.
import type { RedisTopology, ServerName, ServerSettings } from '../lib/api.js';
import type { NodeSet, ServerHandle } from './fleet.js';
import type { Context, Outcome } from './common.js';

export const SCENARIO_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export interface FigureSpec {
  /** The key in Outcome.values. */
  metric: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /**
   * The id (`${key}.${metric}`) of the single-process figure this one of several nodes is
   * compared with: the report gives rooms' ratio of the two, when both ran.
   */
  baseline?: string;
}

interface Common {
  /** Unique per invocation, e.g. 'a1000': figure ids are `${key}.${metric}`. */
  key: string;
  scenario: ScenarioId;
  title: string;
  /** How it is measured, one or two sentences for docs/benchmarks.md. */
  method: string;
  figures: FigureSpec[];
  /** The servers it applies to, when not every one: the others are left out (their figures read n/a). */
  servers?: readonly ServerName[];
  /** What the server process (every node) is started with. */
  settings?: ServerSettings;
}

/** A measurement of one server process. */
export interface OneProcess extends Common {
  nodes?: undefined;
  /** Runs against a freshly started server; run.ts stops it and resets the workers afterwards. */
  run(server: ServerHandle, ctx: Context): Promise<Outcome>;
}

/** A measurement of a server run as several nodes on a Redis. */
export interface OnRedis extends Common {
  nodes: { count: number; redis: RedisTopology };
  /** Runs against freshly started nodes on a fresh Redis; run.ts stops them all and resets the workers afterwards. */
  run(nodes: NodeSet, ctx: Context): Promise<Outcome>;
}

export type Measurement = OneProcess | OnRedis;
