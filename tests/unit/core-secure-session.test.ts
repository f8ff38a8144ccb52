import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../../src/core/encoding.ts';
import { createHello, encodeHello, generateSessionKeyPair, type Role, type SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { deriveRoomKeys, type RoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { FrameSealer } from '../../src/core/crypto/sessionCipher.ts';
import { encodeFrameHeader, FrameType, MAX_FRAME_BYTES } from '../../src/core/protocol/frames.ts';
import { MAX_MESSAGE_TEXT_BYTES, textBody, messageText } from '../../src/core/protocol/groupMessages.ts';
import { bytesToBase64url } from '../../src/core/encoding.ts';
import { SecureSession, type SessionEvent } from '../../src/core/session/secureSession.ts';
import { generateGuestIdentity, type LocalIdentity, type ProfileIdentity } from '../../src/core/crypto/identityProof.ts';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { aesKey, FINGERPRINT_A, FINGERPRINT_B, FINGERPRINT_M, flipBit, secretFromSeed } from './support/coreFixtures.ts';

// ---- fixtures ------------------------------------------------------------------------------------

/** The one event an honest session emits when its peer is a guest: the guest's key for this room session. */
const secureWithGuest = (guest: LocalIdentity): SessionEvent => ({ type: 'secure', peer: { kind: 'guest', publicKeySpki: guest.publicKeySpki } });

let alicePair: SessionKeyPair;
let bobPair: SessionKeyPair;
let malloryPair: SessionKeyPair;
let room: RoomKeys;
let otherRoom: RoomKeys;
let aliceIdentity: ProfileIdentity;
let bobIdentity: ProfileIdentity;
let aliceGuest: LocalIdentity;
let bobGuest: LocalIdentity;

beforeAll(async () => {
  const [aliceKey, bobKey] = await Promise.all([generateIdentity(), generateIdentity()]);
  aliceIdentity = { kind: 'profile', displayName: 'Alice', ...aliceKey };
  bobIdentity = { kind: 'profile', displayName: 'Bob Ørsted', ...bobKey };
  [aliceGuest, bobGuest] = await Promise.all([generateGuestIdentity(), generateGuestIdentity()]);
  [alicePair, bobPair, malloryPair, room, otherRoom] = await Promise.all([
    generateSessionKeyPair(),
    generateSessionKeyPair(),
    generateSessionKeyPair(),
    deriveRoomKeys(secretFromSeed(600)),
    deriveRoomKeys(secretFromSeed(601)),
  ]);
}, 30_000);

// ---- an in-memory wire between two sessions -------------------------------------------------------

interface Endpoint {
  readonly session: SecureSession;
  readonly events: SessionEvent[];
  /** Every frame this endpoint handed to `send`, in order, whether or not the wire delivered it. */
  readonly sent: Uint8Array[];
}

interface EndpointOverrides {
  readonly identity?: LocalIdentity;
  readonly role?: Role;
  readonly authKey?: CryptoKey;
  readonly keyPair?: SessionKeyPair;
  readonly localFingerprint?: string;
  readonly remoteFingerprint?: string;
}

interface LinkOptions {
  readonly initiator?: EndpointOverrides;
  readonly responder?: EndpointOverrides;
  /** Rewrites what crosses the wire from one side in auto mode: return the frames to deliver instead. */
  readonly tap?: (from: Role, frame: Uint8Array) => readonly Uint8Array[];
  /** Connects the initiator to itself: everything it sends comes straight back to it. */
  readonly reflect?: boolean;
  /** Called with every event a side reports, as it reports it (after it is recorded). */
  readonly onEvent?: (side: Role, event: SessionEvent) => void;
}

interface Link {
  readonly initiator: Endpoint;
  readonly responder: Endpoint;
  /** Frames captured from a side while it is held, instead of being delivered. */
  readonly held: Record<Role, Uint8Array[]>;
  /** Stops automatic delivery of what `from` sends; its frames collect in `held[from]`. */
  hold(from: Role): void;
  /** Delivers bytes to the other side of `from`, asynchronously and in order with other deliveries. */
  deliver(from: Role, frame: Uint8Array): void;
  /** Waits until nothing is in flight on the wire and neither session has work queued. */
  settle(): Promise<void>;
}

function createLink(options: LinkOptions = {}): Link {
  let pending = 0;
  const heldSides = new Set<Role>();
  const held: Record<Role, Uint8Array[]> = { initiator: [], responder: [] };
  const endpoints = {} as Record<Role, Endpoint>;

  const deliver = (from: Role, frame: Uint8Array): void => {
    const target = options.reflect === true ? endpoints.initiator : endpoints[from === 'initiator' ? 'responder' : 'initiator'];
    pending += 1;
    setTimeout(() => {
      pending -= 1;
      target.session.receive(frame);
    }, 0);
  };

  const make = (side: Role, overrides: EndpointOverrides = {}): Endpoint => {
    const events: SessionEvent[] = [];
    const sent: Uint8Array[] = [];
    const defaults = side === 'initiator'
      ? { keyPair: alicePair, localFingerprint: FINGERPRINT_A, remoteFingerprint: FINGERPRINT_B, identity: aliceGuest }
      : { keyPair: bobPair, localFingerprint: FINGERPRINT_B, remoteFingerprint: FINGERPRINT_A, identity: bobGuest };
    const session: SecureSession = new SecureSession({
      role: side,
      authKey: room.authKey,
      ...defaults,
      ...overrides,
      random: systemRandom,
      // As the group engine does: a message shown to the person is acknowledged with a receipt.
      onEvent: (event) => {
        events.push(event);
        options.onEvent?.(side, event);
        if (event.type === 'group' && event.frame.type === 'message') void session.sendGroupFrame({ type: 'receipts', deliveredSeq: event.frame.message.seq, readSeq: 0 });
      },
      send: (frame) => {
        sent.push(frame.slice());
        if (heldSides.has(side)) {
          held[side].push(frame.slice());
          return;
        }
        for (const out of options.tap ? options.tap(side, frame) : [frame]) deliver(side, out);
      },
    });
    return { session, events, sent };
  };

  endpoints.initiator = make('initiator', options.initiator);
  endpoints.responder = make('responder', options.responder);

  // The sessions' internal promise chains are read (TypeScript allows bracket access to `private`) so
  // that settling is exact rather than a guess based on elapsed time.
  const chains = (): Promise<void>[] =>
    [endpoints.initiator, endpoints.responder].flatMap(({ session }) => [session['inbound'], session['outbound']]);

  return {
    initiator: endpoints.initiator,
    responder: endpoints.responder,
    held,
    hold: (from) => heldSides.add(from),
    deliver,
    async settle() {
      for (let round = 0; round < 1000; round++) {
        const before = chains();
        await Promise.all(before);
        await new Promise((resolve) => setTimeout(resolve, 0));
        const after = chains();
        if (pending === 0 && after.every((chain, index) => chain === before[index])) return;
      }
      throw new Error('the link did not settle');
    },
  };
}

function startBoth(link: Link): void {
  link.initiator.session.start();
  link.responder.session.start();
}

/** A link whose handshake completed, asserted rather than assumed. */
async function secureLink(options: LinkOptions = {}): Promise<Link> {
  const link = createLink(options);
  startBoth(link);
  await link.settle();
  expect(link.initiator.events).toEqual([secureWithGuest(bobGuest)]);
  expect(link.responder.events).toEqual([secureWithGuest(aliceGuest)]);
  return link;
}

/** The messages an endpoint was handed, as { type: 'chat', id, text } for brevity. */
const chats = (endpoint: Endpoint) =>
  endpoint.events.flatMap((event) => (event.type === 'group' && event.frame.type === 'message' ? [{ type: 'chat', id: event.frame.message.id, text: messageText(event.frame.message) }] : []));
/** The delivered seqs of the receipts an endpoint was handed. */
const receiptSeqs = (endpoint: Endpoint) =>
  endpoint.events.flatMap((event) => (event.type === 'group' && event.frame.type === 'receipts' ? [event.frame.deliveredSeq] : []));

const AUTHOR = bytesToBase64url(new Uint8Array(16).fill(0xa1));
const nextSeq = new WeakMap<SecureSession, number>();

/** Sends a group message from `session` (seq counting from 1 per session) and returns its id; throws like sendGroupFrame. */
function sendText(session: SecureSession, text: string): string {
  const seq = (nextSeq.get(session) ?? 0) + 1;
  const id = bytesToBase64url(systemRandom.bytes(16));
  void session.sendGroupFrame({ type: 'message', message: { id, author: AUTHOR, seq, writtenAtMs: 0, stream: 'group', body: textBody(text) } });
  nextSeq.set(session, seq);
  return id;
}
const failures = (endpoint: Endpoint) => endpoint.events.flatMap((event) => (event.type === 'failed' ? [event.failure] : []));
const frameTypes = (frames: readonly Uint8Array[]) => frames.map((frame) => frame[1]);

/** The receiver failed exactly once with `kind`, and the failure is its last event: nothing came after it. */
function expectFailedLast(endpoint: Endpoint, kind: 'verification-failed' | 'frame-rejected'): void {
  const found = failures(endpoint);
  expect(found, JSON.stringify(endpoint.events)).toHaveLength(1);
  expect(found[0]?.kind).toBe(kind);
  expect(endpoint.events.at(-1)?.type).toBe('failed');
  expect(endpoint.session.isSecure).toBe(false);
  expect(() => sendText(endpoint.session, 'after the failure')).toThrow();
}

/** Neither side got anywhere: both failed verification, neither became secure, nothing sealed was sent. */
function expectHandshakeFailedBoth(link: Link): void {
  for (const endpoint of [link.initiator, link.responder]) {
    expect(endpoint.events.some((event) => event.type === 'secure')).toBe(false);
    expectFailedLast(endpoint, 'verification-failed');
    for (const type of frameTypes(endpoint.sent)) expect([FrameType.hello, FrameType.confirm]).toContain(type);
  }
}

/** Holds the initiator's side after the handshake and lets it seal `texts`; returns the captured frames. */
async function captureChats(link: Link, texts: readonly string[]): Promise<Uint8Array[]> {
  link.hold('initiator');
  for (const text of texts) sendText(link.initiator.session, text);
  await link.settle();
  expect(link.held.initiator).toHaveLength(texts.length);
  return link.held.initiator.slice();
}

// ---- the honest path -------------------------------------------------------------------------------

describe('SecureSession between two honest endpoints', () => {
  it('both sides become secure, exactly once, with nothing else happening', async () => {
    const link = await secureLink();
    expect(link.initiator.session.isSecure).toBe(true);
    expect(link.responder.session.isSecure).toBe(true);
    expect(frameTypes(link.initiator.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
    expect(frameTypes(link.responder.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
  });

  it('the responder says nothing until the initiator’s hello arrives, then answers with its hello before its confirm', async () => {
    const link = createLink();
    link.hold('initiator');
    startBoth(link);
    await link.settle();
    expect(link.responder.sent).toEqual([]);
    const [hello] = link.held.initiator;
    if (hello === undefined) throw new Error('unreachable');
    link.deliver('initiator', hello);
    await link.settle();
    expect(frameTypes(link.responder.sent)).toEqual([FrameType.hello, FrameType.confirm]);
  });

  it('an initiator whose channel loses what arrives before it has sent anything still becomes secure', async () => {
    // Chromium was seen to lose a message that reached the initiator's channel just before it opened there. Here
    // the responder's channel opens first and everything reaching the initiator before its own first frame is lost.
    const lostBeforeSpeaking: Uint8Array[] = [];
    const link = createLink({
      tap: (from, frame) => {
        if (from === 'responder' && link.initiator.sent.length === 0) {
          lostBeforeSpeaking.push(frame);
          return [];
        }
        return [frame];
      },
    });
    link.responder.session.start();
    await link.settle();
    link.initiator.session.start();
    await link.settle();
    expect(lostBeforeSpeaking).toEqual([]);
    expect(link.initiator.events).toEqual([secureWithGuest(bobGuest)]);
    expect(link.responder.events).toEqual([secureWithGuest(aliceGuest)]);
  });

  it('messages go both ways with identical text, and each brings a receipt with its seq back to the sender', async () => {
    const link = await secureLink();
    const fromAlice = sendText(link.initiator.session, 'Hello Bob 👋');
    const fromBob = sendText(link.responder.session, 'مرحبا Alice — e\u0301');
    await link.settle();
    expect(chats(link.responder)).toEqual([{ type: 'chat', id: fromAlice, text: 'Hello Bob 👋' }]);
    expect(chats(link.initiator)).toEqual([{ type: 'chat', id: fromBob, text: 'مرحبا Alice — e\u0301' }]);
    expect(receiptSeqs(link.initiator)).toEqual([1]);
    expect(receiptSeqs(link.responder)).toEqual([1]);
    expect(fromAlice).not.toBe(fromBob);
    expect(failures(link.initiator)).toEqual([]);
    expect(failures(link.responder)).toEqual([]);
  });

  it('many messages sent back to back arrive complete and in order, with one receipt each', async () => {
    const link = await secureLink();
    const texts = Array.from({ length: 12 }, (_, i) => `message ${i}`);
    const ids = texts.map((text) => sendText(link.initiator.session, text));
    await link.settle();
    expect(chats(link.responder).map((event) => event.type === 'chat' && event.text)).toEqual(texts);
    expect(chats(link.responder).map((event) => event.type === 'chat' && event.id)).toEqual(ids);
    expect(receiptSeqs(link.initiator)).toEqual(ids.map((_, index) => index + 1));
  });

  it('carries a maximum-size (65536-byte) message intact', async () => {
    const link = await secureLink();
    const text = `${'€'.repeat(21_845)}!`;
    sendText(link.responder.session, text);
    await link.settle();
    expect(chats(link.initiator)).toEqual([expect.objectContaining({ text })]);
  });

  it('does not put chat text on the wire in the clear', async () => {
    const link = await secureLink();
    sendText(link.initiator.session, 'the secret plan');
    await link.settle();
    const wire = new TextDecoder('latin1').decode(concatBytes(...link.initiator.sent, ...link.responder.sent));
    expect(wire.includes('secret plan')).toBe(false);
  });
});

describe('SecureSession tells each side who the other is', () => {
  const profileOf = (identity: ProfileIdentity): SessionEvent => ({
    type: 'secure',
    peer: { kind: 'profile', displayName: identity.displayName, publicKeySpki: identity.publicKeySpki },
  });

  it('both with profiles: each is secure with the other’s name and key, and chat flows', async () => {
    const link = createLink({ initiator: { identity: aliceIdentity }, responder: { identity: bobIdentity } });
    startBoth(link);
    await link.settle();
    expect(link.initiator.events).toEqual([profileOf(bobIdentity)]);
    expect(link.responder.events).toEqual([profileOf(aliceIdentity)]);
    const id = sendText(link.responder.session, 'hi Alice');
    await link.settle();
    expect(chats(link.initiator)).toEqual([{ type: 'chat', id, text: 'hi Alice' }]);
  });

  it('only the initiator with a profile: the responder sees the profile, the initiator a guest', async () => {
    const link = createLink({ initiator: { identity: aliceIdentity } });
    startBoth(link);
    await link.settle();
    expect(link.initiator.events).toEqual([secureWithGuest(bobGuest)]);
    expect(link.responder.events).toEqual([profileOf(aliceIdentity)]);
  });

  it('only the responder with a profile: the initiator sees the profile, the responder a guest', async () => {
    const link = createLink({ responder: { identity: bobIdentity } });
    startBoth(link);
    await link.settle();
    expect(link.initiator.events).toEqual([profileOf(bobIdentity)]);
    expect(link.responder.events).toEqual([secureWithGuest(aliceGuest)]);
  });

  it('neither with a profile: both guests, one identity frame each way and nothing more', async () => {
    const link = await secureLink();
    expect(frameTypes(link.initiator.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
    expect(frameTypes(link.responder.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
  });

  it('does not put the display name or the identity key on the wire in the clear', async () => {
    const link = createLink({ initiator: { identity: aliceIdentity }, responder: { identity: bobIdentity } });
    startBoth(link);
    await link.settle();
    const wire = concatBytes(...link.initiator.sent, ...link.responder.sent);
    const text = new TextDecoder('latin1').decode(wire);
    expect(text.includes('Alice')).toBe(false);
    expect(text.includes(new TextDecoder('latin1').decode(utf8('Ørsted')))).toBe(false);
    const keyTail = new TextDecoder('latin1').decode(aliceIdentity.publicKeySpki.subarray(27));
    expect(text.includes(keyTail)).toBe(false);
  });

  it('a local profile whose display name cannot be sent fails visibly and sends no identity', async () => {
    const link = createLink({ initiator: { identity: { ...aliceIdentity, displayName: '\u202e' } } });
    startBoth(link);
    await link.settle();
    expectFailedLast(link.initiator, 'verification-failed');
    expect(failures(link.initiator)[0]?.detail).toMatch(/display name/);
    expect(frameTypes(link.initiator.sent)).toEqual([FrameType.hello]);
    expect(link.responder.events).toEqual([]);
  });

  it('a session whose peer fails verification never sends its identity', async () => {
    const link = createLink({ initiator: { identity: aliceIdentity }, responder: { identity: bobIdentity, authKey: otherRoom.authKey } });
    startBoth(link);
    await link.settle();
    expectHandshakeFailedBoth(link);
  });
});

describe('sendChat is refused unless the session is verified', () => {
  it('throws before start and before the handshake finishes, and seals nothing but the identity', async () => {
    const link = createLink();
    expect(() => sendText(link.initiator.session, 'too early')).toThrow();
    startBoth(link);
    expect(() => sendText(link.initiator.session, 'still too early')).toThrow();
    expect(() => sendText(link.responder.session, 'still too early')).toThrow();
    await link.settle();
    expect(frameTypes(link.initiator.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
    expect(frameTypes(link.responder.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
    expect(chats(link.responder)).toEqual([]);
  });

  it("throws while the peer's confirm is verified but its identity has not arrived", async () => {
    const link = createLink({ tap: (from, frame) => (from === 'responder' && frame[1] === FrameType.identity ? [] : [frame]) });
    startBoth(link);
    await link.settle();
    // The initiator checked the responder's confirm and sent its own identity; the responder's never came.
    expect(frameTypes(link.initiator.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
    expect(link.initiator.events).toEqual([]);
    expect(link.initiator.session.isSecure).toBe(false);
    expect(() => sendText(link.initiator.session, 'not yet')).toThrow();
    expect(link.responder.events).toEqual([secureWithGuest(aliceGuest)]);
  });

  it('throws for empty or oversized text after secure, and sends nothing', async () => {
    const link = await secureLink();
    const before = link.initiator.sent.length;
    expect(() => sendText(link.initiator.session, '')).toThrow();
    expect(() => sendText(link.initiator.session, 'a'.repeat(MAX_MESSAGE_TEXT_BYTES + 1))).toThrow();
    await link.settle();
    expect(link.initiator.sent).toHaveLength(before);
  });

  it('throws after end(), and an ended session ignores incoming frames', async () => {
    const link = await secureLink();
    link.responder.session.end();
    expect(link.responder.session.isSecure).toBe(false);
    expect(() => sendText(link.responder.session, 'bye')).toThrow();
    sendText(link.initiator.session, 'are you there?');
    await link.settle();
    expect(link.responder.events).toEqual([secureWithGuest(aliceGuest)]);
  });
});

// ---- handshake-phase attacks ---------------------------------------------------------------------------

describe('SecureSession refuses a handshake it cannot verify', () => {
  it('a relay that swapped the DTLS fingerprint the responder sees: both sides fail verification', async () => {
    const link = createLink({ responder: { remoteFingerprint: FINGERPRINT_M } });
    startBoth(link);
    await link.settle();
    expectHandshakeFailedBoth(link);
  });

  it("a relay that swapped the initiator's own certificate: both sides fail verification", async () => {
    const link = createLink({ initiator: { localFingerprint: FINGERPRINT_M } });
    startBoth(link);
    await link.settle();
    expectHandshakeFailedBoth(link);
  });

  it('different room secrets: both sides fail verification', async () => {
    const link = createLink({ responder: { authKey: otherRoom.authKey } });
    startBoth(link);
    await link.settle();
    expectHandshakeFailedBoth(link);
  });

  it('both sides believing they are the initiator: both fail verification', async () => {
    const link = createLink({ responder: { role: 'initiator' } });
    startBoth(link);
    await link.settle();
    expectHandshakeFailedBoth(link);
  });

  it('a relay that substitutes its own public key in the initiator’s hello: both fail, and the responder seals nothing', async () => {
    const malloryHello = encodeHello(createHello(malloryPair, systemRandom));
    const link = createLink({
      tap: (from, frame) => (from === 'initiator' && frame[1] === FrameType.hello ? [concatBytes(frame.subarray(0, 10), malloryHello)] : [frame]),
    });
    startBoth(link);
    await link.settle();
    expectHandshakeFailedBoth(link);
  });

  it('a relay that replaces the hello nonce: both fail verification', async () => {
    const link = createLink({ tap: (from, frame) => (from === 'responder' && frame[1] === FrameType.hello ? [flipBit(frame, 12)] : [frame]) });
    startBoth(link);
    await link.settle();
    expectHandshakeFailedBoth(link);
  });

  it('a hello carrying an RSA-2048 key is refused', async () => {
    const weak = await crypto.subtle.generateKey(
      { name: 'RSA-OAEP', hash: 'SHA-256', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1) },
      true,
      ['encrypt', 'decrypt'],
    );
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', weak.publicKey));
    const link = createLink();
    link.hold('initiator');
    startBoth(link);
    link.deliver('initiator', concatBytes(encodeFrameHeader(FrameType.hello, 0n), systemRandom.bytes(32), spki));
    await link.settle();
    expectFailedLast(link.responder, 'verification-failed');
    expect(frameTypes(link.responder.sent)).toEqual([FrameType.hello]);
  });

  it('a session wired to itself (everything reflected) fails verification', async () => {
    const link = createLink({ reflect: true });
    link.initiator.session.start();
    await link.settle();
    expect(link.initiator.events.some((event) => event.type === 'secure')).toBe(false);
    expectFailedLast(link.initiator, 'verification-failed');
  });

  it('a tampered confirm fails verification at its receiver', async () => {
    const link = createLink({ tap: (from, frame) => (from === 'initiator' && frame[1] === FrameType.confirm ? [flipBit(frame, 50)] : [frame]) });
    startBoth(link);
    await link.settle();
    expectFailedLast(link.responder, 'verification-failed');
    expect(link.responder.events.some((event) => event.type === 'secure')).toBe(false);
    expect(frameTypes(link.responder.sent)).toEqual([FrameType.hello, FrameType.confirm]);
    // The initiator verified the honest responder and sent its identity, but the responder's never comes:
    // neither side is secure, so neither can send a message nobody will read.
    expect(frameTypes(link.initiator.sent)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
    expect(link.initiator.events).toEqual([]);
    expect(link.initiator.session.isSecure).toBe(false);
  });

  it('a handshake frame with a non-zero sequence number fails verification', async () => {
    const link = createLink({
      tap: (from, frame) => {
        if (from !== 'initiator' || frame[1] !== FrameType.hello) return [frame];
        const renumbered = frame.slice();
        renumbered[9] = 1;
        return [renumbered];
      },
    });
    startBoth(link);
    await link.settle();
    expectFailedLast(link.responder, 'verification-failed');
  });

  it('a duplicated hello during the handshake fails verification', async () => {
    const link = createLink({ tap: (from, frame) => (from === 'initiator' && frame[1] === FrameType.hello ? [frame, frame] : [frame]) });
    startBoth(link);
    await link.settle();
    expectFailedLast(link.responder, 'verification-failed');
    expect(link.responder.events.some((event) => event.type === 'secure')).toBe(false);
  });

  it('a confirm arriving before any hello fails verification', async () => {
    const link = createLink();
    link.hold('initiator');
    startBoth(link);
    await link.settle();
    link.deliver('initiator', concatBytes(encodeFrameHeader(FrameType.confirm, 0n), new Uint8Array(32 + 384)));
    await link.settle();
    expectFailedLast(link.responder, 'verification-failed');
  });
});

describe('a sealed frame before the handshake completes', () => {
  it('a forged chat frame as the very first message → verification-failed, never delivered', async () => {
    const link = createLink();
    link.hold('initiator');
    startBoth(link);
    const forged = await new FrameSealer(await aesKey(), 'initiator-to-responder').seal(FrameType.message, concatBytes(new Uint8Array(16), utf8('hi')));
    link.deliver('initiator', forged);
    await link.settle();
    expectFailedLast(link.responder, 'verification-failed');
    expect(chats(link.responder)).toEqual([]);
  });

  it("the initiator's genuine identity frame delivered ahead of its confirm → verification-failed, and the late confirm does not revive the session", async () => {
    const link = createLink();
    link.hold('initiator');
    startBoth(link);
    await link.settle();
    // The initiator spoke first; its hello is held back, and the responder says nothing until it hears it.
    expect(frameTypes(link.held.initiator)).toEqual([FrameType.hello]);
    expect(link.responder.sent).toEqual([]);
    const [hello] = link.held.initiator;
    if (hello === undefined) throw new Error('unreachable');
    link.deliver('initiator', hello);
    await link.settle();
    // The responder answered with its hello and confirm, so the initiator made its confirm and sealed its identity; it is not secure itself
    // (no identity from the responder, which has not verified it), so it cannot seal a chat yet.
    expect(frameTypes(link.held.initiator)).toEqual([FrameType.hello, FrameType.confirm, FrameType.identity]);
    expect(link.initiator.events).toEqual([]);
    expect(() => sendText(link.initiator.session, 'sent before you verified me')).toThrow();
    const [, ownConfirm, identity] = link.held.initiator;
    if (ownConfirm === undefined || identity === undefined) throw new Error('unreachable');
    link.deliver('initiator', identity);
    link.deliver('initiator', ownConfirm);
    await link.settle();
    expectFailedLast(link.responder, 'verification-failed');
    expect(link.responder.events.some((event) => event.type === 'secure')).toBe(false);
  });
});

// ---- attacks on an established session ---------------------------------------------------------------

describe('SecureSession after secure: any replay, reorder, drop or tampering ends it without delivery', () => {
  it('a replayed frame: the chat is delivered once, then frame-rejected, and nothing after is delivered', async () => {
    const link = await secureLink();
    const [f0, f1] = await captureChats(link, ['once', 'never']);
    if (f0 === undefined || f1 === undefined) throw new Error('unreachable');
    link.deliver('initiator', f0);
    link.deliver('initiator', f0);
    link.deliver('initiator', f1);
    await link.settle();
    expect(chats(link.responder).map((event) => event.type === 'chat' && event.text)).toEqual(['once']);
    expectFailedLast(link.responder, 'frame-rejected');
  });

  it('frames that arrive together (opened while earlier ones are handled) are delivered in order; a bad one among them stops delivery there', async () => {
    const texts = ['zero', 'one', 'two', 'three', 'four', 'five'];
    const link = await secureLink();
    const frames = await captureChats(link, texts);
    // All in one turn: every frame starts opening before the first is handled.
    for (const frame of frames) link.responder.session.receive(frame);
    await link.settle();
    expect(chats(link.responder).map((event) => event.text)).toEqual(texts);
    expect(failures(link.responder)).toEqual([]);

    const tampered = await secureLink();
    const sealed = await captureChats(tampered, texts);
    sealed.forEach((frame, index) => tampered.responder.session.receive(index === 3 ? flipBit(frame, frame.length - 1) : frame));
    await tampered.settle();
    expect(chats(tampered.responder).map((event) => event.text)).toEqual(['zero', 'one', 'two']);
    expectFailedLast(tampered.responder, 'frame-rejected');
  });

  it('frames that arrive while earlier ones still wait to be opened in turn are not opened ahead of them', async () => {
    const late: Uint8Array[] = [];
    let identity: Uint8Array | null = null;
    const link = createLink({
      tap: (from, frame) => {
        if (from !== 'initiator' || frame[1] !== FrameType.identity) return [frame];
        identity = frame.slice();
        return [];
      },
      // The moment the responder becomes secure, 'one' still waits in its inbound chain, unopened; 'two' and 'three'
      // arrive then.
      onEvent: (side, event) => {
        if (side === 'responder' && event.type === 'secure') for (const frame of late) link.responder.session.receive(frame);
      },
    });
    startBoth(link);
    await link.settle();
    const frames = await captureChats(link, ['one', 'two', 'three']);
    late.push(...frames.slice(1));
    if (identity === null || frames[0] === undefined) throw new Error('unreachable');
    link.responder.session.receive(identity);
    link.responder.session.receive(frames[0]);
    await link.settle();
    expect(failures(link.responder)).toEqual([]);
    expect(chats(link.responder).map((event) => event.text)).toEqual(['one', 'two', 'three']);
  });

  it('two reordered frames: frame-rejected, neither delivered', async () => {
    const link = await secureLink();
    const [f0, f1] = await captureChats(link, ['first', 'second']);
    if (f0 === undefined || f1 === undefined) throw new Error('unreachable');
    link.deliver('initiator', f1);
    link.deliver('initiator', f0);
    await link.settle();
    expect(chats(link.responder)).toEqual([]);
    expectFailedLast(link.responder, 'frame-rejected');
  });

  it('a dropped frame: what came before is delivered, the gap is frame-rejected, nothing after is delivered', async () => {
    const link = await secureLink();
    const [f0, f1, f2] = await captureChats(link, ['zero', 'one (dropped)', 'two']);
    if (f0 === undefined || f1 === undefined || f2 === undefined) throw new Error('unreachable');
    link.deliver('initiator', f0);
    link.deliver('initiator', f2);
    link.deliver('initiator', f1);
    await link.settle();
    expect(chats(link.responder).map((event) => event.type === 'chat' && event.text)).toEqual(['zero']);
    expectFailedLast(link.responder, 'frame-rejected');
  });

  it('a flipped bit anywhere (version, type, sequence number, ciphertext, tag): frame-rejected, never delivered', async () => {
    const positions = [0, 1, 2, 9, 10, 20, -16, -1];
    for (const position of positions) {
      const link = await secureLink();
      const [f0] = await captureChats(link, ['tamper with me']);
      if (f0 === undefined) throw new Error('unreachable');
      link.deliver('initiator', flipBit(f0, position < 0 ? f0.length + position : position));
      link.deliver('initiator', f0); // the genuine frame, too late
      await link.settle();
      expect(chats(link.responder), `position ${position}`).toEqual([]);
      expectFailedLast(link.responder, 'frame-rejected');
    }
  });

  it('a truncated frame (one byte short, or shorter than a header): frame-rejected, never delivered', async () => {
    for (const cut of [1, 16, 30]) {
      const link = await secureLink();
      const [f0] = await captureChats(link, ['cut me short']);
      if (f0 === undefined) throw new Error('unreachable');
      link.deliver('initiator', f0.subarray(0, Math.max(0, f0.length - cut)));
      link.deliver('initiator', f0);
      await link.settle();
      expect(chats(link.responder), `cut ${cut}`).toEqual([]);
      expectFailedLast(link.responder, 'frame-rejected');
    }
  });

  it('an injected frame larger than 262144 bytes: frame-rejected, and nothing after is delivered', async () => {
    const link = await secureLink();
    const [f0] = await captureChats(link, ['after the giant']);
    if (f0 === undefined) throw new Error('unreachable');
    link.deliver('initiator', concatBytes(f0.subarray(0, 10), new Uint8Array(MAX_FRAME_BYTES + 1 - 10)));
    link.deliver('initiator', f0);
    await link.settle();
    expect(chats(link.responder)).toEqual([]);
    expectFailedLast(link.responder, 'frame-rejected');
  });

  it('a second hello (replayed or fresh): frame-rejected, and nothing after is delivered', async () => {
    for (const which of ['replayed', 'fresh'] as const) {
      const link = await secureLink();
      const [f0] = await captureChats(link, ['after the hello']);
      const originalHello = link.initiator.sent[0];
      if (f0 === undefined || originalHello === undefined) throw new Error('unreachable');
      const hello = which === 'replayed'
        ? originalHello
        : concatBytes(encodeFrameHeader(FrameType.hello, 0n), encodeHello(createHello(malloryPair, systemRandom)));
      link.deliver('initiator', hello);
      link.deliver('initiator', f0);
      await link.settle();
      expect(chats(link.responder), which).toEqual([]);
      expectFailedLast(link.responder, 'frame-rejected');
    }
  });

  it('a replayed confirm: frame-rejected', async () => {
    const link = await secureLink();
    const confirm = link.initiator.sent[1];
    if (confirm === undefined) throw new Error('unreachable');
    link.deliver('initiator', confirm);
    await link.settle();
    expectFailedLast(link.responder, 'frame-rejected');
  });

  it("a frame reflected back to its own sender: frame-rejected, never delivered", async () => {
    const link = await secureLink();
    link.hold('responder');
    sendText(link.responder.session, 'talking to myself');
    await link.settle();
    const [own] = link.held.responder;
    if (own === undefined) throw new Error('unreachable');
    link.deliver('initiator', own); // arrives at the responder as if the initiator had sent it
    await link.settle();
    expect(chats(link.responder)).toEqual([]);
    expectFailedLast(link.responder, 'frame-rejected');
  });

  it('a frame from another session between the same people: frame-rejected, never delivered', async () => {
    const first = await secureLink();
    const [fromFirst] = await captureChats(first, ['from the first session']);
    const second = await secureLink();
    if (fromFirst === undefined) throw new Error('unreachable');
    second.deliver('initiator', fromFirst);
    await second.settle();
    expect(chats(second.responder)).toEqual([]);
    expectFailedLast(second.responder, 'frame-rejected');
  });

  it('an authentic receipt relabelled as a chat: frame-rejected, never delivered', async () => {
    const link = await secureLink();
    link.hold('responder');
    sendText(link.initiator.session, 'please confirm');
    await link.settle();
    const [receipt] = link.held.responder;
    if (receipt === undefined) throw new Error('unreachable');
    expect(receipt[1]).toBe(FrameType.receipts);
    const relabelled = receipt.slice();
    relabelled[1] = FrameType.message;
    link.deliver('responder', relabelled);
    await link.settle();
    expect(link.initiator.events.filter((event) => event.type === 'group')).toEqual([]);
    expectFailedLast(link.initiator, 'frame-rejected');
  });

  it('the sender of a rejected frame is not told by the protocol (it stays secure until the transport closes)', async () => {
    const link = await secureLink();
    const [f0] = await captureChats(link, ['x']);
    if (f0 === undefined) throw new Error('unreachable');
    link.deliver('initiator', flipBit(f0, 12));
    await link.settle();
    expectFailedLast(link.responder, 'frame-rejected');
    expect(link.initiator.session.isSecure).toBe(true);
    expect(failures(link.initiator)).toEqual([]);
  });
});

describe('a failure inside the session is never silent', () => {
  it('when the channel throws on send, the sender ends the session visibly instead of wedging', async () => {
    let channelBroken = false;
    const link = await secureLink({
      tap: (side, frame) => {
        if (channelBroken && side === 'initiator') throw new Error('channel closed');
        return [frame];
      },
    });
    channelBroken = true;
    sendText(link.initiator.session, 'into the void');
    await link.settle();
    expectFailedLast(link.initiator, 'frame-rejected');
    expect(chats(link.responder)).toHaveLength(0);
  });
});

describe('file chunks through the session (§7.2): one frame each, its chunk header clear and authenticated', () => {
  const ID = 'AAECAwQFBgcICQoLDA0ODw';
  const chunkEvents = (endpoint: Endpoint) =>
    endpoint.events.flatMap((event) => (event.type === 'transfer-chunk' ? [{ index: event.header.index, isLast: event.header.isLast, data: Array.from(event.data) }] : []));
  const bytesOf = (index: number, length: number) => Array.from({ length }, (_, i) => (i * 7 + index) & 0xff);

  /** Holds the initiator after the handshake and lets it send `count` chunks; returns what it handed to the channel. */
  async function captureChunks(link: Link, count: number, length = 300): Promise<Uint8Array[]> {
    link.hold('initiator');
    for (let index = 0; index < count; index++) void link.initiator.session.sendChunk({ id: ID, index, isLast: index === count - 1 }, Uint8Array.from(bytesOf(index, length)));
    await link.settle();
    return link.held.initiator.slice();
  }

  it('each chunk arrives whole, in order, with its authenticated header, and its bytes never cross in the clear', async () => {
    const link = await secureLink();
    const sent = await captureChunks(link, 3);
    expect(sent.map((frame) => frame.length)).toEqual([347, 347, 347]);
    expect(frameTypes(sent)).toEqual([FrameType.transferChunk, FrameType.transferChunk, FrameType.transferChunk]);
    expect(Buffer.from(sent[0] ?? []).includes(Buffer.from(bytesOf(0, 300).slice(0, 16)))).toBe(false);
    for (const frame of sent) link.deliver('initiator', frame);
    await link.settle();
    expect(chunkEvents(link.responder)).toEqual([0, 1, 2].map((index) => ({ index, isLast: index === 2, data: bytesOf(index, 300) })));
    expect(failures(link.responder)).toEqual([]);
  });

  it('chunks and messages sent together arrive in the order they were sent', async () => {
    const link = await secureLink();
    link.hold('initiator');
    void link.initiator.session.sendChunk({ id: ID, index: 0, isLast: false }, Uint8Array.from(bytesOf(0, 10)));
    sendText(link.initiator.session, 'between');
    void link.initiator.session.sendChunk({ id: ID, index: 1, isLast: true }, Uint8Array.from(bytesOf(1, 10)));
    await link.settle();
    for (const frame of link.held.initiator) link.deliver('initiator', frame);
    await link.settle();
    const order = link.responder.events.map((event) => (event.type === 'transfer-chunk' ? `chunk ${event.header.index}` : event.type === 'group' && event.frame.type === 'message' ? messageText(event.frame.message) : event.type));
    expect(order).toEqual(['secure', 'chunk 0', 'between', 'chunk 1']);
  });

  it('a flipped bit in the chunk header (id, index, last flag), the ciphertext or the tag: frame-rejected, the chunk never delivered', async () => {
    for (const position of [12, 28, 30, 31, -1]) {
      const link = await secureLink();
      const [frame] = await captureChunks(link, 1);
      const chunk = frame ?? new Uint8Array(0);
      link.deliver('initiator', flipBit(chunk, position < 0 ? chunk.length + position : position));
      await link.settle();
      expect(chunkEvents(link.responder), `byte ${position}`).toEqual([]);
      expectFailedLast(link.responder, 'frame-rejected');
    }
  });

  it('a chunk frame shorter than its 21-byte chunk header: frame-rejected, nothing delivered', async () => {
    const link = await secureLink();
    const [frame] = await captureChunks(link, 1);
    link.deliver('initiator', (frame ?? new Uint8Array(0)).subarray(0, 10 + 20));
    await link.settle();
    expect(chunkEvents(link.responder)).toEqual([]);
    expectFailedLast(link.responder, 'frame-rejected');
  });
});
