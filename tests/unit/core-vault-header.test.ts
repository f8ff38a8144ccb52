import { hashWasmArgon2id } from '../../src/adapters/vault/hashWasmArgon2id.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bytesToBase64url, framedConcat, utf8 } from '../../src/core/encoding.ts';
import { systemRandom, type Random } from '../../src/core/ports.ts';
import { DEFAULT_ARGON2ID, deriveKeyEncryptionKey, MAX_ARGON2ID, MIN_ARGON2ID, type Argon2idParams, type Argon2idPort } from '../../src/core/vault/kdf.ts';
import { openRecord, sealRecord } from '../../src/core/vault/records.ts';
import {
  changePassphrase,
  createVault,
  encodeVaultHeader,
  parseVaultHeader,
  unlockVault,
  WRAPPED_DATA_KEY_BYTES,
  type VaultHeader,
} from '../../src/core/vault/vaultHeader.ts';
import { flipBit } from './support/coreFixtures.ts';

const hashWasmArgon2: Argon2idPort = hashWasmArgon2id;

/** Far below the minimum so each unlock takes about a millisecond; the DEFAULT test below covers real params. */
const TINY: Argon2idParams = { memoryKiB: 64, iterations: 1, parallelism: 1 };

async function createTiny(passphrase: string): Promise<{ header: VaultHeader; dataKey: CryptoKey }> {
  return createVault(passphrase, hashWasmArgon2, systemRandom, TINY);
}

/** The data key works: a record sealed under `sealer` opens under `opener`. */
async function sameDataKey(sealer: CryptoKey, opener: CryptoKey): Promise<boolean> {
  const sealed = await sealRecord(sealer, 'message', 'm1', utf8('hello'), systemRandom);
  return (await openRecord(opener, 'message', 'm1', sealed)).ok;
}

