/** Behaviour of the signaling server, driven through real sockets against a real server on an ephemeral port. */

import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_STATIC_DIR, parseConfig } from '../../signaling/config.ts';
import { FirstPerWindow, FrameRateLimiter } from '../../signaling/rateLimit.ts';
import { addressKey, normalizeOrigin } from '../../signaling/requestSource.ts';
import { contentSecurityPolicy, signalingOriginsFromSiteConfig } from '../../signaling/securityHeaders.ts';
import { resolveRequestPath } from '../../signaling/staticFiles.ts';
import { startServer } from '../../signaling/server.ts';
import type { ErrorCode } from '../../src/core/protocol/signaling.ts';
import { newBlob, newNonce, newRoomId, request, waitUntil, type HttpResult } from '../fixtures/signalingClient.ts';
import { at, expectRelay, signalingHarness } from './support/signalingHarness.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PEER_ID = /^[A-Za-z0-9_-]{22}$/;

const { scratchDir, start, connect, roomOf } = signalingHarness();

describe('config', () => {
  it('uses the documented defaults when nothing is set', () => {
    const parsed = parseConfig({});
    expect(parsed).toEqual({
      ok: true,
      config: {
        port: 8080,
        host: '127.0.0.1',
        staticDir: path.join(REPO_ROOT, 'dist'),
        tls: null,
        maxFrameBytes: 65536,
        maxRoomMembers: 8,
        maxFramesPerSecond: 50,
        joinTimeoutMs: 10000,
        heartbeatIntervalMs: 30000,
        requestTimeoutMs: 10000,
        maxConnections: 1000,
        maxConnectionsPerAddress: 50,
        trustProxy: false,
        allowedOrigins: [],
        redisUrl: null,
        turn: null,
        log: 'info',
      },
    });
    expect(DEFAULT_STATIC_DIR).toBe(path.join(REPO_ROOT, 'dist'));
  });

  it('reads every setting, treating empty values as unset', () => {
    const parsed = parseConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      STATIC_DIR: '/srv/parley',
      TLS_CERT: '/etc/c.pem',
      TLS_KEY: '/etc/k.pem',
      MAX_FRAME_BYTES: '4096',
      MAX_ROOM_MEMBERS: '8',
      MAX_FRAMES_PER_SECOND: '50',
      JOIN_TIMEOUT_MS: '500',
      HEARTBEAT_INTERVAL_MS: '1000',
      REQUEST_TIMEOUT_MS: '2000',
      MAX_CONNECTIONS: '10',
      MAX_CONNECTIONS_PER_IP: '5',
      TRUST_PROXY: 'true',
      ALLOWED_ORIGINS: ' https://Static.Example.org, http://localhost:5173/ ,https://x.example:443,,',
      REDIS_URL: 'redis://:pw@redis.internal:6380/2',
      TURN_URLS: 'turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349',
      TURN_SECRET: 'a-long-shared-secret',
      TURN_CREDENTIAL_TTL_S: '600',
      LOG: 'silent',
    });
    expect(parsed).toEqual({
      ok: true,
      config: {
        port: 9000,
        host: '0.0.0.0',
        staticDir: '/srv/parley',
        tls: { certPath: '/etc/c.pem', keyPath: '/etc/k.pem' },
        maxFrameBytes: 4096,
        maxRoomMembers: 8,
        maxFramesPerSecond: 50,
        joinTimeoutMs: 500,
        heartbeatIntervalMs: 1000,
        requestTimeoutMs: 2000,
        maxConnections: 10,
        maxConnectionsPerAddress: 5,
        trustProxy: true,
        allowedOrigins: ['https://static.example.org', 'http://localhost:5173', 'https://x.example'],
        redisUrl: 'redis://:pw@redis.internal:6380/2',
        turn: { urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'], secret: 'a-long-shared-secret', ttlSeconds: 600 },
        log: 'silent',
      },
    });
    const blank = parseConfig({ PORT: '', LOG: '  ', TLS_CERT: '', TRUST_PROXY: '', ALLOWED_ORIGINS: ' ' });
    expect(blank.ok && blank.config.port === 8080 && blank.config.log === 'info' && blank.config.tls === null).toBe(true);
    expect(blank.ok && !blank.config.trustProxy && blank.config.allowedOrigins.length === 0).toBe(true);
    const off = parseConfig({ TRUST_PROXY: 'false' });
    expect(off.ok && off.config.trustProxy).toBe(false);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['MAX_FRAME_BYTES', '1e5'],
    ['MAX_ROOM_MEMBERS', '1'],
    ['MAX_ROOM_MEMBERS', '17'],
    ['MAX_FRAMES_PER_SECOND', '0'],
    ['JOIN_TIMEOUT_MS', '10s'],
    ['HEARTBEAT_INTERVAL_MS', '0x10'],
    ['MAX_CONNECTIONS', '0'],
    ['MAX_CONNECTIONS_PER_IP', '0'],
    ['REQUEST_TIMEOUT_MS', '99'],
    ['TRUST_PROXY', 'yes'],
    ['TRUST_PROXY', '1'],
    ['ALLOWED_ORIGINS', 'static.example.org'],
    ['ALLOWED_ORIGINS', 'https://static.example.org/app'],
    ['ALLOWED_ORIGINS', 'https://ok.example, *'],
    ['ALLOWED_ORIGINS', 'wss://static.example.org'],
    ['ALLOWED_ORIGINS', 'null'],
    ['ALLOWED_ORIGINS', 'https://user@static.example.org'],
    ['ALLOWED_ORIGINS', 'https://static.example.org?'],
    ['LOG', 'verbose'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['TURN_CREDENTIAL_TTL_S', '59'],
    ['TURN_CREDENTIAL_TTL_S', '86401'],
  ])('refuses %s=%s with a message naming the setting', (name, value) => {
    const parsed = parseConfig({ [name]: value });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(name);
  });

  it.each([
    [{ TLS_CERT: '/c.pem' }],
    [{ TLS_KEY: '/k.pem' }],
  ])('refuses only one of TLS_CERT and TLS_KEY (%o)', (env) => {
    const parsed = parseConfig(env);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/TLS_CERT and TLS_KEY/);
  });

  it.each([
    [{ TURN_URLS: 'turn:t.example:3478' }, /TURN_URLS and TURN_SECRET go together/],
    [{ TURN_SECRET: 'a-long-shared-secret' }, /TURN_URLS and TURN_SECRET go together/],
    [{ TURN_URLS: 'turn:t.example:3478', TURN_SECRET: 'short' }, /TURN_SECRET must be at least 16/],
    [{ TURN_URLS: 'stun:t.example:3478', TURN_SECRET: 'a-long-shared-secret' }, /TURN_URLS must list turn: or turns:/],
    [{ TURN_URLS: ' , ', TURN_SECRET: 'a-long-shared-secret' }, /TURN_URLS must list/],
  ])('refuses an incomplete or wrong TURN setting (%o)', (env, message) => {
    const parsed = parseConfig(env);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });
});

