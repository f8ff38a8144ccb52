/**
 * RoomSession end to end over fake ports: an in-memory signaling server speaking the real protocol, fake
 * WebRTC peers that pair through the real sealed-signal path, a manual clock, and recording transfer and group
 * endpoints. The crypto (room keys, sealed signals, the data-channel handshake, identities, frames) is real.
 * Two-person rooms are groups of two: every rule of the old one-peer room is checked here, and the mesh
 * (who dials, several members, liveness, re-dials, goodbyes) on top.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSessionKeyPair, type SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { deriveRoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { sealSignal, type SignalRoute } from '../../src/core/crypto/signalSeal.ts';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import { encodeFrameHeader, FrameType } from '../../src/core/protocol/frames.ts';
import { systemRandom } from '../../src/core/ports.ts';
import type { PeerSignal } from '../../src/core/protocol/peerSignal.ts';
import type { ErrorCode } from '../../src/core/protocol/signaling.ts';
import type { GroupFrame } from '../../src/core/protocol/groupMessages.ts';
import {
  DEAD_AFTER_MS,
  MAX_HELD_BACK_EVENTS,
  MAX_OTHER_MEMBERS,
  PROBE_MS,
  REDIAL_ANSWER_MS,
  REJOIN_TIMEOUT_MS,
  RoomSession,
  type RoomEvent,
} from '../../src/core/room/roomSession.ts';
import { KeyPairPool } from '../../src/core/room/keyPairPool.ts';
import { PROBE_ANSWER_MS, PROBE_INTERVAL_MS } from '../../src/core/room/signalingProbe.ts';
import { UNDECIDED, type Admission, type KnownContact, type RoomKnowledge } from '../../src/core/room/admission.ts';
import type { LocalIdentity, PeerIdentity, ProfileIdentity } from '../../src/core/crypto/identityProof.ts';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import type { MemberFailure, MemberView, RoomFailure, RoomStatus } from '../../src/core/room/roomStatus.ts';
import { newTransferId, type TransferControl } from '../../src/core/transfer/transferMessages.ts';
import { bytesToBase64url } from '../../src/core/encoding.ts';
import { secretFromSeed } from './support/coreFixtures.ts';
import { fakeSdp, FakeClock, FakeGroup, FakePeerNetwork, FakeSignalingServer, FakeTransfers, Scheduler, type FakePeer, type RelayedSignal } from './support/roomFakes.ts';

const SECRET = secretFromSeed(700);
const OTHER_SECRET = secretFromSeed(701);
const NEW_GUEST: Admission = { decision: 'admit', reason: 'new-guest', contact: null, announcedName: null };
const NEW_PROFILE: Admission = { decision: 'admit', reason: 'new-profile', contact: null, announcedName: null };
/** How often RoomSession applies its liveness rules to a pair. */
const LIVENESS_TICK_MS = 2_500;
/** RoomSession's own first signaling reconnect delay, before jitter (0.5 to 1.5 times it). */
const FIRST_RECONNECT_MS = 500;

// ---- key pairs -----------------------------------------------------------------------------------

// RSA-3072 generation is slow; a small set, handed out round robin, serves every pool of the suite.
let keyPairs: SessionKeyPair[] = [];
let generated = 0;

function pooledKeyPair(): Promise<SessionKeyPair> {
  const pair = keyPairs[generated++ % keyPairs.length];
  return pair === undefined ? Promise.reject(new Error('key set is empty')) : Promise.resolve(pair);
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
  readonly group: FakeGroup;
  readonly started: Promise<void>;
  /** Resolves to this member's own member id once started. */
  memberId(): Promise<string>;
}

interface MemberOptions {
  readonly secret?: Uint8Array;
  readonly connectTimeoutMs?: number;
  readonly identity?: LocalIdentity;
  readonly knowledge?: () => RoomKnowledge;
  readonly generateKeyPair?: () => Promise<SessionKeyPair>;
}

interface World {
  readonly scheduler: Scheduler;
  readonly clock: FakeClock;
  readonly server: FakeSignalingServer;
  readonly net: FakePeerNetwork;
  add(name: string, options?: MemberOptions): Member;
  settle(): Promise<void>;
  advance(ms: number): Promise<void>;
}

function createWorld(maxMembers = 8, options: { readonly keyPairsHeldBack?: boolean } = {}): World {
  const scheduler = new Scheduler();
  const clock = new FakeClock();
  const server = new FakeSignalingServer(scheduler);
  server.maxMembers = maxMembers;
  const net = new FakePeerNetwork(scheduler);
  const members: Member[] = [];

  const add = (name: string, options: MemberOptions = {}): Member => {
    const events: RoomEvent[] = [];
    const transfers = new FakeTransfers();
    const group = new FakeGroup();
    const session = new RoomSession({
      secret: options.secret ?? SECRET,
      platform: {
        connectSignaling: server.connector(name),
        createPeer: net.creator(name),
        clock: clock.for(name),
        random: systemRandom,
        relayRoute: () => ({ relayServer: false, relayOnly: false }),
      },
      onEvent: (event) => events.push(event),
      keyPairs: new KeyPairPool({ generate: options.generateKeyPair ?? pooledKeyPair, clock: clock.for(`${name}-pool`) }),
      transfers,
      group,
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.identity === undefined ? {} : { identity: options.identity }),
      ...(options.knowledge === undefined ? {} : { knowledge: options.knowledge }),
    });
    const started = session.start();
    const member: Member = {
      name,
      session,
      events,
      transfers,
      group,
      started,
      async memberId() {
        await started;
        const identity = session['identity'];
        if (identity === null) throw new Error(`${name} has no identity`);
        return memberIdOf(identity.publicKeySpki);
      },
    };
    members.push(member);
    return member;
  };

  // RoomSession's and SecureSession's private promise chains are read (bracket access to `private` is
  // allowed) so that settling is exact rather than a guess based on elapsed time.
  const chains = (): unknown[] =>
    members.flatMap(({ session, started }) => [
      started,
      session['inboundSignals'],
      session['outboundSignals'],
      session.currentStatus,
      ...[...session['links'].values()].flatMap((link) => {
        const secure = link.attempt?.session ?? null;
        return [link.attempt, link.state, link.attempt?.work, secure, secure?.['inbound'], secure?.['outbound']];
      }),
    ]);

  const settle = async (): Promise<void> => {
    let quietRounds = 0;
    for (let round = 0; round < 5_000; round++) {
      const before = chains();
      const finished = Promise.allSettled(before);
      // A step may wait on a key pair the test holds back: then it counts as quiet, not busy.
      await (options.keyPairsHeldBack === true ? Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 50))]) : finished);
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
      // Timers fire in order; each may start async work that must finish before the next fires.
      await settle();
      const target = clock.nowMs() + ms;
      while (clock.nowMs() < target) {
        const next = clock.pending().reduce((soonest, timer) => Math.min(soonest, timer.dueInMs), Number.POSITIVE_INFINITY);
        const step = Math.min(Math.max(next, 0), target - clock.nowMs());
        clock.advance(step === 0 && next > 0 ? target - clock.nowMs() : step);
        await settle();
      }
    },
  };
}

// ---- reading what happened -------------------------------------------------------------------------

const statuses = (member: Member): RoomStatus[] => member.events.flatMap((event) => (event.type === 'status' ? [event.status] : []));
const kinds = (member: Member): string[] => statuses(member).map((status) => status.kind);
const everSecure = (member: Member): boolean => kinds(member).includes('secure');
const views = (member: Member): readonly MemberView[] => member.session.members;
const states = (member: Member): string[] => views(member).map((view) => view.state);
const joinedLines = (member: Member) => member.events.flatMap((event) => (event.type === 'member-joined' ? [event.member.memberId] : []));
const leftLines = (member: Member) => member.events.flatMap((event) => (event.type === 'member-left' ? [event.member.memberId] : []));