function withHeader(header: VaultHeader, change: Partial<VaultHeader>): VaultHeader {
  return { ...header, ...change };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createVault and unlockVault', () => {
  it('unlocks with the same passphrase, giving the same data key', async () => {
    const { header, dataKey } = await createTiny('correct horse');
    const unlocked = await unlockVault(header, 'correct horse', hashWasmArgon2);
    if (!unlocked.ok) throw new Error('unlock failed');
    expect(await sameDataKey(dataKey, unlocked.dataKey)).toBe(true);
    expect(await sameDataKey(unlocked.dataKey, dataKey)).toBe(true);
  });

  it('keeps the data key non-extractable, for encrypt and decrypt only', async () => {
    const { header, dataKey } = await createTiny('pass');
    const unlocked = await unlockVault(header, 'pass', hashWasmArgon2);
    if (!unlocked.ok) throw new Error('unlock failed');
    for (const key of [dataKey, unlocked.dataKey]) {
      expect(key.extractable).toBe(false);
      expect(key.algorithm).toEqual({ name: 'AES-GCM', length: 256 });
      expect([...key.usages].sort()).toEqual(['decrypt', 'encrypt']);
      await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow();
    }
  });

  it('wipes the raw data key bytes once they are wrapped and imported', async () => {
    const handedOut: Uint8Array[] = [];
    const recording: Random = {
      bytes(length) {
        const bytes = systemRandom.bytes(length);
        handedOut.push(bytes);
        return bytes;
      },
    };
    await createVault('pass', hashWasmArgon2, recording, TINY);
    const rawKeys = handedOut.filter((bytes) => bytes.length === 32);
    expect(rawKeys).toHaveLength(1);
    expect(rawKeys[0]?.every((byte) => byte === 0)).toBe(true);
  });

  it('refuses a wrong passphrase', async () => {
    const { header } = await createTiny('correct horse');
    expect(await unlockVault(header, 'correct hors', hashWasmArgon2)).toEqual({ ok: false, reason: 'wrong-passphrase' });
    expect(await unlockVault(header, 'Correct horse', hashWasmArgon2)).toEqual({ ok: false, reason: 'wrong-passphrase' });
    expect(await unlockVault(header, '', hashWasmArgon2)).toEqual({ ok: false, reason: 'wrong-passphrase' });
  });

  it('refuses to make a vault with an empty passphrase', async () => {
    await expect(createTiny('')).rejects.toThrow(/empty/);
  });

  it('unlocks with an NFKC-equivalent spelling of the passphrase', async () => {
    const { header } = await createTiny('caf\u00e9 \uFB01sh');
    expect((await unlockVault(header, 'cafe\u0301 fish', hashWasmArgon2)).ok).toBe(true);
  });

  it('uses a fresh salt, data key and wrap every time, and holds nothing derived from the passphrase alone', async () => {
    const a = await createTiny('same');
    const b = await createTiny('same');
    expect(a.header.kdf.salt).not.toEqual(b.header.kdf.salt);
    expect(a.header.wrappedDataKey).not.toEqual(b.header.wrappedDataKey);
    expect(await sameDataKey(a.dataKey, b.dataKey)).toBe(false);
    // The header is exactly version, kdf (algorithm, params, salt) and the wrapped key: no verifier to test guesses against.
    expect(Object.keys(a.header).sort()).toEqual(['kdf', 'version', 'wrappedDataKey']);
    expect(Object.keys(a.header.kdf).sort()).toEqual(['algorithm', 'params', 'salt']);
    expect(a.header.wrappedDataKey).toHaveLength(WRAPPED_DATA_KEY_BYTES);
    expect(WRAPPED_DATA_KEY_BYTES).toBe(60);
  });

  it('fails to unlock a header whose salt, params or wrapped key was altered', async () => {
    const { header } = await createTiny('pass');
    const tampered: VaultHeader[] = [
      withHeader(header, { kdf: { ...header.kdf, salt: flipBit(header.kdf.salt, 0) } }),
      withHeader(header, { kdf: { ...header.kdf, salt: flipBit(header.kdf.salt, 15, 0x80) } }),
      withHeader(header, { kdf: { ...header.kdf, params: { ...TINY, iterations: 2 } } }),
      withHeader(header, { kdf: { ...header.kdf, params: { ...TINY, memoryKiB: 72 } } }),
      withHeader(header, { kdf: { ...header.kdf, params: { ...TINY, parallelism: 2 } } }),
    ];
    for (let index = 0; index < WRAPPED_DATA_KEY_BYTES; index++) {
      tampered.push(withHeader(header, { wrappedDataKey: flipBit(header.wrappedDataKey, index, 1 << (index % 8)) }));
    }
    tampered.push(withHeader(header, { wrappedDataKey: header.wrappedDataKey.slice(0, -1) }));
    for (const bad of tampered) {
      expect(await unlockVault(bad, 'pass', hashWasmArgon2)).toEqual({ ok: false, reason: 'wrong-passphrase' });
    }
    expect((await unlockVault(header, 'pass', hashWasmArgon2)).ok).toBe(true);
  });

  it('does not open one vault with another vault’s wrapped key, even under the same passphrase', async () => {
    const a = await createTiny('same');
    const b = await createTiny('same');
    const mixed = withHeader(a.header, { wrappedDataKey: b.header.wrappedDataKey });
    expect((await unlockVault(mixed, 'same', hashWasmArgon2)).ok).toBe(false);
  });

  it('binds the wrap to the version and kdf block as additional data', async () => {
    // Re-derives the KEK the documented way, then checks which additional data the wrapped key opens under.
    const { header } = await createTiny('pass');
    const kek = await deriveKeyEncryptionKey('pass', header.kdf.salt, header.kdf.params, hashWasmArgon2);
    const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    const additionalData = (memoryKiB: number): Uint8Array<ArrayBuffer> =>
      new Uint8Array(
        framedConcat(
          utf8('parley/v1 data key'),
          u32(1),
          utf8('argon2id'),
          u32(memoryKiB),
          u32(TINY.iterations),
          u32(TINY.parallelism),
          header.kdf.salt,
        ),
      );
    const opens = async (ad: Uint8Array<ArrayBuffer>): Promise<boolean> => {
      try {
        const iv = new Uint8Array(header.wrappedDataKey.slice(0, 12));
        const wrapped = new Uint8Array(header.wrappedDataKey.slice(12));
        await crypto.subtle.unwrapKey('raw', wrapped, kek, { name: 'AES-GCM', iv, additionalData: ad }, 'AES-GCM', false, ['encrypt']);
        return true;
      } catch {
        return false;
      }
    };
    expect(await opens(additionalData(TINY.memoryKiB))).toBe(true);
    expect(await opens(additionalData(TINY.memoryKiB + 8))).toBe(false);
  });
});

