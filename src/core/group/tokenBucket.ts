/** A token bucket on the platform clock: how the per-pair frame limits of spec §12.5 are counted and paced. */
import type { Clock } from '../ports.ts';

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} ${value} is not a positive number`);
}

export class TokenBucket {
  private tokens: number;
  private updatedAtMs: number;

  constructor(
    private readonly capacity: number,
    private readonly refillPerSecond: number,
    private readonly clock: Clock,
  ) {
    positive('capacity', capacity);
    positive('refillPerSecond', refillPerSecond);
    this.tokens = capacity;
    this.updatedAtMs = clock.nowMs();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long until `take` would succeed; at least 1 ms whenever it would fail now. */
  msUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.refillPerSecond);
  }

  private refill(): void {
    const nowMs = this.clock.nowMs();
    // A clock that steps back adds nothing, then or when it comes forward again, and takes nothing earned.
    const elapsedMs = Math.max(0, nowMs - this.updatedAtMs);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsedMs * this.refillPerSecond) / 1000);
    this.updatedAtMs = Math.max(this.updatedAtMs, nowMs);
  }
}