function peersOf(world: World, name: string): FakePeer[] {
  return world.net.peersOf(name);
}

function onlyPeer(world: World, name: string): FakePeer {
  const peers = peersOf(world, name);
  expect(peers, `${name} should have exactly one fake peer`).toHaveLength(1);
  return peers[0] as FakePeer;
}

function expectFailed(member: Member, failure: RoomFailure): void {
  const expected: RoomStatus = { kind: 'failed', failure };
  expect(member.session.currentStatus).toEqual(expected);
  expect(statuses(member).at(-1)).toEqual(expected);
  expect(kinds(member).filter((kind) => kind === 'failed')).toHaveLength(1);
}

/** The one member `member` sees, whatever its state. */
function onlyView(member: Member): MemberView {
  const list = views(member);
  expect(list, `${member.name} should see exactly one member`).toHaveLength(1);
  return list[0] as MemberView;
}

function expectMemberFailed(member: Member, failure: MemberFailure): void {
  expect(onlyView(member)).toMatchObject({ state: 'failed', failure });
  expect(member.session.currentStatus).toEqual({ kind: 'member-failed', failure });
}

let messageSeq = 0;
/** A group message frame as an engine would send it; the room does not look inside. */
function message(text: string): GroupFrame {
  messageSeq += 1;
  const id = bytesToBase64url(systemRandom.bytes(16));
  return { type: 'message', message: { id, author: bytesToBase64url(new Uint8Array(16)), seq: messageSeq, writtenAtMs: 0, stream: 'group', text } };
}

/** `from` sends a message on its channel to `to`, and `to`'s group endpoint receives it from `from`. */
async function expectTalk(world: World, from: Member, to: Member, text: string): Promise<void> {
  const toId = await to.memberId();
  const fromId = await from.memberId();
  const channel = from.group.channels.get(toId);
  if (channel === undefined) throw new Error(`${from.name} has no channel to ${to.name}`);
  expect(channel.send(message(text))).toBe(true);
  await world.settle();
  expect(to.group.received.at(-1)).toMatchObject({ memberId: fromId, frame: { type: 'message', message: { text } } });
}

/** The route `fromId` seals to `toId` with, on the connections (nonces) the server saw them join with. */
function routeOf(world: World, roomId: string, fromId: string, toId: string): SignalRoute {
  const nonceOf = (id: string): string => world.server.connections.find((conn) => conn.id === id)?.nonce ?? 'no such connection';
  return { roomId, fromPeerId: fromId, fromNonce: nonceOf(fromId), toPeerId: toId, toNonce: nonceOf(toId) };
}

/** Members join one after another, each settling before the next arrives; all end connected to all. */
async function meshOf(world: World, names: readonly string[], options: Readonly<Record<string, MemberOptions>> = {}): Promise<Member[]> {
  const members: Member[] = [];
  for (const name of names) {
    members.push(world.add(name, options[name]));
    await world.settle();
  }
  for (const member of members) {
    expect(states(member), `${member.name} sees everyone connected`).toEqual(Array(names.length - 1).fill('connected'));
  }
  return members;
}

async function securePair(world: World, options: { readonly alice?: MemberOptions; readonly bob?: MemberOptions } = {}) {
  const [alice, bob] = await meshOf(world, ['alice', 'bob'], { ...(options.alice ? { alice: options.alice } : {}), ...(options.bob ? { bob: options.bob } : {}) });
  if (alice === undefined || bob === undefined) throw new Error('unreachable');
  return { alice, bob };
}

// ---- 1. the honest path -------------------------------------------------------------------------------

describe('RoomSession: two members', () => {
  it('reach secure through preparing → waiting → connecting → verifying → secure; messages go both ways', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    expect(alice.session.currentStatus).toEqual({ kind: 'preparing' });
    await world.settle();
    expect(kinds(alice)).toEqual(['waiting']);
    const bob = world.add('bob');
    await world.settle();
    expect(kinds(alice)).toEqual(['waiting', 'connecting', 'verifying', 'secure']);
    expect(kinds(bob)).toEqual(['connecting', 'verifying', 'secure']);
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
    const bobSeen = onlyView(alice);
    expect(bobSeen).toMatchObject({ state: 'connected', memberId: await bob.memberId(), admission: NEW_GUEST, failure: null });
    expect(bobSeen.peer?.kind).toBe('guest');
    await expectTalk(world, alice, bob, 'Hello Bob 👋');
    await expectTalk(world, bob, alice, 'مرحبا Alice');
  });

  it('uses the real signaling protocol: join with the derived room id, sealed signals only, the joiner offers', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const keys = await deriveRoomKeys(SECRET);
    for (const member of [alice, bob]) {
      const [first] = world.server.connectionsOf(member.name);
      expect(first?.fromClient[0]).toBe(JSON.stringify({ v: 1, type: 'join', room: keys.roomId, nonce: first?.nonce }));
    }
    // Bob joined second, so Bob dials: offer + candidate from him, answer + candidate back.
    expect(world.server.relayed.map((signal) => `${signal.from}->${signal.to}`)).toEqual(['bob0->alice0', 'bob0->alice0', 'alice0->bob0', 'alice0->bob0']);
    expect(onlyPeer(world, 'bob').initiator).toBe(true);
    expect(onlyPeer(world, 'alice').initiator).toBe(false);
    const wire = world.server.connections.flatMap((conn) => conn.fromClient).join('\n');
    expect(wire).not.toContain('fingerprint');
    expect(wire).not.toContain('candidate');
  });

  it.each([
    { case: 'the joiner has the larger id', aliceId: 'Aaaa', bobId: 'Bbbb' },
    { case: 'the joiner has the smaller id', aliceId: 'zzzz', bobId: 'aaaa' },
  ])('the joiner dials whatever the ids ($case)', async ({ aliceId, bobId }) => {
    const world = createWorld();
    world.server.assignIds('alice', [aliceId]);
    world.server.assignIds('bob', [bobId]);
    await securePair(world);
    expect(onlyPeer(world, 'bob').emitted[0]?.type).toBe('offer');
    expect(onlyPeer(world, 'alice').emitted[0]?.type).toBe('answer');
  });
});

// ---- 2. the mesh ---------------------------------------------------------------------------------------

