/**
 * How often a broken pair is dialled again (spec §12.3): exponential back-off with jitter, and a budget per
 * minute, so a member that keeps failing costs little and members who dropped together do not retry in lockstep.
 */
import type { Clock } from '../ports.ts';

export const REDIAL_BASE_MS = 1_000;
export const REDIAL_MAX_MS = 30_000;
export const REDIALS_PER_MINUTE = 6;
const MINUTE_MS = 60_000;

/** `jitter` is a factor in [0.5, 1.5). */
export function redialDelayMs(redialsSinceSecure: number, jitter: number): number {
  return Math.min(REDIAL_MAX_MS, REDIAL_BASE_MS * 2 ** redialsSinceSecure) * jitter;
}

/** A sliding window of re-dial times for one pair. */
export class RedialBudget {
  private takenAtMs: number[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly perMinute = REDIALS_PER_MINUTE,
  ) {}

  /** Spends one re-dial if the last minute has room for it. */
  take(): boolean {
    const nowMs = this.clock.nowMs();
    this.takenAtMs = this.takenAtMs.filter((atMs) => nowMs - atMs < MINUTE_MS);
    if (this.takenAtMs.length >= this.perMinute) return false;
    this.takenAtMs.push(nowMs);
    return true;
  }

  /** How long until take() can succeed again. */
  msUntilNext(): number {
    const oldest = this.takenAtMs[0];
    return oldest === undefined ? 0 : Math.max(0, MINUTE_MS - (this.clock.nowMs() - oldest));
  }
}
