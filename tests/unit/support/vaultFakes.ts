/** Fixtures for the vault service tests: a fast stand-in for Argon2id, ids, and a vault on an in-memory store. */
import { MemoryVaultStore, type MemoryVaultStoreOptions } from '../../../src/adapters/storage/memoryVaultStore.ts';
import { bytesToBase64url, concatBytes, framedConcat, toBufferSource } from '../../../src/core/encoding.ts';
import { systemRandom } from '../../../src/core/ports.ts';
import type { Argon2idPort } from '../../../src/core/vault/kdf.ts';
import type { StoreResult } from '../../../src/core/vault/vaultContext.ts';
import { parseVaultHeader, unlockVault } from '../../../src/core/vault/vaultHeader.ts';
import { Vault, type UnlockedVault, type VaultPorts } from '../../../src/core/vault/vaultService.ts';
import { FakeClock } from './roomFakes.ts';
import { secretFromSeed } from './coreFixtures.ts';

/**
 * Not Argon2id: SHA-256 of everything Argon2id would take, so it is as deterministic and input-sensitive,
 * in microseconds. The header still records DEFAULT_ARGON2ID params (the only ones it may store); tests
 * about Argon2id itself use hash-wasm. Counts its calls, so a test can see whether a guess was checked.
 */
export class FastArgon2 {
  calls = 0;
  readonly port: Argon2idPort = async (password, salt, params, hashLengthBytes) => {
    this.calls += 1;
    const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    const input = framedConcat(password, salt, u32(params.memoryKiB), u32(params.iterations), u32(params.parallelism));
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', toBufferSource(input)));
    return concatBytes(digest, digest).slice(0, hashLengthBytes);
  };
}

export interface VaultFixture {
  readonly store: MemoryVaultStore;
  readonly clock: FakeClock;
  readonly argon2: FastArgon2;
  readonly ports: VaultPorts;
  /** A fresh Vault over the same store: what a reload of the page gets. */
  reopen(): Promise<Vault>;
}

export function vaultFixture(options: MemoryVaultStoreOptions = {}): VaultFixture {
  const store = new MemoryVaultStore(options);
  const clock = new FakeClock();
  const argon2 = new FastArgon2();
  const ports: VaultPorts = { argon2: argon2.port, random: systemRandom, clock: clock.for('vault') };
  return { store, clock, argon2, ports, reopen: () => Vault.open(store, ports) };
}

export const PASSPHRASE = 'correct horse battery staple';

/** A fixture with a profile made and unlocked. */
export async function unlockedFixture(options: MemoryVaultStoreOptions = {}): Promise<VaultFixture & { readonly vault: Vault; readonly unlocked: UnlockedVault }> {
  const fixture = vaultFixture(options);
  const vault = await fixture.reopen();
  const created = await vault.create('Ada', PASSPHRASE);
  if (!created.ok) throw new Error(`create failed: ${created.reason}`);
  return { ...fixture, vault, unlocked: created.vault };
}

/** A valid 16-byte id (message, conversation …) that is different for every n. */
export function idFor(n: number): string {
  const bytes = new Uint8Array(16);
  new DataView(bytes.buffer).setUint32(12, n);
  bytes[0] = 0x5a;
  return bytesToBase64url(bytes);
}

export function roomSecret(seed: number): Uint8Array {
  return secretFromSeed(seed);
}

/** The value of an ok result, failing the test (with the failure) otherwise. */
export function valueOf<T>(result: StoreResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.value;
}

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(needle)) !== -1;
}

/** Every byte array and every string (as UTF-8) stored anywhere in the store. */
function storedByteArrays(value: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (value instanceof Uint8Array) out.push(value);
  else if (typeof value === 'string') out.push(new TextEncoder().encode(value));
  else if (typeof value === 'number') out.push(new TextEncoder().encode(String(value)));
  else if (typeof value === 'object' && value !== null) for (const item of Object.values(value)) storedByteArrays(item, out);
  return out;
}

/** Whether `needle` appears in the clear anywhere in the store: in a stored byte array, a key, or a field. */
export function storeHolds(store: MemoryVaultStore, needle: Uint8Array | string): boolean {
  const bytes = typeof needle === 'string' ? new TextEncoder().encode(needle) : needle;
  return storedByteArrays(store.snapshot()).some((haystack) => includesBytes(haystack, bytes));
}

/** A Blob of `sizeBytes` random bytes, and those bytes. */
export function randomBlob(sizeBytes: number, type = 'application/octet-stream'): { readonly blob: Blob; readonly bytes: Uint8Array } {
  const bytes = new Uint8Array(sizeBytes);
  for (let offset = 0; offset < sizeBytes; offset += 65_536) bytes.set(systemRandom.bytes(Math.min(65_536, sizeBytes - offset)), offset);
  return { blob: new Blob([bytes], { type }), bytes };
}

/**
 * The store's snapshot with some parts blanked out, as JSON text with bytes in base64: comparing text is
 * fast, where the matcher's deep comparison of megabytes of file parts takes seconds.
 */
export function snapshotWithout(store: MemoryVaultStore, ...parts: readonly ('failedUnlocks' | 'header')[]): string {
  const snapshot = store.snapshot();
  const blanked = typeof snapshot === 'object' && snapshot !== null ? { ...snapshot, ...Object.fromEntries(parts.map((part) => [part, null])) } : snapshot;
  return JSON.stringify(blanked, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value));
}

/** The vault's data key, the way the vault itself gets it: the passphrase unwraps the stored header. */
export async function dataKeyOf(fixture: VaultFixture): Promise<CryptoKey> {
  const header = parseVaultHeader(await fixture.store.readHeader());
  if (header === null) throw new Error('no header');
  const unlocked = await unlockVault(header, PASSPHRASE, fixture.argon2.port);
  if (!unlocked.ok) throw new Error('cannot unlock');
  return unlocked.dataKey;
}