describe('RoomSession: a group', () => {
  it('four members: everyone connected to the other three, one pair each, the joiner dialling every earlier member', async () => {
    const world = createWorld();
    const members = await meshOf(world, ['alice', 'bob', 'carol', 'dave']);
    const ids = await Promise.all(members.map((member) => member.memberId()));
    for (const [index, member] of members.entries()) {
      expect(views(member).map((view) => view.memberId).sort()).toEqual(ids.filter((_, other) => other !== index).sort());
      expect(member.session.currentStatus).toEqual({ kind: 'secure', connected: 3 });
      // Dave dialled three, Carol two, Bob one, Alice none: offers never collide.
      expect(peersOf(world, member.name).filter((peer) => peer.initiator)).toHaveLength(index);
      expect(peersOf(world, member.name)).toHaveLength(3);
    }
    const [alice, bob, carol, dave] = members as [Member, Member, Member, Member];
    await expectTalk(world, alice, dave, 'to Dave');
    await expectTalk(world, dave, bob, 'to Bob');
    await expectTalk(world, carol, alice, 'to Alice');
    // Each member heard of the others joining, once each.
    expect(joinedLines(alice).sort()).toEqual(ids.slice(1).sort());
  });

  it('joining a room of four costs the joiner one key pair generation, not three (the pool shares a ready pair)', async () => {
    const world = createWorld();
    await meshOf(world, ['alice', 'bob', 'carol']);
    let generations = 0;
    const counting = (): Promise<SessionKeyPair> => {
      generations += 1;
      return pooledKeyPair();
    };
    world.add('dave', { generateKeyPair: counting });
    await world.settle();
    // The pool made one pair at start (all three handshakes used it) and its successor in the background.
    expect(generations).toBe(2);
  });

  it(`a server listing more than ${MAX_OTHER_MEMBERS} others fails the room before dialling anyone`, async () => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    const peers = Array.from({ length: MAX_OTHER_MEMBERS + 1 }, (_, i) => `p${i}`);
    // A fresh socket's join answered by a lying server.
    world.server.drop('alice');
    await world.advance(2 * FIRST_RECONNECT_MS);
    world.server.sendFrame('alice', { v: 1, type: 'joined', self: 'alice9', peers: peers.map((peer) => ({ peer, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' })) });
    await world.settle();
    expectFailed(alice, { kind: 'too-many-members' });
    expect(peersOf(world, 'alice')).toEqual([]);
  });

  it('one member whose signals do not open is refused alone; the room goes on with the others', async () => {
    const world = createWorld();
    const [alice, bob] = await meshOf(world, ['alice', 'bob']);
    if (alice === undefined || bob === undefined) throw new Error('unreachable');
    // Mallory holds another link but a hostile server puts her in this room.
    world.server.roomOf = (requested) => (requested === 'never' ? requested : [...world.server.connections][0]?.room ?? requested);
    const mallory = world.add('mallory', { secret: OTHER_SECRET });
    await world.settle();
    for (const member of [alice, bob]) {
      const list = views(member);
      expect(list.filter((view) => view.state === 'connected')).toHaveLength(1);
      expect(list.filter((view) => view.state === 'failed')).toEqual([expect.objectContaining({ failure: { kind: 'signal-rejected' } })]);
      expect(member.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
    }
    expect(everSecure(mallory)).toBe(false);
    await expectTalk(world, alice, bob, 'still here');
  });
});

// ---- 3. signals that must not open -----------------------------------------------------------------

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
  ])('a relay that delivers the offer $case: that member fails with signal-rejected, nobody is secure', async ({ tamper }) => {
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
    await world.settle();
    const bob = world.add('bob');
    await world.settle();
    expectMemberFailed(alice, { kind: 'signal-rejected' });
    expect(everSecure(alice) || everSecure(bob)).toBe(false);
    // Nothing of the tampered signal reached Alice's WebRTC stack.
    expect(peersOf(world, 'alice')).toEqual([]);
    expect(alice.group.channels.size + bob.group.channels.size).toBe(0);
  });

  it('a server that reuses peer ids cannot replay a recorded offer into a later room session', async () => {
    const world = createWorld();
    // A hostile server hands out the same ids every time, so ids alone would make the old route look current.
    world.server.assignIds('alice', ['alice0', 'alice0']);
    world.server.assignIds('bob', ['bob0']);
    const first = await securePair(world);
    const offer = world.server.relayed[0];
    if (offer === undefined || offer.from !== 'bob0' || offer.to !== 'alice0') throw new Error('expected bob0 to offer to alice0 first');
    first.alice.session.stop();
    first.bob.session.stop();
    await world.settle();

    // Alice opens the link again. The server gives her her old id and plays her the recording instead of a live
    // member, even announcing bob0 with the nonce he had then.
    world.server.roomOf = () => 'a room of its own';
    const aliceAgain = world.add('alice');
    await world.settle();
    expect(world.server.current('alice').id).toBe('alice0');
    expect(world.server.current('alice').nonce).not.toBe(offer.toNonce);
    world.server.sendFrame('alice', { v: 1, type: 'peer-joined', peer: 'bob0', nonce: offer.fromNonce });
    world.server.sendFrame('alice', { v: 1, type: 'signal', from: 'bob0', blob: offer.blob });
    await world.settle();

    expectMemberFailed(aliceAgain, { kind: 'signal-rejected' });
    // The recording never reached a WebRTC stack: Alice's only peer is the one from her first visit.
    expect(peersOf(world, 'alice')).toHaveLength(1);
  });

  it('after a reconnection with the same id, a signal from before it is refused: the sequence memory outlives the socket', async () => {
    const world = createWorld();
    world.server.assignIds('alice', ['alice0', 'alice0']);
    const { alice } = await securePair(world);
    const offer = world.server.relayed[0];
    if (offer === undefined || offer.from !== 'bob0' || offer.to !== 'alice0') throw new Error('expected bob0 to offer to alice0 first');
    world.server.relay = () => [];
    world.server.drop('alice');
    await world.advance(2 * FIRST_RECONNECT_MS);
    expect(world.server.current('alice').id).toBe('alice0');
    expect(world.server.current('alice').nonce).toBe(offer.toNonce);
    world.server.sendFrame('alice', { v: 1, type: 'signal', from: 'bob0', blob: offer.blob });
    await world.settle();
    expectMemberFailed(alice, { kind: 'signal-rejected' });
    expect(peersOf(world, 'alice')).toHaveLength(1);
  });

  it('a signal from a peer the server never announced is dropped: it reaches no WebRTC stack', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    const keys = await deriveRoomKeys(SECRET);
    const offer: PeerSignal = { type: 'offer', sdp: fakeSdp(903, 'actpass') };
    const route: SignalRoute = { roomId: keys.roomId, fromPeerId: 'stranger', fromNonce: 'AAAAAAAAAAAAAAAAAAAAAA', toPeerId: 'alice0', toNonce: world.server.current('alice').nonce ?? '' };
    world.server.sendFrame('alice', { v: 1, type: 'signal', from: 'stranger', blob: await sealSignal(keys.signalKey, route, 0, offer, systemRandom) });
    await world.settle();
    expect(peersOf(world, 'alice')).toEqual([]);
    expect(views(alice)).toEqual([]);
  });

  it('a room session keeps its nonce when its socket reconnects, so the others can tell it is the same member', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    world.server.drop('alice');
    await world.advance(2 * FIRST_RECONNECT_MS);
    const [first, second] = world.server.connectionsOf('alice');
    expect(first?.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second?.nonce).toBe(first?.nonce);
    expect(second?.id).not.toBe(first?.id);
    void alice;
  });

  it('a replayed offer (the same blob delivered twice): signal-rejected, and that pair is torn down', async () => {
    const world = createWorld();
    let first = true;
    world.server.relay = (signal) => {
      if (!first) return [signal.blob];
      first = false;
      return [signal.blob, signal.blob];
    };
    const alice = world.add('alice');
    await world.settle();
    const bob = world.add('bob');
    await world.settle();
    expectMemberFailed(alice, { kind: 'signal-rejected' });
    expect(onlyPeer(world, 'alice').received.filter((signal) => signal.type === 'offer')).toHaveLength(1);
    expect(onlyPeer(world, 'alice').closed).toBe(true);
    expect(everSecure(alice)).toBe(false);
    expect(bob.session.currentStatus.kind).not.toBe('secure');
  });

  it('an old signal replayed into a secure pair: signal-rejected, and that pair’s session is torn down', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    const old = world.server.relayed.find((signal) => signal.from === 'bob0');
    if (old === undefined) throw new Error('no signal from bob');
    world.server.sendFrame('alice', { v: 1, type: 'signal', from: old.from, blob: old.blob });
    await world.settle();
    expectMemberFailed(alice, { kind: 'signal-rejected' });
    expect(onlyPeer(world, 'alice').destroyedLocally).toBe(true);
    expect(alice.group.calls.at(-1)).toMatch(/^disconnected /);
  });
});