describe('changePassphrase', () => {
  it('re-wraps the same data key: the old passphrase fails, the new one works, old records still open', async () => {
    const { header, dataKey } = await createTiny('old pass');
    const before = await sealRecord(dataKey, 'message', 'm-42', utf8('sealed before the change'), systemRandom);
    const changed = await changePassphrase(header, 'old pass', 'new pass', hashWasmArgon2, systemRandom);
    if (!changed.ok) throw new Error('change failed');
    expect(changed.header.kdf.salt).not.toEqual(header.kdf.salt);
    expect(changed.header.kdf.params).toEqual(TINY);
    expect(await unlockVault(changed.header, 'old pass', hashWasmArgon2)).toEqual({ ok: false, reason: 'wrong-passphrase' });
    const unlocked = await unlockVault(changed.header, 'new pass', hashWasmArgon2);
    if (!unlocked.ok) throw new Error('new passphrase does not unlock');
    const opened = await openRecord(unlocked.dataKey, 'message', 'm-42', before);
    expect(opened).toEqual({ ok: true, plaintext: utf8('sealed before the change') });
    // The old header is untouched (the caller swaps it out), and still opens with the old passphrase.
    expect((await unlockVault(header, 'old pass', hashWasmArgon2)).ok).toBe(true);
  });

  it('wipes the exported data key bytes after re-wrapping them', async () => {
    const { header } = await createTiny('old');
    const exportKey = vi.spyOn(crypto.subtle, 'exportKey');
    const changed = await changePassphrase(header, 'old', 'new', hashWasmArgon2, systemRandom);
    expect(changed.ok).toBe(true);
    expect(exportKey.mock.results).toHaveLength(1);
    const exported: unknown = await exportKey.mock.results[0]?.value;
    if (!(exported instanceof ArrayBuffer)) throw new Error('expected raw key bytes');
    expect(exported.byteLength).toBe(32);
    expect(new Uint8Array(exported).every((byte) => byte === 0)).toBe(true);
  });

  it('refuses a wrong old passphrase', async () => {
    const { header } = await createTiny('old pass');
    expect(await changePassphrase(header, 'not it', 'new pass', hashWasmArgon2, systemRandom)).toEqual({
      ok: false,
      reason: 'wrong-passphrase',
    });
  });

  it('refuses an empty new passphrase and answers wrong-passphrase for an empty old one', async () => {
    const { header } = await createTiny('old pass');
    await expect(changePassphrase(header, 'old pass', '', hashWasmArgon2, systemRandom)).rejects.toThrow(/empty/);
    expect(await changePassphrase(header, '', 'new pass', hashWasmArgon2, systemRandom)).toEqual({ ok: false, reason: 'wrong-passphrase' });
  });

  it('can raise the params while changing the passphrase', async () => {
    const { header, dataKey } = await createTiny('old');
    const stronger: Argon2idParams = { memoryKiB: 128, iterations: 2, parallelism: 2 };
    const changed = await changePassphrase(header, 'old', 'new', hashWasmArgon2, systemRandom, stronger);
    if (!changed.ok) throw new Error('change failed');
    expect(changed.header.kdf.params).toEqual(stronger);
    const unlocked = await unlockVault(changed.header, 'new', hashWasmArgon2);
    if (!unlocked.ok) throw new Error('unlock failed');
    expect(await sameDataKey(dataKey, unlocked.dataKey)).toBe(true);
  });
});

