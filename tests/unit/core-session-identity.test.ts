/**
 * The identity exchange inside SecureSession, attacked by a peer that knows the room secret and runs an
 * honest handshake: the test plays the initiator with the real handshake primitives, holds the real session
 * keys, and so can seal any identity frame it likes. Only the identity checks stand between it and `secure`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, framedConcat, toBufferSource, utf8 } from '../../src/core/encoding.ts';
import {
  buildTranscript,
  createConfirm,
  createHello,
  encodeHello,
  generateSessionKeyPair,
  importPeerPublicKey,
  openConfirm,
  parseHello,
  type Role,
  type SessionKeyPair,
} from '../../src/core/crypto/handshake.ts';
import { createIdentityMessage, generateGuestIdentity, type LocalIdentity, type ProfileIdentity } from '../../src/core/crypto/identityProof.ts';
import { deriveRoomKeys, type RoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { FrameOpener, FrameSealer } from '../../src/core/crypto/sessionCipher.ts';
import { encodeFrameHeader, FrameType, parseFrame } from '../../src/core/protocol/frames.ts';
import { parseIdentityMessage } from '../../src/core/protocol/identityMessage.ts';
import { encodeGroupFrame, textBody } from '../../src/core/protocol/groupMessages.ts';
import { encodeChunkHeader, encodeTransferControl } from '../../src/core/transfer/transferMessages.ts';
import { SecureSession, type SessionEvent } from '../../src/core/session/secureSession.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { generateIdentity, signTranscript, verifyTranscript } from '../../src/core/vault/identity.ts';
import { FINGERPRINT_A, FINGERPRINT_B, flipBit, secretFromSeed } from './support/coreFixtures.ts';

let initiatorPair: SessionKeyPair;
let responderPair: SessionKeyPair;
let room: RoomKeys;
let alice: ProfileIdentity;
let bob: ProfileIdentity;
let initiatorGuest: LocalIdentity;
let responderGuest: LocalIdentity;
/** PROTOCOL.md §12.5: the message { id and author all zero, seq 1, time 0, to everyone, "hi" } sealed as frame 0. */
const VECTOR =
  '0312000000000000000044' +
  '36cdaa0c5af4a85f3c6590a9bd3580673fc9c0def43c0eb19c80960e6d3ed0fcd68a65c1e52d97235b0837d9de8287aaebd1674139c11fefee2a4f7eff4c635f5444';

beforeAll(async () => {
  const [i, r, keys, a, b] = await Promise.all([
    generateSessionKeyPair(),
    generateSessionKeyPair(),
    deriveRoomKeys(secretFromSeed(900)),
    generateIdentity(),
    generateIdentity(),
  ]);
  [initiatorPair, responderPair, room] = [i, r, keys];
  alice = { kind: 'profile', displayName: 'Alice', ...a };
  bob = { kind: 'profile', displayName: 'Bob', ...b };
  [initiatorGuest, responderGuest] = await Promise.all([generateGuestIdentity(), generateGuestIdentity()]);
}, 30_000);

// ---- a hand-driven initiator against a real responder ---------------------------------------------

interface ManualLink {
  readonly responder: SecureSession;
  readonly events: SessionEvent[];
  /** Everything the responder sent, in order. */
  readonly sent: Uint8Array[];
  readonly transcript: Uint8Array;
  /** Seals as the initiator, with the very key the responder unwrapped. */
  readonly sealer: FrameSealer;
  /** Opens what the responder seals. */
  readonly opener: FrameOpener;
  /** Hands one frame to the responder and waits until it has dealt with it. */
  deliver(frame: Uint8Array): Promise<void>;
}

const frameTypes = (frames: readonly Uint8Array[]) => frames.map((frame) => frame[1]);

async function settle(session: SecureSession): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const before = [session['inbound'], session['outbound']];
    await Promise.all(before);
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (session['inbound'] === before[0] && session['outbound'] === before[1]) return;
  }
  throw new Error('the session did not settle');
}

