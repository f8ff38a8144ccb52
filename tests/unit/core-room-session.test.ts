/**
 * RoomSession end to end over fake ports: an in-memory signaling server speaking the real protocol, fake
 * WebRTC peers that pair through the real sealed-signal path, a manual clock, and a recording transfer
 * endpoint. The crypto (room keys, sealed signals, the data-channel handshake, frames) is the real thing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSessionKeyPair, type SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { deriveRoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { sealSignal, type SignalRoute } from '../../src/core/crypto/signalSeal.ts';
import { encodeFrameHeader, FrameType } from '../../src/core/protocol/frames.ts';
import { systemRandom } from '../../src/core/ports.ts';
import type { PeerSignal } from '../../src/core/protocol/peerSignal.ts';
import type { ErrorCode } from '../../src/core/protocol/signaling.ts';
import { MAX_HELD_BACK_EVENTS, PEER_MESSAGE_LIMIT, RoomSession, type RoomEvent } from '../../src/core/room/roomSession.ts';
import { UNDECIDED, type Admission, type KnownContact, type RoomKnowledge } from '../../src/core/room/admission.ts';
import type { RateLimit } from '../../src/core/room/tokenBucket.ts';
import type { LocalIdentity, PeerIdentity } from '../../src/core/crypto/identityProof.ts';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import type { RoomFailure, RoomStatus } from '../../src/core/room/roomStatus.ts';
import { newTransferId, type TransferControl } from '../../src/core/transfer/transferMessages.ts';
import { secretFromSeed } from './support/coreFixtures.ts';
import {
  fakeSdp,
  FakeClock,
  FakePeerNetwork,
  FakeSignalingServer,
  FakeTransfers,
  Scheduler,
  type FakePeer,
  type RelayedSignal,
} from './support/roomFakes.ts';

const SECRET = secretFromSeed(700);
const NEW_GUEST: Admission = { decision: 'admit', reason: 'new-guest', contact: null, announcedName: null };
const NEW_PROFILE: Admission = { decision: 'admit', reason: 'new-profile', contact: null, announcedName: null };
/** What every member reports once verified when nobody has a profile. */
const SECURE_WITH_GUEST: RoomStatus = { kind: 'secure', peer: { kind: 'guest' }, admission: NEW_GUEST };
const OTHER_SECRET = secretFromSeed(701);
/** RoomSession's own constants (not exported): first reconnect delay and the redial delay after a broken link. */
const FIRST_RECONNECT_MS = 500;
const REDIAL_MS = 1_000;

// ---- key pairs -----------------------------------------------------------------------------------

// RSA-3072 generation is slow; a small pool, handed out round robin, serves every session of the suite.
let keyPairs: SessionKeyPair[] = [];
let handedOut = 0;

function pooledKeyPair(): Promise<SessionKeyPair> {
  const pair = keyPairs[handedOut++ % keyPairs.length];
  return pair === undefined ? Promise.reject(new Error('key pool is empty')) : Promise.resolve(pair);
}

beforeAll(async () => {
  keyPairs = await Promise.all(Array.from({ length: 4 }, () => generateSessionKeyPair()));
}, 30_000);

// ---- a world of fakes ----------------------------------------------------------------------------

interface Member {
  readonly name: string;
  readonly session: RoomSession;
  readonly events: RoomEvent[];
  readonly transfers: FakeTransfers;
  readonly started: Promise<void>;
}

interface MemberOptions {
  readonly secret?: Uint8Array;
  readonly connectTimeoutMs?: number;
  /** Whether to pass the recording transfer endpoint (default true). */
  readonly withTransfers?: boolean;
  readonly generateKeyPair?: () => Promise<SessionKeyPair>;
  readonly identity?: LocalIdentity;
  readonly knowledge?: () => RoomKnowledge;
  readonly peerMessageLimit?: RateLimit;
}

interface World {
  readonly scheduler: Scheduler;
  readonly clock: FakeClock;
  readonly server: FakeSignalingServer;
  readonly net: FakePeerNetwork;
  /** Creates a RoomSession for `name` and starts it. */
  add(name: string, options?: MemberOptions): Member;
  /** Waits until no fake has anything in flight and no session has async work queued. */
  settle(): Promise<void>;
  /** Advances the clock (firing due timers), then settles. */
  advance(ms: number): Promise<void>;
}

function createWorld(): World {
  const scheduler = new Scheduler();
  const clock = new FakeClock();
  const server = new FakeSignalingServer(scheduler);
  const net = new FakePeerNetwork(scheduler);
  const members: Member[] = [];

  const add = (name: string, options: MemberOptions = {}): Member => {
    const events: RoomEvent[] = [];
    const transfers = new FakeTransfers();
    const session = new RoomSession({
      secret: options.secret ?? SECRET,
      platform: {
        connectSignaling: server.connector(name),
        createPeer: net.creator(name),
        clock: clock.for(name),
        random: systemRandom,
      },
      onEvent: (event) => events.push(event),
      generateKeyPair: options.generateKeyPair ?? pooledKeyPair,
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.withTransfers === false ? {} : { transfers }),
      ...(options.identity === undefined ? {} : { identity: options.identity }),
      ...(options.knowledge === undefined ? {} : { knowledge: options.knowledge }),
      ...(options.peerMessageLimit === undefined ? {} : { peerMessageLimit: options.peerMessageLimit }),
    });
    const member: Member = { name, session, events, transfers, started: session.start() };
    members.push(member);
    return member;
  };

  // RoomSession's and SecureSession's private promise chains are read (bracket access to `private` is
  // allowed) so that settling is exact rather than a guess based on elapsed time. The key-pair promise is
  // left out on purpose: a test may hold it back.
  const chains = (): unknown[] =>
    members.flatMap(({ session, started }) => {
      const attempt = session['attempt'];
      const secure = attempt?.session ?? null;
      return [started, session['inboundSignals'], session['outboundSignals'], attempt, secure, secure?.['inbound'], secure?.['outbound'], session.currentStatus];
    });

  const settle = async (): Promise<void> => {
    let quietRounds = 0;
    for (let round = 0; round < 5_000; round++) {
      const before = chains();
      await Promise.allSettled(before);
      await new Promise((resolve) => setImmediate(resolve));
      const after = chains();
      const unchanged = after.length === before.length && after.every((item, index) => item === before[index]);
      quietRounds = scheduler.inFlight === 0 && unchanged ? quietRounds + 1 : 0;
      if (quietRounds >= 3) return;
    }
    throw new Error('the world did not settle');
  };

  return {
    scheduler,
    clock,
    server,
    net,
    add,
    settle,
    async advance(ms) {
      clock.advance(ms);
      await settle();
    },
  };
}

// ---- reading what happened -------------------------------------------------------------------------

const statuses = (member: Member): RoomStatus[] => member.events.flatMap((event) => (event.type === 'status' ? [event.status] : []));
const kinds = (member: Member): string[] => statuses(member).map((status) => status.kind);
/** Status kinds with immediate repeats folded (a responder announces `connecting` once per step). */
const collapsed = (list: readonly string[]): string[] => list.filter((kind, index) => index === 0 || list[index - 1] !== kind);
const kindsSince = (member: Member, count: number): string[] => kinds(member).slice(count);
const chats = (member: Member) => member.events.flatMap((event) => (event.type === 'chat' ? [event] : []));
const receipts = (member: Member) => member.events.flatMap((event) => (event.type === 'receipt' ? [event] : []));
const everSecure = (member: Member): boolean => kinds(member).includes('secure');

function onlyPeer(world: World, name: string): FakePeer {
  const peers = world.net.peersOf(name);
  expect(peers, `${name} should have exactly one fake peer`).toHaveLength(1);
  return peers[0] as FakePeer;
}

