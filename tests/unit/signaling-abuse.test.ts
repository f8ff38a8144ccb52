/**
 * The signaling server under attack, through real sockets against a real server: floods, oversized and unfinished
 * messages, clients that stop reading, one host holding many connections, pages of other sites, requests that never
 * finish, and attempts to flood the log.
 */

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import type { RunningServer } from '../../signaling/server.ts';
import type { ServerFrame } from '../../src/core/protocol/signaling.ts';
import { newBlob, newRoomId, waitUntil, wsUrl, type TestClient } from '../fixtures/signalingClient.ts';
import { at, expectRelay, signalingHarness } from './support/signalingHarness.ts';

const { start, connect, roomOf } = signalingHarness();

/** Another loopback address (all of 127/8 is loopback on Linux): a second host, as far as the server can tell. */
const SECOND_ADDRESS = '127.0.0.2';

/** Waits that involve the server's own timers (request timeout plus Node's one-second check). */
const SLOW_WAIT_MS = 5000;

const rawSockets: net.Socket[] = [];

afterEach(() => {
  for (const socket of rawSockets.splice(0)) socket.destroy();
});

type RawConnection = { readonly socket: net.Socket; readonly isClosed: () => boolean; readonly received: () => string };

/** A plain TCP connection to the server, for requests that a WebSocket client would never send. */
function rawConnection(server: RunningServer, localAddress?: string): Promise<RawConnection> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port), ...(localAddress === undefined ? {} : { localAddress }) });
    rawSockets.push(socket);
    let closed = false;
    let received = '';
    socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, isClosed: () => closed, received: () => received }));
    socket.once('error', reject);
  });
}

type UpgradeAnswer = { readonly status: number; readonly headers: Readonly<Record<string, string | string[] | undefined>> };

/** Asks for a WebSocket with these options and says how the server answered: 101 if it upgraded, else its HTTP status. */
function upgrade(server: RunningServer, options: ClientOptions): Promise<UpgradeAnswer> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(server.url), { rejectUnauthorized: false, ...options });
    socket.once('open', () => {
      socket.terminate();
      resolve({ status: 101, headers: {} });
    });
    socket.once('unexpected-response', (request, response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers });
      request.destroy();
    });
    socket.once('error', reject);
  });
}

/** A client that stops reading: nothing the server sends reaches it, not even pings. */
function stopReading(client: TestClient): void {
  client.socket.pause();
}

describe('frame size', () => {
  it('closes with 1009 a socket that sends one byte more than MAX_FRAME_BYTES, without touching its room mate', async () => {
    const server = await start({ MAX_FRAME_BYTES: '1024' });
    const { clients: members, ids } = await roomOf(server, 2);
    at(members, 0).sendRaw('x'.repeat(1025));
    expect((await at(members, 0).closed).code).toBe(1009);
    expect(await at(members, 1).next()).toEqual({ v: 1, type: 'peer-left', peer: at(ids, 0) });
    const newcomer = await connect(server);
    expect((await newcomer.join(newRoomId())).peers).toEqual([]);
  });

  it('relays a frame of exactly MAX_FRAME_BYTES', async () => {
    const server = await start({ MAX_FRAME_BYTES: '1024' });
    const { clients: members, ids } = await roomOf(server, 2);
    const envelope = JSON.stringify({ v: 1, type: 'signal', to: at(ids, 1), blob: '' }).length;
    const blob = 'b'.repeat(1024 - envelope);
    at(members, 0).signal(at(ids, 1), blob);
    expect(await at(members, 1).next()).toEqual({ v: 1, type: 'signal', from: at(ids, 0), blob });
  });

  it('closes with 1009 a socket whose unfinished fragments pass MAX_FRAME_BYTES, so none are held beyond it', async () => {
    const server = await start({ MAX_FRAME_BYTES: '1024' });
    const { clients: members, ids } = await roomOf(server, 2);
    const parker = at(members, 0);
    // Two fragments of one text message, never finished: 1200 bytes in all.
    parker.socket.send('x'.repeat(600), { fin: false });
    parker.socket.send('x'.repeat(600), { fin: false });
    expect((await parker.closed).code).toBe(1009);
    expect(await at(members, 1).next()).toEqual({ v: 1, type: 'peer-left', peer: at(ids, 0) });
  });
});

