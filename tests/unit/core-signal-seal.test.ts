import { beforeAll, describe, expect, it } from 'vitest';
import { base64urlToBytes, bytesToBase64url, concatBytes, framedConcat, toBufferSource, utf8 } from '../../src/core/encoding.ts';
import { deriveRoomKeys, type RoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { openSignal, sealSignal, type SignalRoute } from '../../src/core/crypto/signalSeal.ts';
import type { PeerSignal } from '../../src/core/protocol/peerSignal.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { CHROMIUM_HOST_CANDIDATE, chromiumDataChannelSdp, flipBit, secretFromSeed, seededRandom } from './support/coreFixtures.ts';

const offer: PeerSignal = { type: 'offer', sdp: chromiumDataChannelSdp() };
const answer: PeerSignal = { type: 'answer', sdp: chromiumDataChannelSdp({ setup: 'active' }) };
const candidate: PeerSignal = { type: 'candidate', candidate: { candidate: CHROMIUM_HOST_CANDIDATE, sdpMLineIndex: 0, sdpMid: '0' } };

let room: RoomKeys;
let otherRoom: RoomKeys;
let route: SignalRoute;

beforeAll(async () => {
  [room, otherRoom] = await Promise.all([deriveRoomKeys(secretFromSeed(100)), deriveRoomKeys(secretFromSeed(101))]);
  route = { roomId: room.roomId, fromPeerId: 'alice01', fromNonce: 'aliceNonce0000000000001', toPeerId: 'bob02', toNonce: 'bobNonce000000000000002' };
});

function decode(blob: string): Uint8Array {
  const bytes = base64urlToBytes(blob);
  if (bytes === null) throw new Error('test blob is not base64url');
  return bytes;
}

/**
 * Seals an arbitrary plaintext the way sealSignal does (same AAD construction, duplicated here on
 * purpose) so the tests can hand openSignal authentic blobs whose content is not a valid signal.
 */
async function sealRaw(key: CryptoKey, r: SignalRoute, plaintext: Uint8Array): Promise<string> {
  const iv = systemRandom.bytes(12);
  const aad = framedConcat(utf8('parley/v1 signal'), utf8(r.roomId), utf8(r.fromPeerId), utf8(r.fromNonce), utf8(r.toPeerId), utf8(r.toNonce));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: toBufferSource(iv), additionalData: toBufferSource(aad) },
    key,
    toBufferSource(plaintext),
  );
  return bytesToBase64url(concatBytes(iv, new Uint8Array(ciphertext)));
}

describe('sealSignal / openSignal round trip', () => {
  it('opens offer, answer and candidate with their sequence numbers', async () => {
    for (const [seq, signal] of [[0, offer], [1, answer], [2, candidate]] as const) {
      const blob = await sealSignal(room.signalKey, route, seq, signal, systemRandom);
      expect(blob).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(await openSignal(room.signalKey, route, blob)).toEqual({ ok: true, seq, signal });
    }
  });

  it('accepts the largest safe sequence number', async () => {
    const blob = await sealSignal(room.signalKey, route, Number.MAX_SAFE_INTEGER, candidate, systemRandom);
    expect(await openSignal(room.signalKey, route, blob)).toEqual({ ok: true, seq: Number.MAX_SAFE_INTEGER, signal: candidate });
  });

  it('takes a fresh IV from Random for every seal, so equal signals give different blobs', async () => {
    const a = await sealSignal(room.signalKey, route, 0, offer, systemRandom);
    const b = await sealSignal(room.signalKey, route, 0, offer, systemRandom);
    expect(a).not.toBe(b);
    const seeded = seededRandom(5);
    const expectedIv = seededRandom(5).bytes(12);
    const c = await sealSignal(room.signalKey, route, 0, offer, seeded);
    expect(decode(c).subarray(0, 12)).toEqual(expectedIv);
  });

  it('does not carry the sdp in the clear', async () => {
    const blob = await sealSignal(room.signalKey, route, 0, offer, systemRandom);
    const bytes = decode(blob);
    const text = new TextDecoder('latin1').decode(bytes);
    expect(text.includes('fingerprint')).toBe(false);
    expect(text.includes('ice-pwd')).toBe(false);
  });
});

describe('replays', () => {
  it('openSignal itself does not refuse a replayed blob: it returns the same seq, and the caller must track it', async () => {
    const blob = await sealSignal(room.signalKey, route, 9, candidate, systemRandom);
    const first = await openSignal(room.signalKey, route, blob);
    const second = await openSignal(room.signalKey, route, blob);
    expect(first).toEqual({ ok: true, seq: 9, signal: candidate });
    expect(second).toEqual(first);
  });
});