/** Runs hello and confirm honestly as the initiator; the responder then waits for our identity frame. */
async function manualLink(responderIdentity?: LocalIdentity): Promise<ManualLink> {
  const events: SessionEvent[] = [];
  const sent: Uint8Array[] = [];
  const responder = new SecureSession({
    role: 'responder',
    authKey: room.authKey,
    keyPair: responderPair,
    localFingerprint: FINGERPRINT_B,
    remoteFingerprint: FINGERPRINT_A,
    random: systemRandom,
    onEvent: (event) => events.push(event),
    send: (frame) => sent.push(frame.slice()),
    identity: responderIdentity ?? responderGuest,
  });
  const deliver = async (frame: Uint8Array): Promise<void> => {
    responder.receive(frame);
    await settle(responder);
  };

  responder.start();
  const ownHello = createHello(initiatorPair, systemRandom);
  await deliver(concatBytes(encodeFrameHeader(FrameType.hello, 0n), encodeHello(ownHello)));
  // Before our confirm it has verified nothing, so it has revealed nothing about who it is.
  expect(frameTypes(sent)).toEqual([FrameType.hello, FrameType.confirm]);
  const [helloFrame, confirmFrame] = sent;
  const peerHello = helloFrame === undefined ? null : parseHello(helloFrame.subarray(10));
  const peerKey = peerHello === null ? null : await importPeerPublicKey(peerHello.spki);
  if (peerHello === null || peerKey === null || confirmFrame === undefined) throw new Error('the responder’s hello is unusable');
  const transcript = buildTranscript({ role: 'initiator', own: ownHello, peer: peerHello, localFingerprint: FINGERPRINT_A, remoteFingerprint: FINGERPRINT_B });
  const confirm = await createConfirm(room.authKey, 'initiator', transcript, peerKey, systemRandom);
  const opened = await openConfirm(room.authKey, 'responder', transcript, confirmFrame.subarray(10), initiatorPair.privateKey);
  if (!opened.ok) throw new Error(opened.reason);
  await deliver(concatBytes(encodeFrameHeader(FrameType.confirm, 0n), confirm.body));
  // Our confirm verified: its identity frame is out, and it waits for ours before calling anything secure.
  expect(frameTypes(sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
  expect(events).toEqual([]);
  expect(responder.isSecure).toBe(false);
  return {
    responder,
    events,
    sent,
    transcript,
    sealer: new FrameSealer(confirm.sendKey, 'initiator-to-responder'),
    opener: new FrameOpener(opened.receiveKey, 'responder-to-initiator'),
    deliver,
  };
}

/** What PROTOCOL.md says a profile signs (inside the identity key's own label), built independently here. */
function specSignedInput(role: Role, transcript: Uint8Array, name: string, spki: Uint8Array): Uint8Array {
  return framedConcat(utf8('parley/v1 session identity'), utf8(role), transcript, utf8(name), spki);
}

/** An identity plaintext whose signature covers what the test chose, encoded without the sender's checks. */
async function profilePlaintext(options: {
  readonly signer: LocalIdentity;
  readonly role: Role;
  readonly transcript: Uint8Array;
  readonly signedName: string;
  readonly spki?: Uint8Array;
}): Promise<Uint8Array> {
  const spki = options.spki ?? options.signer.publicKeySpki;
  const signature = await signTranscript(options.signer.privateKey, specSignedInput(options.role, options.transcript, options.signedName, spki));
  return concatBytes(Uint8Array.of(0x01, 0x01), spki, signature, utf8(options.signedName));
}

async function sealIdentity(link: ManualLink, plaintext: Uint8Array): Promise<Uint8Array> {
  return link.sealer.seal(FrameType.identity, plaintext);
}

async function sealChat(link: ManualLink, text: string): Promise<Uint8Array> {
  const { type, plaintext } = encodeGroupFrame({ type: 'message', message: { id: ZERO_ID, author: ZERO_ID, seq: 1, writtenAtMs: 0, stream: 'group', body: textBody(text) } });
  return link.sealer.seal(type, plaintext);
}

const ZERO_ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const delivered = (link: ManualLink) => link.events.filter((event) => event.type === 'group');

/** The responder failed verification exactly once, said why, never became secure, and delivered nothing. */
function expectVerificationFailed(link: ManualLink, detail: RegExp): void {
  const failures = link.events.flatMap((event) => (event.type === 'failed' ? [event.failure] : []));
  expect(failures, JSON.stringify(link.events)).toHaveLength(1);
  expect(failures[0]?.kind).toBe('verification-failed');
  expect(failures[0]?.detail).toMatch(detail);
  expect(link.events.map((event) => event.type)).toEqual(['failed']);
  expect(link.responder.isSecure).toBe(false);
  expect(() => link.responder.sendGroupFrame({ type: 'ping', n: 1 })).toThrow();
  // Nothing sealed went out after the responder's own identity frame.
  expect(frameTypes(link.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
}

/** Sends an honest chat after a failure: the ended session must not deliver it. */
async function expectNothingDeliveredAfter(link: ManualLink): Promise<void> {
  await link.deliver(await sealChat(link, 'after the failure'));
  expect(delivered(link)).toEqual([]);
}

// ---- the control: the harness's own honest frames are accepted --------------------------------------

describe('a hand-driven initiator with honest identity frames (the control for everything below)', () => {
  it('a guest: secure with peer guest and its key, then messages flow with the sequence numbers continuing', async () => {
    const link = await manualLink();
    await link.deliver(await sealIdentity(link, await createIdentityMessage(initiatorGuest, 'initiator', link.transcript)));
    expect(link.events).toEqual([{ type: 'secure', peer: { kind: 'guest', publicKeySpki: initiatorGuest.publicKeySpki } }]);
    const chat = await sealChat(link, 'hello');
    expect(parseFrame(chat)).toMatchObject({ ok: true, frame: { seq: 1n } });
    await link.deliver(chat);
    expect(link.events.at(-1)).toMatchObject({ type: 'group', frame: { type: 'message', message: { body: { type: 'text', text: 'hello' } } } });
  });

  it('a profile forged exactly like the hostile ones below, but covering the right values: secure with that profile', async () => {
    const link = await manualLink();
    await link.deliver(await sealIdentity(link, await profilePlaintext({ signer: alice, role: 'initiator', transcript: link.transcript, signedName: 'Alice' })));
    expect(link.events).toEqual([{ type: 'secure', peer: { kind: 'profile', displayName: 'Alice', publicKeySpki: alice.publicKeySpki } }]);
  });

  it('the responder’s own identity frame is sequence 0 of its direction and carries its signed profile', async () => {
    const link = await manualLink(bob);
    const own = parseFrame(link.sent[2] ?? new Uint8Array(0));
    if (!own.ok) throw new Error(own.reason);
    expect(own.frame.seq).toBe(0n);
    const opened = await link.opener.open(own.frame);
    if (!opened.ok) throw new Error(opened.reason);
    const parsed = parseIdentityMessage(opened.plaintext);
    if (!parsed.ok || parsed.message.type !== 'profile') throw new Error('not a profile');
    expect(parsed.message.displayName).toBe('Bob');
    expect(parsed.message.publicKeySpki).toEqual(bob.publicKeySpki);
    const input = specSignedInput('responder', link.transcript, 'Bob', bob.publicKeySpki);
    expect(await verifyTranscript(bob.publicKeySpki, input, parsed.message.signature)).toBe(true);
  });
});

// ---- hostile identity frames --------------------------------------------------------------------------

describe('SecureSession refuses an identity that does not belong to this session, role, name or key', () => {
  it('a tampered identity frame (one flipped ciphertext bit)', async () => {
    const link = await manualLink();
    const frame = await sealIdentity(link, await createIdentityMessage(alice, 'initiator', link.transcript));
    await link.deliver(flipBit(frame, 40));
    expectVerificationFailed(link, /identity frame: frame 0 failed authentication/);
    await expectNothingDeliveredAfter(link);
  });

  it('a profile signed over another session’s transcript (replayed into this one)', async () => {
    const earlier = await manualLink();
    const link = await manualLink();
    expect(link.transcript).not.toEqual(earlier.transcript);
    await link.deliver(await sealIdentity(link, await createIdentityMessage(alice, 'initiator', earlier.transcript)));
    expectVerificationFailed(link, /signature does not match/);
    await expectNothingDeliveredAfter(link);
  });

  it('a captured identity frame from another session, delivered as is', async () => {
    const earlier = await manualLink();
    const captured = await sealIdentity(earlier, await createIdentityMessage(alice, 'initiator', earlier.transcript));
    const link = await manualLink();
    await link.deliver(captured);
    expectVerificationFailed(link, /failed authentication/);
  });

  it('a profile signed as the other role (the responder’s own role): a reflection', async () => {
    const link = await manualLink();
    await link.deliver(await sealIdentity(link, await createIdentityMessage(alice, 'responder', link.transcript)));
    expectVerificationFailed(link, /signature does not match/);
    await expectNothingDeliveredAfter(link);
  });

  it('the responder’s own identity, opened and sealed back to it', async () => {
    const link = await manualLink(bob);
    const own = parseFrame(link.sent[2] ?? new Uint8Array(0));
    if (!own.ok) throw new Error(own.reason);
    const opened = await link.opener.open(own.frame);
    if (!opened.ok) throw new Error(opened.reason);
    await link.deliver(await sealIdentity(link, opened.plaintext));
    expectVerificationFailed(link, /signature does not match/);
  });

  it('a valid signature with the display name swapped for another', async () => {
    const link = await manualLink();
    // The sender's own signed message, with only the name (the bytes after the signature) replaced.
    const honest = await createIdentityMessage(alice, 'initiator', link.transcript);
    await link.deliver(await sealIdentity(link, concatBytes(honest.subarray(0, 2 + 91 + 64), utf8('Bob'))));
    expectVerificationFailed(link, /signature does not match/);
    await expectNothingDeliveredAfter(link);
  });

  it('someone else’s valid signature under its own key (Mallory sending Alice’s signature with Mallory’s key)', async () => {
    const link = await manualLink();
    const signature = await signTranscript(alice.privateKey, specSignedInput('initiator', link.transcript, 'Alice', alice.publicKeySpki));
    await link.deliver(await sealIdentity(link, concatBytes(Uint8Array.of(0x01, 0x01), bob.publicKeySpki, signature, utf8('Alice'))));
    expectVerificationFailed(link, /signature does not match/);
  });

  it('a key on another curve (P-384), signed properly with that key', async () => {
    const link = await manualLink();
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', p384.publicKey));
    const signature = new Uint8Array(
      await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, p384.privateKey, toBufferSource(specSignedInput('initiator', link.transcript, 'Alice', spki))),
    );
    await link.deliver(await sealIdentity(link, concatBytes(Uint8Array.of(0x01, 0x01), spki, signature, utf8('Alice'))));
    expectVerificationFailed(link, /malformed|not an ECDSA P-256/);
    await expectNothingDeliveredAfter(link);
  });

  it('the right P-256 key in a non-canonical (hybrid) encoding, with a valid signature over that encoding', async () => {
    const link = await manualLink();
    const hybrid = alice.publicKeySpki.slice();
    hybrid[26] = 0x06 + ((alice.publicKeySpki[90] ?? 0) & 1);
    await link.deliver(await sealIdentity(link, await profilePlaintext({ signer: alice, role: 'initiator', transcript: link.transcript, signedName: 'Alice', spki: hybrid })));
    expectVerificationFailed(link, /not an ECDSA P-256 public key/);
  });

  it('a display name of 65 characters, validly signed', async () => {
    const link = await manualLink();
    const name = 'A'.repeat(65);
    await link.deliver(await sealIdentity(link, await profilePlaintext({ signer: alice, role: 'initiator', transcript: link.transcript, signedName: name })));
    expectVerificationFailed(link, /malformed: the display name has 65 characters/);
    await expectNothingDeliveredAfter(link);
  });

  it('a display name with control or bidi characters, validly signed', async () => {
    for (const name of ['Ali\u0007ce', 'Alice\u202e', 'Ali\nce']) {
      const link = await manualLink();
      await link.deliver(await sealIdentity(link, await profilePlaintext({ signer: alice, role: 'initiator', transcript: link.transcript, signedName: name })));
      expectVerificationFailed(link, /malformed: the display name has a control, separator or bidi/);
    }
  });

  it('malformed plaintexts: the key-less guest of protocol 1, a truncated guest, an unknown version, an unknown kind', async () => {
    for (const plaintext of [Uint8Array.of(0x01, 0x00), Uint8Array.of(0x01, 0x02, 0x00), Uint8Array.of(0x02, 0x00), Uint8Array.of(0x01, 0x07)]) {
      const link = await manualLink();
      await link.deliver(await sealIdentity(link, plaintext));
      expectVerificationFailed(link, /identity is malformed/);
    }
  });
});

describe('SecureSession accepts exactly one identity, and nothing before it', () => {
  it('a second identity frame (a fresh, validly signed one) after secure: verification-failed, nothing after it delivered', async () => {
    const link = await manualLink();
    await link.deliver(await sealIdentity(link, await createIdentityMessage(initiatorGuest, 'initiator', link.transcript)));
    expect(link.events).toEqual([{ type: 'secure', peer: { kind: 'guest', publicKeySpki: initiatorGuest.publicKeySpki } }]);
    await link.deliver(await sealIdentity(link, await createIdentityMessage(alice, 'initiator', link.transcript)));
    expect(link.events.map((event) => event.type)).toEqual(['secure', 'failed']);
    expect(link.events.at(-1)).toEqual({ type: 'failed', failure: { kind: 'verification-failed', detail: 'the peer sent a second identity' } });
    expect(link.responder.isSecure).toBe(false);
    await expectNothingDeliveredAfter(link);
  });

  it('the same identity frame delivered twice: verification-failed, nothing after it delivered', async () => {
    const link = await manualLink();
    const frame = await sealIdentity(link, await createIdentityMessage(alice, 'initiator', link.transcript));
    await link.deliver(frame);
    await link.deliver(frame);
    expect(link.events.map((event) => event.type)).toEqual(['secure', 'failed']);
    expect(link.events.at(-1)).toEqual({ type: 'failed', failure: { kind: 'verification-failed', detail: 'the peer sent a second identity' } });
    await expectNothingDeliveredAfter(link);
  });

  it('a genuine chat sealed as the first frame, before any identity: verification-failed, not delivered, and a late identity does not revive it', async () => {
    const link = await manualLink();
    await link.deliver(await sealChat(link, 'who I am does not matter'));
    expectVerificationFailed(link, /a message arrived before the peer's identity/);
    await link.deliver(await sealIdentity(link, await createIdentityMessage(alice, 'initiator', link.transcript)));
    expect(link.events.map((event) => event.type)).toEqual(['failed']);
  });

  it('receipts, a ping, a transfer control message or a chunk before the identity: verification-failed, not delivered', async () => {
    const makers: ((link: ManualLink) => Promise<Uint8Array>)[] = [
      (link) => link.sealer.seal(FrameType.receipts, new Uint8Array(16)),
      (link) => link.sealer.seal(FrameType.ping, new Uint8Array(8)),
      (link) => link.sealer.seal(FrameType.transferControl, encodeTransferControl({ type: 'cancel', id: 'AAECAwQFBgcICQoLDA0ODw', reason: 'cancelled-by-sender' })),
      (link) => link.sealer.seal(FrameType.transferChunk, utf8('data'), encodeChunkHeader({ id: 'AAECAwQFBgcICQoLDA0ODw', index: 0, isLast: true })),
    ];
    for (const make of makers) {
      const link = await manualLink();
      await link.deliver(await make(link));
      expectVerificationFailed(link, /a message arrived before the peer's identity/);
    }
  });

  it('an identity frame in the clear (not sealed) is refused', async () => {
    const link = await manualLink();
    await link.deliver(concatBytes(encodeFrameHeader(FrameType.identity, 0n), Uint8Array.of(0x01, 0x00)));
    expectVerificationFailed(link, /identity frame: /);
  });
});

describe('a sealed frame on the wire (frame version 3)', () => {
  it('matches the PROTOCOL.md §12.5 test vector (key 00…1f, initiator to responder, sequence 0, a message)', async () => {
    const key = await crypto.subtle.importKey('raw', Uint8Array.from({ length: 32 }, (_, i) => i), 'AES-GCM', false, ['encrypt']);
    const { type, plaintext } = encodeGroupFrame({ type: 'message', message: { id: ZERO_ID, author: ZERO_ID, seq: 1, writtenAtMs: 0, stream: 'group', body: textBody('hi') } });
    const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
    expect(hex(await new FrameSealer(key, 'initiator-to-responder').seal(type, plaintext))).toBe(VECTOR);
  });
});