// ---- 4. what the server says ---------------------------------------------------------------------------

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

  it('a malformed frame while secure also ends every session (terminal), saying goodbye to the others', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    world.server.inject('alice', '}{');
    await world.settle();
    expectFailed(alice, { kind: 'server-unintelligible', detail: expect.any(String) as string });
    expect(onlyPeer(world, 'alice').destroyedLocally).toBe(true);
    expect(leftLines(bob)).toEqual([await alice.memberId()]);
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

  it('error unavailable, even before the first join, is not terminal: the socket is closed and opened again, live sessions go on', async () => {
    const world = createWorld();
    const carol = world.add('carol');
    await world.settle();
    world.server.sendFrame('carol', { v: 1, type: 'error', code: 'unavailable', message: 'no directory' });
    await world.settle();
    expect(carol.session.currentStatus).toEqual({ kind: 'server-unavailable' });
    expect(world.server.connectionsOf('carol')[0]?.closedByClient).toBe(true);
    await world.advance(2 * FIRST_RECONNECT_MS);
    expect(world.server.connectionsOf('carol')).toHaveLength(2);
    expect(world.server.current('carol').room).not.toBeNull();

    const pairWorld = createWorld();
    const { alice, bob } = await securePair(pairWorld);
    pairWorld.server.sendFrame('alice', { v: 1, type: 'error', code: 'unavailable', message: 'no directory' });
    await pairWorld.settle();
    expect(alice.session.currentStatus.kind).toBe('secure');
    expect(pairWorld.server.connectionsOf('alice')[0]?.closedByClient).toBe(true);
    await expectTalk(pairWorld, alice, bob, 'the server can wait');
  });

  it('error unknown-peer is ignored (a peer-left is expected to follow)', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    const before = alice.events.length;
    world.server.sendFrame('alice', { v: 1, type: 'error', code: 'unknown-peer', message: 'no such peer' });
    await world.settle();
    expect(alice.events.length).toBe(before);
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
  });
});

// ---- 5. a full room -----------------------------------------------------------------------------------

describe('RoomSession: room-full', () => {
  it('on the first join is terminal: status room-full, socket closed, no retry, the others undisturbed', async () => {
    const world = createWorld(2);
    const { alice, bob } = await securePair(world);
    const carol = world.add('carol');
    await world.settle();
    expect(carol.session.currentStatus).toEqual({ kind: 'room-full' });
    expect(world.server.connectionsOf('carol')[0]?.closedByClient).toBe(true);
    await world.advance(60_000);
    expect(world.server.connectionsOf('carol')).toHaveLength(1);
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
    await expectTalk(world, alice, bob, 'still us');
  });

  it('after having joined once is retried: the server still counts our dead socket, then lets us back in', async () => {
    const world = createWorld(2);
    // A server that does not replace a room session's old connection by its nonce (§3.3) holds the ghost's place.
    world.server.replacesSameNonce = false;
    const { alice } = await securePair(world);
    world.server.drop('alice', { serverNotices: false });
    await world.advance(2 * FIRST_RECONNECT_MS);
    // The ghost still holds the second place: room-full, then retried with back-off.
    expect(world.server.connectionsOf('alice').length).toBeGreaterThanOrEqual(2);
    expect(alice.session.currentStatus.kind).not.toBe('room-full');
    world.server.reapGhosts();
    await world.advance(20_000);
    expect(world.server.current('alice').room).not.toBeNull();
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
  });
});

// ---- 6. timeouts -------------------------------------------------------------------------------------

describe('RoomSession: connection timeouts', () => {
  it('a member whose offer never comes is unreachable after connectTimeoutMs, not before; the room is not failed', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice', { connectTimeoutMs: 10_000 });
    await world.settle();
    world.add('bob', { connectTimeoutMs: 10_000 });
    await world.settle();
    expect(onlyView(alice).state).toBe('connecting');
    await world.advance(9_999);
    expect(onlyView(alice).state).toBe('connecting');
    await world.advance(1);
    expect(onlyView(alice)).toMatchObject({ state: 'unreachable', failure: { kind: 'no-connection', relay: { relayServer: false, relayOnly: false } } });
    expect(alice.session.currentStatus).toEqual({ kind: 'member-failed', failure: { kind: 'no-connection', relay: { relayServer: false, relayOnly: false } } });
  });

  it('a handshake that stalls on an open channel fails that member with verification-failed after connectTimeoutMs', async () => {
    const world = createWorld();
    world.net.carries = () => false;
    const alice = world.add('alice', { connectTimeoutMs: 5_000 });
    await world.settle();
    world.add('bob', { connectTimeoutMs: 5_000 });
    await world.settle();
    expect(onlyView(alice).state).toBe('verifying');
    await world.advance(5_000);
    expect(onlyView(alice)).toMatchObject({ state: 'failed', failure: { kind: 'verification-failed', detail: expect.stringContaining('did not finish') } });
  });

  it('the timer stops counting once secure', async () => {
    const world = createWorld();
    const { alice } = await securePair(world, { alice: { connectTimeoutMs: 5_000 }, bob: { connectTimeoutMs: 5_000 } });
    await world.advance(60_000);
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
  });
});

// ---- 7. leaving, liveness and re-dials -----------------------------------------------------------------

