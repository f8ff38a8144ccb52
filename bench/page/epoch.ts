/**
 * Wall-clock time with performance.now()'s resolution, so marks taken in the two pages (two renderer processes on
 * one machine) can be subtracted from each other.
 */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}
