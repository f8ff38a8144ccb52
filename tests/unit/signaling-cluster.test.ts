/**
 * Several signaling instances sharing rooms through a real redis-server: the same room semantics as one instance,
 * capacity held across instances, a killed instance's members removed, and Redis going away.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterMessage } from '../../signaling/cluster.ts';
import { LEASE_MS } from '../../signaling/redisCluster.ts';
import type { RunningServer } from '../../signaling/server.ts';
import { InstanceProcess } from '../fixtures/instanceProcess.ts';
import { RedisServer } from '../fixtures/redisServer.ts';
import { TestClient, newBlob, newNonce, newRoomId, request, wsUrl } from '../fixtures/signalingClient.ts';
import { expectRelay, signalingHarness } from './support/signalingHarness.ts';

/** Long enough for a lease to run out and the next reaper tick to notice, with room for a loaded machine. */
const REAP_WAIT_MS = LEASE_MS + 7_000;

const { start, connect, scratchDir } = signalingHarness();

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.stop();
});

function startInstance(env: Record<string, string> = {}): Promise<RunningServer> {
  return start({ REDIS_URL: redis.url, ...env });
}

async function readiness(server: RunningServer): Promise<{ status: number; body: unknown }> {
  const result = await request(server.url, '/readyz');
  return { status: result.status, body: JSON.parse(result.body) };
}

