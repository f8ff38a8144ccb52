/** The identity's private key kept in the vault: generated for storage, sealed under the data key, and unwrapped. */
import { toBufferSource } from '../encoding.ts';
import type { Random } from '../ports.ts';
import { ECDSA_P256, type Identity } from './identity.ts';
import { openRecord, sealRecord, type RecordKind } from './records.ts';

/** Where the sealed private key lives: the additional data of its record binds exactly this kind and id. */
export const IDENTITY_RECORD_KIND: RecordKind = 'settings';
export const IDENTITY_RECORD_ID = 'identity';

export interface StoredIdentity extends Identity {
  /** A sealed record (kind 'settings', id 'identity') whose plaintext is the PKCS#8 private key. */
  readonly wrappedPrivateKey: Uint8Array;
}

/**
 * An identity to keep in the vault. Storing it needs the PKCS#8 bytes once, so the key is generated
 * extractable, exported, sealed, wiped, and re-imported non-extractable for this session. (The extractable
 * CryptoKey object cannot be wiped; it is dropped here and left to the garbage collector.)
 */
export async function generateIdentityForStorage(dataKey: CryptoKey, random: Random): Promise<StoredIdentity> {
  const pair = await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const publicKeySpki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  try {
    const wrappedPrivateKey = await sealRecord(dataKey, IDENTITY_RECORD_KIND, IDENTITY_RECORD_ID, pkcs8, random);
    const privateKey = await crypto.subtle.importKey('pkcs8', toBufferSource(pkcs8), ECDSA_P256, false, ['sign']);
    return { publicKeySpki, wrappedPrivateKey, privateKey };
  } finally {
    pkcs8.fill(0);
  }
}

/** The stored private key, non-extractable; null when the record does not open or does not hold a P-256 key. */
export async function unwrapIdentity(dataKey: CryptoKey, wrappedPrivateKey: Uint8Array): Promise<CryptoKey | null> {
  const opened = await openRecord(dataKey, IDENTITY_RECORD_KIND, IDENTITY_RECORD_ID, wrappedPrivateKey);
  if (!opened.ok) return null;
  try {
    return await crypto.subtle.importKey('pkcs8', toBufferSource(opened.plaintext), ECDSA_P256, false, ['sign']);
  } catch {
    return null;
  } finally {
    opened.plaintext.fill(0);
  }
}