describe('floods and clients that stop reading', () => {
  it('drops frames beyond the rate, relaying only what the rate allows and answering rate-limited once rather than per frame', async () => {
    const server = await start({ MAX_FRAMES_PER_SECOND: '20', MAX_ROOM_MEMBERS: '3' });
    const busy = await roomOf(server, 3);
    const quiet = await roomOf(server, 2);
    const [flooder, receiver, witness] = busy.clients;
    if (flooder === undefined || receiver === undefined || witness === undefined) throw new Error('setup');
    const sent = 60;
    for (let i = 0; i < sent; i++) flooder.signal(at(busy.ids, 1), newBlob());
    await flooder.sync();
    // Handled after every frame of the flooder, so it reaches the receiver after all that was relayed from them.
    const marker = newBlob();
    witness.signal(at(busy.ids, 1), marker);
    const relayedFrom: string[] = [];
    for (;;) {
      const frame = await receiver.nextOfType('signal');
      if (frame.blob === marker) break;
      relayedFrom.push(frame.from);
    }
    expect(relayedFrom.every((from) => from === at(busy.ids, 0))).toBe(true);
    // The join used one token of twenty; the burst may earn back one more while it is being sent.
    expect(relayedFrom.length).toBeGreaterThanOrEqual(19);
    expect(relayedFrom.length).toBeLessThanOrEqual(21);
    const errors = flooder.pending;
    expect(errors.every((frame) => frame.type === 'error' && frame.code === 'rate-limited')).toBe(true);
    // Some forty frames were dropped within a few milliseconds: one reply (two, should a second boundary fall in between).
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThanOrEqual(2);
    await expectRelay(at(quiet.clients, 0), at(quiet.ids, 0), at(quiet.clients, 1), at(quiet.ids, 1));
    await expectRelay(at(quiet.clients, 1), at(quiet.ids, 1), at(quiet.clients, 0), at(quiet.ids, 0));
  });

  it('answers each kind of mistake at most once a second, however often it is repeated, and the connection stays usable', async () => {
    const server = await start({ MAX_FRAMES_PER_SECOND: '1000' });
    const client = await connect(server);
    for (let i = 0; i < 30; i++) {
      client.sendRaw('not json');
      client.send({ v: 1, type: 'shout' });
      client.signal('p'.repeat(22), newBlob());
    }
    await client.sync();
    const codes = client.pending.map((frame) => (frame.type === 'error' ? frame.code : frame.type));
    for (const code of ['malformed', 'unknown-type', 'not-joined']) {
      const replies = codes.filter((seen) => seen === code).length;
      expect(replies, code).toBeGreaterThanOrEqual(1);
      expect(replies, code).toBeLessThanOrEqual(2);
    }
    expect(codes.length).toBeLessThanOrEqual(6);
    for (let i = 0; i < codes.length; i++) await client.next();
    expect((await client.join(newRoomId())).peers).toEqual([]);
  });

  it('closes a connection that keeps flooding with 1008, leaving other rooms working', async () => {
    const server = await start({ MAX_FRAMES_PER_SECOND: '5' });
    const busy = await roomOf(server, 2);
    const quiet = await roomOf(server, 2);
    const [flooder, mate] = busy.clients;
    if (flooder === undefined || mate === undefined) throw new Error('setup');
    for (let i = 0; i < 100; i++) flooder.signal(at(busy.ids, 1), newBlob());
    expect((await flooder.closed).code).toBe(1008);
    expect(flooder.pending.at(-1)).toMatchObject({ type: 'error', code: 'rate-limited', message: expect.stringMatching(/closing/) });
    const seen: ServerFrame[] = [];
    for (;;) {
      const frame = await mate.next();
      seen.push(frame);
      if (frame.type === 'peer-left') break;
    }
    expect(seen.length).toBeLessThanOrEqual(6);
    expect(at(seen, seen.length - 1)).toEqual({ v: 1, type: 'peer-left', peer: at(busy.ids, 0) });
    await expectRelay(at(quiet.clients, 0), at(quiet.ids, 0), at(quiet.clients, 1), at(quiet.ids, 1));
  });

  it('cuts a client that stops reading even when it sends pongs of its own, and its room mate hears that it left', async () => {
    const server = await start({ HEARTBEAT_INTERVAL_MS: '50' });
    const { clients: members, ids } = await roomOf(server, 2);
    const [sleeper, mate] = [at(members, 0), at(members, 1)];
    stopReading(sleeper);
    // It cannot see our pings, so it answers blindly; and it keeps the server busy with mistakes meanwhile.
    const blind = setInterval(() => {
      sleeper.socket.pong();
      sleeper.sendRaw('not json');
    }, 10);
    try {
      expect(await mate.next()).toEqual({ v: 1, type: 'peer-left', peer: at(ids, 0) });
    } finally {
      clearInterval(blind);
    }
  });

  it('cuts a member that stops reading once what is queued for it passes 16 frames’ worth', async () => {
    const server = await start({ MAX_FRAME_BYTES: '4096', MAX_FRAMES_PER_SECOND: '10000' });
    const { clients: members, ids } = await roomOf(server, 2);
    const [sleeper, sender] = [at(members, 0), at(members, 1)];
    stopReading(sleeper);
    const blob = 'b'.repeat(4000);
    // The operating system buffers a few MiB of a loopback connection before the server's own queue grows at all.
    for (let sent = 0; sender.pending.length === 0; sent += 50) {
      if (sent > 10_000) throw new Error('the server kept queueing for a member that does not read');
      for (let i = 0; i < 50; i++) sender.signal(at(ids, 0), blob);
      await sender.sync();
    }
    expect(await sender.next()).toEqual({ v: 1, type: 'peer-left', peer: at(ids, 0) });
  });
});

