/**
 * Rate limits: per connection, a token bucket for normal pacing plus a one-second counter that spots floods; token
 * buckets per key (an address) for HTTP requests; and a first-per-window filter that lets one event of each kind
 * through per window and counts the rest.
 */

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
    }
    this.#framesInWindow += 1;
    if (this.#framesInWindow > this.#floodThreshold) return 'flood';

    const elapsedMs = Math.max(0, nowMs - this.#refilledAtMs);
    this.#tokens = Math.min(this.#framesPerSecond, this.#tokens + (elapsedMs * this.#framesPerSecond) / WINDOW_MS);
    this.#refilledAtMs = nowMs;
    if (this.#tokens < 1) return 'limit';
    this.#tokens -= 1;
    return 'allow';
  }
}

/**
 * Lets the first event of each kind through per window and counts the others, so that repeating an event (an error
 * reply, a log line) costs a counter instead of bytes. A kind's window starts with the event that passes.
 */
export class FirstPerWindow<Kind> {
  readonly #windowMs: number;
  readonly #kinds = new Map<Kind, { windowStartMs: number; suppressed: number }>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** null: suppress this one. Otherwise it passes, and the answer is how many of its kind were suppressed since the last that passed. */
  take(kind: Kind, nowMs: number): number | null {
    const entry = this.#kinds.get(kind);
    if (entry !== undefined && nowMs - entry.windowStartMs < this.#windowMs) {
      entry.suppressed += 1;
      return null;
    }
    this.#kinds.set(kind, { windowStartMs: nowMs, suppressed: 0 });
    return entry?.suppressed ?? 0;
  }

  /** Suppressed events that no later passing event has reported yet, by kind; reading them resets them. */
  drainSuppressed(): [Kind, number][] {
    const counts: [Kind, number][] = [];
    for (const [kind, entry] of this.#kinds) {
      if (entry.suppressed > 0) counts.push([kind, entry.suppressed]);
      entry.suppressed = 0;
    }
    return counts;
  }
}

/**
 * One token bucket per key, for requests that are not on a connection. Full buckets are forgotten when the map is
 * swept, so memory follows the keys active within the refill time; past MAX_KEYS active keys, requests are refused
 * until the sweep frees room, which bounds memory whatever the number of addresses.
 */
export class KeyedTokenBuckets {
  static readonly MAX_KEYS = 100_000;
  readonly #burst: number;
  readonly #perMs: number;
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();
  #sweptAtMs = Number.NEGATIVE_INFINITY;

  constructor(burst: number, tokensPerMs: number) {
    this.#burst = burst;
    this.#perMs = tokensPerMs;
  }

  take(key: string, nowMs: number): boolean {
    const fullAfterMs = this.#burst / this.#perMs;
    if (nowMs - this.#sweptAtMs >= fullAfterMs) this.#sweep(nowMs);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= KeyedTokenBuckets.MAX_KEYS) return false;
      bucket = { tokens: this.#burst, atMs: nowMs };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, nowMs - bucket.atMs) * this.#perMs);
    bucket.atMs = nowMs;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #sweep(nowMs: number): void {
    this.#sweptAtMs = nowMs;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (nowMs - bucket.atMs) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
  }
}
