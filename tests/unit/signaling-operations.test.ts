/** The server's operational endpoints, on one instance without Redis: /readyz, /metrics and /turn-credentials. */

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyedTokenBuckets } from '../../signaling/rateLimit.ts';
import { parseTurnCredentials } from '../../src/core/protocol/turnCredentials.ts';
import { newBlob, newRoomId, request } from '../fixtures/signalingClient.ts';
import { at, signalingHarness } from './support/signalingHarness.ts';

const { start, connect, roomOf } = signalingHarness();

const SECRET = 'test-secret-of-some-length';
const TURN_ENV = { TURN_URLS: 'turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp', TURN_SECRET: SECRET, TURN_CREDENTIAL_TTL_S: '600' };

/** A POST as a page of `origin` makes it (browsers always send Origin with a POST). */
function askForCredentials(url: string, origin: string | null, extra: Record<string, string> = {}) {
  return request(url, '/turn-credentials', 'POST', { ...(origin === null ? {} : { Origin: origin }), ...extra });
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/readyz', () => {
  it('says ready on one instance without Redis, beside /healthz', async () => {
    const server = await start();
    const ready = await request(server.url, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'ready' });
    expect(ready.headers['cache-control']).toBe('no-store');
  });
});

describe('/metrics', () => {
  it('counts connections, rooms, relayed signals and refusals by code in the Prometheus text format', async () => {
    const server = await start({ MAX_CONNECTIONS: '3' });
    const { clients, ids } = await roomOf(server, 2);
    at(clients, 0).signal(at(ids, 1), newBlob());
    await at(clients, 1).nextOfType('signal');
    at(clients, 0).sendRaw('not json');
    await at(clients, 0).nextError();
    const lonely = await connect(server);
    await lonely.join(newRoomId());
    const refused = await connect(server);
    await refused.closed;

    const result = await request(server.url, '/metrics');
    expect(result.status).toBe(200);
    expect(result.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = result.body;
    expect(metricValue(text, 'parley_connections')).toBe(3);
    expect(metricValue(text, 'parley_rooms')).toBe(2);
    expect(metricValue(text, 'parley_signals_relayed_total{path="local"}')).toBe(1);
    expect(metricValue(text, 'parley_refusals_total{code="malformed"}')).toBe(1);
    expect(metricValue(text, 'parley_refusals_total{code="server-busy"}')).toBe(1);
    // Without Redis there is no Redis to report on.
    expect(text).not.toContain('parley_redis_up');
    // Every sample belongs to a declared metric, and nothing identifies a room or a person.
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) parley_[a-z_]+ .+|parley_[a-z_]+(\{[a-z]+="[a-z-]+"\})? [0-9.e+-]+)$/);
  });
});

describe('/turn-credentials', () => {
  it('hands a page of the site short-lived credentials in the shared-secret scheme coturn checks', async () => {
    const server = await start(TURN_ENV);
    const before = Math.floor(Date.now() / 1000);
    const result = await askForCredentials(server.url, server.url);
    const after = Math.floor(Date.now() / 1000);
    expect(result.status).toBe(200);
    expect(result.headers['cache-control']).toBe('no-store');
    // What the browser makes of it: its own strict parser accepts it.
    const parsed = parseTurnCredentials(JSON.parse(result.body));
    if ('error' in parsed) throw new Error(parsed.error);
    expect(parsed).toMatchObject({ ttlSeconds: 600, iceServers: [{ urls: ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp'] }] });
    const { username = '', credential } = at(parsed.iceServers, 0);
    const expiry = Number(/^(\d+):parley$/.exec(username)?.[1]);
    expect(expiry).toBeGreaterThanOrEqual(before + 600);
    expect(expiry).toBeLessThanOrEqual(after + 600);
    expect(credential).toBe(createHmac('sha1', SECRET).update(username).digest('base64'));
    // No CORS header for the site's own origin: it needs none, and no one else gets one.
    expect(result.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers an empty list when no TURN server is configured', async () => {
    const server = await start();
    const result = await askForCredentials(server.url, server.url);
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ iceServers: [], ttlSeconds: 0 });
    expect(parseTurnCredentials(JSON.parse(result.body))).toEqual({ iceServers: [], ttlSeconds: 0 });
  });

  it('refuses GET, requests without Origin and pages of other sites; an allowed other origin gets CORS', async () => {
    const server = await start({ ...TURN_ENV, ALLOWED_ORIGINS: 'https://static.example.org' });
    expect((await request(server.url, '/turn-credentials', 'GET')).status).toBe(405);
    expect((await askForCredentials(server.url, null)).status).toBe(403);
    expect((await askForCredentials(server.url, 'https://evil.example')).status).toBe(403);
    expect((await askForCredentials(server.url, 'null')).status).toBe(403);
    const allowed = await askForCredentials(server.url, 'https://static.example.org');
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://static.example.org');
    expect(allowed.headers['vary']).toBe('Origin');
    const metrics = (await request(server.url, '/metrics')).body;
    expect(metricValue(metrics, 'parley_refusals_total{code="origin-refused"}')).toBe(3);
    expect(metricValue(metrics, 'parley_turn_credentials_issued_total')).toBe(1);
  });

  it('is rate limited per address: a burst of 20, then 429 with Retry-After', async () => {
    const server = await start(TURN_ENV);
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push((await askForCredentials(server.url, server.url)).status);
    expect(statuses.slice(0, 20).every((status) => status === 200)).toBe(true);
    expect(statuses.slice(20)).toEqual([429, 429]);
    const limited = await askForCredentials(server.url, server.url);
    expect(limited.headers['retry-after']).toBe('60');
  });
});

describe('keyed token buckets', () => {
  it('refill over time, forget idle keys, and refuse new keys past the bound instead of growing', () => {
    const buckets = new KeyedTokenBuckets(2, 1 / 1000);
    expect([buckets.take('a', 0), buckets.take('a', 0), buckets.take('a', 0)]).toEqual([true, true, false]);
    expect(buckets.take('a', 1000)).toBe(true);
    expect(buckets.take('b', 1000)).toBe(true);
    const crowded = new KeyedTokenBuckets(1, 1 / 1000);
    for (let i = 0; i < KeyedTokenBuckets.MAX_KEYS; i++) crowded.take(`k${i}`, 0);
    expect(crowded.take('one-more', 0)).toBe(false);
    // Once they have refilled, idle keys are swept and new ones fit again.
    expect(crowded.take('one-more', 1000)).toBe(true);
  });
});
