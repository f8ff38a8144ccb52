/** Admission of incoming offers, so a peer cannot flood the receiver with transfers or offer prompts. */
import type { Clock } from '../ports.ts';
import { DEFAULT_MAX_OFFERS_PER_MINUTE, MAX_CONCURRENT_INCOMING } from './transferLimits.ts';

export interface OfferGateOptions {
  readonly maxConcurrent?: number;
  readonly maxOffersPerMinute?: number;
}

export type AdmitResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'too-many-transfers' };

const WINDOW_MS = 60_000;

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} ${value} is not a positive integer`);
  return value;
}

/**
 * Admits an offer when fewer than `maxConcurrent` incoming transfers are moving and fewer than
 * `maxOffersPerMinute` offers were admitted in the last 60 s (sliding). Refused offers are not counted:
 * the limit bounds the work admitted, and refusing costs nearly nothing. If the clock steps back,
 * admissions stamped "in the future" keep counting until they age out, which errs towards refusing.
 */
export class OfferGate {
  private readonly maxConcurrent: number;
  private readonly maxOffersPerMinute: number;
  /** Admission times, oldest first; never longer than maxOffersPerMinute. */
  private admittedAtMs: number[] = [];

  constructor(
    private readonly clock: Clock,
    options: OfferGateOptions = {},
  ) {
    this.maxConcurrent = positiveInteger('maxConcurrent', options.maxConcurrent ?? MAX_CONCURRENT_INCOMING);
    this.maxOffersPerMinute = positiveInteger('maxOffersPerMinute', options.maxOffersPerMinute ?? DEFAULT_MAX_OFFERS_PER_MINUTE);
  }

  /** Whether one more incoming transfer may move, with `activeCount` moving (or being set up) now. */
  hasFreeSlot(activeCount: number): boolean {
    return activeCount < this.maxConcurrent;
  }

  /** `activeCount`: incoming transfers moving or being set up (not paused, waiting or finished), not counting this offer. */
  admit(activeCount: number): AdmitResult {
    if (!this.hasFreeSlot(activeCount)) return { ok: false, reason: 'too-many-transfers' };
    const nowMs = this.clock.nowMs();
    this.admittedAtMs = this.admittedAtMs.filter((atMs) => nowMs - atMs < WINDOW_MS);
    if (this.admittedAtMs.length >= this.maxOffersPerMinute) return { ok: false, reason: 'too-many-transfers' };
    this.admittedAtMs.push(nowMs);
    return { ok: true };
  }
}
