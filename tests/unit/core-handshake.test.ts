import { beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, framedConcat, toBufferSource, utf8 } from '../../src/core/encoding.ts';
import {
  buildTranscript,
  createConfirm,
  createHello,
  encodeHello,
  generateSessionKeyPair,
  HANDSHAKE_NONCE_BYTES,
  importPeerPublicKey,
  openConfirm,
  otherRole,
  parseHello,
  type Hello,
  type Role,
  type SessionKeyPair,
} from '../../src/core/crypto/handshake.ts';
import { deriveRoomKeys, type RoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { FrameOpener, FrameSealer } from '../../src/core/crypto/sessionCipher.ts';
import { FrameType, parseFrame } from '../../src/core/protocol/frames.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { FINGERPRINT_A, FINGERPRINT_B, FINGERPRINT_M, flipBit, secretFromSeed } from './support/coreFixtures.ts';

const RSA_OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;
const CONFIRM_BYTES = 32 + 384;

let alice: SessionKeyPair; // initiator
let bob: SessionKeyPair; // responder
/** A relay's own RSA-OAEP-3072 key. Its exponent is 3, so it doubles as a key importPeerPublicKey must refuse. */
let mallory: { readonly publicKey: CryptoKey; readonly spki: Uint8Array };
let rsa2048Spki: Uint8Array;
let ecSpki: Uint8Array;
let room: RoomKeys;
let otherRoom: RoomKeys;

async function exportSpki(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('spki', key));
}

beforeAll(async () => {
  const rsa = (modulusLength: number, publicExponent: Uint8Array<ArrayBuffer>) =>
    crypto.subtle.generateKey({ ...RSA_OAEP, modulusLength, publicExponent }, true, ['encrypt', 'decrypt']);
  const [a, b, weak, e3, ec, r1, r2] = await Promise.all([
    generateSessionKeyPair(),
    generateSessionKeyPair(),
    rsa(2048, Uint8Array.of(1, 0, 1)),
    rsa(3072, Uint8Array.of(3)),
    crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']),
    deriveRoomKeys(secretFromSeed(500)),
    deriveRoomKeys(secretFromSeed(501)),
  ]);
  [alice, bob, room, otherRoom] = [a, b, r1, r2];
  const [weakSpki, e3Spki, ecKeySpki] = await Promise.all([exportSpki(weak.publicKey), exportSpki(e3.publicKey), exportSpki(ec.publicKey)]);
  [rsa2048Spki, ecSpki] = [weakSpki, ecKeySpki];
  mallory = { publicKey: e3.publicKey, spki: e3Spki };
}, 30_000);

interface Sides {
  readonly helloA: Hello;
  readonly helloB: Hello;
  /** The initiator's transcript. */
  readonly tA: Uint8Array;
  /** The responder's transcript. */
  readonly tB: Uint8Array;
}

/** Both sides' view of one honest exchange: alice initiates with fingerprint A, bob responds with B. */
function honest(): Sides {
  const helloA = createHello(alice, systemRandom);
  const helloB = createHello(bob, systemRandom);
  const tA = buildTranscript({ role: 'initiator', own: helloA, peer: helloB, localFingerprint: FINGERPRINT_A, remoteFingerprint: FINGERPRINT_B });
  const tB = buildTranscript({ role: 'responder', own: helloB, peer: helloA, localFingerprint: FINGERPRINT_B, remoteFingerprint: FINGERPRINT_A });
  return { helloA, helloB, tA, tB };
}

/** The MAC input, duplicated from handshake.ts on purpose so tests can forge confirms with the right key. */
function macInput(senderRole: Role, transcript: Uint8Array, wrappedKey: Uint8Array): Uint8Array<ArrayBuffer> {
  return toBufferSource(framedConcat(utf8('parley/v1 confirm'), utf8(senderRole), transcript, wrappedKey));
}

async function forgeConfirm(authKey: CryptoKey, senderRole: Role, transcript: Uint8Array, wrappedKey: Uint8Array): Promise<Uint8Array> {
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', authKey, macInput(senderRole, transcript, wrappedKey)));
  return concatBytes(mac, wrappedKey);
}

