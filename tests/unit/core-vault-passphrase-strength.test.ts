import { describe, expect, it } from 'vitest';
import { passphraseStrength } from '../../src/core/vault/passphraseStrength.ts';

describe('passphraseStrength', () => {
  it('scores common passwords and their disguises, short ones and repeats as too easy', () => {
    for (const weak of ['', '   ', '123456', 'password', 'P@ssw0rd1!', 'qwerty123', 'hunter2', 'aaaaaaaaaaaaaaaa', 'abcdefghij', 'dog dog dog dog']) {
      expect(passphraseStrength(weak).score, weak).toBe(0);
    }
  });

  it('rises with each random word, and says so in plain words', () => {
    const scores = ['orbit velvet', 'lamp orbit velvet cactus', 'lamp orbit velvet cactus river', 'lamp orbit velvet cactus river meadow'].map(
      (passphrase) => passphraseStrength(passphrase).score,
    );
    expect(scores).toEqual([1, 2, 3, 4]);
    expect(passphraseStrength('lamp orbit velvet cactus').hint).toMatch(/more random words/);
    expect(passphraseStrength('password').hint).toMatch(/most common passwords/);
  });

  it('scores a long random mix of characters as good', () => {
    expect(passphraseStrength('xK9#mQ2$vL7!pR4&zT').score).toBeGreaterThanOrEqual(3);
  });

  it('treats NFKC-equivalent spellings alike, as the vault does', () => {
    expect(passphraseStrength('\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44').score).toBe(0);
  });
});