describe('encodeVaultHeader and parseVaultHeader', () => {
  function validKdf(): Record<string, unknown> {
    return {
      algorithm: 'argon2id',
      params: { memoryKiB: DEFAULT_ARGON2ID.memoryKiB, iterations: DEFAULT_ARGON2ID.iterations, parallelism: DEFAULT_ARGON2ID.parallelism },
      salt: bytesToBase64url(systemRandom.bytes(16)),
    };
  }

  /** A structurally valid encoded header with DEFAULT params (the bytes are random: parsing does no crypto). */
  function validEncoded(kdf: Record<string, unknown> = validKdf()): Record<string, unknown> {
    return { version: 1, kdf, wrappedDataKey: bytesToBase64url(systemRandom.bytes(60)) };
  }

  /** `validEncoded()` with one change made to its kdf block. */
  function withKdf(change: (kdf: Record<string, unknown>) => void): Record<string, unknown> {
    const kdf = validKdf();
    change(kdf);
    return validEncoded(kdf);
  }

  function withParams(params: Record<string, unknown>): Record<string, unknown> {
    return withKdf((kdf) => {
      kdf['params'] = params;
    });
  }

  it('round-trips through JSON text', () => {
    const encoded = validEncoded();
    const parsed = parseVaultHeader(JSON.parse(JSON.stringify(encoded)));
    if (parsed === null) throw new Error('valid header refused');
    expect(parsed.version).toBe(1);
    expect(parsed.kdf.params).toEqual(DEFAULT_ARGON2ID);
    expect(parsed.kdf.salt).toHaveLength(16);
    expect(parsed.wrappedDataKey).toHaveLength(60);
    expect(encodeVaultHeader(parsed)).toEqual(encoded);
  });

  it('refuses to encode a header it could not read back, such as one made with test-sized params', async () => {
    const { header } = await createTiny('pass');
    expect(() => encodeVaultHeader(header)).toThrow(/read back/);
    const parsed = parseVaultHeader(validEncoded());
    if (parsed === null) throw new Error('valid header refused');
    expect(() => encodeVaultHeader({ ...parsed, wrappedDataKey: parsed.wrappedDataKey.slice(1) })).toThrow(/read back/);
  });

  it('accepts params above the default, up to the maxima', () => {
    expect(parseVaultHeader(withParams({ memoryKiB: 64 * 1024, iterations: 4, parallelism: 2 }))).not.toBeNull();
    expect(parseVaultHeader(withParams({ ...MAX_ARGON2ID }))).not.toBeNull();
  });

  it('refuses params weaker than the minimum, above the maxima, or not whole numbers', () => {
    const { memoryKiB, iterations, parallelism } = MIN_ARGON2ID;
    for (const params of [
      { memoryKiB: memoryKiB - 1, iterations, parallelism },
      { memoryKiB: 64, iterations, parallelism },
      { memoryKiB, iterations: 1, parallelism },
      { memoryKiB, iterations, parallelism: 0 },
      { memoryKiB: MAX_ARGON2ID.memoryKiB + 1, iterations, parallelism },
      { memoryKiB: 4 * 1024 * 1024 * 1024, iterations, parallelism },
      { memoryKiB, iterations: 101, parallelism },
      { memoryKiB, iterations, parallelism: 17 },
      { memoryKiB, iterations: 2.5, parallelism },
      { memoryKiB: String(memoryKiB), iterations, parallelism },
      { memoryKiB, iterations, parallelism: null },
      { memoryKiB, iterations },
      { memoryKiB, iterations, parallelism, lanes: 1 },
    ]) {
      expect(parseVaultHeader(withParams(params))).toBeNull();
    }
  });

  it('refuses extra or missing keys at every level', () => {
    expect(parseVaultHeader({ ...validEncoded(), extra: 1 })).toBeNull();
    const { wrappedDataKey: _dropped, ...missing } = validEncoded();
    expect(parseVaultHeader(missing)).toBeNull();
    expect(
      parseVaultHeader(
        withKdf((kdf) => {
          kdf['pepper'] = 'x';
        }),
      ),
    ).toBeNull();
    expect(
      parseVaultHeader(
        withKdf((kdf) => {
          delete kdf['salt'];
        }),
      ),
    ).toBeNull();
  });

  it('refuses another version or algorithm', () => {
    expect(parseVaultHeader({ ...validEncoded(), version: 2 })).toBeNull();
    expect(parseVaultHeader({ ...validEncoded(), version: '1' })).toBeNull();
    expect(
      parseVaultHeader(
        withKdf((kdf) => {
          kdf['algorithm'] = 'argon2i';
        }),
      ),
    ).toBeNull();
  });

  it('refuses wrong lengths and non-canonical base64url', () => {
    const saltOf = (bytes: number): Record<string, unknown> =>
      withKdf((kdf) => {
        kdf['salt'] = bytesToBase64url(new Uint8Array(bytes));
      });
    expect(parseVaultHeader(saltOf(16))).not.toBeNull();
    expect(parseVaultHeader(saltOf(15))).toBeNull();
    expect(parseVaultHeader(saltOf(17))).toBeNull();
    expect(parseVaultHeader({ ...validEncoded(), wrappedDataKey: bytesToBase64url(new Uint8Array(59)) })).toBeNull();
    expect(parseVaultHeader({ ...validEncoded(), wrappedDataKey: bytesToBase64url(new Uint8Array(61)) })).toBeNull();
    // 16 zero bytes encode as 21 'A's and a final 'A'; a 'B' there sets unused low bits.
    expect(
      parseVaultHeader(
        withKdf((kdf) => {
          kdf['salt'] = `${'A'.repeat(21)}B`;
        }),
      ),
    ).toBeNull();
    expect(
      parseVaultHeader(
        withKdf((kdf) => {
          kdf['salt'] = `${bytesToBase64url(new Uint8Array(16))}=`;
        }),
      ),
    ).toBeNull();
    expect(parseVaultHeader({ ...validEncoded(), wrappedDataKey: Array.from(new Uint8Array(60)) })).toBeNull();
  });

  it('refuses values that are not objects', () => {
    for (const value of [null, undefined, 1, 'header', [], [validEncoded()]]) {
      expect(parseVaultHeader(value)).toBeNull();
    }
  });
});

describe('a vault with DEFAULT_ARGON2ID params', () => {
  // How long this takes is measured by `npm run bench` (the vault section), never asserted here.
  it('creates, stores as JSON, parses and unlocks with the real Argon2id at the default parameters', { timeout: 30_000 }, async () => {
    const { header, dataKey } = await createVault('a real passphrase', hashWasmArgon2, systemRandom);
    expect(header.kdf.params).toEqual(DEFAULT_ARGON2ID);

    const parsed = parseVaultHeader(JSON.parse(JSON.stringify(encodeVaultHeader(header))));
    if (parsed === null) throw new Error('stored header refused');
    expect(parsed).toEqual(header);

    const unlocked = await unlockVault(parsed, 'a real passphrase', hashWasmArgon2);
    if (!unlocked.ok) throw new Error('unlock failed');
    expect(await sameDataKey(dataKey, unlocked.dataKey)).toBe(true);
    expect(await unlockVault(parsed, 'a real passphrase!', hashWasmArgon2)).toEqual({ ok: false, reason: 'wrong-passphrase' });
  });
});
