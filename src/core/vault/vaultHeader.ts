/** The vault header, the one unencrypted record: what a passphrase needs to unwrap the random data key that seals everything else. */
import { base64urlToBytes, bytesToBase64url, concatBytes, framedConcat, toBufferSource, utf8 } from '../encoding.ts';
import type { Random } from '../ports.ts';
import { exactFields } from './exactFields.ts';
import {
  DEFAULT_ARGON2ID,
  deriveKeyEncryptionKey,
  isAcceptableArgon2idParams,
  VAULT_SALT_BYTES,
  type Argon2idParams,
  type Argon2idPort,
} from './kdf.ts';

export const VAULT_VERSION = 1;
const DATA_KEY_BYTES = 32;
const WRAP_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
/** IV ‖ AES-GCM(32-byte data key) ‖ tag. */
export const WRAPPED_DATA_KEY_BYTES = WRAP_IV_BYTES + DATA_KEY_BYTES + GCM_TAG_BYTES;

export interface VaultKdf {
  readonly algorithm: 'argon2id';
  readonly params: Argon2idParams;
  readonly salt: Uint8Array;
}

export interface VaultHeader {
  readonly version: typeof VAULT_VERSION;
  readonly kdf: VaultKdf;
  /** IV ‖ AES-GCM-256(KEK, raw data key), additional data binding the version and the whole kdf block. */
  readonly wrappedDataKey: Uint8Array;
}

export type UnlockResult = { readonly ok: true; readonly dataKey: CryptoKey } | { readonly ok: false; readonly reason: 'wrong-passphrase' };

export type ChangePassphraseResult =
  | { readonly ok: true; readonly header: VaultHeader }
  | { readonly ok: false; readonly reason: 'wrong-passphrase' };

const DATA_KEY_USAGES: KeyUsage[] = ['encrypt', 'decrypt'];