describe('RoomSession: leaving and coming back', () => {
  it('stop() says goodbye: the other side shows the member left at once, before the server says so', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    // The server is slow to notice: only the goodbye frame can tell Alice.
    world.server.relay = (signal) => [signal.blob];
    const bobId = await bob.memberId();
    bob.session.stop();
    await world.settle();
    expect(leftLines(alice)).toEqual([bobId]);
    expect(alice.group.calls.at(-1)).toBe(`disconnected ${bobId}`);
    expect(alice.session.currentStatus).toEqual({ kind: 'peer-left' });
  });

  it('a member who comes back with the same secret is connected again, and announced again', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    bob.session.stop();
    await world.settle();
    const bobAgain = world.add('bob-again');
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
    await expectTalk(world, alice, bobAgain, 'welcome back');
    expect(joinedLines(alice)).toEqual([await bob.memberId(), await bobAgain.memberId()]);
  });

  it('a member who leaves before anything was secure leaves the other waiting, not peer-left', async () => {
    const world = createWorld();
    world.server.relay = () => [];
    const alice = world.add('alice');
    await world.settle();
    const bob = world.add('bob');
    await world.settle();
    bob.session.stop();
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'waiting' });
    expect(views(alice)).toEqual([]);
  });

  it('peer-left for a member whose session still answers keeps it (a signaling blip ends nothing)', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    world.server.drop('bob');
    await world.settle();
    await world.advance(PROBE_MS);
    expect(onlyView(alice).state).toBe('connected');
    await expectTalk(world, alice, bob, 'you never left');
    await expectTalk(world, bob, alice, 'indeed');
  });

  it('peer-left for a member whose session is dead (tab closed): left within PROBE_MS', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    // The tab is gone: nothing crosses the link any more, the server saw the socket close, and it never comes back.
    world.net.carries = (from) => from.owner !== 'bob';
    world.server.unreachable.add('bob');
    world.server.drop('bob');
    await world.settle();
    expect(onlyView(alice).state).toBe('connected');
    await world.advance(PROBE_MS);
    expect(views(alice)).toEqual([]);
    expect(alice.session.currentStatus).toEqual({ kind: 'peer-left' });
    expect(leftLines(alice)).toHaveLength(1);
  });

  it('a silent pair (network gone) is noticed within DEAD_AFTER_MS and re-dialled by the lower id; both end connected', async () => {
    const world = createWorld();
    world.server.assignIds('alice', ['a-low']);
    world.server.assignIds('bob', ['b-high']);
    const { alice, bob } = await securePair(world);
    let cut = true;
    world.net.carries = () => !cut;
    await world.advance(DEAD_AFTER_MS + 2_500);
    expect(onlyView(alice).state).toBe('reconnecting');
    expect(onlyView(bob).state).toBe('reconnecting');
    cut = false;
    // The attempt made while the network was still gone lost its handshake; the next one, after the connect
    // timeout, goes through.
    await world.advance(40_000);
    expect(onlyView(alice).state).toBe('connected');
    expect(onlyView(bob).state).toBe('connected');
    // The re-dial came from the lower id (Alice), not the joiner (Bob).
    expect(peersOf(world, 'alice').at(-1)?.initiator).toBe(true);
    await expectTalk(world, bob, alice, 'back');
    // A drop and return is not a leave and a join.
    expect(joinedLines(alice)).toHaveLength(1);
    expect(leftLines(alice)).toEqual([]);
  });

  it('an idle pair pings every few seconds, and pings are answered: it stays connected for minutes', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    await world.advance(120_000);
    expect(onlyView(alice).state).toBe('connected');
    const pings = onlyPeer(world, 'alice').sent.filter((bytes) => bytes[1] === FrameType.ping);
    expect(pings.length).toBeGreaterThan(10);
  });

  it('a broken direct link while both stay in the room: reconnecting, then a re-dial and connected again', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    onlyPeer(world, 'alice').breakLink();
    await world.settle();
    expect(onlyView(alice).state).toBe('reconnecting');
    await world.advance(3_000);
    expect(onlyView(alice).state).toBe('connected');
    await expectTalk(world, alice, bob, 'after the break');
    expect(alice.transfers.calls.filter((call) => call.startsWith('attach'))).toHaveLength(2);
  });

  it('re-dials back off and are budgeted: a pair that never comes up is unreachable, tried again later', async () => {
    const world = createWorld();
    world.server.assignIds('alice', ['a-low']);
    world.server.assignIds('bob', ['b-high']);
    const { alice } = await securePair(world, { alice: { connectTimeoutMs: 2_000 }, bob: { connectTimeoutMs: 2_000 } });
    world.net.carries = () => false;
    await world.advance(60_000);
    const dialled = peersOf(world, 'alice').filter((peer) => peer.initiator).length;
    // At most six re-dials in the minute, whatever the timeouts allow.
    expect(dialled).toBeLessThanOrEqual(6);
    expect(dialled).toBeGreaterThanOrEqual(2);
    expect(['unreachable', 'reconnecting', 'connecting', 'verifying']).toContain(onlyView(alice).state);
    world.net.carries = () => true;
    await world.advance(120_000);
    expect(onlyView(alice).state).toBe('connected');
  });
});

describe('RoomSession: our own signaling drop', () => {
  it('keeps live sessions while the socket is down, rejoins with back-off, and messages flow throughout', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    world.server.drop('alice');
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
    await expectTalk(world, alice, bob, 'the server is gone, we are not');
    await world.advance(2 * FIRST_RECONNECT_MS);
    expect(world.server.connectionsOf('alice')).toHaveLength(2);
    expect(world.server.current('alice').room).not.toBeNull();
    await world.advance(PROBE_MS);
    expect(onlyView(bob).state).toBe('connected');
    await expectTalk(world, bob, alice, 'still here');
  });

  it('a drop before secure abandons the attempt and starts afresh after rejoining', async () => {
    const world = createWorld();
    let relaying = false;
    world.server.relay = (signal) => (relaying ? [signal.blob] : []);
    const alice = world.add('alice');
    await world.settle();
    world.add('bob');
    await world.settle();
    world.server.drop('alice');
    await world.settle();
    expect(alice.session.currentStatus).toEqual({ kind: 'reconnecting' });
    relaying = true;
    await world.advance(5_000);
    expect(alice.session.currentStatus).toEqual({ kind: 'secure', connected: 1 });
  });
});

