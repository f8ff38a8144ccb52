/** What every operation of an unlocked vault works with, and the failures those operations report. */
import type { Clock, Random } from '../ports.ts';
import type { VaultStorePort } from './storePort.ts';

/** The unlocked vault's working set. */
export interface VaultContext {
  readonly store: VaultStorePort;
  readonly random: Random;
  readonly clock: Clock;
  /**
   * The data key, asked for at every seal and open rather than held, so that an operation still running when
   * the vault locks fails at its next step with VaultLockedError instead of carrying on with the key.
   */
  dataKey(): CryptoKey;
}

/** Thrown by every operation of a locked vault (and by one that was running when it locked). */
export class VaultLockedError extends Error {
  readonly reason = 'locked';

  constructor(operation: string) {
    super(`the vault is locked; unlock it again to ${operation}`);
    this.name = 'VaultLockedError';
  }
}

/** Expected failures, for the UI to put into words. */
export type VaultFailure =
  /** The browser refused to store more; everything saved before is intact. */
  | { readonly ok: false; readonly reason: 'quota-exceeded' }
  /** Another tab wrote the same slot first; nothing was written. */
  | { readonly ok: false; readonly reason: 'conflict' }
  /** The conversation does not exist (any more). */
  | { readonly ok: false; readonly reason: 'no-conversation' }
  | { readonly ok: false; readonly reason: 'no-contact' }
  /** A record this needs does not open or does not parse: damaged or tampered storage. */
  | { readonly ok: false; readonly reason: 'unreadable'; readonly detail: string }
  /** The input was refused (a name too long, text too large, a key that is not a key …). */
  | { readonly ok: false; readonly reason: 'invalid'; readonly detail: string }
  /** The contact's key changed since the caller read it, so what the user compared is not what is stored. */
  | { readonly ok: false; readonly reason: 'key-mismatch' }
  /**
   * A received file that would take the conversation's kept received files over the person's budget; nothing was
   * written. Kept anyway only when the person says so (saveFile with `beyondBudget`).
   */
  | { readonly ok: false; readonly reason: 'over-budget'; readonly keptBytes: number; readonly budgetBytes: number };

export type StoreResult<T> = { readonly ok: true; readonly value: T } | VaultFailure;

/** Now, as the whole non-negative milliseconds every stored time is (a clock may be fractional, or wrong). */
export function timestampNow(clock: Clock): number {
  return Math.max(0, Math.floor(clock.nowMs()));
}

export function ok<T>(value: T): StoreResult<T> {
  return { ok: true, value };
}

export function invalid(detail: string): VaultFailure {
  return { ok: false, reason: 'invalid', detail };
}

export function unreadable(detail: string): VaultFailure {
  return { ok: false, reason: 'unreadable', detail };
}
