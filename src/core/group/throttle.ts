/**
 * Runs an action at most once per interval: at once if the last run is long enough ago, otherwise once at
 * the end of the interval however many times it was asked for meanwhile (receipts §12.5, digests §12.8).
 */
import type { Clock } from '../ports.ts';

export class Throttle {
  private lastRunAtMs: number | null = null;
  private cancelTimer: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly action: () => void,
  ) {}

  request(): void {
    if (this.cancelTimer !== null) return;
    const sinceMs = this.lastRunAtMs === null ? Infinity : this.clock.nowMs() - this.lastRunAtMs;
    if (sinceMs >= this.intervalMs) {
      this.run();
      return;
    }
    this.cancelTimer = this.clock.setTimer(this.intervalMs - sinceMs, () => {
      this.cancelTimer = null;
      this.run();
    });
  }

  /** Counts a run made outside the throttle (for example receipts sent when a pair connects). */
  ranNow(): void {
    this.lastRunAtMs = this.clock.nowMs();
  }

  cancel(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  private run(): void {
    this.lastRunAtMs = this.clock.nowMs();
    this.action();
  }
}
