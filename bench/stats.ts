/** Summary statistics for timing samples; percentiles use the nearest-rank rule so every figure is a measured sample. */

export type Summary = {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
};

function sortedCopy(samples: readonly number[]): number[] {
  return [...samples].sort((a, b) => a - b);
}

function nearestRank(sorted: readonly number[], percent: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((percent / 100) * sorted.length) - 1));
  const value = sorted[index];
  if (value === undefined) throw new Error('no samples');
  return value;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('cannot summarize zero samples');
  const sorted = sortedCopy(samples);
  return {
    n: sorted.length,
    min: nearestRank(sorted, 0),
    p50: nearestRank(sorted, 50),
    p90: nearestRank(sorted, 90),
    p99: nearestRank(sorted, 99),
    max: nearestRank(sorted, 100),
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
  };
}

export function median(samples: readonly number[]): number {
  return nearestRank(sortedCopy(samples), 50);
}

/** Rounds for reports: timing noise here is far above a microsecond, so more digits only mislead. */
export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function roundSummary(summary: Summary): Summary {
  return {
    n: summary.n,
    min: round(summary.min),
    p50: round(summary.p50),
    p90: round(summary.p90),
    p99: round(summary.p99),
    max: round(summary.max),
    mean: round(summary.mean),
  };
}