describe('openSignal refuses tampering', () => {
  it('any flipped bit in IV, ciphertext or tag → unauthentic', async () => {
    const blob = await sealSignal(room.signalKey, route, 7, candidate, systemRandom);
    const bytes = decode(blob);
    const positions = [0, 5, 11, 12, 13, Math.floor(bytes.length / 2), bytes.length - 17, bytes.length - 16, bytes.length - 8, bytes.length - 1];
    for (const position of positions) {
      for (const mask of [0x01, 0x80]) {
        const tampered = bytesToBase64url(flipBit(bytes, position, mask));
        expect(await openSignal(room.signalKey, route, tampered), `byte ${position} mask ${mask}`).toEqual({ ok: false, reason: 'unauthentic' });
      }
    }
    // The untouched blob still opens, so the failures above are due to the flips.
    expect((await openSignal(room.signalKey, route, blob)).ok).toBe(true);
  });

  it('a blob cut below IV + tag → undecodable; a blob cut by one byte → unauthentic', async () => {
    const bytes = decode(await sealSignal(room.signalKey, route, 0, candidate, systemRandom));
    for (const length of [0, 1, 12, 27]) {
      expect(await openSignal(room.signalKey, route, bytesToBase64url(bytes.subarray(0, length)))).toEqual({ ok: false, reason: 'undecodable' });
    }
    for (const length of [28, 40, bytes.length - 1]) {
      expect(await openSignal(room.signalKey, route, bytesToBase64url(bytes.subarray(0, length)))).toEqual({ ok: false, reason: 'unauthentic' });
    }
  });

  it('the blob text cut by one character → refused', async () => {
    const blob = await sealSignal(room.signalKey, route, 0, offer, systemRandom);
    const result = await openSignal(room.signalKey, route, blob.slice(0, -1));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(['undecodable', 'unauthentic']).toContain(result.reason);
  });

  it('a blob with bytes appended → unauthentic', async () => {
    const bytes = decode(await sealSignal(room.signalKey, route, 0, offer, systemRandom));
    const extended = bytesToBase64url(concatBytes(bytes, Uint8Array.of(0)));
    expect(await openSignal(room.signalKey, route, extended)).toEqual({ ok: false, reason: 'unauthentic' });
  });

  it("a blob sealed under another room's key → unauthentic", async () => {
    const blob = await sealSignal(otherRoom.signalKey, route, 0, offer, systemRandom);
    expect(await openSignal(room.signalKey, route, blob)).toEqual({ ok: false, reason: 'unauthentic' });
  });

  it('non-base64url text → undecodable', async () => {
    const blob = await sealSignal(room.signalKey, route, 0, offer, systemRandom);
    for (const text of [`${blob}=`, blob.replace(/[-_]/g, '+'), `${blob.slice(0, 10)} ${blob.slice(10)}`, '!!!!', '{"seq":0}']) {
      if (text === blob) continue;
      expect(await openSignal(room.signalKey, route, text), text.slice(0, 20)).toEqual({ ok: false, reason: 'undecodable' });
    }
    expect(await openSignal(room.signalKey, route, '')).toEqual({ ok: false, reason: 'undecodable' });
  });
});

describe('the test vector of PROTOCOL.md §3.4', () => {
  it('seals exactly the documented blob, and opens it', async () => {
    const keys = await deriveRoomKeys(Uint8Array.from({ length: 32 }, (_, i) => i));
    const vectorRoute: SignalRoute = {
      roomId: 'jp3J7wW7msH0d1idQsCUYg',
      fromPeerId: 'A',
      fromNonce: 'CgoKCgoKCgoKCgoKCgoKCg',
      toPeerId: 'B',
      toNonce: 'CwsLCwsLCwsLCwsLCwsLCw',
    };
    expect(keys.roomId).toBe(vectorRoute.roomId);
    expect(base64urlToBytes(vectorRoute.fromNonce)).toEqual(new Uint8Array(16).fill(0x0a));
    expect(base64urlToBytes(vectorRoute.toNonce)).toEqual(new Uint8Array(16).fill(0x0b));
    const signal: PeerSignal = { type: 'candidate', candidate: { candidate: '', sdpMLineIndex: 0, sdpMid: '0' } };
    const zeroIv = { bytes: (length: number) => new Uint8Array(length) };
    const blob =
      'AAAAAAAAAAAAAAAANzqVZ0XWuMoWeIPNZbIHOM36OypN1GqNQlVJ7gEncYoqU1GYc9ig9gNnbYqfUWIDAwOAkqtwxI9m5HE50KZBwGKYNiVFJZBqpFSkIflQghNdnJeJruaZmkYKWUvLF7qomNvGPqP8EXInXps3h6rSWNtJRA';
    expect(await sealSignal(keys.signalKey, vectorRoute, 0, signal, zeroIv)).toBe(blob);
    expect(await openSignal(keys.signalKey, vectorRoute, blob)).toEqual({ ok: true, seq: 0, signal });
  });
});

