/** TokenBucket over a manual clock: the burst, the refill rate, and a clock that steps back. */
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/core/group/tokenBucket.ts';
import { FakeClock } from './support/roomFakes.ts';

function takeAll(bucket: TokenBucket, tries: number): number {
  let taken = 0;
  for (let i = 0; i < tries; i++) if (bucket.take()) taken += 1;
  return taken;
}

describe('TokenBucket', () => {
  it('gives the burst at once, then refills at the rate, never beyond the burst', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(100, 20, clock.for('test'));
    expect(takeAll(bucket, 150)).toBe(100);
    clock.advance(500);
    expect(takeAll(bucket, 50)).toBe(10);
    clock.advance(60_000);
    expect(takeAll(bucket, 150)).toBe(100);
  });

  it('a clock that steps back earns nothing, then or when it comes forward again', () => {
    let nowMs = 10_000;
    const bucket = new TokenBucket(10, 10, { nowMs: () => nowMs, setTimer: () => () => {} });
    expect(takeAll(bucket, 10)).toBe(10);
    nowMs = 5_000;
    expect(bucket.take()).toBe(false);
    nowMs = 10_000;
    expect(bucket.take()).toBe(false);
    nowMs = 10_100;
    expect(takeAll(bucket, 5)).toBe(1);
  });

  it('refuses a rate or burst that is not a positive number', () => {
    const clock = new FakeClock().for('test');
    expect(() => new TokenBucket(1, 0, clock)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN, 1, clock)).toThrow(RangeError);
  });
});