function lastPeer(world: World, name: string): FakePeer {
  const peer = world.net.peersOf(name).at(-1);
  if (peer === undefined) throw new Error(`${name} has no fake peer`);
  return peer;
}

function expectFailed(member: Member, failure: RoomFailure): void {
  const expected: RoomStatus = { kind: 'failed', failure };
  expect(member.session.currentStatus).toEqual(expected);
  // The failure is the last thing reported, exactly once.
  expect(statuses(member).at(-1)).toEqual(expected);
  expect(kinds(member).filter((kind) => kind === 'failed')).toHaveLength(1);
}

/** Two members with the same secret, both verified. */
async function securePair(world: World, options: { readonly alice?: MemberOptions; readonly bob?: MemberOptions } = {}) {
  const alice = world.add('alice', options.alice);
  await world.settle();
  const bob = world.add('bob', options.bob);
  await world.settle();
  expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
  expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
  return { alice, bob };
}

/** A chat from `from` reaches `to` with its text, and the receipt comes back to `from`. */
async function expectChatWorks(world: World, from: Member, to: Member, text: string): Promise<void> {
  const sent = from.session.send(text);
  if (!sent.ok) throw new Error(`send refused: ${sent.reason}`);
  await world.settle();
  expect(chats(to).at(-1)).toEqual({ type: 'chat', id: sent.id, text, receivedAtMs: world.clock.nowMs() });
  expect(receipts(from).at(-1)).toEqual({ type: 'receipt', id: sent.id });
}

// ---- 1. the honest path -------------------------------------------------------------------------------

describe('RoomSession: two members with the same secret', () => {
  it('reach secure through preparing → waiting → connecting → verifying → secure, and chat both ways with receipts', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    expect(alice.session.currentStatus).toEqual({ kind: 'preparing' });
    await world.settle();
    expect(kinds(alice)).toEqual(['waiting']);

    const bob = world.add('bob');
    expect(bob.session.currentStatus).toEqual({ kind: 'preparing' });
    await world.settle();
    expect(collapsed(kinds(alice))).toEqual(['waiting', 'connecting', 'verifying', 'secure']);
    expect(collapsed(kinds(bob))).toEqual(['connecting', 'verifying', 'secure']);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);

    const sent = alice.session.send('Hello Bob 👋');
    expect(sent).toEqual({ ok: true, id: expect.any(String), sentAtMs: world.clock.nowMs() });
    await world.settle();
    if (!sent.ok) throw new Error('unreachable');
    expect(chats(bob)).toEqual([{ type: 'chat', id: sent.id, text: 'Hello Bob 👋', receivedAtMs: world.clock.nowMs() }]);
    expect(receipts(alice)).toEqual([{ type: 'receipt', id: sent.id }]);
    expect(chats(alice)).toEqual([]);
    expect(receipts(bob)).toEqual([]);

    await expectChatWorks(world, bob, alice, 'مرحبا Alice');
  });

  it('refuses empty and oversized text once secure, and anything before secure', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    expect(alice.session.send('too early')).toEqual({ ok: false, reason: 'not-secure' });
    await world.settle();
    expect(alice.session.send('still alone')).toEqual({ ok: false, reason: 'not-secure' });
    const bob = world.add('bob');
    await world.settle();
    expect(bob.session.currentStatus.kind).toBe('secure');
    expect(alice.session.send('   ')).toEqual({ ok: false, reason: 'empty' });
    expect(alice.session.send('x'.repeat(65_537))).toEqual({ ok: false, reason: 'too-long' });
  });

  it('uses the real signaling protocol: join with the derived room id and a fresh nonce, sealed signals only', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const keys = await deriveRoomKeys(SECRET);
    const nonces: string[] = [];
    for (const member of [alice, bob]) {
      const [first] = world.server.connectionsOf(member.name);
      const nonce = first?.nonce ?? '';
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(first?.fromClient[0]).toBe(JSON.stringify({ v: 1, type: 'join', room: keys.roomId, nonce }));
      nonces.push(nonce);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
    expect(world.server.membersOf(keys.roomId)).toEqual(['alice0', 'bob0']);
    // Offer + candidate one way, answer + candidate the other; no SDP text ever reaches the server.
    expect(world.server.relayed.map((signal) => `${signal.from}->${signal.to}`)).toEqual(['alice0->bob0', 'alice0->bob0', 'bob0->alice0', 'bob0->alice0']);
    const wire = world.server.connections.flatMap((conn) => conn.fromClient).join('\n');
    expect(wire).not.toContain('fingerprint');
    expect(wire).not.toContain('candidate');
  });
});

// ---- 2. the initiator rule -----------------------------------------------------------------------------

describe('RoomSession: the smaller peer id makes the offer', () => {
  it.each([
    { case: 'first joiner has the smaller id', aliceId: 'Aaaa', bobId: 'Bbbb', aliceInitiates: true },
    { case: 'second joiner has the smaller id', aliceId: 'zzzz', bobId: 'aaaa', aliceInitiates: false },
    { case: 'ids compared by code unit (- < 0 < A < _ < a)', aliceId: 'a', bobId: '_', aliceInitiates: false },
    { case: 'upper case sorts before lower case (code units, not locale order)', aliceId: 'a', bobId: 'B', aliceInitiates: false },
  ])('$case', async ({ aliceId, bobId, aliceInitiates }) => {
    const world = createWorld();
    world.server.assignIds('alice', [aliceId]);
    world.server.assignIds('bob', [bobId]);
    await securePair(world);
    expect(onlyPeer(world, 'alice').initiator).toBe(aliceInitiates);
    expect(onlyPeer(world, 'bob').initiator).toBe(!aliceInitiates);
    const offerer = aliceInitiates ? 'alice' : 'bob';
    const answerer = aliceInitiates ? 'bob' : 'alice';
    expect(onlyPeer(world, offerer).emitted[0]?.type).toBe('offer');
    expect(onlyPeer(world, answerer).received[0]?.type).toBe('offer');
    expect(onlyPeer(world, answerer).emitted[0]?.type).toBe('answer');
  });
});

// ---- 3.–5. signals that must not open -----------------------------------------------------------------