describe('RoomSession: a signaling socket that dies in silence (§3.1, §12.3)', () => {
  /**
   * Alice's network goes silently, as in the group bench: her socket and every pair of hers hold everything, her new
   * sockets wait to connect, and nobody is told. `restore` gives the network back; the old socket stays dead.
   */
  function cutAlice(world: World): { restore: () => void } {
    let cut = true;
    world.server.silence('alice');
    world.server.hold('alice');
    world.net.carries = (from) => !cut || (from.owner !== 'alice' && from.partner?.owner !== 'alice');
    return {
      restore: () => {
        cut = false;
        world.server.release('alice');
      },
    };
  }

  it('a socket that stops answering is replaced within the bound, and the member is back with everyone, nobody seeing it leave', async () => {
    const world = createWorld();
    world.server.assignIds('alice', ['a-1', 'a-2']);
    world.server.assignIds('bob', ['b-1']);
    world.server.assignIds('carol', ['c-1']);
    const [alice, bob, carol] = await meshOf(world, ['bob', 'carol', 'alice']).then(([b, c, a]) => [a, b, c]);
    if (alice === undefined || bob === undefined || carol === undefined) throw new Error('setup');
    const network = cutAlice(world);
    // Her pairs are dead after DEAD_AFTER_MS (noticed at the next liveness tick); the ping that asks then goes unanswered.
    await world.advance(DEAD_AFTER_MS + LIVENESS_TICK_MS + PROBE_ANSWER_MS);
    expect(world.server.connectionsOf('alice')).toHaveLength(2);
    // The dead one is closed only after its replacement joined: its close must not reach the server first.
    expect(world.server.connectionsOf('alice')[0]?.closedByClient).toBe(false);
    network.restore();
    // The socket that was waiting connects, she joins, and every pair is dialled through it at once.
    await world.advance(1_000);
    expect(world.server.current('alice').room).not.toBeNull();
    expect(world.server.connectionsOf('alice')[0]?.closedByClient).toBe(true);
    expect(states(alice)).toEqual(['connected', 'connected']);
    expect(states(bob)).toEqual(['connected', 'connected']);
    expect(states(carol)).toEqual(['connected', 'connected']);
    await expectTalk(world, bob, alice, 'welcome back');
    await expectTalk(world, alice, carol, 'thanks');
    // A drop and return through a new socket is not a leave and a join, for anyone.
    for (const member of [alice, bob, carol]) {
      expect(leftLines(member), member.name).toEqual([]);
      expect(joinedLines(member), member.name).toHaveLength(2);
    }
  });

  it('with a server that still lists its old connection: it does not dial itself, and the late peer-left changes nothing', async () => {
    const world = createWorld();
    world.server.replacesSameNonce = false;
    const { alice, bob } = await securePair(world);
    const network = cutAlice(world);
    await world.advance(DEAD_AFTER_MS + LIVENESS_TICK_MS + PROBE_ANSWER_MS);
    network.restore();
    await world.advance(1.5 * FIRST_RECONNECT_MS + 1_000);
    expect(world.server.membersOf(world.server.current('alice').room ?? '')).toHaveLength(3);
    // No peer towards her own ghost, and nobody but Bob in her view.
    expect(views(alice)).toHaveLength(1);
    expect(onlyView(alice).state).toBe('connected');
    expect(onlyView(bob).state).toBe('connected');
    world.server.reapGhosts();
    await world.advance(PROBE_MS + DEAD_AFTER_MS);
    expect(onlyView(bob).state).toBe('connected');
    expect(leftLines(bob)).toEqual([]);
    await expectTalk(world, bob, alice, 'still here');
  });

  it('a socket that answers is kept, however long a member stays out of reach, and it is asked about every 10 to 15 s, not per member', async () => {
    const world = createWorld();
    const [alice] = await meshOf(world, ['alice', 'bob', 'carol', 'dave']);
    if (alice === undefined) throw new Error('setup');
    // Alice's direct links all fail, her socket is fine: the others are out of reach, the server is not.
    world.net.carries = (from) => from.owner !== 'alice' && from.partner?.owner !== 'alice';
    await world.advance(DEAD_AFTER_MS + LIVENESS_TICK_MS);
    const pingsBefore = world.server.current('alice').pings;
    expect(pingsBefore).toBe(1);
    await world.advance(120_000);
    expect(world.server.connectionsOf('alice')).toHaveLength(1);
    const pings = world.server.current('alice').pings - pingsBefore;
    // Every 10–15 s, plus a doubt now and then when a re-dial of hers goes unanswered: not one per member or per event.
    expect(pings).toBeGreaterThanOrEqual(120_000 / (1.5 * PROBE_INTERVAL_MS) - 1);
    expect(pings).toBeLessThanOrEqual(2 * (120_000 / PROBE_INTERVAL_MS));
    // Once everyone is back, the asking stops.
    world.net.carries = () => true;
    await world.advance(60_000);
    expect(states(alice)).toEqual(['connected', 'connected', 'connected']);
    const settled = world.server.current('alice').pings;
    await world.advance(60_000);
    expect(world.server.current('alice').pings).toBe(settled);
  });

  it('a re-dial whose offer gets no answer puts the socket in doubt again, before the next periodic question', async () => {
    const world = createWorld();
    world.server.assignIds('alice', ['a-low']);
    world.server.assignIds('bob', ['b-high']);
    const { alice } = await securePair(world);
    onlyPeer(world, 'alice').breakLink();
    await world.settle();
    // The break made her ask at once, and the socket answered; now it dies before her re-dial (the lower id's) goes out.
    expect(world.server.current('alice').pings).toBe(1);
    expect(onlyView(alice).state).toBe('reconnecting');
    world.server.silence('alice');
    // Re-dial within 1.5 s, no answer for REDIAL_ANSWER_MS, then PROBE_ANSWER_MS of silence: well before 10 s.
    const boundMs = 1_500 + REDIAL_ANSWER_MS + PROBE_ANSWER_MS + 1.5 * FIRST_RECONNECT_MS;
    // The periodic question alone would have found the dead socket only PROBE_INTERVAL_MS after the break, at the earliest.
    expect(boundMs).toBeLessThan(PROBE_INTERVAL_MS + PROBE_ANSWER_MS);
    await world.advance(boundMs);
    expect(world.server.connectionsOf('alice')).toHaveLength(2);
    await world.advance(2_000);
    expect(onlyView(alice).state).toBe('connected');
  });

  it('nobody out of reach: the socket is never asked', async () => {
    const world = createWorld();
    await securePair(world);
    await world.advance(120_000);
    expect(world.server.current('alice').pings).toBe(0);
    expect(world.server.current('bob').pings).toBe(0);
  });

  it('a replacement socket that never gets to join (the network still gone) is closed at once and replaced, each given longer', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const network = cutAlice(world);
    // When her 2nd, 3rd and 4th sockets were opened, to the nearest 250 ms.
    const openedAtMs = new Map<number, number>();
    while (world.server.connectionsOf('alice').length < 4) {
      await world.advance(250);
      openedAtMs.set(world.server.connectionsOf('alice').length, openedAtMs.get(world.server.connectionsOf('alice').length) ?? world.clock.nowMs());
    }
    const [second = 0, third = 0, fourth = 0] = [2, 3, 4].map((count) => openedAtMs.get(count));
    // Each that never joined was closed at once (a browser would hold the next socket back while it is still connecting)…
    expect(world.server.connectionsOf('alice').slice(1, 3).map((conn) => conn.closedByClient)).toEqual([true, true]);
    // …after REJOIN_TIMEOUT_MS, then twice that (each plus the reconnect back-off, at least 0.5 × 500 × 2ⁿ ms).
    expect(third - second).toBeGreaterThanOrEqual(REJOIN_TIMEOUT_MS);
    expect(fourth - third).toBeGreaterThanOrEqual(2 * REJOIN_TIMEOUT_MS);
    network.restore();
    await world.advance(1_000);
    expect(world.server.current('alice').room).not.toBeNull();
    expect(onlyView(alice).state).toBe('connected');
    expect(onlyView(bob).state).toBe('connected');
  });
});

// ---- 8. renegotiation ---------------------------------------------------------------------------------

describe('RoomSession: renegotiation is not part of the protocol', () => {
  it('a correctly sealed second answer after secure is ignored', async () => {
    const world = createWorld();
    const { bob } = await securePair(world);
    const keys = await deriveRoomKeys(SECRET);
    const answer: PeerSignal = { type: 'answer', sdp: fakeSdp(901, 'active') };
    const blob = await sealSignal(keys.signalKey, routeOf(world, keys.roomId, 'alice0', 'bob0'), 1_000, answer, systemRandom);
    world.server.sendFrame('bob', { v: 1, type: 'signal', from: 'alice0', blob });
    await world.settle();
    expect(onlyView(bob).state).toBe('connected');
    expect(onlyPeer(world, 'bob').received.filter((signal) => signal.type === 'answer')).toHaveLength(1);
  });

  it('after secure, an offer from the member who may not re-dial (the higher id) is ignored', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    const keys = await deriveRoomKeys(SECRET);
    const offer: PeerSignal = { type: 'offer', sdp: fakeSdp(902, 'actpass') };
    const blob = await sealSignal(keys.signalKey, routeOf(world, keys.roomId, 'bob0', 'alice0'), 1_000, offer, systemRandom);
    world.server.sendFrame('alice', { v: 1, type: 'signal', from: 'bob0', blob });
    await world.settle();
    expect(onlyView(alice).state).toBe('connected');
    expect(peersOf(world, 'alice')).toHaveLength(1);
  });
});

// ---- 9. endpoints ----------------------------------------------------------------------------------------

