/**
 * The page's key pair pool and the re-dial policy: a ready pair serves the handshakes that start together,
 * retires after its uses or its age, a failed generation is not kept; re-dials back off, jitter and are budgeted.
 */
import { describe, expect, it } from 'vitest';
import type { SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { KEY_PAIR_MAX_AGE_MS, KEY_PAIR_MAX_USES, KeyPairPool } from '../../src/core/room/keyPairPool.ts';
import { REDIAL_MAX_MS, REDIALS_PER_MINUTE, redialDelayMs, RedialBudget } from '../../src/core/room/redial.ts';
import { FakeClock } from './support/roomFakes.ts';

/** Stand-ins: the pool never looks inside a pair. */
function fakePairs(): { readonly made: SessionKeyPair[]; generate(): Promise<SessionKeyPair>; failNext: boolean } {
  const made: SessionKeyPair[] = [];
  const source = {
    made,
    failNext: false,
    generate(): Promise<SessionKeyPair> {
      if (source.failNext) {
        source.failNext = false;
        return Promise.reject(new Error('no entropy today'));
      }
      const pair = { publicKey: {}, privateKey: {}, spki: new Uint8Array([made.length]) } as unknown as SessionKeyPair;
      made.push(pair);
      return Promise.resolve(pair);
    },
  };
  return source;
}

describe('KeyPairPool', () => {
  it('starts generating at once, before anyone asks', () => {
    const pairs = fakePairs();
    new KeyPairPool({ generate: () => pairs.generate(), clock: new FakeClock().for('pool') });
    expect(pairs.made).toHaveLength(1);
  });

  it('hands the same ready pair to handshakes that start together, and prepares exactly one successor', async () => {
    const pairs = fakePairs();
    const pool = new KeyPairPool({ generate: () => pairs.generate(), clock: new FakeClock().for('pool') });
    const taken = await Promise.all(Array.from({ length: 7 }, () => pool.take()));
    expect(new Set(taken).size).toBe(1);
    expect(taken[0]).toBe(pairs.made[0]);
    expect(pairs.made).toHaveLength(2);
  });

  it(`retires a pair after ${KEY_PAIR_MAX_USES} uses: the next handshake gets the successor`, async () => {
    const pairs = fakePairs();
    const pool = new KeyPairPool({ generate: () => pairs.generate(), clock: new FakeClock().for('pool') });
    for (let i = 0; i < KEY_PAIR_MAX_USES; i++) expect(await pool.take()).toBe(pairs.made[0]);
    expect(await pool.take()).toBe(pairs.made[1]);
    expect(pairs.made).toHaveLength(3);
  });

  it(`retires a pair ${KEY_PAIR_MAX_AGE_MS / 1000} s after its first use, however little it was used`, async () => {
    const pairs = fakePairs();
    const clock = new FakeClock();
    const pool = new KeyPairPool({ generate: () => pairs.generate(), clock: clock.for('pool') });
    expect(await pool.take()).toBe(pairs.made[0]);
    clock.advance(KEY_PAIR_MAX_AGE_MS - 1);
    expect(await pool.take()).toBe(pairs.made[0]);
    clock.advance(1);
    expect(await pool.take()).toBe(pairs.made[1]);
  });

  it('a pair that failed to generate fails its takers and is replaced for the next one', async () => {
    const pairs = fakePairs();
    pairs.failNext = true;
    const pool = new KeyPairPool({ generate: () => pairs.generate(), clock: new FakeClock().for('pool') });
    await expect(pool.take()).rejects.toThrow('no entropy');
    await Promise.resolve();
    expect(await pool.take()).toBe(pairs.made[0]);
  });
});

describe('re-dials', () => {
  it('back off exponentially from 1 s to at most 30 s, scaled by the jitter factor', () => {
    expect(redialDelayMs(0, 1)).toBe(1_000);
    expect(redialDelayMs(1, 1)).toBe(2_000);
    expect(redialDelayMs(3, 0.5)).toBe(4_000);
    expect(redialDelayMs(20, 1)).toBe(REDIAL_MAX_MS);
    expect(redialDelayMs(20, 1.5)).toBe(REDIAL_MAX_MS * 1.5);
  });

  it(`allow ${REDIALS_PER_MINUTE} per sliding minute, and say how long until the next`, () => {
    const clock = new FakeClock();
    const budget = new RedialBudget(clock.for('pair'));
    for (let i = 0; i < REDIALS_PER_MINUTE; i++) {
      expect(budget.take()).toBe(true);
      clock.advance(1_000);
    }
    expect(budget.take()).toBe(false);
    expect(budget.msUntilNext()).toBe(60_000 - REDIALS_PER_MINUTE * 1_000);
    clock.advance(budget.msUntilNext());
    expect(budget.take()).toBe(true);
  });
});