describe('RoomSession: sealed signals', () => {
  it('different secrets on an honest server: different rooms, both wait, nobody connects', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    const bob = world.add('bob', { secret: OTHER_SECRET });
    await world.settle();
    expect(kinds(alice)).toEqual(['waiting']);
    expect(kinds(bob)).toEqual(['waiting']);
    expect(world.net.peers).toEqual([]);
  });

  it('different secrets put in one room by a hostile server: the receiver refuses the signal, nobody is secure', async () => {
    const world = createWorld();
    world.server.roomOf = () => 'one-room-for-everyone';
    const alice = world.add('alice');
    await world.settle();
    const bob = world.add('bob', { secret: OTHER_SECRET });
    await world.settle();
    expectFailed(bob, { kind: 'signal-rejected' });
    // Bob never even started a peer connection; Alice, left alone, waits again.
    expect(world.net.peersOf('bob')).toEqual([]);
    expect(alice.session.currentStatus).toEqual({ kind: 'waiting' });
    expect(everSecure(alice) || everSecure(bob)).toBe(false);
    expect(world.server.current('alice').fromClient.length).toBeGreaterThan(0);
    expect(world.server.connectionsOf('bob')[0]?.closedByClient).toBe(true);
  });

  const flipChar = (blob: string, index: number): string => `${blob.slice(0, index)}${blob[index] === 'A' ? 'B' : 'A'}${blob.slice(index + 1)}`;

  /** How a hostile relay rewrites the first signal (the offer); it may seal a blob of its own. */
  type Tamper = (signal: RelayedSignal) => string | Promise<string>;
  const honestRoute = (signal: RelayedSignal): Omit<SignalRoute, 'roomId'> => ({
    fromPeerId: signal.from,
    fromNonce: signal.fromNonce,
    toPeerId: signal.to,
    toNonce: signal.toNonce,
  });
  const otherNonce = (nonce: string): string => `${nonce.startsWith('A') ? 'B' : 'A'}${nonce.slice(1)}`;

  const sealedInstead =
    (secret: Uint8Array, reroute: (signal: RelayedSignal) => Omit<SignalRoute, 'roomId'>): Tamper =>
    async (signal) => {
      const keys = await deriveRoomKeys(secret);
      const offer: PeerSignal = { type: 'offer', sdp: fakeSdp(900, 'actpass') };
      return sealSignal(keys.signalKey, { roomId: keys.roomId, ...reroute(signal) }, 0, offer, systemRandom);
    };

  it.each<{ readonly case: string; readonly tamper: Tamper }>([
    { case: 'with one character flipped', tamper: ({ blob }) => flipChar(blob, Math.floor(blob.length / 2)) },
    { case: 'with its last character flipped', tamper: ({ blob }) => flipChar(blob, blob.length - 1) },
    { case: 'truncated', tamper: ({ blob }) => blob.slice(0, blob.length - 8) },
    { case: 'replaced by one sealed for another recipient', tamper: sealedInstead(SECRET, (signal) => ({ ...honestRoute(signal), toPeerId: 'mallory' })) },
    { case: 'replaced by one claiming another sender', tamper: sealedInstead(SECRET, (signal) => ({ ...honestRoute(signal), fromPeerId: 'mallory' })) },
    {
      case: 'replaced by one sealed for another room session of the recipient',
      tamper: sealedInstead(SECRET, (signal) => ({ ...honestRoute(signal), toNonce: otherNonce(signal.toNonce) })),
    },
    {
      case: 'replaced by one sealed by another room session of the sender',
      tamper: sealedInstead(SECRET, (signal) => ({ ...honestRoute(signal), fromNonce: otherNonce(signal.fromNonce) })),
    },
    { case: 'replaced by one sealed in another room', tamper: sealedInstead(OTHER_SECRET, honestRoute) },
  ])('a relay that delivers the offer $case: failed/signal-rejected, never secure, send refused', async ({ tamper }) => {
    const world = createWorld();
    let first = true;
    world.server.relay = async (signal) => {
      if (!first) return [signal.blob];
      first = false;
      const tampered = await tamper(signal);
      expect(tampered).not.toBe(signal.blob);
      return [tampered];
    };
    const alice = world.add('alice');
    const bob = world.add('bob');
    await world.settle();

    expectFailed(bob, { kind: 'signal-rejected' });
    expect(everSecure(alice) || everSecure(bob)).toBe(false);
    expect(alice.session.send('hello?')).toEqual({ ok: false, reason: 'not-secure' });
    expect(bob.session.send('hello?')).toEqual({ ok: false, reason: 'not-secure' });
    // Nothing of the tampered signal reached Bob's WebRTC stack.
    expect(world.net.peersOf('bob')).toEqual([]);
    // Bob's failure closed his socket; Alice, told he left, is waiting again.
    expect(alice.session.currentStatus).toEqual({ kind: 'waiting' });
  });

  it('a replayed offer (the same blob delivered twice): failed/signal-rejected, never secure', async () => {
    const world = createWorld();
    let first = true;
    world.server.relay = (signal) => {
      if (!first) return [signal.blob];
      first = false;
      return [signal.blob, signal.blob];
    };
    const alice = world.add('alice');
    const bob = world.add('bob');
    await world.settle();
    expectFailed(bob, { kind: 'signal-rejected' });
    expect(everSecure(alice) || everSecure(bob)).toBe(false);
    // The first copy was accepted (Bob's peer got the offer once); the replay was refused.
    expect(onlyPeer(world, 'bob').received.filter((signal) => signal.type === 'offer')).toHaveLength(1);
    expect(onlyPeer(world, 'bob').closed).toBe(true);
    expect(bob.session.send('hi')).toEqual({ ok: false, reason: 'not-secure' });
  });

  it('an old signal frame replayed into a secure room: failed/signal-rejected, and the secure session is torn down', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const old = world.server.relayed.find((signal) => signal.from === 'alice0');
    if (old === undefined) throw new Error('no signal from alice');
    world.server.sendFrame('bob', { v: 1, type: 'signal', from: old.from, blob: old.blob });
    await world.settle();
    expectFailed(bob, { kind: 'signal-rejected' });
    expect(bob.session.send('hi')).toEqual({ ok: false, reason: 'not-secure' });
    expect(alice.session.currentStatus).toEqual({ kind: 'peer-left' });
  });

  it('a server that reuses peer ids cannot replay a recorded offer into a later room session: failed/signal-rejected', async () => {
    const world = createWorld();
    // A hostile server hands out the same ids every time, so ids alone would make the old route look current.
    world.server.assignIds('alice', ['alice0']);
    world.server.assignIds('bob', ['bob0', 'bob0']);
    const first = await securePair(world);
    const offer = world.server.relayed[0];
    if (offer === undefined || offer.from !== 'alice0' || offer.to !== 'bob0') throw new Error('expected alice0 to offer to bob0 first');
    first.alice.session.stop();
    first.bob.session.stop();
    await world.settle();

    // Bob opens the link again. The server gives him his old id and plays him the recording instead of a live peer,
    // even announcing alice0 with the nonce she had then.
    world.server.roomOf = () => 'a room of its own';
    const bobAgain = world.add('bob');
    await world.settle();
    expect(world.server.current('bob').id).toBe('bob0');
    expect(world.server.current('bob').nonce).not.toBe(offer.toNonce);
    world.server.sendFrame('bob', { v: 1, type: 'peer-joined', peer: 'alice0', nonce: offer.fromNonce });
    world.server.sendFrame('bob', { v: 1, type: 'signal', from: 'alice0', blob: offer.blob });
    await world.settle();

    expectFailed(bobAgain, { kind: 'signal-rejected' });
    // The recording never reached a WebRTC stack: Bob's only peer is the one from his first visit.
    expect(world.net.peersOf('bob')).toHaveLength(1);
    expect(bobAgain.session.send('hi')).toEqual({ ok: false, reason: 'not-secure' });
  });

  it('a server that reuses peer ids after a reconnection cannot replay a signal from before it: the sequence memory outlives the socket', async () => {
    const world = createWorld();
    world.server.assignIds('bob', ['bob0', 'bob0']);
    const { bob } = await securePair(world);
    const offer = world.server.relayed[0];
    if (offer === undefined || offer.from !== 'alice0' || offer.to !== 'bob0') throw new Error('expected alice0 to offer to bob0 first');
    // From now on the server relays nothing honest.
    world.server.relay = () => [];
    world.server.drop('bob');
    await world.settle();
    await world.advance(FIRST_RECONNECT_MS);
    // Same id, same nonce: the sealed route of the old offer is the current one.
    expect(world.server.current('bob').id).toBe('bob0');
    expect(world.server.current('bob').nonce).toBe(offer.toNonce);
    world.server.sendFrame('bob', { v: 1, type: 'signal', from: 'alice0', blob: offer.blob });
    await world.settle();
    expectFailed(bob, { kind: 'signal-rejected' });
    expect(world.net.peersOf('bob')).toHaveLength(1);
  });

  it('a signal from a peer the server never announced: failed/signal-rejected', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    world.server.sendFrame('alice', { v: 1, type: 'signal', from: 'stranger', blob: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    await world.settle();
    expectFailed(alice, { kind: 'signal-rejected' });
    expect(world.net.peersOf('alice')).toEqual([]);
  });
});

// ---- 6. what the server says ---------------------------------------------------------------------------