describe('RoomSession: the transfer and group endpoints', () => {
  it('are handed the member’s session once admitted, not before, and told when it ends', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    expect(alice.transfers.calls).toEqual([]);
    const bob = world.add('bob');
    await world.settle();
    const bobId = await bob.memberId();
    expect(alice.transfers.calls).toEqual([`attach ${bobId}`]);
    expect(alice.group.calls).toEqual([`connected ${bobId}`]);
    const control: TransferControl = { type: 'complete', id: newTransferId(systemRandom) };
    bob.transfers.channels.get(await alice.memberId())?.sendControl(control);
    await world.settle();
    expect(alice.transfers.controls).toEqual([{ memberId: bobId, message: control }]);
    bob.session.stop();
    await world.settle();
    expect(alice.transfers.calls).toEqual([`attach ${bobId}`, `detach ${bobId}`]);
    expect(alice.group.calls).toEqual([`connected ${bobId}`, `disconnected ${bobId}`]);
  });

  it('a channel to a member whose session ended says so (send → false) and sends nothing', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const channel = alice.group.channels.get(await bob.memberId());
    bob.session.stop();
    await world.settle();
    expect(channel?.send(message('too late'))).toBe(false);
  });

  it('a violation found by the group engine ends that member’s session with the reason, nothing more of it delivered', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    alice.group.verdict = () => ({ reason: 'frame-rejected', detail: 'it wrote under another member’s name' });
    await expectTalk(world, bob, alice, 'I am Carol');
    expectMemberFailed(alice, { kind: 'misbehaved', detail: 'it wrote under another member’s name' });
    const count = alice.group.received.length;
    bob.group.channels.get(await alice.memberId())?.send(message('more'));
    await world.settle();
    expect(alice.group.received).toHaveLength(count);
  });

  it('a garbage data-channel frame after secure fails that member (frame-rejected) and detaches it', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    onlyPeer(world, 'alice').injectData(Uint8Array.of(1, 2, 3));
    await world.settle();
    expect(onlyView(alice)).toMatchObject({ state: 'failed', failure: { kind: 'frame-rejected' } });
    expect(alice.transfers.calls.at(-1)).toBe(`detach ${await bob.memberId()}`);
  });

  it('a flood the group engine finds ends that member’s session as flooded', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    alice.group.verdict = () => ({ reason: 'flooded', detail: 'more than 50 messages at once' });
    await expectTalk(world, bob, alice, 'one of very many');
    expectMemberFailed(alice, { kind: 'flooded', detail: 'more than 50 messages at once' });
  });

  it('a ping flood ends that member’s session', async () => {
    const world = createWorld();
    const { alice, bob } = await securePair(world);
    const session = [...bob.session['links'].values()][0]?.attempt?.session;
    if (!session) throw new Error('no session');
    for (let i = 0; i < 5; i++) void session.sendGroupFrame({ type: 'ping', n: i });
    await world.settle();
    expect(onlyView(alice)).toMatchObject({ state: 'failed', failure: { kind: 'misbehaved' } });
  });
});

// ---- 10. stop ------------------------------------------------------------------------------------------

describe('RoomSession.stop()', () => {
  it('after secure: no further events, socket closed, peers destroyed, no timers left', async () => {
    const world = createWorld();
    const { alice } = await securePair(world);
    alice.session.stop();
    await world.settle();
    const count = alice.events.length;
    await world.advance(120_000);
    expect(alice.events).toHaveLength(count);
    expect(world.server.connectionsOf('alice').every((conn) => conn.closedByClient)).toBe(true);
    expect(peersOf(world, 'alice').every((peer) => peer.destroyedLocally)).toBe(true);
    expect(world.clock.pending('alice')).toEqual([]);
  });

  it('while reconnecting: the reconnect timer is cancelled, no new socket', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    await world.settle();
    world.server.drop('alice');
    await world.settle();
    alice.session.stop();
    await world.advance(60_000);
    expect(world.server.connectionsOf('alice')).toHaveLength(1);
  });

  it('before start() has finished: no socket is ever opened', async () => {
    const world = createWorld();
    const alice = world.add('alice');
    alice.session.stop();
    await world.settle();
    expect(world.server.connectionsOf('alice')).toEqual([]);
  });
});

// ---- 11. the data channel before the session -------------------------------------------------------------

describe('RoomSession: setting up the session on the data channel', () => {
  it('buffers the member’s hello that arrives before our key pair is ready, then becomes secure', async () => {
    const world = createWorld(8, { keyPairsHeldBack: true });
    // Every pair the pool asks for waits until the test releases them all.
    const waiting: (() => void)[] = [];
    const release = (): void => waiting.splice(0).forEach((resolve) => resolve());
    const slow = (): Promise<SessionKeyPair> => new Promise<void>((resolve) => waiting.push(resolve)).then(pooledKeyPair);
    const alice = world.add('alice', { generateKeyPair: slow });
    await world.settle();
    world.add('bob');
    await world.settle();
    expect(onlyView(alice).state).toBe('verifying');
    release();
    await world.settle();
    expect(onlyView(alice).state).toBe('connected');
  });

  it('refuses a connection whose SDPs carry no DTLS fingerprint: verification-failed', async () => {
    const world = createWorld();
    world.net.withFingerprints = false;
    const alice = world.add('alice');
    await world.settle();
    world.add('bob');
    await world.settle();
    expect(onlyView(alice)).toMatchObject({ state: 'failed', failure: { kind: 'verification-failed', detail: expect.stringContaining('fingerprint') } });
  });

  it('data before the session beyond a hello and a confirm fails that member', async () => {
    const world = createWorld(8, { keyPairsHeldBack: true });
    // Every pair the pool asks for waits until the test releases them all.
    const waiting: (() => void)[] = [];
    const release = (): void => waiting.splice(0).forEach((resolve) => resolve());
    const slow = (): Promise<SessionKeyPair> => new Promise<void>((resolve) => waiting.push(resolve)).then(pooledKeyPair);
    const alice = world.add('alice', { generateKeyPair: slow });
    await world.settle();
    world.add('bob');
    await world.settle();
    const peer = onlyPeer(world, 'alice');
    for (let i = 0; i < 5; i++) peer.injectData(encodeFrameHeader(FrameType.hello, 0n));
    await world.settle();
    release();
    await world.settle();
    expect(onlyView(alice)).toMatchObject({ state: 'failed', failure: { kind: 'verification-failed' } });
  });
});

// ---- 12. who the member is, and holding them ---------------------------------------------------------------