describe('rate limiter', () => {
  it('allows a burst of the rate, refuses beyond it, refills over time, and spots a flood', () => {
    const limiter = new FrameRateLimiter(4, 0);
    const burst = Array.from({ length: 6 }, () => limiter.take(0));
    expect(burst).toEqual(['allow', 'allow', 'allow', 'allow', 'limit', 'limit']);
    expect(limiter.take(250)).toBe('allow');
    expect(limiter.take(250)).toBe('limit');
    const rest = Array.from({ length: 14 }, () => limiter.take(300));
    // 8 frames so far in this second; the flood line is 5 × 4 = 20.
    expect(rest.slice(0, 12).every((decision) => decision === 'limit')).toBe(true);
    expect(rest.slice(12)).toEqual(['flood', 'flood']);
    expect(limiter.take(1000)).toBe('allow');
  });
});

describe('first per window', () => {
  it('lets the first of each kind through per window and reports how many it held back', () => {
    const filter = new FirstPerWindow<string>(1000);
    expect(filter.take('a', 0)).toBe(0);
    expect(filter.take('a', 10)).toBeNull();
    expect(filter.take('b', 10)).toBe(0);
    expect(filter.take('a', 999)).toBeNull();
    // A new window: this one passes and says two were held back since the last that passed.
    expect(filter.take('a', 1000)).toBe(2);
    expect(filter.take('a', 1500)).toBeNull();
    expect(filter.take('b', 20)).toBeNull();
    expect(filter.drainSuppressed()).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(filter.drainSuppressed()).toEqual([]);
  });
});

