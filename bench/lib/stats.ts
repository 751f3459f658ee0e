// Medians of repeated runs, percentiles of samples, and merging of the workers' latency histograms.
import * as hdr from 'hdr-histogram-js';

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The value at percentile `p` (0-100) of `values`, nearest rank; null when there is none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

export interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Merges histograms of microseconds encoded by the workers; null when none holds a value. */
export function mergeLatency(encoded: ReadonlyArray<string | null>): Latency | null {
  const total = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000 });
  for (const text of encoded) if (text !== null) total.add(hdr.decodeFromCompressedBase64(text));
  if (total.totalCount === 0) return null;
  return {
    count: total.totalCount,
    p50Ms: total.getValueAtPercentile(50) / 1000,
    p99Ms: total.getValueAtPercentile(99) / 1000,
    maxMs: total.maxValue / 1000,
  };
}
