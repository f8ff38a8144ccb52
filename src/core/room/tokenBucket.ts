/** A token bucket over an injected clock: how many events a peer may send in a burst, and how many per second after it. */
import type { Clock } from '../ports.ts';

export interface RateLimit {
  /** Tokens added per second: the sustained rate. */
  readonly perSecond: number;
  /** The bucket's size: how many may come at once after a quiet spell. */
  readonly burst: number;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} ${value} is not a positive number`);
  return value;
}

export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {
    positive('perSecond', limit.perSecond);
    positive('burst', limit.burst);
    this.tokens = limit.burst;
    this.refilledAtMs = clock.nowMs();
  }

  /** Takes one token; false when the bucket is empty (the event is over the limit). */
  take(): boolean {
    const nowMs = this.clock.nowMs();
    // A clock that steps back adds nothing, and never takes away tokens already earned.
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs);
    this.tokens = Math.min(this.limit.burst, this.tokens + (elapsedMs * this.limit.perSecond) / 1000);
    this.refilledAtMs = Math.max(this.refilledAtMs, nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
