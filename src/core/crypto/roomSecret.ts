/** The room secret carried in the link fragment, and every key derived from it with HKDF-SHA-256. */
import { base64urlToBytes, bytesToBase64url, toBufferSource, utf8 } from '../encoding.ts';
import type { Random } from '../ports.ts';

export const ROOM_SECRET_BYTES = 32;
const HKDF_SALT = utf8('parley room v1');

export interface RoomKeys {
  /** What the signaling server sees: 16 bytes of HKDF output, base64url. Reveals nothing about the secret. */
  readonly roomId: string;
  /** AES-GCM-256 key that seals every WebRTC signal relayed by the server. */
  readonly signalKey: CryptoKey;
  /** HMAC-SHA-256 key that proves knowledge of the secret inside the data-channel handshake. */
  readonly authKey: CryptoKey;
}

export type LinkParseResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'room'; readonly secret: Uint8Array }
  | { readonly kind: 'malformed'; readonly reason: string };

export function generateRoomSecret(random: Random): Uint8Array {
  return random.bytes(ROOM_SECRET_BYTES);
}

export function roomFragment(secret: Uint8Array): string {
  return bytesToBase64url(secret);
}

/** Parses a location hash (`#…`, or empty) into a room secret, or says in words what is wrong with it. */
export function parseRoomFragment(hash: string): LinkParseResult {
  const fragment = hash.startsWith('#') ? hash.slice(1) : hash;
  if (fragment === '') return { kind: 'none' };
  if (fragment.length !== 43) {
    return { kind: 'malformed', reason: 'The room code in this link has the wrong length. It may have been cut off when it was copied.' };
  }
  const secret = base64urlToBytes(fragment);
  if (secret === null || secret.length !== ROOM_SECRET_BYTES) {
    return { kind: 'malformed', reason: 'The room code in this link contains characters that do not belong there.' };
  }
  return { kind: 'room', secret };
}

export async function deriveRoomKeys(secret: Uint8Array): Promise<RoomKeys> {
  if (secret.length !== ROOM_SECRET_BYTES) throw new Error(`Room secret must be ${ROOM_SECRET_BYTES} bytes, got ${secret.length}`);
  const ikm = await crypto.subtle.importKey('raw', toBufferSource(secret), 'HKDF', false, ['deriveBits', 'deriveKey']);
  const hkdf = (info: string): HkdfParams => ({ name: 'HKDF', hash: 'SHA-256', salt: toBufferSource(HKDF_SALT), info: toBufferSource(utf8(info)) });
  const [roomIdBits, signalKey, authKey] = await Promise.all([
    crypto.subtle.deriveBits(hkdf('parley/v1 room id'), ikm, 128),
    crypto.subtle.deriveKey(hkdf('parley/v1 signal key'), ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
    crypto.subtle.deriveKey(hkdf('parley/v1 handshake auth'), ikm, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign', 'verify']),
  ]);
  return { roomId: bytesToBase64url(new Uint8Array(roomIdBits)), signalKey, authKey };
}
