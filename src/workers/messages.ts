/**
 * What the primary of `rooms --workers N` and its workers say to each other over the cluster's IPC
 * channel. Only metrics travel on it: a scrape taken by one worker is answered with every worker's
 * metrics, aggregated by the primary. Each message names a request by an id its sender chose.
 *
 * worker -> primary `scrape`: send me the whole machine's metrics (answered with `scraped`);
 * primary -> worker `collect`: send me yours (answered with `collected`).
 */
import type { Registry } from 'prom-client';

/** One registry's metrics as prom-client's `getMetricsAsJSON()` gives them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export interface Scrape {
  type: 'rooms:scrape';
  id: number;
}

/** The answer to a `scrape`: the aggregated Prometheus text, or why there is none. */
export type Scraped = { type: 'rooms:scraped'; id: number } & ({ text: string } | { error: string });

export interface Collect {
  type: 'rooms:collect';
  id: number;
}

/** The answer to a `collect`: the worker's own metrics, or why it has none. */
export type Collected = { type: 'rooms:collected'; id: number } & ({ metrics: MetricsJson } | { error: string });

export type ToPrimary = Scrape | Collected;
export type ToWorker = Collect | Scraped;

/** Whether an IPC message is one of ours (anything else, such as node:cluster's own, is left alone). */
export function isMessage<T extends ToPrimary | ToWorker>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type && typeof (message as { id?: unknown }).id === 'number';
}
