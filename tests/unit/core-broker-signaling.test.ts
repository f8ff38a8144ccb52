/**
 * Signaling over a PeerJS broker (spec §3.8): slot ids, the frames members exchange, and the signaling socket that
 * turns a broker into what a Parley server would say: frame by frame against an in-memory broker with the
 * PeerServer's rules, then whole RoomSessions (real crypto, fake WebRTC) meeting through it, honest and hostile.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { brokerSlotIds, BROKER_SLOTS } from '../../src/core/crypto/brokerSlots.ts';
import { generateSessionKeyPair, type SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { deriveRoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { encodeBrokerFrame, parseBrokerFrame, type BrokerFrame } from '../../src/core/protocol/brokerFrames.ts';
import { encodeFrame, parseServerFrame, type ServerFrame } from '../../src/core/protocol/signaling.ts';
import { brokerSignaling, CLAIM_TIMEOUT_MS, PRESENCE_INTERVAL_MS, PRESENCE_TIMEOUT_MS } from '../../src/core/room/brokerSignaling.ts';
import { KeyPairPool } from '../../src/core/room/keyPairPool.ts';
import type { SignalingProblem, SignalingSocket } from '../../src/core/room/roomPorts.ts';
import { RoomSession, type RoomEvent } from '../../src/core/room/roomSession.ts';
import type { RoomStatus } from '../../src/core/room/roomStatus.ts';
import type { KnownContact, RoomKnowledge } from '../../src/core/room/admission.ts';
import { secretFromSeed } from './support/coreFixtures.ts';
import { FakeBroker } from './support/fakeBroker.ts';
import { FakeClock, FakeGroup, FakePeerNetwork, FakeTransfers, Scheduler } from './support/roomFakes.ts';

const ROOM_ID = 'jp3J7wW7msH0d1idQsCUYg';
const PEER_A = 'AAAAAAAAAAAAAAAAAAAAAA';
const NONCE_A = 'CgoKCgoKCgoKCgoKCgoKCg';

/** Runs the fakes' asynchronous steps (setImmediate rounds and promise chains) until `done` holds; bounded, not timed. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let round = 0; round < 20_000; round++) {
    if (done()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

async function quiet(scheduler: Scheduler): Promise<void> {
  for (let round = 0; round < 50; round++) await new Promise((resolve) => setImmediate(resolve));
  await until(() => scheduler.inFlight === 0, 'the fakes settle');
}

describe('brokerSlotIds', () => {
  it('derives distinct PeerJS-valid ids from the room id, the same on every page, different for every room (pinned)', async () => {
    const slots = await brokerSlotIds(ROOM_ID);
    expect(slots).toHaveLength(BROKER_SLOTS);
    expect(new Set(slots).size).toBe(BROKER_SLOTS);
    for (const id of slots) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(slots.slice(0, 2)).toEqual(['56c0f3f8aab370c6b9d39cf2910ea6fb', 'b854f954523c0db08df1b10c3c0a62a6']);
    expect(await brokerSlotIds(ROOM_ID)).toEqual(slots);
    const other = await brokerSlotIds((await deriveRoomKeys(secretFromSeed(9))).roomId);
    expect(other.some((id) => slots.includes(id))).toBe(false);
    await expect(brokerSlotIds('not a room id')).rejects.toThrow(/room id/);
  });
});

describe('parseBrokerFrame', () => {
  const valid: BrokerFrame[] = [
    { v: 1, type: 'hello', peer: PEER_A, nonce: NONCE_A },
    { v: 1, type: 'welcome', peer: PEER_A, nonce: NONCE_A, to: 'B' },
    { v: 1, type: 'here', peer: PEER_A, to: 'B' },
    { v: 1, type: 'leave', peer: PEER_A, to: 'B' },
    { v: 1, type: 'signal', peer: PEER_A, to: 'B', blob: 'AAAA' },
    { v: 1, type: 'echo', peer: PEER_A, token: 'AAECAwQFBgc' },
  ];

  it('reads back exactly what was encoded', () => {
    for (const frame of valid) expect(parseBrokerFrame(encodeBrokerFrame(frame))).toEqual(frame);
  });

  it('refuses extra or missing keys, bad ids, nonces and blobs, other versions, non-text and oversize payloads', () => {
    const refused: unknown[] = [
      JSON.stringify({ v: 1, type: 'hello', peer: PEER_A, nonce: NONCE_A, extra: 1 }),
      JSON.stringify({ v: 1, type: 'welcome', peer: PEER_A, nonce: NONCE_A }),
      JSON.stringify({ v: 2, type: 'here', peer: PEER_A, to: 'B' }),
      JSON.stringify({ v: 1, type: 'here', peer: '<b>', to: 'B' }),
      JSON.stringify({ v: 1, type: 'hello', peer: PEER_A, nonce: 'short' }),
      JSON.stringify({ v: 1, type: 'signal', peer: PEER_A, to: 'B', blob: 'not base64!' }),
      JSON.stringify({ v: 1, type: 'signal', peer: PEER_A, to: 'B', blob: 'A'.repeat(60_001) }),
      JSON.stringify({ v: 1, type: 'offer', peer: PEER_A, to: 'B' }),
      JSON.stringify({ v: 1, type: 'echo', peer: PEER_A, token: '' }),
      JSON.stringify({ v: 1, type: 'echo', peer: PEER_A, token: 'AAECAwQFBgc', to: 'B' }),
      JSON.stringify({ v: 1, type: 'echo', peer: PEER_A }),
      JSON.stringify([1, 2]),
      '{"v":1,',
      { v: 1, type: 'here', peer: PEER_A, to: 'B' },
      42,
      null,
    ];
    for (const payload of refused) expect(parseBrokerFrame(payload), String(payload).slice(0, 80)).toBeNull();
  });

  it('never throws on hostile input', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.anything()), (payload) => {
      const frame = parseBrokerFrame(payload);
      if (frame !== null) expect(parseBrokerFrame(encodeBrokerFrame(frame))).toEqual(frame);
    }));
  });
});

// ---- the signaling socket, frame by frame ---------------------------------------------------------------

interface Client {
  readonly owner: string;
  readonly socket: SignalingSocket;
  readonly frames: ServerFrame[];
  readonly closes: (SignalingProblem | undefined)[];
  /** The peer id this client was given in its first `joined`. */
  self(): string;
}

