/**
 * The data-channel handshake. Each side sends a fresh RSA-OAEP-3072 public key and a nonce (hello),
 * then its own AES-GCM-256 sending key wrapped for the peer plus an HMAC, keyed from the room secret,
 * over the whole transcript (confirm). A side is verified only when the peer's HMAC checks out.
 */
import { concatBytes, framedConcat, toBufferSource, utf8 } from '../encoding.ts';
import type { Random } from '../ports.ts';

export type Role = 'initiator' | 'responder';

export const HANDSHAKE_NONCE_BYTES = 32;
const RSA_MODULUS_BITS = 3072;
const WRAPPED_KEY_BYTES = RSA_MODULUS_BITS / 8;
const MAC_BYTES = 32;
const MIN_SPKI_BYTES = 400;
const MAX_SPKI_BYTES = 600;
const RSA_OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;

export interface SessionKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly spki: Uint8Array;
}

export interface Hello {
  readonly nonce: Uint8Array;
  readonly spki: Uint8Array;
}

export interface TranscriptInput {
  readonly role: Role;
  readonly own: Hello;
  readonly peer: Hello;
  readonly localFingerprint: string;
  readonly remoteFingerprint: string;
}

export type OpenConfirmResult = { readonly ok: true; readonly receiveKey: CryptoKey } | { readonly ok: false; readonly reason: string };

export function otherRole(role: Role): Role {
  return role === 'initiator' ? 'responder' : 'initiator';
}

/** Slow (hundreds of ms): start it before the peer arrives. The private key never leaves WebCrypto. */
export async function generateSessionKeyPair(): Promise<SessionKeyPair> {
  const pair = await crypto.subtle.generateKey(
    { ...RSA_OAEP, modulusLength: RSA_MODULUS_BITS, publicExponent: Uint8Array.of(1, 0, 1) },
    false,
    // The private key only ever unwraps the peer's session key, and WebCrypto's unwrapKey demands this usage.
    ['encrypt', 'unwrapKey'],
  );
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, spki };
}

export function createHello(keyPair: SessionKeyPair, random: Random): Hello {
  return { nonce: random.bytes(HANDSHAKE_NONCE_BYTES), spki: keyPair.spki };
}

export function encodeHello(hello: Hello): Uint8Array {
  return concatBytes(hello.nonce, hello.spki);
}

export function parseHello(body: Uint8Array): Hello | null {
  const spkiBytes = body.length - HANDSHAKE_NONCE_BYTES;
  if (spkiBytes < MIN_SPKI_BYTES || spkiBytes > MAX_SPKI_BYTES) return null;
  return { nonce: body.slice(0, HANDSHAKE_NONCE_BYTES), spki: body.slice(HANDSHAKE_NONCE_BYTES) };
}

/** Imports the peer's public key, refusing anything but RSA-OAEP with a 3072-bit modulus and exponent 65537. */
export async function importPeerPublicKey(spki: Uint8Array): Promise<CryptoKey | null> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('spki', toBufferSource(spki), RSA_OAEP, false, ['encrypt']);
  } catch {
    return null;
  }
  const algorithm = key.algorithm;
  if (!('modulusLength' in algorithm) || !('publicExponent' in algorithm)) return null;
  const exponent = algorithm.publicExponent;
  const isF4 = exponent instanceof Uint8Array && exponent.length === 3 && exponent[0] === 1 && exponent[1] === 0 && exponent[2] === 1;
  return algorithm.modulusLength === RSA_MODULUS_BITS && isF4 ? key : null;
}

/** Everything both sides must agree on, in initiator-then-responder order so both compute the same bytes. */
export function buildTranscript(input: TranscriptInput): Uint8Array {
  const [initiator, responder] = input.role === 'initiator' ? [input.own, input.peer] : [input.peer, input.own];
  const [initiatorFp, responderFp] =
    input.role === 'initiator'
      ? [input.localFingerprint, input.remoteFingerprint]
      : [input.remoteFingerprint, input.localFingerprint];
  return framedConcat(
    utf8('parley/v1 handshake transcript'),
    initiator.spki,
    initiator.nonce,
    responder.spki,
    responder.nonce,
    utf8(initiatorFp),
    utf8(responderFp),
  );
}

/** The sender's role is inside the MAC so a confirm reflected back to its author never verifies. */
function confirmMacInput(senderRole: Role, transcript: Uint8Array, wrappedKey: Uint8Array): Uint8Array<ArrayBuffer> {
  return toBufferSource(framedConcat(utf8('parley/v1 confirm'), utf8(senderRole), transcript, wrappedKey));
}

/** Makes this side's sending key, wraps it for the peer, and authenticates it with the transcript. */
export async function createConfirm(
  authKey: CryptoKey,
  role: Role,
  transcript: Uint8Array,
  peerPublicKey: CryptoKey,
  random: Random,
): Promise<{ readonly body: Uint8Array; readonly sendKey: CryptoKey }> {
  const rawKey = random.bytes(32);
  try {
    const sendKey = await crypto.subtle.importKey('raw', toBufferSource(rawKey), 'AES-GCM', false, ['encrypt']);
    const wrappedKey = new Uint8Array(await crypto.subtle.encrypt(RSA_OAEP, peerPublicKey, toBufferSource(rawKey)));
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', authKey, confirmMacInput(role, transcript, wrappedKey)));
    return { body: concatBytes(mac, wrappedKey), sendKey };
  } finally {
    rawKey.fill(0);
  }
}

/** Verifies the peer's confirm against our transcript, then unwraps the key the peer will send with. */
export async function openConfirm(
  authKey: CryptoKey,
  peerRole: Role,
  transcript: Uint8Array,
  body: Uint8Array,
  ownPrivateKey: CryptoKey,
): Promise<OpenConfirmResult> {
  if (body.length !== MAC_BYTES + WRAPPED_KEY_BYTES) return { ok: false, reason: `confirm has ${body.length} bytes` };
  const mac = body.slice(0, MAC_BYTES);
  const wrappedKey = body.slice(MAC_BYTES);
  const authentic = await crypto.subtle.verify('HMAC', authKey, mac, confirmMacInput(peerRole, transcript, wrappedKey));
  if (!authentic) return { ok: false, reason: 'the transcript MAC does not match (different room secret, or altered handshake)' };
  try {
    const receiveKey = await crypto.subtle.unwrapKey('raw', toBufferSource(wrappedKey), ownPrivateKey, RSA_OAEP, 'AES-GCM', false, ['decrypt']);
    // A shorter AES key would unwrap fine; the protocol promises 256 bits in each direction.
    const bits = 'length' in receiveKey.algorithm ? receiveKey.algorithm.length : 0;
    return bits === 256 ? { ok: true, receiveKey } : { ok: false, reason: `the session key has ${String(bits)} bits, not 256` };
  } catch {
    return { ok: false, reason: 'the wrapped session key does not open' };
  }
}