describe('two instances on one Redis', () => {
  it('put members connected to different instances in one room, with the same frames as one instance', async () => {
    const [one, two] = await Promise.all([startInstance(), startInstance()]);
    const room = newRoomId();
    const [nonceA, nonceB, nonceC] = [newNonce(), newNonce(), newNonce()];
    const a = await connect(one);
    const joinedA = await a.join(room, nonceA);
    expect(joinedA.peers).toEqual([]);

    const b = await connect(two);
    const joinedB = await b.join(room, nonceB);
    expect(joinedB.peers).toEqual([{ peer: joinedA.self, nonce: nonceA }]);
    expect(await a.next()).toEqual({ v: 1, type: 'peer-joined', peer: joinedB.self, nonce: nonceB });

    // A third member on the first instance: listed in joining order, and each earlier member told once.
    const c = await connect(one);
    const joinedC = await c.join(room, nonceC);
    expect(joinedC.peers).toEqual([
      { peer: joinedA.self, nonce: nonceA },
      { peer: joinedB.self, nonce: nonceB },
    ]);
    expect(await a.next()).toEqual({ v: 1, type: 'peer-joined', peer: joinedC.self, nonce: nonceC });
    expect(await b.next()).toEqual({ v: 1, type: 'peer-joined', peer: joinedC.self, nonce: nonceC });

    // Signals across instances and within one, both ways.
    await expectRelay(a, joinedA.self, b, joinedB.self);
    await expectRelay(b, joinedB.self, a, joinedA.self);
    await expectRelay(c, joinedC.self, b, joinedB.self);
    await expectRelay(a, joinedA.self, c, joinedC.self);

    // One sender's signals arrive in the order sent, which the sealed-signal sequence rule requires.
    const blobs = Array.from({ length: 20 }, () => newBlob());
    for (const blob of blobs) b.signal(joinedA.self, blob);
    for (const blob of blobs) expect(await a.next()).toEqual({ v: 1, type: 'signal', from: joinedB.self, blob });

    // A peer id of another room is unknown here, wherever its connection is.
    const stranger = await connect(two);
    const strangerJoined = await stranger.join(newRoomId());
    a.signal(strangerJoined.self, newBlob());
    expect(await a.nextError()).toBe('unknown-peer');

    b.close();
    expect(await a.next()).toEqual({ v: 1, type: 'peer-left', peer: joinedB.self });
    expect(await c.next()).toEqual({ v: 1, type: 'peer-left', peer: joinedB.self });
    c.close();
    expect(await a.next()).toEqual({ v: 1, type: 'peer-left', peer: joinedC.self });
  });

  it('never lets joins at once on both instances make a room larger than MAX_ROOM_MEMBERS', async () => {
    const [one, two] = await Promise.all([startInstance({ MAX_ROOM_MEMBERS: '8' }), startInstance({ MAX_ROOM_MEMBERS: '8' })]);
    const room = newRoomId();
    const clients = await Promise.all(Array.from({ length: 16 }, (_, i) => connect(i % 2 === 0 ? one : two)));
    for (const client of clients) client.send({ v: 1, type: 'join', room, nonce: newNonce() });
    const answers = await Promise.all(clients.map((client) => client.next()));
    const joined = answers.filter((frame) => frame.type === 'joined');
    const refused = answers.filter((frame) => frame.type === 'error' && frame.code === 'room-full');
    expect(joined).toHaveLength(8);
    expect(refused).toHaveLength(8);
    // Each member was listed with exactly the members before it: 0, 1, …, 7.
    expect(joined.map((frame) => (frame.type === 'joined' ? frame.peers.length : -1)).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('delivers what other instances send to a member still being placed after its joined', async () => {
    const [one, two] = await Promise.all([startInstance(), startInstance()]);
    // B's join on one instance and C's on the other race, many times over; whichever wins, B hears of C exactly
    // once and only after its own joined (else its client would drop a signal from a member it never heard of).
    for (let round = 0; round < 40; round++) {
      const room = newRoomId();
      const b = await connect(two);
      const c = await connect(one);
      const nonceC = newNonce();
      b.send({ v: 1, type: 'join', room, nonce: newNonce() });
      c.send({ v: 1, type: 'join', room, nonce: nonceC });
      const joinedB = await b.nextOfType('joined');
      const joinedC = await c.nextOfType('joined');
      if (joinedC.peers.some((member) => member.peer === joinedB.self)) {
        expect(joinedB.peers).toEqual([]);
        expect(await b.next()).toEqual({ v: 1, type: 'peer-joined', peer: joinedC.self, nonce: nonceC });
      } else {
        expect(joinedB.peers).toEqual([{ peer: joinedC.self, nonce: nonceC }]);
        await b.sync();
        expect(b.pending).toEqual([]);
      }
      b.close();
      c.close();
    }
  }, 30_000);

  it('removes the members of an instance that died and tells their rooms; others can still join', async () => {
    const one = await startInstance();
    const doomed = await InstanceProcess.start({ REDIS_URL: redis.url, STATIC_DIR: scratchDir() });
    const room = newRoomId();
    const a = await connect(one);
    const joinedA = await a.join(room);
    const b = await TestClient.connect(wsUrl(doomed.url));
    const joinedB = await b.join(room);
    expect(await a.next()).toMatchObject({ type: 'peer-joined', peer: joinedB.self });

    doomed.signal('SIGKILL');
    await doomed.exited;
    expect(await a.next(REAP_WAIT_MS)).toEqual({ v: 1, type: 'peer-left', peer: joinedB.self });

    const newcomer = await connect(one);
    expect((await newcomer.join(room)).peers.map((member) => member.peer)).toEqual([joinedA.self]);
    expect(await a.next()).toMatchObject({ type: 'peer-joined' });
  }, 30_000);

  it('keeps the members of an instance that stalled past its lease when no other instance removed them meanwhile', async () => {
    const stalling = await InstanceProcess.start({ REDIS_URL: redis.url, STATIC_DIR: scratchDir() });
    const room = newRoomId();
    const a = await TestClient.connect(wsUrl(stalling.url));
    const nonceA = newNonce();
    const joinedA = await a.join(room, nonceA);
    // Frozen for longer than its lease, with no other instance around to reap it: a stall, not a death.
    stalling.signal('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 1_500));
    stalling.signal('SIGCONT');
    await a.sync(REAP_WAIT_MS);
    const other = await startInstance();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const b = await connect(other);
    expect((await b.join(room)).peers).toEqual([{ peer: joinedA.self, nonce: nonceA }]);
    expect(await a.next()).toMatchObject({ type: 'peer-joined' });
    expect(a.socket.readyState).toBe(a.socket.OPEN);
    await stalling.kill();
  }, 30_000);

  it('on SIGTERM stops taking joins, closes every socket with 1012 so clients reconnect elsewhere, leaves the rooms and exits', async () => {
    const one = await startInstance();
    const leaving = await InstanceProcess.start({ REDIS_URL: redis.url, STATIC_DIR: scratchDir() });
    const room = newRoomId();
    const a = await connect(one);
    await a.join(room);
    const b = await TestClient.connect(wsUrl(leaving.url));
    const joinedB = await b.join(room);
    await a.nextOfType('peer-joined');

    leaving.signal('SIGTERM');
    expect((await b.closed).code).toBe(1012);
    // Told at once, not after the lease runs out: the instance left its rooms before exiting.
    expect(await a.next()).toEqual({ v: 1, type: 'peer-left', peer: joinedB.self });
    expect(await leaving.exited).toBe(0);
  }, 30_000);
});

describe('Redis going away', () => {
  it('is reported on /readyz and refuses joins with unavailable while connected members go on; afterwards everyone joins again', async () => {
    const [one, two] = await Promise.all([startInstance(), startInstance()]);
    expect(await readiness(one)).toEqual({ status: 200, body: { status: 'ready' } });
    const room = newRoomId();
    const a = await connect(one);
    const joinedA = await a.join(room);
    const c = await connect(one);
    const joinedC = await c.join(room);
    await a.nextOfType('peer-joined');
    const b = await connect(two);
    const joinedB = await b.join(room);
    await a.nextOfType('peer-joined');
    await c.nextOfType('peer-joined');

    await redis.stop();
    try {
      await expect.poll(async () => (await readiness(one)).body, { timeout: REAP_WAIT_MS }).toEqual({ status: 'redis-unavailable' });
      expect((await readiness(one)).status).toBe(503);

      // A new join is refused with a code that tells the client to try again (elsewhere).
      const late = await connect(two);
      late.send({ v: 1, type: 'join', room, nonce: newNonce() });
      expect(await late.nextError()).toBe('unavailable');

      // Members on one instance still reach each other; across instances the signal cannot go, and the sender is told.
      await expectRelay(a, joinedA.self, c, joinedC.self);
      a.signal(joinedB.self, newBlob());
      expect(await a.nextError()).toBe('unavailable');
      expect(a.socket.readyState).toBe(a.socket.OPEN);
      expect(b.socket.readyState).toBe(b.socket.OPEN);
    } finally {
      await redis.resume();
    }

    // Redis came back empty: the instances register afresh and have their members join again (close 1012).
    expect((await a.closed).code).toBe(1012);
    expect((await b.closed).code).toBe(1012);
    // Each instance finds Redis again on its own; the join below goes to the second, so both must be ready.
    for (const server of [one, two]) await expect.poll(async () => (await readiness(server)).status, { timeout: REAP_WAIT_MS }).toBe(200);
    const again = await connect(two);
    expect((await again.join(room)).peers).toEqual([]);
  }, 40_000);
});

describe('messages between instances', () => {
  it('are parsed strictly', () => {
    const frame = { v: 1, type: 'peer-left', peer: 'abc' };
    expect(parseClusterMessage(`p1,p2 ${JSON.stringify(frame)}`)).toEqual({ recipients: ['p1', 'p2'], frame });
    expect(parseClusterMessage(`p1 ${JSON.stringify({ v: 1, type: 'signal', from: 'x', blob: 'AAAA' })}`)).not.toBeNull();
    for (const bad of [
      '',
      JSON.stringify(frame),
      ` ${JSON.stringify(frame)}`,
      `p1, ${JSON.stringify(frame)}`,
      `p!1 ${JSON.stringify(frame)}`,
      `p1 ${JSON.stringify({ ...frame, extra: 1 })}`,
      `p1 ${JSON.stringify({ v: 1, type: 'joined', self: 'x', peers: [] })}`,
      `p1 ${JSON.stringify({ v: 1, type: 'error', code: 'room-full', message: 'x' })}`,
      `${Array.from({ length: 65 }, (_, i) => `p${i}`).join(',')} ${JSON.stringify(frame)}`,
    ]) {
      expect(parseClusterMessage(bad)).toBeNull();
    }
  });
});
