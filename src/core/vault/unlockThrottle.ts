/**
 * How long the vault makes someone wait after failed unlocks. This slows down guessing at the lock screen
 * only: whoever can copy the browser's storage guesses offline, where Argon2id is the only brake.
 */
import type { Clock } from '../ports.ts';
import type { VaultStorePort } from './storePort.ts';

const FIRST_DELAY_MS = 1_000;
export const MAX_UNLOCK_DELAY_MS = 60_000;
/** Counting stops here; the delay reached it long before. */
export const MAX_COUNTED_FAILURES = 1_000;

/** 0 before any failure, then 1 s, 2 s, 4 s … doubling per failure, at most 60 s. */
export function unlockDelayMs(failedUnlocks: number): number {
  if (failedUnlocks <= 0) return 0;
  // Beyond 2^6 s the cap applies; clamping the exponent keeps the arithmetic exact for any count.
  const doublings = Math.min(failedUnlocks - 1, 16);
  return Math.min(FIRST_DELAY_MS * 2 ** doublings, MAX_UNLOCK_DELAY_MS);
}

/**
 * The stored count: absent means none. A value that is not a count (storage damaged or edited) counts as
 * the maximum — erring towards the wait, since the counter exists only to slow guessing down.
 */
export function parseFailedUnlocks(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_COUNTED_FAILURES) return value;
  return MAX_COUNTED_FAILURES;
}

/**
 * Enforces the delay for one page: the failure count lives in storage (so a reload does not reset it), the
 * moment the wait started lives here. After a reload the wait starts again from when the page opened, so
 * no timestamp needs to be stored, and reloading never shortens a wait.
 */
export class PassphraseThrottle {
  private waitFromMs: number;

  constructor(
    private readonly store: VaultStorePort,
    private readonly clock: Clock,
  ) {
    this.waitFromMs = clock.nowMs();
  }

  async status(): Promise<{ readonly failedUnlocks: number; readonly retryAfterMs: number }> {
    const failedUnlocks = parseFailedUnlocks(await this.store.readFailedUnlocks());
    return { failedUnlocks, retryAfterMs: this.retryAfterMs(failedUnlocks) };
  }

  /**
   * Starts a guess: refused while a wait is due; otherwise the guess is counted as failed before it is
   * checked, so closing the tab while Argon2id runs does not make it free. `succeeded` undoes the count.
   */
  async begin(): Promise<{ readonly ok: true; readonly failedBefore: number } | { readonly ok: false; readonly retryAfterMs: number }> {
    const { failedUnlocks, retryAfterMs } = await this.status();
    if (retryAfterMs > 0) return { ok: false, retryAfterMs };
    // If storage is full the count cannot grow; the guess goes ahead anyway, as refusing it would lock the owner out too.
    await this.store.write([{ type: 'put-failed-unlocks', count: Math.min(failedUnlocks + 1, MAX_COUNTED_FAILURES) }]);
    return { ok: true, failedBefore: failedUnlocks };
  }

  /** The guess was wrong: the wait for the next one, which starts now. */
  failed(failedBefore: number): number {
    this.waitFromMs = this.clock.nowMs();
    return unlockDelayMs(Math.min(failedBefore + 1, MAX_COUNTED_FAILURES));
  }

  async succeeded(): Promise<void> {
    await this.store.write([{ type: 'put-failed-unlocks', count: 0 }]);
  }

  private retryAfterMs(failedUnlocks: number): number {
    return Math.max(0, Math.ceil(this.waitFromMs + unlockDelayMs(failedUnlocks) - this.clock.nowMs()));
  }
}