describe('per-address limits', () => {
  it('lets one address hold only MAX_CONNECTIONS_PER_IP WebSockets, while a second address still joins', async () => {
    const server = await start({ MAX_CONNECTIONS: '4', MAX_CONNECTIONS_PER_IP: '3' });
    const pair = await roomOf(server, 2);
    await (await connect(server)).join(newRoomId());
    for (let i = 0; i < 2; i++) {
      const extra = await connect(server);
      expect(await extra.nextError()).toBe('server-busy');
      expect((await extra.closed).code).toBe(1013);
    }
    const neighbour = await connect(server, { localAddress: SECOND_ADDRESS });
    expect((await neighbour.join(newRoomId())).peers).toEqual([]);
    // The address has its share back as soon as one of its connections is gone.
    at(pair.clients, 0).close();
    expect(await at(pair.clients, 1).next()).toEqual({ v: 1, type: 'peer-left', peer: at(pair.ids, 0) });
    expect((await (await connect(server)).join(newRoomId())).peers).toEqual([]);
  });

  it('ignores X-Forwarded-For without TRUST_PROXY: a client cannot pose as many addresses', async () => {
    const server = await start({ MAX_CONNECTIONS_PER_IP: '2' });
    for (const forwarded of ['198.51.100.1', '198.51.100.2']) {
      await (await connect(server, { headers: { 'X-Forwarded-For': forwarded } })).join(newRoomId());
    }
    const third = await connect(server, { headers: { 'X-Forwarded-For': '198.51.100.3' } });
    expect(await third.nextError()).toBe('server-busy');
  });

  it('with TRUST_PROXY, counts the address the proxy appended last to X-Forwarded-For, never one a client wrote before it', async () => {
    const server = await start({ TRUST_PROXY: 'true', MAX_CONNECTIONS_PER_IP: '2' });
    const via = (chain: string): ClientOptions => ({ headers: { 'X-Forwarded-For': chain } });
    // One visitor (203.0.113.5) behind our proxy, writing whatever it likes to the left of what the proxy appends.
    await (await connect(server, via('203.0.113.5'))).join(newRoomId());
    await (await connect(server, via('198.51.100.1, 203.0.113.5'))).join(newRoomId());
    const third = await connect(server, via('198.51.100.9, 10.0.0.1, 203.0.113.5'));
    expect(await third.nextError()).toBe('server-busy');
    // Another visitor, even one that claims to be the first, has a share of its own.
    expect((await (await connect(server, via('203.0.113.5, 203.0.113.77'))).join(newRoomId())).peers).toEqual([]);
  });

  it('with TRUST_PROXY, counts IPv6 visitors per /64', async () => {
    const server = await start({ TRUST_PROXY: 'true', MAX_CONNECTIONS_PER_IP: '2' });
    const via = (address: string): ClientOptions => ({ headers: { 'X-Forwarded-For': address } });
    await (await connect(server, via('2001:db8:1:2::a'))).join(newRoomId());
    await (await connect(server, via('2001:db8:1:2:ffff:ffff:ffff:fffe'))).join(newRoomId());
    const sameNetwork = await connect(server, via('2001:db8:1:2:1234::1'));
    expect(await sameNetwork.nextError()).toBe('server-busy');
    expect((await (await connect(server, via('2001:db8:1:3::a'))).join(newRoomId())).peers).toEqual([]);
  });
});