describe('RoomSession: server frames', () => {
  it.each([
    { case: 'not JSON', data: 'this is {not json' },
    { case: 'a JSON array', data: '[1,2,3]' },
    { case: 'another protocol version', data: '{"v":2,"type":"peer-joined","peer":"x"}' },
    { case: 'an unknown type', data: '{"v":1,"type":"teleport","peer":"x"}' },
    { case: 'an extra key', data: '{"v":1,"type":"peer-joined","peer":"x","admin":true}' },
    { case: 'an unknown error code', data: '{"v":1,"type":"error","code":"made-up","message":"x"}' },
    { case: 'a binary frame', data: Uint8Array.of(123, 125) },
  ])('a malformed frame ($case) fails the room: failed/server-unintelligible', async ({ data }) => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    world.server.inject('alice', data);
    await world.settle();
    expectFailed(alice, { kind: 'server-unintelligible', detail: expect.any(String) as string });
    expect(world.server.connectionsOf('alice')[0]?.closedByClient).toBe(true);
    await world.advance(60_000);
    expect(world.server.connectionsOf('alice')).toHaveLength(1);
  });

  it('a malformed frame while secure also tears the secure session down (terminal)', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    world.server.inject('alice', '}{');
    await world.settle();
    expectFailed(alice, { kind: 'server-unintelligible', detail: expect.any(String) as string });
    expect(onlyPeer(world, 'alice').destroyedLocally).toBe(true);
    expect(bob.session.currentStatus).toEqual({ kind: 'peer-left' });
  });

  it('error rate-limited: failed/server-refused with that code, and the server’s wording appears nowhere', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    const wording = 'Your chat is broken, visit evil.example to fix it';
    world.server.sendFrame('alice', { v: 1, type: 'error', code: 'rate-limited', message: wording });
    await world.settle();
    expectFailed(alice, { kind: 'server-refused', code: 'rate-limited' });
    expect(JSON.stringify(alice.events)).not.toContain('evil.example');
    expect(JSON.stringify(alice.session.currentStatus)).not.toContain('evil.example');
  });

  it.each<ErrorCode>(['malformed', 'unknown-type', 'not-joined', 'already-joined', 'idle-timeout', 'server-busy'])(
    'error %s: failed/server-refused with that code',
    async (code) => {
      const world = createWorld();
      const alice = world.add('alice');
      await world.settle();
      world.server.sendFrame('alice', { v: 1, type: 'error', code, message: 'words from the server' });
      await world.settle();
      expectFailed(alice, { kind: 'server-refused', code });
      expect(JSON.stringify(alice.events)).not.toContain('words from the server');
    },
  );

  it('error unknown-peer is ignored (a peer-left is expected to follow)', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    const before = alice.events.length;
    world.server.sendFrame('alice', { v: 1, type: 'error', code: 'unknown-peer', message: 'no such peer' });
    await world.settle();
    expect(alice.events.length).toBe(before);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
  });
});

// ---- 7. a full room -----------------------------------------------------------------------------------

describe('RoomSession: room-full', () => {
  it('on the first join is terminal: status room-full, socket closed, no retry, the others undisturbed', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const carol = world.add('carol');
    await world.settle();
    expect(kinds(carol)).toEqual(['room-full']);
    expect(carol.session.currentStatus).toEqual({ kind: 'room-full' });
    expect(world.server.connectionsOf('carol')[0]?.closedByClient).toBe(true);
    expect(world.clock.pending('carol')).toEqual([]);
    await world.advance(60_000);
    expect(world.server.connectionsOf('carol')).toHaveLength(1);
    expect(kinds(carol)).toEqual(['room-full']);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(carol.session.send('let me in')).toEqual({ ok: false, reason: 'not-secure' });
  });

  it('after having joined once is retried: the server still counts our dead connection, then lets us back in, and we end secure again', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const aliceBefore = kinds(alice).length;
    const bobBefore = kinds(bob).length;

    // Alice's socket dies, but the server has not noticed (its heartbeat has not run): a ghost holds her place.
    world.server.drop('alice', { serverNotices: false });
    await world.settle();
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);

    // Her re-joins are refused with room-full, and she keeps trying, waiting longer each time.
    const refusals = (): number =>
      world.server
        .connectionsOf('alice')
        .flatMap((conn) => conn.toClient)
        .filter((data) => typeof data === 'string' && data.includes('"room-full"')).length;
    await world.advance(FIRST_RECONNECT_MS);
    expect(refusals()).toBe(1);
    await world.advance(FIRST_RECONNECT_MS);
    expect(refusals()).toBe(1);
    await world.advance(FIRST_RECONNECT_MS);
    expect(refusals()).toBe(2);
    expect(world.server.connectionsOf('alice')).toHaveLength(3);
    expect(kinds(alice)).not.toContain('room-full');
    expect(alice.session.currentStatus.kind).not.toBe('failed');
    expect(world.clock.pending('alice')).toHaveLength(1);

    // The heartbeat notices the ghost; Bob tears down the direct link; Alice's next re-join succeeds.
    world.server.reapGhosts();
    await world.settle();
    await world.advance(4 * FIRST_RECONNECT_MS);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(world.server.current('alice').id).toBe('alice3');
    expect(kindsSince(alice, aliceBefore)).not.toContain('room-full');
    expect(kindsSince(alice, aliceBefore)).not.toContain('failed');
    expect(kindsSince(bob, bobBefore).at(-1)).toBe('secure');
    await expectChatWorks(world, alice, bob, 'back again');
    await expectChatWorks(world, bob, alice, 'welcome back');
  });
});

// ---- 8. timeouts ----------------------------------------------------------------------------------------

describe('RoomSession: connection timeouts', () => {
  it('a responder whose offer never comes fails with no-connection after connectTimeoutMs, not before', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice');
    await world.settle();
    const bob = world.add('bob', { connectTimeoutMs: 5_000 });
    await world.settle();
    expect(bob.session.currentStatus).toEqual({ kind: 'connecting' });
    expect(world.net.peersOf('bob')).toEqual([]);
    await world.advance(4_999);
    expect(bob.session.currentStatus).toEqual({ kind: 'connecting' });
    await world.advance(1);
    expectFailed(bob, { kind: 'no-connection' });
    expect(world.clock.pending('bob')).toEqual([]);
    // Alice's own (default) timer had not run out; she is simply alone again.
    expect(alice.session.currentStatus).toEqual({ kind: 'waiting' });
  });

  it('an initiator whose answer never comes fails with no-connection after connectTimeoutMs', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice', { connectTimeoutMs: 2_000 });
    const bob = world.add('bob');
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'connecting' });
    await world.advance(2_000);
    expectFailed(alice, { kind: 'no-connection' });
    expect(onlyPeer(world, 'alice').destroyedLocally).toBe(true);
    expect(bob.session.currentStatus.kind).not.toBe('failed');
  });

  it('a handshake that stalls on an open channel fails with verification-failed after connectTimeoutMs', async () => {
    const world = createWorld();
    world.net.carries = () => false;
    const alice = world.add('alice', { connectTimeoutMs: 3_000 });
    const bob = world.add('bob', { connectTimeoutMs: 3_000 });
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'verifying' });
    expect(bob.session.currentStatus).toEqual({ kind: 'verifying' });
    await world.advance(3_000);
    expectFailed(alice, { kind: 'verification-failed', detail: 'the handshake did not finish in time' });
    expectFailed(bob, { kind: 'verification-failed', detail: 'the handshake did not finish in time' });
  });

  it('the timer stops counting once secure', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world, { alice: { connectTimeoutMs: 1_000 }, bob: { connectTimeoutMs: 1_000 } });
    expect(world.clock.pending()).toEqual([]);
    await world.advance(10_000);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
  });

  // PROTOCOL.md §4: "alone → waiting". A responder that waits for an offer from someone who then leaves is alone.
  it('a responder whose would-be offerer leaves before the offer arrives goes back to waiting (not a later no-connection failure)', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice');
    await world.settle();
    const bob = world.add('bob', { connectTimeoutMs: 5_000 });
    await world.settle();
    expect(bob.session.currentStatus).toEqual({ kind: 'connecting' });
    alice.session.stop();
    await world.settle();
    const afterPeerLeft = bob.session.currentStatus;
    await world.advance(5_000);
    const afterTimeout = bob.session.currentStatus;
    // Alone in the room both times; a newcomer could still join him. Not connecting, never failed.
    expect({ afterPeerLeft, afterTimeout }).toEqual({ afterPeerLeft: { kind: 'waiting' }, afterTimeout: { kind: 'waiting' } });
  });
});

