import { argon2id } from 'hash-wasm';
import { hkdfSync } from 'node:crypto';
import { hashWasmArgon2id } from '../../src/adapters/vault/hashWasmArgon2id.ts';
import { describe, expect, it } from 'vitest';
import { toBufferSource, utf8 } from '../../src/core/encoding.ts';
import {
  DEFAULT_ARGON2ID,
  deriveKeyEncryptionKey,
  isAcceptableArgon2idParams,
  MAX_ARGON2ID,
  MIN_ARGON2ID,
  normalizePassphrase,
  type Argon2idParams,
  type Argon2idPort,
} from '../../src/core/vault/kdf.ts';

/** The port the browser adapter will provide, minus the Web Worker. */
const hashWasmArgon2: Argon2idPort = hashWasmArgon2id;

/** Far below MIN_ARGON2ID, so tests run in about a millisecond; only the header parser enforces MIN. */
const TINY: Argon2idParams = { memoryKiB: 64, iterations: 2, parallelism: 1 };
const SALT = Uint8Array.from({ length: 16 }, (_, i) => i);

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Whether two KEKs are the same key: what one seals with `encrypt`, the other can `unwrapKey`. */
async function sameKek(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const iv = new Uint8Array(12);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, a, new Uint8Array(32).fill(7));
  try {
    await crypto.subtle.unwrapKey('raw', sealed, b, { name: 'AES-GCM', iv }, 'AES-GCM', false, ['encrypt']);
    return true;
  } catch {
    return false;
  }
}

describe('normalizePassphrase', () => {
  it('applies NFKC: ligatures, composed and decomposed accents, full-width forms', () => {
    expect(normalizePassphrase('\uFB01')).toEqual(utf8('fi'));
    expect(normalizePassphrase('e\u0301')).toEqual(normalizePassphrase('\u00e9'));
    expect(normalizePassphrase('e\u0301')).toEqual(utf8('\u00e9'));
    expect(normalizePassphrase('\uFF21\uFF42\uFF43')).toEqual(utf8('Abc'));
  });

  it('does not trim or fold case, which would make different passphrases equal', () => {
    expect(normalizePassphrase('secret ')).not.toEqual(normalizePassphrase('secret'));
    expect(normalizePassphrase('Secret')).not.toEqual(normalizePassphrase('secret'));
  });
});

describe('the Argon2id port used by these tests (hash-wasm)', () => {
  // Reference implementation (P-H-C/phc-winner-argon2 src/test.c), Argon2id v19, 32-byte tag, salt "somesalt".
  it('matches the reference known-answer vectors', async () => {
    const password = utf8('password');
    const salt = utf8('somesalt');
    expect(hex(await hashWasmArgon2(password, salt, { memoryKiB: 256, iterations: 2, parallelism: 1 }, 32))).toBe(
      '9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe',
    );
    expect(hex(await hashWasmArgon2(password, salt, { memoryKiB: 256, iterations: 2, parallelism: 2 }, 32))).toBe(
      '6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037',
    );
  });
});

