import { expect } from 'chai';
import { appendFileSync } from 'node:fs';
import { summary, type Report } from './checker.js';

/**
 * Each scenario runs once, or ROOMS_FAULT_RUNS times in a row (the soak, scripts/soak.ts); returns
 * the suffix of each run's test title.
 */
export function runs(): string[] {
  const n = Number(process.env.ROOMS_FAULT_RUNS ?? '1');
  if (!Number.isInteger(n) || n < 1) throw new Error(`ROOMS_FAULT_RUNS must be a whole number from 1 (got ${process.env.ROOMS_FAULT_RUNS})`);
  return n === 1 ? [''] : Array.from({ length: n }, (_, i) => ` (run ${i + 1} of ${n})`);
}

/** Prints a run's figures, and appends them as a JSON line to ROOMS_FAULT_REPORT when it is set. */
export function record(report: Report, extra: Record<string, number | boolean> = {}): void {
  console.log(`        ${summary(report)}`);
  const file = process.env.ROOMS_FAULT_REPORT;
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify({ ...report, ...extra })}\n`);
}

/** Nothing lost, doubled, out of order or unexplained; the problems found, if any, are the message. */
export function expectClean(report: Report): void {
  const { lost, duplicated, outOfOrder, gaps, ackBeforeCopy, seqConflicts, errors, unanswered } = report;
  expect({ lost, duplicated, outOfOrder, gaps, ackBeforeCopy, seqConflicts, errors, unanswered }, `\n${report.problems.join('\n')}\n`).to.deep.equal({
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    gaps: 0,
    ackBeforeCopy: 0,
    seqConflicts: 0,
    errors: 0,
    unanswered: 0,
  });
}