function connect(broker: FakeBroker, clock: FakeClock, owner: string, nonce: string, roomId = ROOM_ID): Client {
  const frames: ServerFrame[] = [];
  const closes: (SignalingProblem | undefined)[] = [];
  const socket = brokerSignaling({ broker: broker.port(owner), clock: clock.for(owner), random: systemRandom })({
    onOpen: () => socket.send(encodeFrame({ v: 1, type: 'join', room: roomId, nonce })),
    onMessage: (data) => {
      const parsed = parseServerFrame(data);
      if (!parsed.ok) throw new Error(`the socket emitted an invalid frame: ${String(data)}`);
      frames.push(parsed.value);
    },
    onClose: (problem) => closes.push(problem),
  });
  return {
    owner,
    socket,
    frames,
    closes,
    self: () => {
      const joined = frames.find((frame) => frame.type === 'joined');
      if (joined?.type !== 'joined') throw new Error(`${owner} has not joined`);
      return joined.self;
    },
  };
}

const nonceOf = (seed: number): string => String.fromCharCode(65 + seed).repeat(22);

/** Whom `client` was told to dial (joined) and to wait for (peer-joined), minus those it was told left. */
function roles(client: Client): { dial: string[]; await: string[] } {
  const dial = new Set<string>();
  const wait = new Set<string>();
  for (const frame of client.frames) {
    if (frame.type === 'joined') frame.peers.forEach(({ peer }) => dial.add(peer));
    if (frame.type === 'peer-joined') wait.add(frame.peer);
    if (frame.type === 'peer-left') {
      dial.delete(frame.peer);
      wait.delete(frame.peer);
    }
  }
  return { dial: [...dial], await: [...wait] };
}