// ---- 9. peer-left ---------------------------------------------------------------------------------------

describe('RoomSession: the other person leaves and comes back', () => {
  it('peer-left while secure → status peer-left; a new session with the same secret → both secure again', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const alicePeer = onlyPeer(world, 'alice');
    bob.session.stop();
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'peer-left' });
    expect(kinds(alice)).not.toContain('failed');
    expect(alicePeer.closed).toBe(true);
    expect(alice.session.send('anyone?')).toEqual({ ok: false, reason: 'not-secure' });
    // Nobody redials someone who left.
    await world.advance(60_000);
    expect(world.net.peersOf('alice')).toHaveLength(1);
    expect(alice.session.currentStatus).toEqual({ kind: 'peer-left' });

    const bobAgain = world.add('bob');
    await world.settle();
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bobAgain.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    await expectChatWorks(world, alice, bobAgain, 'welcome back');
    await expectChatWorks(world, bobAgain, alice, 'thanks');
  });

  it('a peer who leaves before anything was secure leaves the other waiting, not peer-left', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice');
    const bob = world.add('bob');
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'connecting' });
    bob.session.stop();
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'waiting' });
    expect(world.clock.pending('alice')).toEqual([]);
  });

  it('the direct link closing just before the server says the peer left ends in peer-left, without a redial', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    onlyPeer(world, 'alice').breakLink();
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'reconnecting' });
    bob.session.stop();
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'peer-left' });
    expect(world.clock.pending('alice')).toEqual([]);
    await world.advance(REDIAL_MS * 10);
    expect(world.net.peersOf('alice')).toHaveLength(1);
  });

  it('a broken direct link while both stay in the room: reconnecting, then a redial after 1 s and secure again', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    onlyPeer(world, 'bob').breakLink();
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'reconnecting' });
    expect(bob.session.currentStatus).toEqual({ kind: 'reconnecting' });
    await world.advance(REDIAL_MS - 1);
    expect(world.net.peers).toHaveLength(2);
    await world.advance(1);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(lastPeer(world, 'alice').initiator).toBe(true);
    expect(lastPeer(world, 'bob').initiator).toBe(false);
    expect(world.net.peers).toHaveLength(4);
    await expectChatWorks(world, alice, bob, 'still here');
  });
});

// ---- 10. one's own signaling socket drops ---------------------------------------------------------------

describe('RoomSession: a signaling drop while secure', () => {
  it('keeps the session on the dropping side until the other side (told peer-left) tears the link down; both are secure again after reconnecting', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const aliceBefore = kinds(alice).length;
    const bobBefore = kinds(bob).length;
    const [alicePeer, bobPeer] = [onlyPeer(world, 'alice'), onlyPeer(world, 'bob')];

    world.server.drop('alice');
    await world.settle();
    // What actually happens: Alice never says `reconnecting` (a secure session does not need the server),
    // but Bob gets peer-left for her old id and destroys his end, so her link closes from the far side and,
    // not knowing who is in the room while her socket is down, she reports `peer-left` too.
    expect(kindsSince(alice, aliceBefore)).toEqual(['peer-left']);
    expect(kindsSince(bob, bobBefore)).toEqual(['peer-left']);
    expect(bobPeer.destroyedLocally).toBe(true);
    expect(alicePeer.destroyedLocally).toBe(false);
    expect(alicePeer.closed).toBe(true);
    expect(world.clock.pending('alice')).toEqual([{ owner: 'alice', dueInMs: FIRST_RECONNECT_MS }]);

    await world.advance(FIRST_RECONNECT_MS);
    expect(world.server.current('alice').id).toBe('alice1');
    // A room session keeps its nonce when its socket reconnects, so the others can tell it is the same member (groups, §12.3).
    expect(world.server.current('alice').nonce).toBe(world.server.connectionsOf('alice')[0]?.nonce);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(collapsed(kindsSince(alice, aliceBefore))).toEqual(['peer-left', 'connecting', 'verifying', 'secure']);
    expect(world.net.peers).toHaveLength(4);
    await expectChatWorks(world, alice, bob, 'reconnected');
    await expectChatWorks(world, bob, alice, 'so I see');
  });

  it('the session really lives on the direct link: while the server has not noticed the drop, chat still flows both ways', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    world.server.drop('alice', { serverNotices: false });
    await world.settle();
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    await expectChatWorks(world, alice, bob, 'no server needed');
    await expectChatWorks(world, bob, alice, 'indeed');
  });

  it('a drop before secure abandons the attempt: reconnecting, then a fresh join and a fresh attempt', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice');
    const bob = world.add('bob');
    await world.settle();
    world.server.drop('alice');
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'reconnecting' });
    expect(onlyPeer(world, 'alice').destroyedLocally).toBe(true);
    world.server.relay = (signal) => [signal.blob];
    await world.advance(FIRST_RECONNECT_MS);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
  });
});

// ---- 11. renegotiation -------------------------------------------------------------------------------------

describe('RoomSession: renegotiation is not part of the protocol', () => {
  /** Seals as `fromId` would to `toId`, on the connections (nonces) the server saw them join with. */
  async function sealedFrom(world: World, fromId: string, toId: string, seq: number, signal: PeerSignal): Promise<string> {
    const keys = await deriveRoomKeys(SECRET);
    const nonceOf = (id: string): string => world.server.connections.find((conn) => conn.id === id)?.nonce ?? 'no such connection';
    const route: SignalRoute = { roomId: keys.roomId, fromPeerId: fromId, fromNonce: nonceOf(fromId), toPeerId: toId, toNonce: nonceOf(toId) };
    return sealSignal(keys.signalKey, route, seq, signal, systemRandom);
  }

  it('a correctly sealed second offer after secure is ignored: still secure, the peer never sees it', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const bobPeer = onlyPeer(world, 'bob');
    const receivedBefore = [...bobPeer.received];
    const bobEvents = bob.events.length;
    // Alice has sealed offer (seq 0) and candidate (seq 1); the next authentic seq is 2.
    const nextSeq = world.server.relayed.filter((signal) => signal.from === 'alice0').length;
    const offer: PeerSignal = { type: 'offer', sdp: fakeSdp(777, 'actpass') };
    world.server.sendFrame('bob', { v: 1, type: 'signal', from: 'alice0', blob: await sealedFrom(world, 'alice0', 'bob0', nextSeq, offer) });
    await world.settle();
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.events.length).toBe(bobEvents);
    expect(bobPeer.received).toEqual(receivedBefore);
    expect(bobPeer.received).not.toContainEqual(offer);

    // The seal was authentic and its seq accepted: a candidate with the following seq does reach the peer,
    // while one that reuses the offer's seq would be a replay.
    const candidate: PeerSignal = { type: 'candidate', candidate: { candidate: '', sdpMLineIndex: 0, sdpMid: '0' } };
    world.server.sendFrame('bob', { v: 1, type: 'signal', from: 'alice0', blob: await sealedFrom(world, 'alice0', 'bob0', nextSeq + 1, candidate) });
    await world.settle();
    expect(bobPeer.received).toEqual([...receivedBefore, candidate]);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    await expectChatWorks(world, alice, bob, 'nothing changed');
  });

  it('a correctly sealed second answer after secure is ignored on the initiator side too', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    const alicePeer = onlyPeer(world, 'alice');
    const receivedBefore = [...alicePeer.received];
    const nextSeq = world.server.relayed.filter((signal) => signal.from === 'bob0').length;
    const answer: PeerSignal = { type: 'answer', sdp: fakeSdp(778, 'active') };
    world.server.sendFrame('alice', { v: 1, type: 'signal', from: 'bob0', blob: await sealedFrom(world, 'bob0', 'alice0', nextSeq, answer) });
    await world.settle();
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(alicePeer.received).toEqual(receivedBefore);
  });
});

