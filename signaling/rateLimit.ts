/** Per-connection frame rate limit: a token bucket for normal pacing plus a one-second counter that spots floods. */

export type RateDecision = 'allow' | 'limit' | 'flood';

/** A client sending this many times its allowed rate within one second is not a client having a bad moment. */
export const FLOOD_FACTOR = 5;

const WINDOW_MS = 1000;

export class FrameRateLimiter {
  readonly #framesPerSecond: number;
  readonly #floodThreshold: number;
  #tokens: number;
  #refilledAtMs: number;
  #windowStartMs: number;
  #framesInWindow = 0;
  #refusalsInWindow = 0;

  constructor(framesPerSecond: number, nowMs: number) {
    this.#framesPerSecond = framesPerSecond;
    this.#floodThreshold = framesPerSecond * FLOOD_FACTOR;
    // A full bucket lets a fresh connection burst through its join and first offers.
    this.#tokens = framesPerSecond;
    this.#refilledAtMs = nowMs;
    this.#windowStartMs = nowMs;
  }

  /** Counts one incoming frame and says what to do with it. */
  take(nowMs: number): RateDecision {
    if (nowMs - this.#windowStartMs >= WINDOW_MS) {
      this.#windowStartMs = nowMs;
      this.#framesInWindow = 0;
      this.#refusalsInWindow = 0;
    }
    this.#framesInWindow += 1;
    if (this.#framesInWindow > this.#floodThreshold) return 'flood';

    const elapsedMs = Math.max(0, nowMs - this.#refilledAtMs);
    this.#tokens = Math.min(this.#framesPerSecond, this.#tokens + (elapsedMs * this.#framesPerSecond) / WINDOW_MS);
    this.#refilledAtMs = nowMs;
    if (this.#tokens < 1) {
      this.#refusalsInWindow += 1;
      return 'limit';
    }
    this.#tokens -= 1;
    return 'allow';
  }

  /** Refusals so far in the current one-second window; lets the caller log only the first of a burst. */
  get refusalsInWindow(): number {
    return this.#refusalsInWindow;
  }
}