describe('brokerSignaling', () => {
  async function world() {
    const scheduler = new Scheduler();
    const clock = new FakeClock();
    const broker = new FakeBroker(scheduler);
    const slots = await brokerSlotIds(ROOM_ID);
    const clients: Client[] = [];
    const join = (owner: string, nonce: string): Client => {
      const client = connect(broker, clock, owner, nonce);
      clients.push(client);
      return client;
    };
    const inRoomOrOut = (client: Client): boolean =>
      client.frames.some((frame) => frame.type === 'joined' || frame.type === 'error') || client.closes.length > 0;
    /** Lets everything in flight finish, then moves the clock by `ms`; each client has joined, been refused or closed (if it can). */
    const run = async (ms = 0): Promise<void> => {
      await quiet(scheduler);
      if (ms > 0) clock.advance(ms);
      // A client's slot ids are derived asynchronously (WebCrypto) before it claims one.
      await until(() => clients.every(inRoomOrOut), 'every client in the room or turned away').catch(() => {});
      await quiet(scheduler);
    };
    /** The broker's expiry time passes: what it kept for empty slots (the hellos of those already here) is dropped. */
    const later = async (): Promise<void> => {
      await run(1);
      broker.expireQueued();
      await run(5_000);
    };
    return { scheduler, clock, broker, slots, join, run, later };
  }

  it('the first takes slot 0 and joins an empty room; the next takes slot 1 and dials it, which waits for its offer', async () => {
    const { broker, slots, join, run, later } = await world();
    const a = join('a', nonceOf(0));
    await run(1);
    expect(broker.holderOf(slots[0] ?? '')).toBe('a');
    expect(a.frames).toEqual([{ v: 1, type: 'joined', self: a.self(), peers: [] }]);
    await later();
    const b = join('b', nonceOf(1));
    await run(1);
    expect(broker.holderOf(slots[1] ?? '')).toBe('b');
    expect(b.frames).toEqual([
      { v: 1, type: 'joined', self: b.self(), peers: [] },
      { v: 1, type: 'joined', self: b.self(), peers: [{ peer: a.self(), nonce: nonceOf(0) }] },
    ]);
    expect(a.frames.at(-1)).toEqual({ v: 1, type: 'peer-joined', peer: b.self(), nonce: nonceOf(1) });
    // Peer ids are the socket's own random ones, as a Parley server's are: never the slot ids.
    expect(slots).not.toContain(a.self());
  });

  it('relays sealed blobs both ways, stamped with the sender; one to a member no longer here goes nowhere', async () => {
    const { broker, join, run } = await world();
    const a = join('a', nonceOf(0));
    await run(1);
    const b = join('b', nonceOf(1));
    await run(1);
    b.socket.send(encodeFrame({ v: 1, type: 'signal', to: a.self(), blob: 'b2a' }));
    a.socket.send(encodeFrame({ v: 1, type: 'signal', to: b.self(), blob: 'a2b' }));
    a.socket.send(encodeFrame({ v: 1, type: 'signal', to: 'nobody', blob: 'lost' }));
    await run();
    expect(a.frames.at(-1)).toEqual({ v: 1, type: 'signal', from: b.self(), blob: 'b2a' });
    expect(b.frames.at(-1)).toEqual({ v: 1, type: 'signal', from: a.self(), blob: 'a2b' });
    expect(broker.log.some((message) => message.payload.includes('lost'))).toBe(false);
    // What the broker carries: our frames, the sealed blob as it was, no SDP.
    const relayed = broker.log.map((message) => parseBrokerFrame(message.payload)?.type);
    expect(relayed).not.toContain(undefined);
    expect(relayed).toContain('signal');
  });

  it('joiners whose hellos cross end with exactly one dialer per pair (the lower peer id)', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { broker, join, run } = await world();
      const clients = ['a', 'b', 'c'].map((owner, index) => join(owner, nonceOf(index)));
      await run(1);
      for (const client of clients) {
        const others = clients.filter((other) => other !== client).map((other) => other.self());
        const { dial, await: wait } = roles(client);
        expect([...dial, ...wait].sort()).toEqual([...others].sort());
        for (const other of clients.filter((candidate) => candidate !== client)) {
          const weDial = dial.includes(other.self());
          const theyDial = roles(other).dial.includes(client.self());
          expect(weDial !== theyDial, `${client.owner}/${other.owner}: exactly one dials`).toBe(true);
        }
      }
    }
  });

  it('a slot held by a stale connection is skipped, not waited for: the room still meets', async () => {
    const { broker, slots, join, run, later } = await world();
    broker.holdStale(slots[0] ?? '');
    const a = join('a', nonceOf(0));
    await later();
    const b = join('b', nonceOf(1));
    await run(1);
    expect([broker.holderOf(slots[1] ?? ''), broker.holderOf(slots[2] ?? '')]).toEqual(['a', 'b']);
    expect(roles(b).dial).toEqual([a.self()]);
    expect(roles(a).await).toEqual([b.self()]);
  });

  it('when every slot is taken the room is full', async () => {
    const { broker, slots, join, run } = await world();
    slots.forEach((id) => broker.holdStale(id));
    const a = join('a', nonceOf(0));
    await run(1);
    expect(a.frames).toEqual([{ v: 1, type: 'error', code: 'room-full', message: 'every slot of this room is taken at the broker' }]);
  });

  it('a broker that cannot be reached, refuses, or never answers ends the socket with that problem and its name', async () => {
    for (const behaviour of ['unreachable', 'refused', 'silent'] as const) {
      const { broker, join, run } = await world();
      broker.behaviour = behaviour;
      const a = join('a', nonceOf(0));
      await run(1);
      if (behaviour === 'silent') {
        expect(a.closes).toEqual([]);
        await run(CLAIM_TIMEOUT_MS);
      }
      expect(a.closes).toEqual([{ kind: behaviour === 'refused' ? 'refused' : 'unreachable', endpoint: 'broker.test:9000' }]);
      expect(a.frames).toEqual([]);
    }
  });

  it('a member that leaves, whose slot the broker reports empty, or that falls silent, is reported gone', async () => {
    const { broker, join, run } = await world();
    const a = join('a', nonceOf(0));
    await run(1);
    const b = join('b', nonceOf(1));
    const c = join('c', nonceOf(2));
    const d = join('d', nonceOf(3));
    await run(1);
    // Whom `a` counts as here: told to dial or to wait for, and not told since that it left.
    const here = (): string[] => {
      const { dial, await: wait } = roles(a);
      return [...dial, ...wait].sort();
    };
    expect(here()).toEqual([b.self(), c.self(), d.self()].sort());
    // Leaving says so at once.
    b.socket.close();
    await run();
    expect(here()).toEqual([c.self(), d.self()].sort());
    // A dropped connection says nothing, but the broker keeps what is sent to its empty slot and then gives up.
    broker.drop('c');
    await run(PRESENCE_INTERVAL_MS);
    expect(here()).toContain(c.self());
    broker.expireQueued();
    await run();
    expect(here()).toEqual([d.self()]);
    // A connection the broker still lists but that says nothing is gone after PRESENCE_TIMEOUT_MS.
    broker.mute('d');
    await run(PRESENCE_TIMEOUT_MS - PRESENCE_INTERVAL_MS);
    expect(here()).toEqual([d.self()]);
    await run(2 * PRESENCE_INTERVAL_MS);
    expect(here()).toEqual([]);
    expect(c.closes).toEqual([undefined]);
  });

  it('a member back under a new peer id keeps its nonce, so the room re-addresses it; nobody is told it left', async () => {
    const { broker, join, run, later } = await world();
    const a = join('a', nonceOf(0));
    await later();
    const b = join('b', nonceOf(1));
    await run(1);
    broker.drop('b');
    await run();
    expect(b.closes).toEqual([undefined]);
    const again = join('b', nonceOf(1));
    await run(1);
    expect(a.frames.filter((frame) => frame.type === 'peer-left')).toEqual([]);
    expect(a.frames.at(-1)).toEqual({ v: 1, type: 'peer-joined', peer: again.self(), nonce: nonceOf(1) });
    expect(roles(again).dial).toEqual([a.self()]);
  });

  it('answers the room\'s ping with a pong once its echo came back through the broker; nothing if the broker does not carry it', async () => {
    const { broker, slots, join, run } = await world();
    const a = join('a', nonceOf(0));
    await run(1);
    const b = join('b', nonceOf(1));
    await run(1);
    a.socket.send(encodeFrame({ v: 1, type: 'ping', token: 'first' }));
    await run();
    expect(a.frames.at(-1)).toEqual({ v: 1, type: 'pong', token: 'first' });
    // It went out and came back through the broker, to our own slot.
    expect(broker.log.at(-1)).toMatchObject({ from: slots[0], to: slots[0] });
    // An echo from another slot, or ours naming another peer, is not ours: no pong for it.
    const count = a.frames.length;
    broker.inject(slots[1] ?? '', slots[0] ?? '', encodeBrokerFrame({ v: 1, type: 'echo', peer: b.self(), token: 'forged' }));
    broker.inject(slots[0] ?? '', slots[0] ?? '', encodeBrokerFrame({ v: 1, type: 'echo', peer: b.self(), token: 'forged' }));
    await run();
    expect(a.frames.slice(count)).toEqual([]);
    // A connection that no longer carries anything gets no answer: the room finds it silent.
    broker.mute('a');
    a.socket.send(encodeFrame({ v: 1, type: 'ping', token: 'second' }));
    await run();
    expect(a.frames.slice(count)).toEqual([]);
  });

  it('drops what does not parse, what comes from outside the room, and what the broker kept for an earlier holder of the slot', async () => {
    const { broker, slots, join, run } = await world();
    const a = join('a', nonceOf(0));
    await run(1);
    const b = join('b', nonceOf(1));
    await run(1);
    const count = a.frames.length;
    const [slotA = '', slotB = ''] = slots;
    // An id that is not one of the room's slots: not a member, whatever it says.
    broker.inject('f'.repeat(32), slotA, encodeBrokerFrame({ v: 1, type: 'hello', peer: 'MALLORY', nonce: nonceOf(9) }));
    broker.inject(slotB, slotA, '<script>');
    broker.inject(slotB, slotA, encodeBrokerFrame({ v: 1, type: 'signal', peer: b.self(), to: 'SOMEONE-ELSE', blob: 'AAAA' }));
    broker.inject(slotB, slotA, encodeBrokerFrame({ v: 1, type: 'signal', peer: 'IMPOSTOR', to: a.self(), blob: 'AAAA' }));
    await run();
    expect(a.frames.slice(count)).toEqual([]);
    // The same signal, from the member and to us, does arrive: the drops above were for what they were.
    broker.inject(slotB, slotA, encodeBrokerFrame({ v: 1, type: 'signal', peer: b.self(), to: a.self(), blob: 'AAAA' }));
    await run();
    expect(a.frames.slice(count)).toEqual([{ v: 1, type: 'signal', from: b.self(), blob: 'AAAA' }]);
  });
});

