// The raw numbers of every run and their medians: what results.json holds and the report reads.
import type { ServerName } from './lib/api.js';
import type { Machine } from './lib/machine.js';
import type { Options } from './lib/options.js';
import type { Sizes } from './lib/sizes.js';
import { median } from './lib/stats.js';
import type { Measurement, ScenarioId } from './scenarios/measurement.js';

export interface RunRecord {
  measurement: string;
  scenario: ScenarioId;
  server: ServerName;
  run: number;
  seconds: number;
  values: Record<string, number>;
  info: Record<string, number>;
  /** Lost or duplicated messages and the like: the run's figures are left out of the medians. */
  problems: string[];
}

export interface FigureRow {
  id: string;
  scenario: ScenarioId;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** The id of the single-process figure this one of several nodes is compared with (FigureSpec.baseline). */
  baseline?: string;
  /** Median over the runs without problems; null where no such run. */
  medians: Partial<Record<ServerName, number | null>>;
  /** Every run's value, in run order. */
  values: Partial<Record<ServerName, number[]>>;
}

export interface MeasurementInfo {
  key: string;
  scenario: ScenarioId;
  title: string;
  method: string;
  /** The nodes and Redis topology of a measurement of several nodes. */
  nodes?: Measurement['nodes'];
}

export interface Results {
  createdAt: string;
  machine: Machine;
  options: Options;
  sizes: Sizes;
  servers: ServerName[];
  measurements: MeasurementInfo[];
  figures: FigureRow[];
  runs: RunRecord[];
}

export function summarize(measurements: readonly Measurement[], servers: readonly ServerName[], runs: readonly RunRecord[]): FigureRow[] {
  return measurements.flatMap((measurement) =>
    measurement.figures.map((figure) => {
      const row: FigureRow = {
        id: `${measurement.key}.${figure.metric}`,
        scenario: measurement.scenario,
        label: figure.label,
        unit: figure.unit,
        better: figure.better,
        ...(figure.baseline === undefined ? {} : { baseline: figure.baseline }),
        medians: {},
        values: {},
      };
      for (const server of servers) {
        const good = runs.filter((r) => r.measurement === measurement.key && r.server === server && r.problems.length === 0);
        const values = good.map((r) => r.values[figure.metric]).filter((v): v is number => v !== undefined && Number.isFinite(v));
        row.values[server] = values;
        row.medians[server] = median(values);
      }
      return row;
    }),
  );
}
