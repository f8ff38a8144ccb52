/**
 * Seals WebRTC signals for the signaling server to relay: AES-GCM under the room's signal key, with the room id and,
 * for sender and recipient, the server-assigned peer id and the nonce that member picked for its room session as
 * additional data. So a relay cannot read, alter, redirect between members, or move a blob to another room, and a
 * blob recorded in an earlier room session never opens in a later one, whatever ids the server hands out. A
 * per-sender sequence number refuses replays within a room session.
 */
import { base64urlToBytes, bytesToBase64url, concatBytes, framedConcat, parseJsonBytes, toBufferSource, utf8 } from '../encoding.ts';
import { parsePeerSignal, type PeerSignal } from '../protocol/peerSignal.ts';
import type { Random } from '../ports.ts';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SignalRoute {
  readonly roomId: string;
  readonly fromPeerId: string;
  readonly fromNonce: string;
  readonly toPeerId: string;
  readonly toNonce: string;
}

export type OpenSignalResult =
  | { readonly ok: true; readonly seq: number; readonly signal: PeerSignal }
  | { readonly ok: false; readonly reason: 'undecodable' | 'unauthentic' | 'malformed' };

function additionalData(route: SignalRoute): Uint8Array<ArrayBuffer> {
  return toBufferSource(
    framedConcat(
      utf8('parley/v1 signal'),
      utf8(route.roomId),
      utf8(route.fromPeerId),
      utf8(route.fromNonce),
      utf8(route.toPeerId),
      utf8(route.toNonce),
    ),
  );
}

export async function sealSignal(
  signalKey: CryptoKey,
  route: SignalRoute,
  seq: number,
  signal: PeerSignal,
  random: Random,
): Promise<string> {
  const iv = toBufferSource(random.bytes(IV_BYTES));
  const plaintext = utf8(JSON.stringify({ seq, signal }));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: additionalData(route) },
    signalKey,
    toBufferSource(plaintext),
  );
  return bytesToBase64url(concatBytes(iv, new Uint8Array(ciphertext)));
}

export async function openSignal(signalKey: CryptoKey, route: SignalRoute, blob: string): Promise<OpenSignalResult> {
  const bytes = base64urlToBytes(blob);
  if (bytes === null || bytes.length < IV_BYTES + TAG_BYTES) return { ok: false, reason: 'undecodable' };
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: toBufferSource(bytes.slice(0, IV_BYTES)), additionalData: additionalData(route) },
      signalKey,
      toBufferSource(bytes.slice(IV_BYTES)),
    );
  } catch {
    return { ok: false, reason: 'unauthentic' };
  }
  // Authentic but still parsed strictly: a member who knows the secret is not trusted to send well-formed data.
  const parsed = parseJsonBytes(new Uint8Array(plaintext));
  if (!parsed.ok) return { ok: false, reason: 'malformed' };
  const value = parsed.value;
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'malformed' };
  const seq: unknown = Reflect.get(value, 'seq');
  const signal = parsePeerSignal(Reflect.get(value, 'signal'));
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || signal === null || Object.keys(value).length !== 2) {
    return { ok: false, reason: 'malformed' };
  }
  return { ok: true, seq, signal };
}