describe('openSignal binds the route (room id, sender and recipient with their connection nonces)', () => {
  it('refuses the blob under a different route', async () => {
    const blob = await sealSignal(room.signalKey, route, 3, answer, systemRandom);
    const wrongRoutes: SignalRoute[] = [
      // swapped: reflected back to the sender
      { ...route, fromPeerId: route.toPeerId, fromNonce: route.toNonce, toPeerId: route.fromPeerId, toNonce: route.fromNonce },
      { ...route, roomId: otherRoom.roomId }, // moved to another room id (same key)
      { ...route, toPeerId: 'carol03' }, // redirected to another member
      { ...route, fromPeerId: 'mallory9' }, // relabelled as coming from another member
      { ...route, toNonce: 'bobNonce000000000000003' }, // delivered to another room session of the recipient (a replay into a later one)
      { ...route, fromNonce: 'aliceNonce0000000000002' }, // attributed to another room session of the sender
      { ...route, fromNonce: route.toNonce, toNonce: route.fromNonce }, // nonces swapped
      { ...route, roomId: `${route.roomId}x` },
    ];
    for (const wrong of wrongRoutes) {
      expect(await openSignal(room.signalKey, wrong, blob), JSON.stringify(wrong)).toEqual({ ok: false, reason: 'unauthentic' });
    }
    expect(await openSignal(room.signalKey, route, blob)).toEqual({ ok: true, seq: 3, signal: answer });
  });

  it('frames the route fields, so shifting characters between them does not verify', async () => {
    const a: SignalRoute = { roomId: route.roomId, fromPeerId: 'ab', fromNonce: 'n', toPeerId: 'c', toNonce: 'm' };
    const shifted: SignalRoute[] = [
      { ...a, fromPeerId: 'a', fromNonce: 'bn' },
      { ...a, fromNonce: 'nc', toPeerId: '' },
      { ...a, toPeerId: 'cm', toNonce: '' },
    ];
    const blob = await sealSignal(room.signalKey, a, 0, candidate, systemRandom);
    for (const b of shifted) expect(await openSignal(room.signalKey, b, blob), JSON.stringify(b)).toEqual({ ok: false, reason: 'unauthentic' });
    expect((await openSignal(room.signalKey, a, blob)).ok).toBe(true);
  });
});

describe('openSignal parses authentic plaintext strictly', () => {
  it('sanity: the test sealer matches sealSignal (a valid plaintext opens)', async () => {
    const blob = await sealRaw(room.signalKey, route, utf8(JSON.stringify({ seq: 4, signal: offer })));
    expect(await openSignal(room.signalKey, route, blob)).toEqual({ ok: true, seq: 4, signal: offer });
  });

  it('refuses authentic blobs whose content is not a valid sealed signal → malformed', async () => {
    const plaintexts: Array<[string, Uint8Array]> = [
      ['invalid UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d)],
      ['not JSON', utf8('seq=0')],
      ['empty', new Uint8Array(0)],
      ['JSON null', utf8('null')],
      ['JSON number', utf8('42')],
      ['JSON string', utf8('"offer"')],
      ['JSON array', utf8(JSON.stringify([0, offer]))],
      ['missing seq', utf8(JSON.stringify({ signal: offer }))],
      ['missing signal', utf8(JSON.stringify({ seq: 0 }))],
      ['negative seq', utf8(JSON.stringify({ seq: -1, signal: offer }))],
      ['fractional seq', utf8(JSON.stringify({ seq: 1.5, signal: offer }))],
      ['string seq', utf8(JSON.stringify({ seq: '0', signal: offer }))],
      ['unsafe seq', utf8(JSON.stringify({ seq: 2 ** 53, signal: offer }))],
      ['extra key', utf8(JSON.stringify({ seq: 0, signal: offer, from: 'bob' }))],
      ['renegotiate', utf8(JSON.stringify({ seq: 0, signal: { type: 'renegotiate', renegotiate: true } }))],
      ['signal with extra key', utf8(JSON.stringify({ seq: 0, signal: { ...offer, x: 1 } }))],
    ];
    for (const [label, plaintext] of plaintexts) {
      const blob = await sealRaw(room.signalKey, route, plaintext);
      expect(await openSignal(room.signalKey, route, blob), label).toEqual({ ok: false, reason: 'malformed' });
    }
  });
});
