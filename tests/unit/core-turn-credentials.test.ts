/** What the page accepts from /turn-credentials, and the words for a member that could not be reached. */
import { describe, expect, it } from 'vitest';
import { parseTurnCredentials } from '../../src/core/protocol/turnCredentials.ts';
import { memberFailureText } from '../../src/ui/statusText.ts';

const server = { urls: ['turn:10.77.0.1:3478?transport=udp'], username: '1700000000:parley', credential: 'c2VjcmV0' };

describe('parseTurnCredentials', () => {
  it('takes TURN servers with credentials and their lifetime, or an empty list for a site without TURN', () => {
    expect(parseTurnCredentials({ iceServers: [server], ttlSeconds: 3600 })).toEqual({ iceServers: [server], ttlSeconds: 3600 });
    expect(parseTurnCredentials({ iceServers: [], ttlSeconds: 0 })).toEqual({ iceServers: [], ttlSeconds: 0 });
  });

  it.each([
    ['not an object', null],
    ['an extra key', { iceServers: [], ttlSeconds: 0, more: 1 }],
    ['a missing lifetime', { iceServers: [server] }],
    ['a lifetime of zero with servers', { iceServers: [server], ttlSeconds: 0 }],
    ['a negative lifetime', { iceServers: [], ttlSeconds: -1 }],
    ['a fractional lifetime', { iceServers: [server], ttlSeconds: 1.5 }],
    ['a lifetime over a day', { iceServers: [server], ttlSeconds: 86_401 }],
    ['a STUN server', { iceServers: [{ urls: ['stun:10.77.0.1:3478'], username: 'u', credential: 'c' }], ttlSeconds: 60 }],
    ['no credential', { iceServers: [{ urls: ['turn:10.77.0.1:3478'], username: 'u' }], ttlSeconds: 60 }],
    ['a URL that is not ICE', { iceServers: [{ ...server, urls: ['https://evil.example'] }], ttlSeconds: 60 }],
    ['too many servers', { iceServers: Array.from({ length: 9 }, () => server), ttlSeconds: 60 }],
  ])('refuses %s', (_what, value) => {
    expect(parseTurnCredentials(value)).toHaveProperty('error');
  });
});

describe('words for an unreachable member', () => {
  const text = (relayServer: boolean, relayOnly: boolean): string => memberFailureText({ kind: 'no-connection', relay: { relayServer, relayOnly } });

  it('say plainly that the site has no relay server when that is what stood in the way', () => {
    expect(text(false, false)).toMatch(/blocks direct connections.*no relay \(TURN\) server/);
    expect(text(false, true)).toMatch(/“Always relay” is on, but this site has no relay server/);
    expect(text(true, false)).toMatch(/not even through the relay server/);
    expect(text(true, true)).toMatch(/through the relay server \(you chose “Always relay”\)/);
    expect(new Set([text(false, false), text(false, true), text(true, false), text(true, true)]).size).toBe(4);
  });
});