function u32be(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

/**
 * Params and salt already change the KEK, so a swapped block fails anyway; binding them here as well makes
 * "the header is exactly what was written" a property of the wrap itself rather than of Argon2id's inputs.
 */
function wrapAdditionalData(version: typeof VAULT_VERSION, kdf: VaultKdf): Uint8Array<ArrayBuffer> {
  return toBufferSource(
    framedConcat(
      utf8('parley/v1 data key'),
      u32be(version),
      utf8(kdf.algorithm),
      u32be(kdf.params.memoryKiB),
      u32be(kdf.params.iterations),
      u32be(kdf.params.parallelism),
      kdf.salt,
    ),
  );
}

async function wrapDataKey(kek: CryptoKey, kdf: VaultKdf, rawDataKey: Uint8Array, random: Random): Promise<Uint8Array> {
  const iv = toBufferSource(random.bytes(WRAP_IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: wrapAdditionalData(VAULT_VERSION, kdf) },
    kek,
    toBufferSource(rawDataKey),
  );
  return concatBytes(iv, new Uint8Array(ciphertext));
}

/** Null when the tag fails: a wrong passphrase, or any altered byte of the header (the two look the same). */
async function unwrapDataKey(kek: CryptoKey, header: VaultHeader, extractable: boolean): Promise<CryptoKey | null> {
  const wrapped = header.wrappedDataKey;
  if (wrapped.length !== WRAPPED_DATA_KEY_BYTES) return null;
  let key: CryptoKey;
  try {
    key = await crypto.subtle.unwrapKey(
      'raw',
      toBufferSource(wrapped.slice(WRAP_IV_BYTES)),
      kek,
      {
        name: 'AES-GCM',
        iv: toBufferSource(wrapped.slice(0, WRAP_IV_BYTES)),
        additionalData: wrapAdditionalData(header.version, header.kdf),
      },
      { name: 'AES-GCM' },
      extractable,
      DATA_KEY_USAGES,
    );
  } catch {
    return null;
  }
  // The fixed wrapped length already implies 32 bytes; checked again because everything else assumes AES-256.
  const bits = 'length' in key.algorithm ? key.algorithm.length : 0;
  return bits === DATA_KEY_BYTES * 8 ? key : null;
}

function freshKdf(params: Argon2idParams, random: Random): VaultKdf {
  const salt = random.bytes(VAULT_SALT_BYTES);
  if (salt.length !== VAULT_SALT_BYTES) throw new Error(`Random returned ${salt.length} bytes for a ${VAULT_SALT_BYTES}-byte salt`);
  // Copied so a caller mutating its params object later cannot change what the header says.
  const copied = { memoryKiB: params.memoryKiB, iterations: params.iterations, parallelism: params.parallelism };
  return { algorithm: 'argon2id', params: copied, salt };
}

/**
 * Makes a new vault: a random salt, a random 256-bit data key wrapped under the passphrase's KEK, and the
 * data key itself, non-extractable, for this session. The caller stores `encodeVaultHeader(header)`.
 * Throws for an empty passphrase; how long or strong a passphrase must be is the UI's decision.
 */
export async function createVault(
  passphrase: string,
  argon2: Argon2idPort,
  random: Random,
  params: Argon2idParams = DEFAULT_ARGON2ID,
): Promise<{ readonly header: VaultHeader; readonly dataKey: CryptoKey }> {
  const kdf = freshKdf(params, random);
  const kek = await deriveKeyEncryptionKey(passphrase, kdf.salt, kdf.params, argon2);
  const rawDataKey = random.bytes(DATA_KEY_BYTES);
  try {
    if (rawDataKey.length !== DATA_KEY_BYTES) throw new Error(`Random returned ${rawDataKey.length} bytes for the data key`);
    const wrappedDataKey = await wrapDataKey(kek, kdf, rawDataKey, random);
    const dataKey = await crypto.subtle.importKey('raw', toBufferSource(rawDataKey), 'AES-GCM', false, DATA_KEY_USAGES);
    return { header: { version: VAULT_VERSION, kdf, wrappedDataKey }, dataKey };
  } finally {
    rawDataKey.fill(0);
  }
}

/**
 * Opens the vault. A wrong passphrase shows only as the unwrap failing after a full Argon2id run: the header
 * holds no hash or verifier, so there is nothing to test a guess against more cheaply than that.
 * `header` must come from `parseVaultHeader` or `createVault`.
 */
export async function unlockVault(header: VaultHeader, passphrase: string, argon2: Argon2idPort): Promise<UnlockResult> {
  // createVault refuses an empty passphrase, so it can open nothing; saying so early reveals nothing new.
  if (passphrase === '') return { ok: false, reason: 'wrong-passphrase' };
  const kek = await deriveKeyEncryptionKey(passphrase, header.kdf.salt, header.kdf.params, argon2);
  const dataKey = await unwrapDataKey(kek, header, false);
  return dataKey === null ? { ok: false, reason: 'wrong-passphrase' } : { ok: true, dataKey };
}

/**
 * Re-wraps the same data key under a new passphrase, a new salt and `params` (by default the header's own),
 * so no record needs re-encrypting; the caller replaces the stored header in one write. This is not a key
 * rotation: whoever kept a copy of the old header and knows the old passphrase still has the data key.
 * Throws for an empty new passphrase, as createVault does.
 */
export async function changePassphrase(
  header: VaultHeader,
  oldPassphrase: string,
  newPassphrase: string,
  argon2: Argon2idPort,
  random: Random,
  params: Argon2idParams = header.kdf.params,
): Promise<ChangePassphraseResult> {
  if (oldPassphrase === '') return { ok: false, reason: 'wrong-passphrase' };
  const oldKek = await deriveKeyEncryptionKey(oldPassphrase, header.kdf.salt, header.kdf.params, argon2);
  // Extractable only for the moment it takes to re-wrap; the session keeps the key from unlockVault.
  const transientKey = await unwrapDataKey(oldKek, header, true);
  if (transientKey === null) return { ok: false, reason: 'wrong-passphrase' };
  const kdf = freshKdf(params, random);
  const newKek = await deriveKeyEncryptionKey(newPassphrase, kdf.salt, kdf.params, argon2);
  const rawDataKey = new Uint8Array(await crypto.subtle.exportKey('raw', transientKey));
  try {
    const wrappedDataKey = await wrapDataKey(newKek, kdf, rawDataKey, random);
    return { ok: true, header: { version: VAULT_VERSION, kdf, wrappedDataKey } };
  } finally {
    rawDataKey.fill(0);
  }
}

/**
 * JSON-safe form for storage: bytes as unpadded base64url, every field named. Throws for a header that
 * parseVaultHeader would refuse (say, one made with test-sized params), so an unreadable header is never
 * written and nobody is locked out by their own save.
 */
export function encodeVaultHeader(header: VaultHeader): unknown {
  const encoded = {
    version: header.version,
    kdf: {
      algorithm: header.kdf.algorithm,
      params: {
        memoryKiB: header.kdf.params.memoryKiB,
        iterations: header.kdf.params.iterations,
        parallelism: header.kdf.params.parallelism,
      },
      salt: bytesToBase64url(header.kdf.salt),
    },
    wrappedDataKey: bytesToBase64url(header.wrappedDataKey),
  };
  if (parseVaultHeader(encoded) === null) throw new Error('refusing to encode a vault header that could not be read back');
  return encoded;
}

function parseParams(value: unknown): Argon2idParams | null {
  const field = exactFields(value, ['memoryKiB', 'iterations', 'parallelism']);
  if (field === null) return null;
  const memoryKiB = field('memoryKiB');
  const iterations = field('iterations');
  const parallelism = field('parallelism');
  if (typeof memoryKiB !== 'number' || typeof iterations !== 'number' || typeof parallelism !== 'number') return null;
  const params = { memoryKiB, iterations, parallelism };
  // Weaker than the minimum would let whoever can write storage make every later guess cheap.
  return isAcceptableArgon2idParams(params) ? params : null;
}

function parseBytes(value: unknown, lengthBytes: number): Uint8Array | null {
  if (typeof value !== 'string') return null;
  const bytes = base64urlToBytes(value);
  return bytes !== null && bytes.length === lengthBytes ? bytes : null;
}

/** Strict: exact keys at every level, version 1, Argon2id params within MIN..MAX, exact byte lengths. */
export function parseVaultHeader(value: unknown): VaultHeader | null {
  const field = exactFields(value, ['version', 'kdf', 'wrappedDataKey']);
  if (field === null || field('version') !== VAULT_VERSION) return null;
  const kdfField = exactFields(field('kdf'), ['algorithm', 'params', 'salt']);
  if (kdfField === null || kdfField('algorithm') !== 'argon2id') return null;
  const params = parseParams(kdfField('params'));
  const salt = parseBytes(kdfField('salt'), VAULT_SALT_BYTES);
  const wrappedDataKey = parseBytes(field('wrappedDataKey'), WRAPPED_DATA_KEY_BYTES);
  if (params === null || salt === null || wrappedDataKey === null) return null;
  return { version: VAULT_VERSION, kdf: { algorithm: 'argon2id', params, salt }, wrappedDataKey };
}