// ---- 12. transfers ------------------------------------------------------------------------------------------

describe('RoomSession: the transfer endpoint', () => {
  it('is attached once on secure with a working channel, not before', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    expect(alice.transfers.calls).toEqual([]);
    const bob = world.add('bob');
    await world.settle();
    expect(alice.transfers.calls).toEqual(['attach']);
    expect(bob.transfers.calls).toEqual(['attach']);

    const channel = alice.transfers.channels[0];
    if (channel === undefined) throw new Error('no channel');
    const control: TransferControl = { type: 'complete', id: newTransferId(systemRandom) };
    channel.sendControl(control);
    const header = { id: newTransferId(systemRandom), index: 3, isLast: true };
    await channel.sendChunk(header, Uint8Array.of(1, 2, 3, 4));
    await expect(channel.writable()).resolves.toBeUndefined();
    await world.settle();
    expect(bob.transfers.controls).toEqual([control]);
    expect(bob.transfers.chunks).toEqual([{ header, data: Uint8Array.of(1, 2, 3, 4) }]);
  });

  it('is detached when the peer leaves', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    bob.session.stop();
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'peer-left' });
    expect(alice.transfers.calls).toEqual(['attach', 'detach']);
    expect(bob.transfers.calls).toEqual(['attach', 'detach']);
  });

  it('is detached when the secure session fails on a garbage data-channel frame (failed/frame-rejected)', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    onlyPeer(world, 'alice').injectData(Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
    await world.settle();
    expectFailed(alice, { kind: 'frame-rejected', detail: expect.any(String) as string });
    expect(alice.transfers.calls).toEqual(['attach', 'detach']);
    // Bob learns through the server that Alice is gone, and his transfers pause too.
    expect(bob.session.currentStatus).toEqual({ kind: 'peer-left' });
    expect(bob.transfers.calls).toEqual(['attach', 'detach']);
  });

  it('is detached when a well-formed but forged sealed frame fails the session', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    const forged = new Uint8Array([...encodeFrameHeader(FrameType.chat, 0n), ...new Uint8Array(40)]);
    onlyPeer(world, 'alice').injectData(forged);
    await world.settle();
    expectFailed(alice, { kind: 'frame-rejected', detail: expect.any(String) as string });
    expect(alice.transfers.calls).toEqual(['attach', 'detach']);
  });

  it('is never told anything by a session that failed before secure', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice', { connectTimeoutMs: 1_000 });
    world.add('bob');
    await world.settle();
    await world.advance(1_000);
    expectFailed(alice, { kind: 'no-connection' });
    expect(alice.transfers.calls).toEqual([]);
  });

  it('is re-attached to the new session after a reconnection', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    world.server.drop('alice');
    await world.settle();
    await world.advance(FIRST_RECONNECT_MS);
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(alice.transfers.calls).toEqual(['attach', 'detach', 'attach']);
    expect(bob.transfers.calls).toEqual(['attach', 'detach', 'attach']);
    expect(alice.transfers.channels[1]).not.toBe(alice.transfers.channels[0]);
  });
});

// ---- 13. stop() -------------------------------------------------------------------------------------------------

describe('RoomSession.stop()', () => {
  it('after secure: no further events, socket closed, peer destroyed, no timers left, nothing sent anymore', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const alicePeer = onlyPeer(world, 'alice');
    const sentAtStop = alicePeer.sent.length;
    const eventsAtStop = alice.events.length;
    const framesAtStop = world.server.connectionsOf('alice')[0]?.fromClient.length;
    alice.session.stop();
    expect(alice.events.length).toBe(eventsAtStop);
    expect(alice.session.send('after stop')).toEqual({ ok: false, reason: 'not-secure' });
    expect(world.server.current('bob').id).toBe('bob0');
    expect(world.server.connectionsOf('alice')[0]?.closedByClient).toBe(true);
    expect(alicePeer.destroyedLocally).toBe(true);
    expect(world.clock.pending('alice')).toEqual([]);

    // Bob has not heard yet and sends into the dead link; the server then tells him she left.
    expect(bob.session.send('are you there?')).toMatchObject({ ok: true });
    await world.settle();
    expect(bob.session.currentStatus).toEqual({ kind: 'peer-left' });

    // Stale callbacks from her old socket and peer (a late event from a browser) change nothing either.
    const socketHandlers = world.server.connectionsOf('alice')[0]?.handlers;
    if (socketHandlers === undefined) throw new Error('no socket');
    socketHandlers.onOpen();
    socketHandlers.onMessage(JSON.stringify({ v: 1, type: 'peer-joined', peer: 'zed' }));
    socketHandlers.onMessage('not json');
    socketHandlers.onClose();
    alicePeer.handlers.onConnect();
    alicePeer.handlers.onData(Uint8Array.of(1, 2, 3));
    alicePeer.handlers.onSignal({ type: 'candidate', candidate: { candidate: '', sdpMLineIndex: 0, sdpMid: '0' } });
    alicePeer.handlers.onClose();
    await world.advance(120_000);
    expect(alice.events.length).toBe(eventsAtStop);
    expect(world.server.connectionsOf('alice')).toHaveLength(1);
    expect(world.server.connectionsOf('alice')[0]?.fromClient.length).toBe(framesAtStop);
    expect(alicePeer.sent.length).toBe(sentAtStop);
    expect(world.clock.pending('alice')).toEqual([]);
    bob.session.stop();
    expect(world.clock.pending()).toEqual([]);
  });

  it('while connecting (attempt and no-offer timers running): everything is cancelled', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice');
    const bob = world.add('bob');
    await world.settle();
    expect(world.clock.pending('alice')).toHaveLength(1);
    expect(world.clock.pending('bob')).toHaveLength(1);
    alice.session.stop();
    bob.session.stop();
    expect(world.clock.pending()).toEqual([]);
    const counts = [alice.events.length, bob.events.length];
    await world.advance(120_000);
    expect([alice.events.length, bob.events.length]).toEqual(counts);
    expect(world.server.connections.every((conn) => conn.closedByClient)).toBe(true);
    expect(world.net.peers.every((peer) => peer.closed)).toBe(true);
  });

  it('while reconnecting (reconnect timer running): cancelled, no new socket', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    world.server.drop('alice');
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'reconnecting' });
    expect(world.clock.pending('alice')).toHaveLength(1);
    const eventsAtStop = alice.events.length;
    alice.session.stop();
    expect(world.clock.pending()).toEqual([]);
    await world.advance(120_000);
    expect(world.server.connectionsOf('alice')).toHaveLength(1);
    expect(alice.events.length).toBe(eventsAtStop);
  });

  it('before start() has finished: no socket is ever opened', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    alice.session.stop();
    await world.settle();
    expect(world.server.connections).toEqual([]);
    expect(alice.events).toEqual([]);
  });
});

// ---- the data channel's first moments -------------------------------------------------------------------------

