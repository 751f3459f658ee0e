// What a scenario offers run.ts: one or more measurements, each with the figures it produces.
import type { ServerName, ServerSettings } from '../lib/api.js';
import type { ServerHandle } from './fleet.js';
import type { Context, Outcome } from './common.js';

export const SCENARIO_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export interface FigureSpec {
  /** The key in Outcome.values. */
  metric: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
}

export interface Measurement {
  /** Unique per invocation, e.g. 'a1000': figure ids are `${key}.${metric}`. */
  key: string;
  scenario: ScenarioId;
  title: string;
  /** How it is measured, one or two sentences for docs/benchmarks.md. */
  method: string;
  figures: FigureSpec[];
  /** The servers it applies to, when not every one: the others are left out (their figures read n/a). */
  servers?: readonly ServerName[];
  /** What the server process is started with. */
  settings?: ServerSettings;
  /** Runs against a freshly started server; run.ts stops it and resets the workers afterwards. */
  run(server: ServerHandle, ctx: Context): Promise<Outcome>;
}