// ---- whole rooms over a broker ---------------------------------------------------------------------------

let keyPairs: SessionKeyPair[] = [];
let handedOut = 0;

beforeAll(async () => {
  keyPairs = await Promise.all(Array.from({ length: 3 }, () => generateSessionKeyPair()));
}, 30_000);

describe('rooms over a broker', () => {
  function roomWorld() {
    const scheduler = new Scheduler();
    const clock = new FakeClock();
    const broker = new FakeBroker(scheduler);
    const net = new FakePeerNetwork(scheduler);
    const secret = secretFromSeed(810);
    const join = (name: string, knowledge?: () => RoomKnowledge) => {
      const events: RoomEvent[] = [];
      const session = new RoomSession({
        ...(knowledge === undefined ? {} : { knowledge }),
        secret,
        platform: {
          connectSignaling: brokerSignaling({ broker: broker.port(name), clock: clock.for(name), random: systemRandom }),
          createPeer: net.creator(name),
          clock: clock.for(name),
          random: systemRandom,
          relayRoute: () => ({ relayServer: false, relayOnly: false }),
        },
        onEvent: (event) => events.push(event),
        keyPairs: new KeyPairPool({ generate: () => Promise.resolve(keyPairs[handedOut++ % keyPairs.length] as SessionKeyPair), clock: clock.for(`${name}-pool`) }),
        transfers: new FakeTransfers(),
        group: new FakeGroup(),
      });
      const started = session.start();
      const status = (): RoomStatus => session.currentStatus;
      return { name, session, events, status, started };
    };
    /** Fires due timers (the socket's own "open") and lets the async work run, until `done`. */
    const runUntil = async (done: () => boolean, what: string, stepMs = 1): Promise<void> => {
      for (let step = 0; step < 200; step++) {
        await quiet(scheduler);
        if (done()) return;
        clock.advance(stepMs);
      }
      throw new Error(`never happened: ${what}`);
    };
    return { broker, clock, join, runUntil };
  }

  it('three people meet through the broker and all connect to all', async () => {
    const { join, runUntil } = roomWorld();
    const people = [join('ann'), join('ben'), join('cy')];
    const connectedTo = (person: (typeof people)[number]) => person.session.members.filter((member) => member.state === 'connected').length;
    await runUntil(() => people.every((person) => connectedTo(person) === 2), 'everyone connected to both others');
    for (const person of people) expect(person.status()).toEqual({ kind: 'secure', connected: 2 });
  });

  it('a broker that alters sealed signals never yields a connection; the room says a signal was refused', async () => {
    const { broker, join, runUntil } = roomWorld();
    let altered = 0;
    broker.tamper = (message) => {
      const frame = parseBrokerFrame(message.payload);
      if (frame?.type !== 'signal') return message;
      altered += 1;
      const middle = Math.floor(frame.blob.length / 2);
      const blob = frame.blob.slice(0, middle) + (frame.blob[middle] === 'A' ? 'B' : 'A') + frame.blob.slice(middle + 1);
      return { ...message, payload: encodeBrokerFrame({ ...frame, blob }) };
    };
    const ann = join('ann');
    const ben = join('ben');
    await runUntil(() => [ann, ben].some((person) => person.status().kind === 'member-failed'), 'a refusal');
    expect(altered).toBeGreaterThan(0);
    const failed = [ann, ben].find((person) => person.status().kind === 'member-failed');
    expect(failed?.status()).toEqual({ kind: 'member-failed', failure: { kind: 'signal-rejected' } });
    for (const person of [ann, ben]) expect(person.session.members.some((member) => member.state === 'connected')).toBe(false);
  });

  it('a broker that cannot be reached stops the room with its name; one that drops later only makes it reconnect', async () => {
    const down = roomWorld();
    down.broker.behaviour = 'unreachable';
    const ann = down.join('ann');
    await down.runUntil(() => ann.status().kind === 'failed', 'a failure');
    expect(ann.status()).toEqual({ kind: 'failed', failure: { kind: 'signaling-unreachable', endpoint: 'broker.test:9000' } });

    const later = roomWorld();
    const ben = later.join('ben');
    const cy = later.join('cy');
    await later.runUntil(() => ben.status().kind === 'secure' && cy.status().kind === 'secure', 'both secure');
    const attempts = later.broker.connectAttempts('ben');
    later.broker.drop('ben');
    later.broker.behaviour = 'unreachable';
    await later.runUntil(() => later.broker.connectAttempts('ben') >= attempts + 2, 'two tries to reach the broker again', 100);
    // The direct connection does not need the broker: the conversation goes on while it keeps trying.
    expect(ben.status()).toEqual({ kind: 'secure', connected: 1 });
  });

  it('those already in the room, each announced in a joined of its own, are judged by what the newcomer remembered before arriving', async () => {
    const { broker, join, runUntil } = roomWorld();
    const ann = join('ann');
    const ben = join('ben');
    await runUntil(() => ann.status().kind === 'secure' && ben.status().kind === 'secure', 'ann and ben connected');
    // Cy comes later than the broker keeps messages: the hellos Ann and Ben sent to the empty slots are gone, so
    // she learns of each from its welcome. (Within that time, arrivals count as together: §3.8.)
    broker.expireQueued();
    // Cy remembers nobody here when she arrives, and someone the moment she is in (as after admitting the first):
    // a guest is held in a room that remembers a profile, unless it was here first.
    const remembered: KnownContact[] = [];
    const cy = join('cy', () => ({ roomContacts: [...remembered], allContacts: [...remembered] }));
    await cy.started;
    remembered.push({ id: 'someone', displayName: 'Someone', publicKeySpki: new Uint8Array(91), verified: false, keyChanged: false });
    await runUntil(() => cy.session.members.filter((member) => member.state === 'connected' || member.state === 'held').length === 2, 'cy verified both');
    expect(cy.session.members.map((member) => member.state)).toEqual(['connected', 'connected']);
  });
});