describe('deriveKeyEncryptionKey', () => {
  it('matches Argon2id then HKDF-SHA-256 (empty salt, info "parley/v1 vault kek") computed independently', async () => {
    const passphrase = 'correct horse battery staple';
    const stretched = await argon2id({
      password: utf8(passphrase),
      salt: SALT,
      parallelism: 1,
      iterations: 2,
      memorySize: 64,
      hashLength: 32,
      outputType: 'binary',
    });
    expect(hex(stretched)).toBe('2df47ede6358ed17a9976d4fcedb897a10036d432a4acef17d263bfc98bd20ac');
    const expectedKek = new Uint8Array(hkdfSync('sha256', stretched, new Uint8Array(0), utf8('parley/v1 vault kek'), 32));
    expect(hex(expectedKek)).toBe('24610cb61718198ce5a578a5423823f1fb70386d43a400682092142a29d11840');

    const kek = await deriveKeyEncryptionKey(passphrase, SALT, TINY, hashWasmArgon2);
    const reference = await crypto.subtle.importKey('raw', expectedKek, 'AES-GCM', false, ['encrypt', 'unwrapKey']);
    const iv = new Uint8Array(12).fill(9);
    const plaintext = utf8('thirty-two bytes of key material');
    const ours = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, kek, toBufferSource(plaintext)));
    const theirs = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, reference, toBufferSource(plaintext)));
    expect(hex(ours)).toBe(hex(theirs));
    expect(await sameKek(reference, kek)).toBe(true);
  });

  it('gives the same key for NFKC-equivalent spellings of one passphrase', async () => {
    const ligature = await deriveKeyEncryptionKey('\uFB01ance\u0301e', SALT, TINY, hashWasmArgon2);
    const plain = await deriveKeyEncryptionKey('fianc\u00e9e', SALT, TINY, hashWasmArgon2);
    expect(await sameKek(ligature, plain)).toBe(true);
    expect(await sameKek(plain, ligature)).toBe(true);
  });

  it('gives different keys for a different passphrase, salt or params', async () => {
    const base = await deriveKeyEncryptionKey('passphrase', SALT, TINY, hashWasmArgon2);
    expect(await sameKek(base, await deriveKeyEncryptionKey('passphrase', SALT, TINY, hashWasmArgon2))).toBe(true);
    expect(await sameKek(base, await deriveKeyEncryptionKey('passphrasf', SALT, TINY, hashWasmArgon2))).toBe(false);
    const otherSalt = SALT.slice();
    otherSalt[15] = 0xff;
    expect(await sameKek(base, await deriveKeyEncryptionKey('passphrase', otherSalt, TINY, hashWasmArgon2))).toBe(false);
    expect(await sameKek(base, await deriveKeyEncryptionKey('passphrase', SALT, { ...TINY, iterations: 3 }, hashWasmArgon2))).toBe(false);
  });

  it('makes a non-extractable AES-GCM-256 key that can only encrypt and unwrap', async () => {
    const kek = await deriveKeyEncryptionKey('passphrase', SALT, TINY, hashWasmArgon2);
    expect(kek.extractable).toBe(false);
    expect(kek.algorithm).toEqual({ name: 'AES-GCM', length: 256 });
    expect([...kek.usages].sort()).toEqual(['encrypt', 'unwrapKey']);
    await expect(crypto.subtle.exportKey('raw', kek)).rejects.toThrow();
  });

  it('passes the normalized passphrase, the salt, the params and a 32-byte length to the port, then wipes the buffers', async () => {
    const seen: { password: Uint8Array; passwordCopy: Uint8Array; salt: Uint8Array; params: Argon2idParams; length: number; output: Uint8Array }[] = [];
    const spy: Argon2idPort = async (password, salt, params, hashLengthBytes) => {
      const output = await hashWasmArgon2(password, salt, params, hashLengthBytes);
      seen.push({ password, passwordCopy: password.slice(), salt: salt.slice(), params, length: hashLengthBytes, output });
      return output;
    };
    await deriveKeyEncryptionKey('e\u0301', SALT, TINY, spy);
    expect(seen).toHaveLength(1);
    const call = seen[0];
    if (call === undefined) throw new Error('port not called');
    expect(call.passwordCopy).toEqual(utf8('\u00e9'));
    expect(call.salt).toEqual(SALT);
    expect(call.params).toEqual(TINY);
    expect(call.length).toBe(32);
    expect(call.password.every((byte) => byte === 0)).toBe(true);
    expect(call.output.every((byte) => byte === 0)).toBe(true);
  });

  it('wipes the port output even when it is not backed by an ArrayBuffer (and so had to be copied)', async () => {
    const outputs: Uint8Array[] = [];
    const shared: Argon2idPort = async (password, salt, params, hashLengthBytes) => {
      const output = new Uint8Array(new SharedArrayBuffer(hashLengthBytes));
      output.set(await hashWasmArgon2(password, salt, params, hashLengthBytes));
      outputs.push(output);
      return output;
    };
    const kek = await deriveKeyEncryptionKey('passphrase', SALT, TINY, shared);
    expect(await sameKek(kek, await deriveKeyEncryptionKey('passphrase', SALT, TINY, hashWasmArgon2))).toBe(true);
    expect(outputs).toHaveLength(1);
    expect(outputs[0]?.every((byte) => byte === 0)).toBe(true);
  });

  it('throws for an empty passphrase, which hash-wasm would refuse and no vault is made with', async () => {
    await expect(deriveKeyEncryptionKey('', SALT, TINY, hashWasmArgon2)).rejects.toThrow(/empty/);
  });

  it('throws for a salt that is not 16 bytes, unrunnable params, or a port that returns the wrong length', async () => {
    await expect(deriveKeyEncryptionKey('p', new Uint8Array(15), TINY, hashWasmArgon2)).rejects.toThrow(/salt/);
    await expect(deriveKeyEncryptionKey('p', new Uint8Array(17), TINY, hashWasmArgon2)).rejects.toThrow(/salt/);
    for (const params of [
      { ...TINY, iterations: 0 },
      { ...TINY, parallelism: 0 },
      { ...TINY, memoryKiB: 4 },
      { memoryKiB: 64, iterations: 1, parallelism: 16 },
      { ...TINY, iterations: 1.5 },
      { ...TINY, memoryKiB: MAX_ARGON2ID.memoryKiB + 1 },
    ]) {
      await expect(deriveKeyEncryptionKey('p', SALT, params, hashWasmArgon2)).rejects.toThrow(/params/);
    }
    const short: Argon2idPort = async () => new Uint8Array(16);
    await expect(deriveKeyEncryptionKey('p', SALT, TINY, short)).rejects.toThrow(/16 bytes/);
  });
});