describe('request source', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:c000:0207', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8:0:0:0:0:1.2.3.4', '2001:db8:0:0::/64'],
  ])('counts %s under %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });

  it('puts every address of one IPv6 /64 under one key, and neighbouring /64s under others', () => {
    const keys = ['2001:db8:aa:1::1', '2001:db8:aa:1:ffff:ffff:ffff:ffff', '2001:db8:aa:1:1234::5'].map(addressKey);
    expect(new Set(keys).size).toBe(1);
    expect(addressKey('2001:db8:aa:2::1')).not.toBe(keys[0]);
    expect(addressKey('2001:db8:ab:1::1')).not.toBe(keys[0]);
  });

  it('has no key for things that are not IP addresses', () => {
    for (const text of ['', 'localhost', '1.2.3', '1.2.3.4.5', '2001:db8::1::2', '1.2.3.4:80', '[::1]', 'unknown']) expect(addressKey(text), text).toBeNull();
  });

  it('normalises origins the way browsers serialise them, and refuses anything that is not an http(s) origin', () => {
    expect(normalizeOrigin('https://Chat.Example.org')).toBe('https://chat.example.org');
    expect(normalizeOrigin('https://chat.example.org:443')).toBe('https://chat.example.org');
    expect(normalizeOrigin('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(normalizeOrigin('http://[::1]:8080/')).toBe('http://[::1]:8080');
    for (const text of ['null', '', 'chat.example.org', 'ws://a.example', 'file:///x', 'https://a.example/x', 'https://a.example?', 'https://a.example#', 'https://u:p@a.example', 'https://a.example\\', ' https://a.example']) {
      expect(normalizeOrigin(text), text).toBeNull();
    }
  });
});

describe('rooms and relay', () => {
  it('reports the real port when started on port 0', async () => {
    const server = await start();
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('answers join with a fresh peer id and the members already there with their nonces, and announces newcomers with theirs', async () => {
    const server = await start({ MAX_ROOM_MEMBERS: '3' });
    const room = newRoomId();
    const [nonceA, nonceB, nonceC] = [newNonce(), newNonce(), newNonce()];
    const a = await connect(server);
    const b = await connect(server);
    const c = await connect(server);
    const joinedA = await a.join(room, nonceA);
    expect(joinedA.self).toMatch(PEER_ID);
    expect(joinedA.peers).toEqual([]);
    const joinedB = await b.join(room, nonceB);
    expect(joinedB.peers).toEqual([{ peer: joinedA.self, nonce: nonceA }]);
    expect(await a.next()).toEqual({ v: 1, type: 'peer-joined', peer: joinedB.self, nonce: nonceB });
    const joinedC = await c.join(room, nonceC);
    expect(joinedC.peers).toEqual([
      { peer: joinedA.self, nonce: nonceA },
      { peer: joinedB.self, nonce: nonceB },
    ]);
    expect(await a.nextOfType('peer-joined')).toEqual({ v: 1, type: 'peer-joined', peer: joinedC.self, nonce: nonceC });
    expect(await b.nextOfType('peer-joined')).toEqual({ v: 1, type: 'peer-joined', peer: joinedC.self, nonce: nonceC });
    expect(new Set([joinedA.self, joinedB.self, joinedC.self]).size).toBe(3);
  });

  it('relays blobs both ways, byte for byte, naming the sender', async () => {
    const server = await start();
    const { clients: members, ids } = await roomOf(server, 2);
    const [a, b, idA, idB] = [at(members, 0), at(members, 1), at(ids, 0), at(ids, 1)];
    await expectRelay(a, idA, b, idB);
    await expectRelay(b, idB, a, idA);
    // The largest blob the protocol allows still fits the default frame limit and arrives unchanged.
    const bigBlob = 'A_-z'.repeat(15000);
    a.signal(idB, bigBlob);
    expect(await b.next()).toEqual({ v: 1, type: 'signal', from: idA, blob: bigBlob });
  });

  it('tells the others when a peer leaves, and forgets the leaver', async () => {
    const server = await start();
    const room = newRoomId();
    const a = await connect(server);
    const b = await connect(server);
    const idA = (await a.join(room)).self;
    const idB = (await b.join(room)).self;
    await a.nextOfType('peer-joined');
    a.close();
    expect(await b.next()).toEqual({ v: 1, type: 'peer-left', peer: idA });
    const c = await connect(server);
    const joinedC = await c.join(room);
    expect(joinedC.peers.map((member) => member.peer)).toEqual([idB]);
    expect(await b.next()).toMatchObject({ v: 1, type: 'peer-joined', peer: joinedC.self });
    b.signal(idA, newBlob());
    expect(await b.nextError()).toBe('unknown-peer');
  });

  it('refuses a ninth member with the default room size of 8, leaving the socket open and unjoined', async () => {
    const server = await start();
    const room = newRoomId();
    const a = await connect(server);
    await a.join(room);
    for (let i = 1; i < 8; i++) {
      await (await connect(server)).join(room);
      await a.nextOfType('peer-joined');
    }
    const late = await connect(server);
    late.send({ v: 1, type: 'join', room, nonce: newNonce() });
    expect(await late.nextError()).toBe('room-full');
    expect(late.socket.readyState).toBe(WebSocket.OPEN);
    late.signal('x'.repeat(22), newBlob());
    expect(await late.nextError()).toBe('not-joined');
    expect((await late.join(newRoomId())).peers).toEqual([]);
    expect(a.pending).toEqual([]);
  });

  it('honours a configured room size of 3', async () => {
    const server = await start({ MAX_ROOM_MEMBERS: '3' });
    const room = newRoomId();
    for (let i = 0; i < 3; i++) expect((await (await connect(server)).join(room)).peers).toHaveLength(i);
    const fourth = await connect(server);
    fourth.send({ v: 1, type: 'join', room, nonce: newNonce() });
    expect(await fourth.nextError()).toBe('room-full');
  });

  it('never routes across rooms', async () => {
    const server = await start();
    const roomA = await roomOf(server, 2);
    const roomB = await roomOf(server, 2);
    const [a1, a2] = roomA.clients;
    const [b1, b2] = roomB.clients;
    if (a1 === undefined || a2 === undefined || b1 === undefined || b2 === undefined) throw new Error('setup');
    a1.signal(at(roomB.ids, 0), newBlob());
    expect(await a1.nextError()).toBe('unknown-peer');
    // The server handled a1's frame before answering it, so anything it had sent b1 would arrive before this.
    await expectRelay(b2, at(roomB.ids, 1), b1, at(roomB.ids, 0));
    await expectRelay(a1, at(roomA.ids, 0), a2, at(roomA.ids, 1));
    expect(a2.pending).toEqual([]);
  });

  it('refuses a signal to oneself', async () => {
    const server = await start();
    const { clients: members, ids } = await roomOf(server, 2);
    at(members, 0).signal(at(ids, 0), newBlob());
    expect(await at(members, 0).nextError()).toBe('unknown-peer');
    await expectRelay(at(members, 1), at(ids, 1), at(members, 0), at(ids, 0));
  });

  it('refuses a second join on one socket and keeps the first membership', async () => {
    const server = await start();
    const { clients: members, ids } = await roomOf(server, 2);
    at(members, 0).send({ v: 1, type: 'join', room: newRoomId(), nonce: newNonce() });
    expect(await at(members, 0).nextError()).toBe('already-joined');
    await expectRelay(at(members, 0), at(ids, 0), at(members, 1), at(ids, 1));
  });

  it('refuses a signal before join, then lets the socket join', async () => {
    const server = await start();
    const client = await connect(server);
    client.signal('p'.repeat(22), newBlob());
    const frame = await client.nextOfType('error');
    expect(frame.code).toBe('not-joined');
    expect(frame.message.length).toBeGreaterThan(0);
    await client.join(newRoomId());
  });

  const badFrames: ReadonlyArray<readonly [string, string | Buffer, ErrorCode]> = [
    ['text that is not JSON', '{"v":1,"type":', 'malformed'],
    ['a JSON array', '[1,2]', 'malformed'],
    ['a join without a room', JSON.stringify({ v: 1, type: 'join', nonce: 'n'.repeat(22) }), 'malformed'],
    ['a join without a nonce', JSON.stringify({ v: 1, type: 'join', room: 'r'.repeat(22) }), 'malformed'],
    ['a join with a short nonce', JSON.stringify({ v: 1, type: 'join', room: 'r'.repeat(22), nonce: 'n'.repeat(21) }), 'malformed'],
    ['a join with an extra key', JSON.stringify({ v: 1, type: 'join', room: 'r'.repeat(22), nonce: 'n'.repeat(22), extra: 1 }), 'malformed'],
    ['a join with a bad room id', JSON.stringify({ v: 1, type: 'join', room: 'short', nonce: 'n'.repeat(22) }), 'malformed'],
    ['a frame of another protocol version', JSON.stringify({ v: 2, type: 'join', room: 'r'.repeat(22), nonce: 'n'.repeat(22) }), 'malformed'],
    ['a signal with a blob that is not base64url', JSON.stringify({ v: 1, type: 'signal', to: 'p', blob: 'a b' }), 'malformed'],
    ['a binary frame', Buffer.from(JSON.stringify({ v: 1, type: 'join', room: 'r'.repeat(22), nonce: 'n'.repeat(22) })), 'malformed'],
    ['an unknown type', JSON.stringify({ v: 1, type: 'shout', text: 'hi' }), 'unknown-type'],
  ];

  it.each(badFrames)('answers %s with the right error and keeps the connection usable', async (_name, data, code) => {
    const server = await start();
    const peer = await connect(server);
    const room = newRoomId();
    const idPeer = (await peer.join(room)).self;
    const client = await connect(server);
    client.sendRaw(data, { binary: Buffer.isBuffer(data) });
    const error = await client.nextOfType('error');
    expect(error.code).toBe(code);
    expect(error.message).toMatch(/^[A-Z].*[.]$/);
    const idClient = (await client.join(room)).self;
    await peer.nextOfType('peer-joined');
    await expectRelay(client, idClient, peer, idPeer);
    expect(peer.pending).toEqual([]);
  });
});

const SECURITY_HEADERS = {
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

const BASE_CSP =
  "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob:; " +
  "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'; object-src 'none'; require-trusted-types-for 'script'; " +
  'trusted-types svelte-trusted-html parley-worker';

function expectSecurityHeaders(result: HttpResult, csp = BASE_CSP): void {
  expect(result.headers).toMatchObject(SECURITY_HEADERS);
  expect(result.headers['content-security-policy']).toBe(csp);
  expect(result.headers['strict-transport-security']).toBeUndefined();
}

describe('signaling probe and a room session back on a new socket', () => {
  it('answers a ping with a pong echoing its token, before and after join, and logs nothing for it', async () => {
    const lines: string[] = [];
    const server = await start({ LOG: 'info' }, (line) => lines.push(line));
    const client = await connect(server);
    client.send({ v: 1, type: 'ping', token: 'before-join' });
    expect(await client.next()).toEqual({ v: 1, type: 'pong', token: 'before-join' });
    const { self } = await client.join(newRoomId());
    client.send({ v: 1, type: 'ping', token: 'AAECAwQFBgc' });
    expect(await client.next()).toEqual({ v: 1, type: 'pong', token: 'AAECAwQFBgc' });
    client.send({ v: 1, type: 'ping', token: 'not a token' });
    expect(await client.nextError()).toBe('malformed');
    client.close();
    await waitUntil(() => lines.some((line) => line.includes(`close peer=${self}`)), 2000, 'close line');
    // open, the refused malformed ping, close: the good pings left no line.
    expect(lines.filter((line) => line.includes(self)).map((line) => /(open|refused|close) peer=/.exec(line)?.[1])).toEqual(['open', 'refused', 'close']);
  });

  it('takes one rate token per ping: beyond the rate a ping gets rate-limited, not a pong', async () => {
    const server = await start({ MAX_FRAMES_PER_SECOND: '5' });
    const client = await connect(server);
    for (let i = 0; i < 10; i++) client.send({ v: 1, type: 'ping', token: `t${i}` });
    await client.sync();
    const answers = client.pending.map((frame) => (frame.type === 'pong' ? frame.token : frame.type === 'error' ? frame.code : frame.type));
    // A full bucket of five, perhaps one more earned while they were sent; one rate-limited reply for the rest.
    expect(answers.filter((answer) => answer.startsWith('t')).length).toBeGreaterThanOrEqual(5);
    expect(answers.filter((answer) => answer.startsWith('t')).length).toBeLessThanOrEqual(6);
    expect(answers).toContain('rate-limited');
  });

  it('closes with 1008 a connection that floods pings', async () => {
    const server = await start({ MAX_FRAMES_PER_SECOND: '5' });
    const client = await connect(server);
    for (let i = 0; i < 100; i++) client.send({ v: 1, type: 'ping', token: 'flood' });
    expect((await client.closed).code).toBe(1008);
  });

  it('a join with the nonce of a member still registered replaces it: the old socket is cut, nobody hears peer-left, the others hear peer-joined', async () => {
    const server = await start({ MAX_ROOM_MEMBERS: '2' });
    const room = newRoomId();
    const nonce = newNonce();
    const stayer = await connect(server);
    const idStayer = (await stayer.join(room)).self;
    const old = await connect(server);
    const idOld = (await old.join(room, nonce)).self;
    await stayer.nextOfType('peer-joined');
    // The member's page found its socket silent and opened another; the server has not noticed the old one is dead.
    const fresh = await connect(server);
    const joined = await fresh.join(room, nonce);
    // Let in although the room holds two: the old connection no longer counts, and is not listed to itself.
    expect(joined.peers).toEqual([{ peer: idStayer, nonce: expect.any(String) }]);
    expect(await old.closed).toMatchObject({ code: 1006 });
    expect(await stayer.next()).toEqual({ v: 1, type: 'peer-joined', peer: joined.self, nonce });
    // Nothing about the old connection follows, and it can no longer be addressed.
    stayer.signal(idOld, newBlob());
    expect(await stayer.nextError()).toBe('unknown-peer');
    await expectRelay(stayer, idStayer, fresh, joined.self);
  });
});

describe('HTTP', () => {
  it('answers /healthz with JSON ok and the security headers', async () => {
    const server = await start();
    const result = await request(server.url, '/healthz');
    expect(result.status).toBe(200);
    expect(result.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(result.body)).toEqual({ status: 'ok' });
    expectSecurityHeaders(result);
  });

  it('answers / with 503 and build instructions when there is no build, with security headers', async () => {
    const server = await start();
    const result = await request(server.url, '/');
    expect(result.status).toBe(503);
    expect(result.headers['content-type']).toMatch(/^text\/plain/);
    expect(result.body).toContain('npm run build');
    expectSecurityHeaders(result);
  });

  it('answers a missing file with a plain 404 carrying the security headers', async () => {
    const server = await start();
    const result = await request(server.url, '/nope.js');
    expect(result.status).toBe(404);
    expect(result.headers['content-type']).toMatch(/^text\/plain/);
    expectSecurityHeaders(result);
  });

  it.each(['POST', 'PUT', 'DELETE'])('answers %s with 405', async (method) => {
    const server = await start();
    const result = await request(server.url, '/', method);
    expect(result.status).toBe(405);
    expect(result.headers['allow']).toBe('GET, HEAD');
    expectSecurityHeaders(result);
  });

  it('lets the page start a same-origin module worker that compiles WebAssembly (the vault’s Argon2id)', () => {
    // Workers fall back from worker-src to child-src to script-src; neither of the first two may narrow it.
    const directives = new Map(
      contentSecurityPolicy([])
        .split('; ')
        .map((directive): [string, string[]] => {
          const [name = '', ...sources] = directive.split(' ');
          return [name, sources];
        }),
    );
    expect(directives.has('worker-src')).toBe(false);
    expect(directives.has('child-src')).toBe(false);
    expect(directives.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    // The worker's own script is served with the same headers, so inside it hash-wasm may compile too.
  });

  describe('with a built site', () => {
    let siteDir = '';
    const files: Readonly<Record<string, string>> = {
      'index.html': '<!doctype html><title>Parley</title>',
      'config.json': JSON.stringify({ signaling: { mode: 'parley', urls: ['wss://signal.example.org:8443/ws'] } }),
      'assets/app-3f2a.js': 'console.log(1);',
      'assets/app-3f2a.css': 'body{}',
      'assets/crypto-9c1d.wasm': '\0asm',
      'assets/app-3f2a.js.map': '{}',
      'assets/font-1.woff2': 'w2',
      'icon.svg': '<svg/>',
      'favicon.ico': 'ico',
      'logo.png': 'png',
      'robots.txt': 'User-agent: *',
    };

    beforeAll(() => {
      const parent = path.join(scratchDir(), 'built');
      siteDir = path.join(parent, 'site');
      mkdirSync(path.join(siteDir, 'assets'), { recursive: true });
      for (const [name, content] of Object.entries(files)) writeFileSync(path.join(siteDir, name), content);
      writeFileSync(path.join(parent, 'package.json'), '{"secret":"OUTSIDE-THE-SITE"}');
      symlinkSync(path.join(parent, 'package.json'), path.join(siteDir, 'linked.json'));
    });

    const csp = BASE_CSP.replace("connect-src 'self'", "connect-src 'self' wss://signal.example.org:8443 https://signal.example.org:8443");

    it.each([
      ['/', 'index.html', 'text/html; charset=utf-8', 'no-cache'],
      ['/index.html', 'index.html', 'text/html; charset=utf-8', 'no-cache'],
      ['/config.json', 'config.json', 'application/json; charset=utf-8', 'no-cache'],
      ['/assets/app-3f2a.js', 'assets/app-3f2a.js', 'text/javascript; charset=utf-8', 'public, max-age=31536000, immutable'],
      ['/assets/app-3f2a.css', 'assets/app-3f2a.css', 'text/css; charset=utf-8', 'public, max-age=31536000, immutable'],
      ['/assets/crypto-9c1d.wasm', 'assets/crypto-9c1d.wasm', 'application/wasm', 'public, max-age=31536000, immutable'],
      ['/assets/app-3f2a.js.map', 'assets/app-3f2a.js.map', 'application/json; charset=utf-8', 'public, max-age=31536000, immutable'],
      ['/assets/font-1.woff2', 'assets/font-1.woff2', 'font/woff2', 'public, max-age=31536000, immutable'],
      ['/icon.svg', 'icon.svg', 'image/svg+xml', 'no-cache'],
      ['/favicon.ico?v=2', 'favicon.ico', 'image/x-icon', 'no-cache'],
      ['/logo.png', 'logo.png', 'image/png', 'no-cache'],
      ['/robots.txt', 'robots.txt', 'text/plain; charset=utf-8', 'no-cache'],
    ])('serves %s with its type, caching and the configured CSP', async (target, file, type, cacheControl) => {
      const server = await start({ STATIC_DIR: siteDir });
      const result = await request(server.url, target);
      expect(result.status).toBe(200);
      expect(result.body).toBe(files[file]);
      expect(result.headers['content-type']).toBe(type);
      expect(result.headers['cache-control']).toBe(cacheControl);
      expectSecurityHeaders(result, csp);
    });

    it('answers HEAD with headers and no body', async () => {
      const server = await start({ STATIC_DIR: siteDir });
      const result = await request(server.url, '/index.html', 'HEAD');
      expect(result.status).toBe(200);
      expect(result.body).toBe('');
      expect(result.headers['content-length']).toBe(String(files['index.html']?.length));
    });

    it.each([
      '/../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E%2Fpackage.json',
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/..%5cpackage.json',
      '/index.html%00.txt',
      '/linked.json',
      '/assets/',
      '/assets',
    ])('never serves anything outside the site or a directory for %s', async (target) => {
      const server = await start({ STATIC_DIR: siteDir });
      const result = await request(server.url, target);
      expect([400, 404]).toContain(result.status);
      expect(result.body).not.toContain('OUTSIDE-THE-SITE');
      expectSecurityHeaders(result, csp);
    });
  });

  it('maps request targets to files inside the site and refuses the rest before touching the disk', () => {
    expect(resolveRequestPath('/srv/site', '/')).toEqual({ kind: 'file', urlPath: '/index.html', filePath: '/srv/site/index.html' });
    expect(resolveRequestPath('/srv/site', '/assets/a%20b.js?x=1')).toEqual({
      kind: 'file',
      urlPath: '/assets/a b.js',
      filePath: '/srv/site/assets/a b.js',
    });
    for (const target of ['/..', '/a/../../b', '/%2e%2e/b', '/./a', '/a%5c..%5cb', '/a%00', '/%E0%A4%A', 'a.js', '//']) {
      expect(resolveRequestPath('/srv/site', target).kind, target).toBe('bad-request');
    }
  });

  it('reads the CSP connect origins only from the signaling URLs of a config.json the page would accept', () => {
    const of = (urls: unknown): string => JSON.stringify({ signaling: { mode: 'parley', urls } });
    expect(signalingOriginsFromSiteConfig(of(['wss://sig.example.net/ws']))).toEqual(['wss://sig.example.net', 'https://sig.example.net']);
    expect(signalingOriginsFromSiteConfig(of(['ws://10.0.0.2:8080/ws?x=1', 'wss://b.example/ws', 'ws://10.0.0.2:8080/other']))).toEqual([
      'ws://10.0.0.2:8080',
      'http://10.0.0.2:8080',
      'wss://b.example',
      'https://b.example',
    ]);
    expect(signalingOriginsFromSiteConfig(of([]))).toEqual([]);
    expect(signalingOriginsFromSiteConfig(of(['https://sig.example.net']))).toEqual([]);
    expect(signalingOriginsFromSiteConfig(of(['wss://a.example; script-src *']))).toEqual([]);
    expect(signalingOriginsFromSiteConfig(of([42]))).toEqual([]);
    expect(signalingOriginsFromSiteConfig('{"signalingUrl":"wss://old.example/ws"}')).toEqual([]);
    expect(signalingOriginsFromSiteConfig('not json')).toEqual([]);
    expect(signalingOriginsFromSiteConfig('["wss://x.example"]')).toEqual([]);
  });

  it('admits a configured PeerJS broker to connect-src, and nothing from a broker block the page would refuse', () => {
    const of = (signaling: unknown): string => JSON.stringify({ signaling });
    expect(signalingOriginsFromSiteConfig(of({ mode: 'peerjs', host: 'broker.example.org', port: 443, path: '/app' }))).toEqual(['wss://broker.example.org:443']);
    expect(signalingOriginsFromSiteConfig(of({ mode: 'peerjs', host: '127.0.0.1', port: 9000, secure: false }))).toEqual(['ws://127.0.0.1:9000']);
    expect(signalingOriginsFromSiteConfig(of({ mode: 'peerjs', host: 'a.example; script-src *', port: 443 }))).toEqual([]);
    expect(signalingOriginsFromSiteConfig(of({ mode: 'peerjs', host: 'a.example', port: 443, urls: ['wss://b.example/ws'] }))).toEqual([]);
  });

  it('keeps the base CSP when config.json names no usable signaling URL', async () => {
    const dir = path.join(scratchDir(), 'bad-config');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ signaling: { mode: 'parley', urls: ['https://elsewhere.example'] } }));
    const server = await start({ STATIC_DIR: dir });
    expectSecurityHeaders(await request(server.url, '/healthz'));
  });
});

describe('TLS', () => {
  let certPath = '';
  let keyPath = '';

  beforeAll(() => {
    const dir = path.join(scratchDir(), 'tls');
    mkdirSync(dir);
    certPath = path.join(dir, 'c.pem');
    keyPath = path.join(dir, 'k.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', keyPath, '-out', certPath],
      { stdio: 'ignore' },
    );
  });

  it('serves HTTPS with HSTS and relays over WSS on the same port', async () => {
    const server = await start({ TLS_CERT: certPath, TLS_KEY: keyPath });
    expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
    const health = await request(server.url, '/healthz');
    expect(health.status).toBe(200);
    expect(health.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(health.headers['content-security-policy']).toBe(BASE_CSP);
    const { clients: members, ids } = await roomOf(server, 2);
    await expectRelay(at(members, 0), at(ids, 0), at(members, 1), at(ids, 1));
    await expectRelay(at(members, 1), at(ids, 1), at(members, 0), at(ids, 0));
  });

  it('takes https:// as the scheme of its own origin', async () => {
    const server = await start({ TLS_CERT: certPath, TLS_KEY: keyPath });
    await (await connect(server, { origin: server.url })).join(newRoomId());
    await expect(connect(server, { origin: server.url.replace('https:', 'http:') })).rejects.toThrow(/403/);
  });

  it('fails to start with a plain message when a TLS file is missing', async () => {
    const parsed = parseConfig({ PORT: '0', LOG: 'silent', TLS_CERT: certPath, TLS_KEY: path.join(scratchDir(), 'missing.pem') });
    if (!parsed.ok) throw new Error(parsed.message);
    await expect(startServer(parsed.config)).rejects.toThrow(/TLS_KEY/);
  });
});

describe('logging and shutdown', () => {
  it('logs opens, closes and refusals with peer ids, never a blob or a room id', async () => {
    const lines: string[] = [];
    const server = await start({ LOG: 'info' }, (line) => lines.push(line));
    const room = newRoomId();
    const a = await connect(server);
    const b = await connect(server);
    const idA = (await a.join(room)).self;
    const idB = (await b.join(room)).self;
    await a.nextOfType('peer-joined');
    const blob = newBlob();
    a.signal(idB, blob);
    await b.nextOfType('signal');
    a.signal('q'.repeat(22), newBlob());
    expect(await a.nextError()).toBe('unknown-peer');
    a.close();
    await waitUntil(() => lines.some((line) => line.includes(`close peer=${idA}`)), 2000, 'close line');
    const log = lines.join('\n');
    expect(log).toContain(`open peer=${idA}`);
    expect(log).toContain(`open peer=${idB}`);
    expect(log).toMatch(new RegExp(`refused peer=${idA} code=unknown-peer`));
    expect(log).not.toContain(blob);
    expect(log).not.toContain(room);
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
  });

  it('logs nothing when LOG=silent', async () => {
    const lines: string[] = [];
    const server = await start({ LOG: 'silent' }, (line) => lines.push(line));
    const { clients: members, ids } = await roomOf(server, 2);
    await expectRelay(at(members, 0), at(ids, 0), at(members, 1), at(ids, 1));
    at(members, 0).sendRaw('junk');
    await at(members, 0).nextError();
    expect(lines).toEqual([]);
  });

  it('close() ends every socket and leaves no timer behind', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const server = await start({ JOIN_TIMEOUT_MS: '60000', HEARTBEAT_INTERVAL_MS: '60000' });
    const waiting = await connect(server);
    const { clients: members } = await roomOf(server, 2);
    await server.close();
    await Promise.all([waiting.closed, ...members.map((member) => member.closed)]);
    const timersAfter = process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    expect(timersAfter).toBeLessThanOrEqual(timersBefore);
    await expect(request(server.url, '/healthz')).rejects.toThrow();
  });
});