describe('RoomSession: setting up the session on the data channel', () => {
  it('buffers the peer’s hello that arrives before our key pair is ready, then becomes secure', async () => {
    const world = createWorld();
    let release: (pair: SessionKeyPair) => void = () => {};
    let calls = 0;
    const slowFirstPair = (): Promise<SessionKeyPair> => {
      calls += 1;
      return calls === 1 ? new Promise((resolve) => (release = resolve)) : pooledKeyPair();
    };
    const alice = world.add('alice');
    const bob = world.add('bob', { generateKeyPair: slowFirstPair });
    await world.settle();
    expect(bob.session.currentStatus).toEqual({ kind: 'verifying' });
    expect(bob.session['attempt']?.earlyMessages.length).toBe(1);
    release(await pooledKeyPair());
    await world.settle();
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
  });

  it('refuses a connection whose SDPs carry no DTLS fingerprint: verification-failed', async () => {
    const world = createWorld();
    world.net.withFingerprints = false;
    const alice = world.add('alice');
    const bob = world.add('bob');
    await world.settle();
    for (const member of [alice, bob]) {
      expectFailed(member, { kind: 'verification-failed', detail: 'the connection offered no DTLS fingerprint to verify' });
      expect(member.transfers.calls).toEqual([]);
    }
  });
});

// ---- 14. who the peer is, and holding them ------------------------------------------------------------------

describe('RoomSession: the peer’s identity and the hold gate', () => {
  let aliceId: LocalIdentity;
  let bobId: LocalIdentity;
  let malloryId: LocalIdentity;
  const profileOf = (identity: LocalIdentity): PeerIdentity => ({ kind: 'profile', displayName: identity.displayName, publicKeySpki: identity.publicKeySpki });

  beforeAll(async () => {
    const [a, b, m] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()]);
    aliceId = { displayName: 'Alice', ...a };
    bobId = { displayName: 'Bob', ...b };
    // Mallory calls herself Bob: only the key tells them apart.
    malloryId = { displayName: 'Bob', ...m };
  });

  const contactOf = (identity: LocalIdentity): KnownContact => ({
    id: `contact-${identity.displayName}`,
    displayName: identity.displayName,
    publicKeySpki: identity.publicKeySpki,
    verified: false,
    keyChanged: false,
  });

  /** Alice's memory of the room: `remembered` is its contact; counts how often the room asked. */
  function remembering(remembered: LocalIdentity): { asks: number; readonly knowledge: () => RoomKnowledge } {
    const memory = { asks: 0, knowledge: () => ({ roomContacts: [contactOf(remembered)], allContacts: [contactOf(remembered)] }) };
    const { knowledge } = memory;
    memory.knowledge = () => {
      memory.asks += 1;
      return knowledge();
    };
    return memory;
  }

  /** The room remembers Bob, so Bob is admitted as known. */
  const knownBob = (): Admission => ({ decision: 'admit', reason: 'known', contact: contactOf(bobId), announcedName: null });
  /** The room remembers someone else (Mallory's key under the name Bob), so Bob arrives with a key it never saw. */
  const bobAsKeyChange = (): Admission => ({ decision: 'hold', reason: 'key-changed', expected: [contactOf(malloryId)], contact: null, announcedName: null });

  /** Alice then Bob join, with these options on top of their profiles (Bob's are replaced whole). */
  async function meet(world: World, aliceOptions: MemberOptions, bobOptions: MemberOptions = { identity: bobId }) {
    const alice = world.add('alice', { identity: aliceId, ...aliceOptions });
    await world.settle();
    const bob = world.add('bob', bobOptions);
    await world.settle();
    return { alice, bob };
  }

  it('secure carries the peer’s verified profile on both sides; guests see a guest', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, {}, {});
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual({ kind: 'secure', peer: profileOf(aliceId), admission: NEW_PROFILE });

    const other = createWorld();
    const both = await meet(other, {});
    expect(both.alice.session.currentStatus).toEqual({ kind: 'secure', peer: profileOf(bobId), admission: NEW_PROFILE });
    expect(both.bob.session.currentStatus).toEqual({ kind: 'secure', peer: profileOf(aliceId), admission: NEW_PROFILE });
  });

  it('a remembered contact with the same key is admitted: asked once, secure, transfers attached, chat both ways', async () => {
    const world = createWorld();
    const memory = remembering(bobId);
    const { alice, bob } = await meet(world, { knowledge: memory.knowledge });
    expect(memory.asks).toBe(1);
    expect(collapsed(kinds(alice))).toEqual(['waiting', 'connecting', 'verifying', 'secure']);
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', peer: profileOf(bobId), admission: knownBob() });
    expect(alice.transfers.calls).toEqual(['attach']);
    await expectChatWorks(world, alice, bob, 'hello Bob');
    await expectChatWorks(world, bob, alice, 'hello Alice');
  });

  it('guests on both sides, remembering nobody: no extra step, exactly the statuses of before', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    const bob = world.add('bob');
    await world.settle();
    expect(collapsed(kinds(alice))).toEqual(['waiting', 'connecting', 'verifying', 'secure']);
    expect(collapsed(kinds(bob))).toEqual(['connecting', 'verifying', 'secure']);
    expect(alice.transfers.calls).toEqual(['attach']);
  });

  it('held: status held with the peer and why, transfers detached, sending refused, and nothing the peer sends is shown', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    expect(alice.session.currentStatus).toEqual({ kind: 'held', peer: profileOf(bobId), admission: bobAsKeyChange() });
    expect(collapsed(kinds(alice))).toEqual(['waiting', 'connecting', 'verifying', 'held']);
    expect(alice.transfers.calls).toEqual([]);
    // Bob remembers nobody and admitted Alice, so he may talk; Alice's side takes it in but shows nothing.
    expect(bob.session.currentStatus).toEqual({ kind: 'secure', peer: profileOf(aliceId), admission: NEW_PROFILE });

    const alicePeer = onlyPeer(world, 'alice');
    const sentBefore = alicePeer.sent.length;
    expect(alice.session.send('hi Bob')).toEqual({ ok: false, reason: 'held' });
    await world.settle();
    expect(chats(bob)).toEqual([]);

    const fromBob = bob.session.send('it is me, on a new laptop');
    if (!fromBob.ok) throw new Error(fromBob.reason);
    const control: TransferControl = { type: 'complete', id: newTransferId(systemRandom) };
    bob.transfers.channels[0]?.sendControl(control);
    await world.settle();
    expect(chats(alice)).toEqual([]);
    expect(alice.transfers.controls).toEqual([]);
    // Alice's side sent nothing at all: no chat, no transfer, and no receipt for a chat nobody has seen.
    expect(alicePeer.sent.slice(sentBefore)).toEqual([]);
    expect(receipts(bob)).toEqual([]);
    // Waiting for the user is not a stalled connection.
    await world.advance(60_000);
    expect(alice.session.currentStatus).toEqual({ kind: 'held', peer: profileOf(bobId), admission: bobAsKeyChange() });
  });

  it('admitPeer: attaches transfers, then delivers what was held back in order with its arrival time, and sending works', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    const arrivedAtMs = world.clock.nowMs();
    const first = bob.session.send('first');
    const control: TransferControl = { type: 'complete', id: newTransferId(systemRandom) };
    bob.transfers.channels[0]?.sendControl(control);
    const second = bob.session.send('second');
    if (!first.ok || !second.ok) throw new Error('Bob could not send');
    await world.settle();
    await world.advance(5_000);

    const status = alice.session.currentStatus;
    if (status.kind !== 'held') throw new Error(`expected held, got ${status.kind}`);
    expect(alice.session.admitPeer(status.peer)).toBe(true);
    // Secure now, still saying why Bob was held (the view keeps the key-change note until the vault records it).
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', peer: profileOf(bobId), admission: bobAsKeyChange() });
    expect(alice.transfers.sequence).toEqual(['attach', 'control']);
    expect(alice.transfers.controls).toEqual([control]);
    expect(chats(alice)).toEqual([
      { type: 'chat', id: first.id, text: 'first', receivedAtMs: arrivedAtMs },
      { type: 'chat', id: second.id, text: 'second', receivedAtMs: arrivedAtMs },
    ]);
    // Shown now, so delivered now: Bob hears of both only after Alice accepted him.
    await world.settle();
    expect(receipts(bob).map((event) => event.type === 'receipt' && event.id)).toEqual([first.id, second.id]);
    await expectChatWorks(world, alice, bob, 'welcome back');
    // Only once: a second call finds nobody held.
    expect(alice.session.admitPeer(status.peer)).toBe(false);
    expect(alice.transfers.calls).toEqual(['attach']);
  });

  it('admitPeer refuses a peer other than the one held (same name, another key), and when nobody is held', async () => {
    const world = createWorld();
    const { alice } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    expect(alice.session.admitPeer(profileOf(malloryId))).toBe(false);
    expect(alice.session.admitPeer({ kind: 'guest' })).toBe(false);
    expect(alice.session.currentStatus).toEqual({ kind: 'held', peer: profileOf(bobId), admission: bobAsKeyChange() });
    expect(alice.transfers.calls).toEqual([]);
    expect(alice.session.send('still held')).toEqual({ ok: false, reason: 'held' });

    const open = createWorld();
    const admitted = await meet(open, {});
    expect(admitted.alice.session.admitPeer(profileOf(bobId))).toBe(false);
    expect(admitted.alice.transfers.calls).toEqual(['attach']);
  });

  it('a held peer that is replaced by someone else (same name, other key) cannot be admitted with the old identity', async () => {
    const world = createWorld();
    // The room remembers a third key, so both newcomers are held.
    const carolId: LocalIdentity = { displayName: 'Carol', ...(await generateIdentity()) };
    const memory = remembering(carolId);
    const alice = world.add('alice', { identity: aliceId, knowledge: memory.knowledge });
    await world.settle();
    const bob = world.add('bob', { identity: bobId });
    await world.settle();
    const bobAsShown = profileOf(bobId);
    const held = (): Admission => ({ decision: 'hold', reason: 'key-changed', expected: [contactOf(carolId)], contact: null, announcedName: null });
    expect(alice.session.currentStatus).toEqual({ kind: 'held', peer: bobAsShown, admission: held() });
    bob.session.stop();
    await world.settle();
    world.add('mallory', { identity: malloryId });
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'held', peer: profileOf(malloryId), admission: held() });
    expect(alice.session.admitPeer(bobAsShown)).toBe(false);
    expect(alice.session.currentStatus).toEqual({ kind: 'held', peer: profileOf(malloryId), admission: held() });
    expect(alice.transfers.calls).toEqual([]);
    // Each session is judged afresh.
    expect(memory.asks).toBe(2);
  });

  it('a held peer who leaves: peer-left, nothing it sent is ever shown, transfers were never attached', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    bob.session.send('you will never see this');
    await world.settle();
    bob.session.stop();
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'peer-left' });
    expect(chats(alice)).toEqual([]);
    expect(alice.transfers.calls).toEqual([]);
    expect(alice.session.admitPeer(profileOf(bobId))).toBe(false);
  });

  it(`a held peer may send ${MAX_HELD_BACK_EVENTS} messages; one more fails the room with held-overflow and shows none`, async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    for (let i = 0; i < MAX_HELD_BACK_EVENTS; i++) bob.session.send(`message ${i}`);
    await world.settle();
    expect(alice.session.currentStatus.kind).toBe('held');
    bob.session.send('one too many');
    await world.settle();
    expectFailed(alice, { kind: 'held-overflow' });
    expect(chats(alice)).toEqual([]);
    expect(alice.transfers.calls).toEqual([]);
  });

  it('a guest where the room remembers a profile is held: nothing goes to it, no transfer attaches, until admitted', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(bobId).knowledge }, {});
    const downgrade: Admission = { decision: 'hold', reason: 'guest-for-profile', expected: [contactOf(bobId)], contact: null, announcedName: null };
    expect(alice.session.currentStatus).toEqual({ kind: 'held', peer: { kind: 'guest' }, admission: downgrade });
    expect(alice.transfers.calls).toEqual([]);
    const alicePeer = onlyPeer(world, 'alice');
    const sentBefore = alicePeer.sent.length;
    expect(alice.session.send('for Bob only')).toEqual({ ok: false, reason: 'held' });
    bob.session.send('hello, it is me');
    await world.settle();
    expect(alicePeer.sent.slice(sentBefore)).toEqual([]);
    expect(chats(alice)).toEqual([]);
    expect(chats(bob)).toEqual([]);

    expect(alice.session.admitPeer({ kind: 'guest' })).toBe(true);
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', peer: { kind: 'guest' }, admission: downgrade });
    expect(alice.transfers.calls).toEqual(['attach']);
    expect(chats(alice).map((event) => event.type === 'chat' && event.text)).toEqual(['hello, it is me']);
    await expectChatWorks(world, alice, bob, 'welcome, guest');
  });

  it('knowledge that cannot be read holds the peer (undecided) rather than admitting it', async () => {
    const world = createWorld();
    const { alice } = await meet(world, {
      knowledge: () => {
        throw new Error('contacts not loaded');
      },
    });
    expect(alice.session.currentStatus).toEqual({ kind: 'held', peer: profileOf(bobId), admission: UNDECIDED });
    expect(alice.transfers.calls).toEqual([]);
  });
});