async function roundTripData(sendKey: CryptoKey, receiveKey: CryptoKey): Promise<boolean> {
  const iv = systemRandom.bytes(12);
  const data = utf8('data under the session key');
  const ciphertext = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: toBufferSource(iv) }, sendKey, toBufferSource(data));
  try {
    const plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: toBufferSource(iv) }, receiveKey, ciphertext);
    return bytesEqual(new Uint8Array(plaintext), data);
  } catch {
    return false;
  }
}

describe('generateSessionKeyPair', () => {
  it('makes a non-extractable private key that can unwrap (the only thing the handshake does with it)', () => {
    expect(alice.privateKey.extractable).toBe(false);
    expect(alice.privateKey.usages).toContain('unwrapKey');
    expect(alice.privateKey.algorithm).toMatchObject({ name: 'RSA-OAEP', modulusLength: 3072 });
  });
});

describe('hello', () => {
  it('carries a fresh 32-byte nonce and the 3072-bit key; encode/parse round-trips', () => {
    const h1 = createHello(alice, systemRandom);
    const h2 = createHello(alice, systemRandom);
    expect(h1.nonce).toHaveLength(HANDSHAKE_NONCE_BYTES);
    expect(bytesEqual(h1.nonce, h2.nonce)).toBe(false);
    expect(alice.spki.length).toBe(422);
    const parsed = parseHello(encodeHello(h1));
    expect(parsed).not.toBeNull();
    expect(parsed?.nonce).toEqual(h1.nonce);
    expect(parsed?.spki).toEqual(h1.spki);
  });

  it('parseHello refuses bodies whose key part is outside 400..600 bytes', () => {
    for (const spkiLength of [0, 1, 91, 294, 399, 601, 1000]) {
      expect(parseHello(new Uint8Array(HANDSHAKE_NONCE_BYTES + spkiLength)), `spki ${spkiLength}`).toBeNull();
    }
    for (const length of [0, 1, HANDSHAKE_NONCE_BYTES, HANDSHAKE_NONCE_BYTES - 1]) expect(parseHello(new Uint8Array(length))).toBeNull();
    expect(parseHello(new Uint8Array(HANDSHAKE_NONCE_BYTES + 400))).not.toBeNull();
    expect(parseHello(new Uint8Array(HANDSHAKE_NONCE_BYTES + 600))).not.toBeNull();
  });
});

describe('importPeerPublicKey', () => {
  it('accepts an RSA-OAEP-3072 key with exponent 65537', async () => {
    const key = await importPeerPublicKey(bob.spki);
    expect(key).not.toBeNull();
    expect(key?.usages).toEqual(['encrypt']);
  });

  it('refuses an RSA-2048 key', async () => {
    expect(await importPeerPublicKey(rsa2048Spki)).toBeNull();
  });

  it('refuses an RSA-3072 key with exponent 3', async () => {
    expect(mallory.spki.length).toBeGreaterThanOrEqual(400); // passes parseHello's size check, so this check matters
    expect(await importPeerPublicKey(mallory.spki)).toBeNull();
  });

  it('refuses an EC key', async () => {
    expect(await importPeerPublicKey(ecSpki)).toBeNull();
  });

  it('refuses garbage and a corrupted key', async () => {
    expect(await importPeerPublicKey(new Uint8Array(422))).toBeNull();
    expect(await importPeerPublicKey(bob.spki.subarray(0, 300))).toBeNull();
    expect(await importPeerPublicKey(flipBit(bob.spki, 1, 0x40))).toBeNull();
  });
});

describe('transcript', () => {
  it('is identical on both sides when each computes it with own and peer swapped', () => {
    const { tA, tB } = honest();
    expect(bytesEqual(tA, tB)).toBe(true);
  });

  it('changes with either fingerprint, either nonce, either key, and with the role', () => {
    const { helloA, helloB, tA } = honest();
    const base = { role: 'responder' as const, own: helloB, peer: helloA, localFingerprint: FINGERPRINT_B, remoteFingerprint: FINGERPRINT_A };
    const variants = [
      buildTranscript({ ...base, remoteFingerprint: FINGERPRINT_M }),
      buildTranscript({ ...base, localFingerprint: FINGERPRINT_M }),
      buildTranscript({ ...base, localFingerprint: FINGERPRINT_A, remoteFingerprint: FINGERPRINT_B }),
      buildTranscript({ ...base, peer: { ...helloA, nonce: flipBit(helloA.nonce, 0) } }),
      buildTranscript({ ...base, own: { ...helloB, nonce: flipBit(helloB.nonce, 31) } }),
      buildTranscript({ ...base, peer: { ...helloA, spki: mallory.spki } }),
      buildTranscript({ ...base, own: { ...helloB, spki: mallory.spki } }),
      buildTranscript({ ...base, role: 'initiator' }),
    ];
    for (const [index, variant] of variants.entries()) expect(bytesEqual(variant, tA), `variant ${index}`).toBe(false);
  });
});

