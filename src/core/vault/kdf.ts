/** Turns a passphrase into the vault's key-encryption key: NFKC, Argon2id (through a port), then HKDF-SHA-256. */
import { toBufferSource, utf8 } from '../encoding.ts';

export interface Argon2idParams {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/** Params read from storage below this, component by component, are refused: a header must not cheapen guessing. OWASP's minimum for Argon2id. */
export const MIN_ARGON2ID: Argon2idParams = { memoryKiB: 19 * 1024, iterations: 2, parallelism: 1 };

/**
 * What new vaults and changed passphrases use: well above OWASP's minimum, because `npm run bench` measured
 * unlocking at the minimum at about 0.1 s here, far inside the 1.5 s budget; 64 MiB and 3 passes make every
 * guess about five times dearer and unlock in about half a second. The vault stores the params it was made
 * with, so this can be raised again later without locking anyone out.
 */
export const DEFAULT_ARGON2ID: Argon2idParams = { memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 };

/**
 * Params above this are refused as corruption or a denial of service planted in storage. hash-wasm runs in
 * 32-bit WebAssembly (4 GiB of memory at most, overhead included) and a phone tab dies long before that,
 * so 1 GiB is already far beyond anything a real vault would ask for.
 */
export const MAX_ARGON2ID: Argon2idParams = { memoryKiB: 1024 * 1024, iterations: 100, parallelism: 16 };

/**
 * Argon2id (version 0x13, no secret, no associated data) of `password` with `salt`, `hashLengthBytes` long.
 * The browser adapter runs hash-wasm in a Web Worker so the UI stays responsive; tests call hash-wasm directly.
 * `password` is never empty: hash-wasm refuses an empty one, so the vault refuses empty passphrases first.
 */
export type Argon2idPort = (
  password: Uint8Array,
  salt: Uint8Array,
  params: Argon2idParams,
  hashLengthBytes: number,
) => Promise<Uint8Array>;

export const VAULT_SALT_BYTES = 16;
const ARGON2_OUTPUT_BYTES = 32;
const KEK_HKDF_INFO = utf8('parley/v1 vault kek');
// Argon2id already mixed in the per-vault salt; HKDF here only separates this key from any future use of the output.
const KEK_HKDF_SALT = new Uint8Array(0);

/**
 * Unicode NFKC, then UTF-8, so that the same passphrase typed on different keyboards or operating systems
 * (composed vs decomposed accents, ligatures, full-width forms) opens the same vault. No trimming or case
 * folding: those would silently make different passphrases equal.
 */
export function normalizePassphrase(passphrase: string): Uint8Array {
  return utf8(passphrase.normalize('NFKC'));
}

/** Whether `params` are whole numbers within MIN..MAX component by component (what a stored header may carry). */
export function isAcceptableArgon2idParams(params: Argon2idParams): boolean {
  return (
    isIntegerIn(params.memoryKiB, MIN_ARGON2ID.memoryKiB, MAX_ARGON2ID.memoryKiB) &&
    isIntegerIn(params.iterations, MIN_ARGON2ID.iterations, MAX_ARGON2ID.iterations) &&
    isIntegerIn(params.parallelism, MIN_ARGON2ID.parallelism, MAX_ARGON2ID.parallelism) &&
    params.memoryKiB >= 8 * params.parallelism
  );
}

/**
 * Runnable at all: Argon2 needs at least 8 KiB per lane. Weaker-than-MIN params are allowed here on purpose
 * (tests use tiny ones); the header parser is what refuses them from storage.
 */
function assertRunnableParams(params: Argon2idParams): void {
  const runnable =
    isIntegerIn(params.memoryKiB, 8, MAX_ARGON2ID.memoryKiB) &&
    isIntegerIn(params.iterations, 1, MAX_ARGON2ID.iterations) &&
    isIntegerIn(params.parallelism, 1, MAX_ARGON2ID.parallelism) &&
    params.memoryKiB >= 8 * params.parallelism;
  if (!runnable) throw new Error(`Argon2id params out of range: ${JSON.stringify(params)}`);
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}

/**
 * Derives the key-encryption key (KEK): Argon2id(NFKC passphrase, salt, params) → 32 bytes → HKDF-SHA-256
 * (empty salt, info "parley/v1 vault kek") → AES-GCM-256, non-extractable.
 *
 * Usages are ['encrypt', 'unwrapKey']: a new data key is made as raw bytes from the Random port and sealed
 * with `encrypt` (so those bytes can be zeroed), while unlocking uses `unwrapKey`, which puts the data key
 * straight into WebCrypto without its bytes ever passing through JavaScript memory. Both produce the same
 * bytes: AES-GCM of the 32-byte raw key.
 *
 * Throws for an empty passphrase (no vault is ever made with one; callers that open a vault answer
 * "wrong passphrase" for it without calling this), a salt that is not 16 bytes, or params Argon2 cannot run.
 */
export async function deriveKeyEncryptionKey(
  passphrase: string,
  salt: Uint8Array,
  params: Argon2idParams,
  argon2: Argon2idPort,
): Promise<CryptoKey> {
  if (salt.length !== VAULT_SALT_BYTES) throw new Error(`vault salt must be ${VAULT_SALT_BYTES} bytes, got ${salt.length}`);
  assertRunnableParams(params);
  if (passphrase === '') throw new Error('a vault passphrase cannot be empty');
  const password = normalizePassphrase(passphrase);
  let stretched: Uint8Array;
  try {
    stretched = await argon2(password, salt, params, ARGON2_OUTPUT_BYTES);
  } finally {
    // The passphrase string itself cannot be wiped (JavaScript strings are immutable); its bytes can.
    password.fill(0);
  }
  // toBufferSource copies only when the port returned a view on a non-ArrayBuffer; both are wiped below.
  const ikmBytes = toBufferSource(stretched);
  try {
    if (stretched.length !== ARGON2_OUTPUT_BYTES) {
      throw new Error(`Argon2id port returned ${stretched.length} bytes, expected ${ARGON2_OUTPUT_BYTES}`);
    }
    const ikm = await crypto.subtle.importKey('raw', ikmBytes, 'HKDF', false, ['deriveKey']);
    return await crypto.subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: toBufferSource(KEK_HKDF_SALT), info: toBufferSource(KEK_HKDF_INFO) },
      ikm,
      { name: 'AES-GCM', length: 256 },
      false,
      ['encrypt', 'unwrapKey'],
    );
  } finally {
    ikmBytes.fill(0);
    stretched.fill(0);
  }
}
