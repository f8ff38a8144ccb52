/**
 * The long-term identity key (ECDSA P-256 with SHA-256): made and used to sign handshake transcripts. Keeping it
 * sealed in the vault is identityStorage.ts's, so that a guest's first load carries no vault record code.
 */
import { bytesEqual, framedConcat, toBufferSource, utf8 } from '../encoding.ts';

export const ECDSA_P256: EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
/** WebCrypto's ECDSA signatures are IEEE P1363 (r ‖ s), 32 bytes each on P-256, not DER. */
export const IDENTITY_SIGNATURE_BYTES = 64;
/** WebCrypto's own SPKI for a P-256 key: the uncompressed point (0x04 ‖ X ‖ Y) under a 26-byte prefix. */
export const IDENTITY_SPKI_BYTES = 91;

export interface Identity {
  readonly publicKeySpki: Uint8Array;
  /** Non-extractable; usable only to sign. */
  readonly privateKey: CryptoKey;
}

/**
 * Signatures cover a label as well as the caller's transcript, so nothing this key signs here can be
 * replayed as a signature for some other purpose the key (or a future version) might be given.
 */
function signedBytes(transcript: Uint8Array): Uint8Array<ArrayBuffer> {
  return toBufferSource(framedConcat(utf8('parley/v1 identity signature'), transcript));
}

/** An identity that lives only in memory: the private key is non-extractable from birth. */
export async function generateIdentity(): Promise<Identity> {
  const pair = await crypto.subtle.generateKey(ECDSA_P256, false, ['sign', 'verify']);
  const publicKeySpki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  return { publicKeySpki, privateKey: pair.privateKey };
}

/** ECDSA P-256 / SHA-256 over the labelled transcript; 64 bytes (r ‖ s). */
export async function signTranscript(privateKey: CryptoKey, transcript: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign(ECDSA_SHA256, privateKey, signedBytes(transcript)));
}

/**
 * The public key of an identity, or null unless `spki` is an ECDSA P-256 key in exactly the encoding
 * WebCrypto exports (uncompressed point). WebCrypto also imports a compressed point; refusing it means one
 * key has one SPKI, so people and contacts can be told apart by comparing SPKI bytes.
 */
export async function importIdentityPublicKey(spki: Uint8Array): Promise<CryptoKey | null> {
  if (spki.length !== IDENTITY_SPKI_BYTES) return null;
  try {
    // Extractable only so the encoding can be compared; a public key is no secret.
    const publicKey = await crypto.subtle.importKey('spki', toBufferSource(spki), ECDSA_P256, true, ['verify']);
    const canonical = new Uint8Array(await crypto.subtle.exportKey('spki', publicKey));
    return bytesEqual(canonical, spki) ? publicKey : null;
  } catch {
    return null;
  }
}

/** Like verifyTranscript, for a key that importIdentityPublicKey already accepted. */
export async function verifyTranscriptWithKey(publicKey: CryptoKey, transcript: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== IDENTITY_SIGNATURE_BYTES) return false;
  try {
    return await crypto.subtle.verify(ECDSA_SHA256, publicKey, toBufferSource(signature), signedBytes(transcript));
  } catch {
    return false;
  }
}

/** False for a bad signature, and equally for a key that is not a canonical EC P-256 SPKI (RSA, another curve, compressed, garbage). */
export async function verifyTranscript(publicKeySpki: Uint8Array, transcript: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const publicKey = await importIdentityPublicKey(publicKeySpki);
  return publicKey !== null && verifyTranscriptWithKey(publicKey, transcript, signature);
}