describe('RoomSession: identities and the hold gate, per member', () => {
  let aliceId: ProfileIdentity;
  let bobId: ProfileIdentity;
  let malloryId: ProfileIdentity;
  const profileOf = (identity: ProfileIdentity): PeerIdentity => ({ kind: 'profile', displayName: identity.displayName, publicKeySpki: identity.publicKeySpki });
  const contactOf = (identity: ProfileIdentity): KnownContact => ({
    id: `contact-${identity.displayName}`,
    displayName: identity.displayName,
    publicKeySpki: identity.publicKeySpki,
    verified: false,
    keyChanged: false,
  });

  beforeAll(async () => {
    const [a, b, m] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()]);
    aliceId = { kind: 'profile', displayName: 'Alice', ...a };
    bobId = { kind: 'profile', displayName: 'Bob', ...b };
    // Mallory calls herself Bob: only the key tells them apart.
    malloryId = { kind: 'profile', displayName: 'Bob', ...m };
  });

  function remembering(remembered: ProfileIdentity): { asks: number; readonly knowledge: () => RoomKnowledge } {
    const memory = {
      asks: 0,
      knowledge: (): RoomKnowledge => {
        memory.asks += 1;
        return { roomContacts: [contactOf(remembered)], allContacts: [contactOf(remembered)] };
      },
    };
    return memory;
  }

  async function meet(world: World, aliceOptions: MemberOptions, bobOptions: MemberOptions = { identity: bobId }) {
    const alice = world.add('alice', { identity: aliceId, ...aliceOptions });
    await world.settle();
    const bob = world.add('bob', bobOptions);
    await world.settle();
    return { alice, bob };
  }

  it('each side sees the other’s verified profile; guests show their key for this room session', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, {}, {});
    expect(onlyView(alice).peer).toMatchObject({ kind: 'guest' });
    expect(onlyView(bob)).toMatchObject({ peer: profileOf(aliceId), admission: NEW_PROFILE, state: 'connected' });
    expect(onlyView(alice).memberId).toBe(await bob.memberId());
  });

  it('a remembered contact with the same key is admitted: asked once, connected, endpoints attached', async () => {
    const world = createWorld();
    const memory = remembering(bobId);
    const { alice, bob } = await meet(world, { knowledge: memory.knowledge });
    // Once when the room session starts, once when Bob's session is verified.
    expect(memory.asks).toBe(2);
    expect(onlyView(alice)).toMatchObject({ state: 'connected', admission: { decision: 'admit', reason: 'known', contact: contactOf(bobId) } });
    await expectTalk(world, bob, alice, 'hello Alice');
  });

  it('held: nothing goes to it but liveness, nothing it sends is delivered, and waiting is not a stall', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    expect(onlyView(alice)).toMatchObject({
      state: 'held',
      peer: profileOf(bobId),
      admission: { decision: 'hold', reason: 'key-changed', expected: [contactOf(malloryId)] },
    });
    expect(alice.session.currentStatus).toEqual({ kind: 'held' });
    expect(alice.transfers.calls).toEqual([]);
    expect(alice.group.calls).toEqual([]);
    // Bob remembers nobody and admitted Alice, so he may talk; Alice's side takes it in but delivers nothing.
    expect(onlyView(bob).state).toBe('connected');
    const alicePeer = onlyPeer(world, 'alice');
    const sentBefore = alicePeer.sent.length;
    await bob.group.channels.get(await alice.memberId())?.send(message('it is me, on a new laptop'));
    bob.transfers.channels.get(await alice.memberId())?.sendControl({ type: 'complete', id: newTransferId(systemRandom) });
    await world.advance(60_000);
    expect(alice.group.received).toEqual([]);
    expect(alice.transfers.controls).toEqual([]);
    // Only pongs and pings went out: no message, receipt or transfer frame.
    const types = new Set(alicePeer.sent.slice(sentBefore).map((bytes) => bytes[1]));
    expect([...types].every((type) => type === FrameType.ping || type === FrameType.pong)).toBe(true);
    expect(onlyView(alice).state).toBe('held');
  });

  it('admitPeer: endpoints attached, then what was held back delivered in order; only once', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    const channel = bob.group.channels.get(await alice.memberId());
    channel?.send(message('first'));
    const control: TransferControl = { type: 'complete', id: newTransferId(systemRandom) };
    bob.transfers.channels.get(await alice.memberId())?.sendControl(control);
    channel?.send(message('second'));
    await world.settle();
    expect(alice.session.admitPeer(profileOf(bobId))).toBe(true);
    expect(onlyView(alice).state).toBe('connected');
    expect(alice.transfers.sequence).toEqual(['attach', 'control']);
    expect(alice.group.texts()).toEqual(['first', 'second']);
    expect(alice.session.admitPeer(profileOf(bobId))).toBe(false);
    await expectTalk(world, alice, bob, 'welcome');
  });

  it('admitPeer refuses an identity other than the held one (same name, another key), and a guest', async () => {
    const world = createWorld();
    const { alice } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    expect(alice.session.admitPeer(profileOf(malloryId))).toBe(false);
    expect(alice.session.admitPeer({ kind: 'guest', publicKeySpki: bobId.publicKeySpki })).toBe(false);
    expect(onlyView(alice).state).toBe('held');
    expect(alice.transfers.calls).toEqual([]);
  });

  it('a held member who leaves: nothing it sent is ever delivered', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    bob.group.channels.get(await alice.memberId())?.send(message('you will never see this'));
    await world.settle();
    bob.session.stop();
    await world.settle();
    expect(alice.group.received).toEqual([]);
    expect(alice.session.admitPeer(profileOf(bobId))).toBe(false);
  });

  it(`a held member may send ${MAX_HELD_BACK_EVENTS} frames; one more fails that member with held-overflow and delivers none`, async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    const channel = bob.group.channels.get(await alice.memberId());
    for (let i = 0; i < MAX_HELD_BACK_EVENTS; i++) channel?.send(message(`message ${i}`));
    await world.settle();
    expect(onlyView(alice).state).toBe('held');
    channel?.send(message('one too many'));
    await world.settle();
    expectMemberFailed(alice, { kind: 'held-overflow' });
    expect(alice.group.received).toEqual([]);
  });

  it('a guest where the room remembers a profile is held until admitted', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(bobId).knowledge }, {});
    expect(onlyView(alice)).toMatchObject({ state: 'held', admission: { decision: 'hold', reason: 'guest-for-profile', expected: [contactOf(bobId)] } });
    const guest = onlyView(alice).peer;
    if (guest === null) throw new Error('no identity');
    expect(alice.session.admitPeer(guest)).toBe(true);
    await expectTalk(world, bob, alice, 'hello, it is me');
  });

  it('a member admitted once is admitted again after its pair broke (rejoined), without asking the person', async () => {
    const world = createWorld();
    const { alice, bob } = await meet(world, { knowledge: remembering(malloryId).knowledge });
    expect(alice.session.admitPeer(profileOf(bobId))).toBe(true);
    onlyPeer(world, 'bob').breakLink();
    await world.advance(5_000);
    expect(onlyView(alice)).toMatchObject({ state: 'connected', admission: { decision: 'admit', reason: 'rejoined' } });
    await expectTalk(world, bob, alice, 'back again');
  });

  it('knowledge that cannot be read holds the member (undecided) rather than admitting it', async () => {
    const world = createWorld();
    const { alice } = await meet(world, {
      knowledge: () => {
        throw new Error('contacts not loaded');
      },
    });
    expect(onlyView(alice)).toMatchObject({ state: 'held', admission: UNDECIDED });
  });

  it('those already in the room when one arrives are judged by what it remembered before; later arrivals by what it remembers now', async () => {
    const world = createWorld();
    const carolId: ProfileIdentity = { kind: 'profile', displayName: 'Carol', ...(await generateIdentity()) };
    const daveId: ProfileIdentity = { kind: 'profile', displayName: 'Dave', ...(await generateIdentity()) };
    world.add('alice', { identity: aliceId });
    await world.settle();
    world.add('bob', { identity: bobId });
    await world.settle();
    // Carol opens a room she remembers nobody in; the moment she is in, she remembers someone (as the app does
    // after admitting the first member it meets).
    const remembered: KnownContact[] = [];
    const carol = world.add('carol', { identity: carolId, knowledge: () => ({ roomContacts: [...remembered], allContacts: [...remembered] }) });
    await carol.started;
    remembered.push(contactOf(aliceId));
    await world.settle();
    // Alice was remembered only after Carol arrived, so Bob (already here) is not a newcomer to Carol.
    expect(views(carol).map((view) => view.state)).toEqual(['connected', 'connected']);
    remembered.splice(0, 1, contactOf(bobId));
    world.add('dave', { identity: daveId });
    await world.settle();
    const dave = views(carol).find((view) => view.peer?.kind === 'profile' && view.peer.displayName === 'Dave');
    expect(dave).toMatchObject({ state: 'held', admission: { reason: 'newcomer' } });
  });

  it('in a group each member decides for itself: a newcomer held by one is connected to the others', async () => {
    const world = createWorld();
    const carolId: ProfileIdentity = { kind: 'profile', displayName: 'Carol', ...(await generateIdentity()) };
    const alice = world.add('alice', { identity: aliceId, knowledge: remembering(bobId).knowledge });
    await world.settle();
    const bob = world.add('bob', { identity: bobId });
    await world.settle();
    const carol = world.add('carol', { identity: carolId });
    await world.settle();
    const carolMember = await carol.memberId();
    expect(views(alice).find((view) => view.memberId === carolMember)).toMatchObject({ state: 'held', admission: { reason: 'newcomer' } });
    expect(views(bob).find((view) => view.memberId === carolMember)?.state).toBe('connected');
    await expectTalk(world, bob, carol, 'hi Carol');
    expect(alice.group.channels.has(carolMember)).toBe(false);
  });
});