describe('confirm', () => {
  it("the initiator's confirm opens at the responder, and the keys work in that direction only", async () => {
    const { tA, tB } = honest();
    const bobPublic = await importPeerPublicKey(bob.spki);
    if (bobPublic === null) throw new Error('unreachable');
    const confirm = await createConfirm(room.authKey, 'initiator', tA, bobPublic, systemRandom);
    expect(confirm.body).toHaveLength(CONFIRM_BYTES);
    expect(confirm.sendKey.extractable).toBe(false);
    const opened = await openConfirm(room.authKey, 'initiator', tB, confirm.body, bob.privateKey);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.receiveKey.extractable).toBe(false);
    expect(await roundTripData(confirm.sendKey, opened.receiveKey)).toBe(true);
    // Through the frame cipher as the session uses it.
    const frameBytes = await new FrameSealer(confirm.sendKey, 'initiator-to-responder').seal(FrameType.message, utf8('hi bob'));
    const parsed = parseFrame(frameBytes);
    if (!parsed.ok) throw new Error('unreachable');
    expect(await new FrameOpener(opened.receiveKey, 'initiator-to-responder').open(parsed.frame)).toEqual({ ok: true, plaintext: utf8('hi bob') });
  });

  it("the responder's confirm opens at the initiator, with a different key from the other direction", async () => {
    const { tA, tB } = honest();
    const [alicePublic, bobPublic] = await Promise.all([importPeerPublicKey(alice.spki), importPeerPublicKey(bob.spki)]);
    if (alicePublic === null || bobPublic === null) throw new Error('unreachable');
    const fromBob = await createConfirm(room.authKey, 'responder', tB, alicePublic, systemRandom);
    const fromAlice = await createConfirm(room.authKey, 'initiator', tA, bobPublic, systemRandom);
    const atAlice = await openConfirm(room.authKey, 'responder', tA, fromBob.body, alice.privateKey);
    const atBob = await openConfirm(room.authKey, 'initiator', tB, fromAlice.body, bob.privateKey);
    if (!atAlice.ok || !atBob.ok) throw new Error('honest confirms must open');
    expect(await roundTripData(fromBob.sendKey, atAlice.receiveKey)).toBe(true);
    // The two directions use independent keys.
    expect(await roundTripData(fromAlice.sendKey, atAlice.receiveKey)).toBe(false);
    expect(await roundTripData(fromBob.sendKey, atBob.receiveKey)).toBe(false);
  });

  it('fails under the auth key of another room secret', async () => {
    const { tA, tB } = honest();
    const bobPublic = await importPeerPublicKey(bob.spki);
    if (bobPublic === null) throw new Error('unreachable');
    const confirm = await createConfirm(otherRoom.authKey, 'initiator', tA, bobPublic, systemRandom);
    expect((await openConfirm(room.authKey, 'initiator', tB, confirm.body, bob.privateKey)).ok).toBe(false);
  });

  it('fails when the transcripts differ (fingerprint, nonce, or public key altered on one side)', async () => {
    const { helloA, helloB, tA } = honest();
    const bobPublic = await importPeerPublicKey(bob.spki);
    if (bobPublic === null) throw new Error('unreachable');
    const confirm = await createConfirm(room.authKey, 'initiator', tA, bobPublic, systemRandom);
    const base = { role: 'responder' as const, own: helloB, peer: helloA, localFingerprint: FINGERPRINT_B, remoteFingerprint: FINGERPRINT_A };
    const altered = [
      buildTranscript({ ...base, remoteFingerprint: FINGERPRINT_M }), // a relay terminated DTLS with its own certificate
      buildTranscript({ ...base, peer: { ...helloA, nonce: flipBit(helloA.nonce, 5) } }),
      buildTranscript({ ...base, peer: { ...helloA, spki: mallory.spki } }),
    ];
    for (const [index, transcript] of altered.entries()) {
      expect((await openConfirm(room.authKey, 'initiator', transcript, confirm.body, bob.privateKey)).ok, `variant ${index}`).toBe(false);
    }
    expect((await openConfirm(room.authKey, 'initiator', buildTranscript(base), confirm.body, bob.privateKey)).ok).toBe(true);
  });

  it('fails when reflected to its author (opened with the sender’s own role)', async () => {
    const { tA } = honest();
    // Worst case for reflection: the relay echoed alice's own hello, so her confirm is wrapped to her own key.
    const alicePublic = await importPeerPublicKey(alice.spki);
    if (alicePublic === null) throw new Error('unreachable');
    const confirm = await createConfirm(room.authKey, 'initiator', tA, alicePublic, systemRandom);
    const reflected = await openConfirm(room.authKey, otherRole('initiator'), tA, confirm.body, alice.privateKey);
    expect(reflected.ok).toBe(false);
    // Only the role made the difference.
    expect((await openConfirm(room.authKey, 'initiator', tA, confirm.body, alice.privateKey)).ok).toBe(true);
  });

  it('fails when the MAC or the wrapped key is tampered with', async () => {
    const { tA, tB } = honest();
    const bobPublic = await importPeerPublicKey(bob.spki);
    if (bobPublic === null) throw new Error('unreachable');
    const { body } = await createConfirm(room.authKey, 'initiator', tA, bobPublic, systemRandom);
    for (const position of [0, 16, 31, 32, 33, 200, body.length - 1]) {
      expect((await openConfirm(room.authKey, 'initiator', tB, flipBit(body, position), bob.privateKey)).ok, `byte ${position}`).toBe(false);
    }
  });

  it('fails for a body of the wrong length', async () => {
    const { tA, tB } = honest();
    const bobPublic = await importPeerPublicKey(bob.spki);
    if (bobPublic === null) throw new Error('unreachable');
    const { body } = await createConfirm(room.authKey, 'initiator', tA, bobPublic, systemRandom);
    for (const bad of [new Uint8Array(0), body.subarray(0, 32), body.subarray(0, body.length - 1), concatBytes(body, Uint8Array.of(0))]) {
      expect((await openConfirm(room.authKey, 'initiator', tB, bad, bob.privateKey)).ok, `length ${bad.length}`).toBe(false);
    }
  });

  it('fails when the key was wrapped for someone else, even with a valid MAC', async () => {
    const { tB } = honest();
    const wrapped = new Uint8Array(await crypto.subtle.encrypt(RSA_OAEP, mallory.publicKey, toBufferSource(systemRandom.bytes(32))));
    const body = await forgeConfirm(room.authKey, 'initiator', tB, wrapped);
    const opened = await openConfirm(room.authKey, 'initiator', tB, body, bob.privateKey);
    expect(opened.ok).toBe(false);
  });

  it('refuses a validly wrapped and MACed session key shorter than 256 bits', async () => {
    const { tB } = honest();
    const bobPublic = await importPeerPublicKey(bob.spki);
    if (bobPublic === null) throw new Error('unreachable');
    for (const keyBytes of [16, 24]) {
      const wrapped = new Uint8Array(await crypto.subtle.encrypt(RSA_OAEP, bobPublic, toBufferSource(systemRandom.bytes(keyBytes))));
      const body = await forgeConfirm(room.authKey, 'initiator', tB, wrapped);
      const opened = await openConfirm(room.authKey, 'initiator', tB, body, bob.privateKey);
      expect(opened.ok, `${keyBytes * 8}-bit key`).toBe(false);
    }
    // Sanity: the forging helper builds what createConfirm builds, so a 256-bit key does open.
    const wrapped = new Uint8Array(await crypto.subtle.encrypt(RSA_OAEP, bobPublic, toBufferSource(systemRandom.bytes(32))));
    expect((await openConfirm(room.authKey, 'initiator', tB, await forgeConfirm(room.authKey, 'initiator', tB, wrapped), bob.privateKey)).ok).toBe(true);
  });
});