describe('origin check', () => {
  it('refuses with a plain 403, before the upgrade, a page of another origin; admits its own origin and clients that send none', async () => {
    const server = await start();
    const own = server.url;
    const port = new URL(own).port;
    const refused = await upgrade(server, { origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toMatch(/^text\/plain/);
    expect(refused.headers['content-security-policy']).toBeDefined();
    for (const origin of ['null', `https://127.0.0.1:${port}`, `http://127.0.0.1:${Number(port) + 1}`, `http://localhost:${port}`, `${own}/path`]) {
      expect((await upgrade(server, { origin })).status, origin).toBe(403);
    }
    expect((await upgrade(server, { origin: own })).status).toBe(101);
    // The site's origin is whatever host the browser asked for, at the scheme this server serves.
    expect((await upgrade(server, { origin: `http://localhost:${port}`, headers: { Host: `localhost:${port}` } })).status).toBe(101);
    expect((await upgrade(server, {})).status).toBe(101);
  });

  it('admits the origins listed in ALLOWED_ORIGINS too, for a site served from another host', async () => {
    const server = await start({ ALLOWED_ORIGINS: 'https://static.example.org, https://chat.example.net:8443' });
    expect((await upgrade(server, { origin: 'https://static.example.org' })).status).toBe(101);
    expect((await upgrade(server, { origin: 'https://chat.example.net:8443' })).status).toBe(101);
    expect((await upgrade(server, { origin: 'https://chat.example.net' })).status).toBe(403);
    expect((await upgrade(server, { origin: 'http://static.example.org' })).status).toBe(403);
    expect((await upgrade(server, { origin: server.url })).status).toBe(101);
  });

  it('with TRUST_PROXY, takes the site’s origin from X-Forwarded-Proto and X-Forwarded-Host; without it, ignores them', async () => {
    const proxied = { origin: 'https://chat.example.org', headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'chat.example.org' } };
    const direct = await start();
    expect((await upgrade(direct, proxied)).status).toBe(403);
    const behindProxy = await start({ TRUST_PROXY: 'true' });
    expect((await upgrade(behindProxy, proxied)).status).toBe(101);
    // The proxy's own entries are the last ones; a client's to their left change nothing.
    const forgedHost = { origin: 'https://evil.example', headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example, chat.example.org' } };
    expect((await upgrade(behindProxy, forgedHost)).status).toBe(403);
    // A proxy that passes the browser's Host on (and its scheme) works without X-Forwarded-Host.
    const hostOnly = { origin: 'https://chat.example.org', headers: { 'X-Forwarded-Proto': 'https', Host: 'chat.example.org' } };
    expect((await upgrade(behindProxy, hostOnly)).status).toBe(101);
  });
});

describe('before the upgrade', () => {
  it('answers 408 and closes a connection that does not finish its request within REQUEST_TIMEOUT_MS', async () => {
    const server = await start({ REQUEST_TIMEOUT_MS: '200' });
    const slow = await rawConnection(server);
    slow.socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    const silent = await rawConnection(server);
    await waitUntil(() => slow.isClosed() && silent.isClosed(), SLOW_WAIT_MS, 'unfinished requests to be closed');
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('lets one address hold only twice MAX_CONNECTIONS_PER_IP TCP connections, finished or not, while a second address still joins', async () => {
    const server = await start({ MAX_CONNECTIONS_PER_IP: '2' });
    const held = await Promise.all(Array.from({ length: 10 }, () => rawConnection(server)));
    for (const connection of held) connection.socket.write('GET /ws HTTP/1.1\r\n');
    await waitUntil(() => held.filter((connection) => connection.isClosed()).length === 6, SLOW_WAIT_MS, 'six connections cut');
    const neighbour = await connect(server, { localAddress: SECOND_ADDRESS });
    expect((await neighbour.join(newRoomId())).peers).toEqual([]);
    expect(held.filter((connection) => !connection.isClosed())).toHaveLength(4);
  });

  it('holds at most twice MAX_CONNECTIONS TCP connections in all, in whatever state', async () => {
    // Behind a proxy every connection comes from the proxy, so only the global bound applies.
    const server = await start({ MAX_CONNECTIONS: '2', TRUST_PROXY: 'true' });
    const held = await Promise.all(Array.from({ length: 6 }, () => rawConnection(server)));
    await waitUntil(() => held.filter((connection) => connection.isClosed()).length === 2, SLOW_WAIT_MS, 'two connections dropped');
    expect(held.filter((connection) => !connection.isClosed())).toHaveLength(4);
  });
});

describe('the log cannot be flooded', () => {
  it('logs each kind of refusal once per connection per window, and when the connection closes how many it left out', async () => {
    const lines: string[] = [];
    const server = await start({ LOG: 'info', MAX_FRAMES_PER_SECOND: '1000' }, (line) => lines.push(line));
    const client = await connect(server);
    for (let i = 0; i < 20; i++) client.sendRaw('not json');
    for (let i = 0; i < 5; i++) client.send({ v: 1, type: 'shout' });
    await client.sync();
    while (client.pending.length > 0) await client.next();
    const id = (await client.join(newRoomId())).self;
    client.close();
    await waitUntil(() => lines.some((line) => line.includes(`close peer=${id}`)), 2000, 'the close line');
    const about = (text: string): string[] => lines.filter((line) => line.includes(text));
    expect(about(`refused peer=${id} code=malformed`)).toHaveLength(1);
    expect(about(`refused peer=${id} code=unknown-type`)).toHaveLength(1);
    expect(about(`suppressed peer=${id} code=malformed count=19`)).toHaveLength(1);
    expect(about(`suppressed peer=${id} code=unknown-type count=4`)).toHaveLength(1);
    expect(lines).toHaveLength(6);
  });

  it('logs a protocol violation as the reason on its close line, not as a line of its own', async () => {
    const lines: string[] = [];
    const server = await start({ LOG: 'info', MAX_FRAME_BYTES: '1024' }, (line) => lines.push(line));
    const client = await connect(server);
    client.sendRaw('x'.repeat(1025));
    expect((await client.closed).code).toBe(1009);
    await waitUntil(() => lines.some((line) => line.includes('close peer=')), 2000, 'the close line');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/ close peer=\S+ code=\d+ reason="Max payload size exceeded"$/);
  });

  it('logs connections it turns away once per code per window for the whole server, and the rest as counts at shutdown', async () => {
    const lines: string[] = [];
    const server = await start({ LOG: 'info', MAX_CONNECTIONS: '1' }, (line) => lines.push(line));
    await (await connect(server)).join(newRoomId());
    for (let i = 0; i < 5; i++) {
      const extra = await connect(server);
      await extra.closed;
    }
    for (let i = 0; i < 3; i++) expect((await upgrade(server, { origin: 'https://evil.example' })).status).toBe(403);
    await server.close();
    const about = (text: string): string[] => lines.filter((line) => line.includes(text));
    expect(about('turned-away code=server-busy')).toHaveLength(1);
    expect(about('turned-away code=origin-refused')).toHaveLength(1);
    expect(about('suppressed code=server-busy count=4')).toHaveLength(1);
    expect(about('suppressed code=origin-refused count=2')).toHaveLength(1);
    // Neither the address nor the other site appears.
    expect(lines.join('\n')).not.toMatch(/127\.0\.0\.1|evil\.example/);
  });
});

describe('timeouts and limits that were there before', () => {
  it('closes a socket that has not joined within the join timeout, but not one that joined', async () => {
    const server = await start({ JOIN_TIMEOUT_MS: '150' });
    // Joined first, so had their join timers survived the join they would have fired before the idle one's.
    const { clients: members, ids } = await roomOf(server, 2);
    const idle = await connect(server);
    expect(await idle.nextError()).toBe('idle-timeout');
    expect((await idle.closed).code).toBe(1000);
    await expectRelay(at(members, 0), at(ids, 0), at(members, 1), at(ids, 1));
    expect(at(members, 0).socket.readyState).toBe(WebSocket.OPEN);
  });

  it('terminates a client that stops answering heartbeats and keeps those that answer', async () => {
    const server = await start({ HEARTBEAT_INTERVAL_MS: '50' });
    const room = newRoomId();
    const alive = await connect(server);
    const idAlive = (await alive.join(room)).self;
    // A client that never pongs looks, to the server, exactly like one whose network went away.
    const dead = await connect(server, { autoPong: false });
    const idDead = (await dead.join(room)).self;
    await alive.nextOfType('peer-joined');
    let pingsSeen = 0;
    alive.socket.on('ping', () => (pingsSeen += 1));
    expect(await alive.next()).toEqual({ v: 1, type: 'peer-left', peer: idDead });
    expect((await dead.closed).code).toBe(1006);
    // A liveness bound, not a speed check: on a loaded machine the timers of a 50 ms heartbeat drift.
    await waitUntil(() => pingsSeen >= 3, SLOW_WAIT_MS, 'more heartbeats');
    const newcomer = await connect(server);
    const idNew = (await newcomer.join(room)).self;
    await alive.nextOfType('peer-joined');
    await expectRelay(newcomer, idNew, alive, idAlive);
  }, 15_000);

  it('refuses connections beyond MAX_CONNECTIONS with server-busy, and admits again once one leaves', async () => {
    const server = await start({ MAX_CONNECTIONS: '2' });
    const { clients: members, ids } = await roomOf(server, 2);
    const extra = await connect(server);
    expect(await extra.nextError()).toBe('server-busy');
    expect((await extra.closed).code).toBe(1013);
    at(members, 0).close();
    expect(await at(members, 1).next()).toEqual({ v: 1, type: 'peer-left', peer: at(ids, 0) });
    const admitted = await connect(server);
    expect((await admitted.join(newRoomId())).peers).toEqual([]);
  });

  it('rejects WebSocket upgrades on any path but /ws', async () => {
    const server = await start();
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/elsewhere`);
    const error = await new Promise<Error>((resolve) => socket.once('error', resolve));
    expect(error.message).toMatch(/404/);
  });
});
