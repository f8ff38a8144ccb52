/**
 * The PeerJS ids ("slots") under which the members of one room meet at a PeerJS broker (spec §3.8): HKDF outputs of
 * the room id, so they name the room without revealing its secret, and every holder of the link derives the same ones.
 */
import { base64urlToBytes, toBufferSource, utf8 } from '../encoding.ts';
import { ROOM_ID_PATTERN } from '../protocol/signaling.ts';

/** A room in PeerJS mode holds at most this many people, as a Parley server's default MAX_ROOM_MEMBERS does. */
export const BROKER_SLOTS = 8;
const SLOT_ID_BYTES = 16;
const HKDF_SALT = utf8('parley peerjs v1');
const HKDF_INFO = utf8('parley/v1 broker slots');

/** Slot i is `hex(HKDF-SHA-256(roomId bytes)[16i … 16i+16])`: 32 lowercase hex digits, a valid PeerJS id. */
export async function brokerSlotIds(roomId: string, count = BROKER_SLOTS): Promise<readonly string[]> {
  const roomIdBytes = ROOM_ID_PATTERN.test(roomId) ? base64urlToBytes(roomId) : null;
  if (roomIdBytes === null) throw new Error('a broker slot needs a room id of 22 base64url characters');
  const ikm = await crypto.subtle.importKey('raw', toBufferSource(roomIdBytes), 'HKDF', false, ['deriveBits']);
  const params: HkdfParams = { name: 'HKDF', hash: 'SHA-256', salt: toBufferSource(HKDF_SALT), info: toBufferSource(HKDF_INFO) };
  const bits = new Uint8Array(await crypto.subtle.deriveBits(params, ikm, count * SLOT_ID_BYTES * 8));
  return Array.from({ length: count }, (_, index) => hex(bits.subarray(index * SLOT_ID_BYTES, (index + 1) * SLOT_ID_BYTES)));
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