// ---- a flooding peer ----------------------------------------------------------------------------------

describe('RoomSession: a peer that sends faster than a person can', () => {
  const { burst, perSecond } = PEER_MESSAGE_LIMIT;

  it(`takes a burst of ${burst} chats at once; one more ends the room with flooded, and that one is never shown`, async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    for (let i = 0; i < burst; i++) bob.session.send(`burst ${i}`);
    await world.settle();
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(chats(alice)).toHaveLength(burst);

    bob.session.send('one too many');
    bob.session.send('and more after it');
    await world.settle();
    expectFailed(alice, { kind: 'flooded' });
    expect(chats(alice).map((event) => event.type === 'chat' && event.text)).toEqual(Array.from({ length: burst }, (_, i) => `burst ${i}`));
    expect(alice.transfers.calls).toEqual(['attach', 'detach']);
  });

  it(`a steady ${perSecond} per second goes on indefinitely (here ${4 * burst} messages after a full burst)`, async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    for (let i = 0; i < burst; i++) bob.session.send(`burst ${i}`);
    await world.settle();
    for (let i = 0; i < 4 * burst; i++) {
      await world.advance(1000 / perSecond);
      bob.session.send(`steady ${i}`);
    }
    await world.settle();
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(chats(alice)).toHaveLength(5 * burst);
  });

  it('receipts have a bucket of their own: a peer answering more chats than the limit at once ends the room on the sender’s side', async () => {
    const world = createWorld();
    // Bob takes anything, so only Alice's limit is in play: for her own burst, his receipts come back just as fast.
    const { alice, bob } = await securePair(world, { bob: { peerMessageLimit: { perSecond: 1000, burst: 10 * burst } } });
    for (let i = 0; i <= burst; i++) alice.session.send(`mine ${i}`);
    await world.settle();
    expect(chats(bob)).toHaveLength(burst + 1);
    expectFailed(alice, { kind: 'flooded' });
    expect(receipts(alice)).toHaveLength(burst);
  });

  it('chats and receipts do not share a bucket: a full burst of each at once is fine', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    for (let i = 0; i < burst; i++) {
      alice.session.send(`mine ${i}`);
      bob.session.send(`yours ${i}`);
    }
    await world.settle();
    // Each side took a burst of chats and a burst of receipts for its own.
    expect(alice.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect(bob.session.currentStatus).toEqual(SECURE_WITH_GUEST);
    expect([chats(alice).length, receipts(alice).length, chats(bob).length, receipts(bob).length]).toEqual([burst, burst, burst, burst]);
  });
});