describe('Argon2id params bounds', () => {
  it('takes the OWASP minimum as the floor, and a stronger default within the unlock budget', () => {
    expect(MIN_ARGON2ID).toEqual({ memoryKiB: 19 * 1024, iterations: 2, parallelism: 1 });
    expect(DEFAULT_ARGON2ID).toEqual({ memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 });
    expect(isAcceptableArgon2idParams(MIN_ARGON2ID)).toBe(true);
  });

  it('accepts MIN..MAX and refuses anything weaker, larger or fractional', () => {
    expect(isAcceptableArgon2idParams(DEFAULT_ARGON2ID)).toBe(true);
    expect(isAcceptableArgon2idParams(MAX_ARGON2ID)).toBe(true);
    expect(isAcceptableArgon2idParams({ memoryKiB: 64 * 1024, iterations: 3, parallelism: 4 })).toBe(true);
    expect(isAcceptableArgon2idParams(TINY)).toBe(false);
    expect(isAcceptableArgon2idParams({ ...MIN_ARGON2ID, memoryKiB: MIN_ARGON2ID.memoryKiB - 1 })).toBe(false);
    expect(isAcceptableArgon2idParams({ ...MIN_ARGON2ID, iterations: 1 })).toBe(false);
    expect(isAcceptableArgon2idParams({ ...MIN_ARGON2ID, parallelism: 0 })).toBe(false);
    expect(isAcceptableArgon2idParams({ ...MAX_ARGON2ID, memoryKiB: MAX_ARGON2ID.memoryKiB + 1 })).toBe(false);
    expect(isAcceptableArgon2idParams({ ...DEFAULT_ARGON2ID, iterations: 101 })).toBe(false);
    expect(isAcceptableArgon2idParams({ ...DEFAULT_ARGON2ID, parallelism: 17 })).toBe(false);
    expect(isAcceptableArgon2idParams({ ...DEFAULT_ARGON2ID, iterations: 2.5 })).toBe(false);
    expect(isAcceptableArgon2idParams({ ...DEFAULT_ARGON2ID, memoryKiB: Number.NaN })).toBe(false);
    expect(isAcceptableArgon2idParams({ ...DEFAULT_ARGON2ID, iterations: Number.POSITIVE_INFINITY })).toBe(false);
  });
});
