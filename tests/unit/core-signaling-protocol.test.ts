import { describe, expect, it } from 'vitest';
import { ERROR_CODES, encodeFrame, parseClientFrame, parseServerFrame, type ClientFrame, type ServerFrame } from '../../src/core/protocol/signaling.ts';

const ROOM = 'AbCdEfGhIjKlMnOpQrSt-_';
const PEER = 'peer_01';
const BLOB = 'c2VhbGVkLWJsb2I';
const NONCE = 'Nn0_-nonce-of-22-chars';
const OTHER_NONCE = 'ZZZZZZZZZZZZZZZZZZZZZZ';
/** Values that are not a connection nonce: wrong length, outside base64url, or not a string. */
const BAD_NONCES: unknown[] = ['', 'short', `${NONCE}A`, NONCE.slice(1), `${NONCE.slice(0, 21)}=`, `${NONCE.slice(0, 21)}+`, `${NONCE.slice(0, 21)} `, 42, null, [NONCE]];

/** A probe token as the client makes one: 8 random bytes, base64url. */
const TOKEN = 'AAECAwQFBgc';
/** Values that are not a probe token: empty, too long, outside base64url, or not a string. */
const BAD_TOKENS: unknown[] = ['', `${NONCE}A`, 'a b', 'a+b', 'a=', 'tok\n', 7, null, [TOKEN], { token: TOKEN }];

const json = (value: unknown): string => JSON.stringify(value);

function expectMalformed(result: ReturnType<typeof parseClientFrame> | ReturnType<typeof parseServerFrame>, label: string): void {
  expect(result.ok, label).toBe(false);
  if (!result.ok) expect(result.error.code, label).toBe('malformed');
}

describe('parseClientFrame', () => {
  it('accepts well-formed join, signal and ping frames (round trip through encodeFrame)', () => {
    const frames: ClientFrame[] = [
      { v: 1, type: 'join', room: ROOM, nonce: NONCE },
      { v: 1, type: 'signal', to: PEER, blob: BLOB },
      { v: 1, type: 'ping', token: TOKEN },
      { v: 1, type: 'ping', token: 'x' },
      { v: 1, type: 'ping', token: NONCE },
    ];
    for (const frame of frames) expect(parseClientFrame(encodeFrame(frame))).toEqual({ ok: true, value: frame });
  });

  it('refuses input that is not a JSON object as malformed', () => {
    for (const text of [undefined, null, 42, Buffer.from(json({ v: 1, type: 'join', room: ROOM })), '', 'not json', '{"v":1,', 'null', '[]', '1', '"join"', json([{ v: 1, type: 'join', room: ROOM }])]) {
      expectMalformed(parseClientFrame(text), String(text));
    }
  });

  it('refuses a missing or wrong version as malformed', () => {
    for (const v of [undefined, 0, 2, '1', true, null, 1.5]) {
      expectMalformed(parseClientFrame(json({ v, type: 'join', room: ROOM, nonce: NONCE })), `v=${String(v)}`);
    }
  });

  it('refuses unknown or server-only types as unknown-type', () => {
    for (const type of ['leave', 'joined', 'peer-joined', 'pong', 'error', 'JOIN', 'PING', '', undefined, 5, null]) {
      const result = parseClientFrame(json({ v: 1, type, room: ROOM }));
      expect(result.ok, String(type)).toBe(false);
      if (!result.ok) expect(result.error.code).toBe('unknown-type');
    }
  });

  it('refuses a join with a bad room id', () => {
    const bad = ['', 'short', `${ROOM}A`, ROOM.slice(1), `${ROOM.slice(0, 21)}=`, `${ROOM.slice(0, 21)}+`, `${ROOM.slice(0, 21)}/`, `${ROOM}\n`, ` ${ROOM.slice(1)}`, 42, null, [ROOM]];
    for (const room of bad) expectMalformed(parseClientFrame(json({ v: 1, type: 'join', room, nonce: NONCE })), `room=${String(room)}`);
    expectMalformed(parseClientFrame(json({ v: 1, type: 'join', nonce: NONCE })), 'missing room');
  });

  it('refuses a join without a connection nonce, or with one that is not 22 base64url characters', () => {
    expectMalformed(parseClientFrame(json({ v: 1, type: 'join', room: ROOM })), 'missing nonce');
    for (const nonce of BAD_NONCES) expectMalformed(parseClientFrame(json({ v: 1, type: 'join', room: ROOM, nonce })), `nonce=${String(nonce)}`);
  });

  it('refuses a join with extra keys (including __proto__)', () => {
    expectMalformed(parseClientFrame(json({ v: 1, type: 'join', room: ROOM, nonce: NONCE, peer: PEER })), 'extra');
    expectMalformed(parseClientFrame(`{"v":1,"type":"join","room":"${ROOM}","nonce":"${NONCE}","__proto__":{"x":1}}`), '__proto__');
  });

  it('refuses a signal with a bad peer id, a bad blob, or extra or missing keys', () => {
    const bad: unknown[] = [
      { v: 1, type: 'signal', to: '', blob: BLOB },
      { v: 1, type: 'signal', to: 'p'.repeat(33), blob: BLOB },
      { v: 1, type: 'signal', to: 'pe er', blob: BLOB },
      { v: 1, type: 'signal', to: 7, blob: BLOB },
      { v: 1, type: 'signal', to: PEER, blob: '' },
      { v: 1, type: 'signal', to: PEER, blob: `${BLOB}=` },
      { v: 1, type: 'signal', to: PEER, blob: 'a+b/' },
      { v: 1, type: 'signal', to: PEER, blob: { sdp: 'v=0' } },
      { v: 1, type: 'signal', to: PEER, blob: 'b'.repeat(60_001) },
      { v: 1, type: 'signal', to: PEER },
      { v: 1, type: 'signal', blob: BLOB },
      { v: 1, type: 'signal', to: PEER, blob: BLOB, from: PEER },
      { v: 1, type: 'signal', to: PEER, blob: BLOB, room: ROOM },
    ];
    for (const frame of bad) expectMalformed(parseClientFrame(json(frame)), json(frame).slice(0, 80));
    expect(parseClientFrame(json({ v: 1, type: 'signal', to: 'p'.repeat(32), blob: 'b'.repeat(60_000) })).ok).toBe(true);
  });
});

describe('probe frames (ping and pong)', () => {
  it('refuses a ping or pong with a bad token, or with missing or extra keys', () => {
    for (const token of BAD_TOKENS) {
      expectMalformed(parseClientFrame(json({ v: 1, type: 'ping', token })), `ping token=${String(token)}`);
      expectMalformed(parseServerFrame(json({ v: 1, type: 'pong', token })), `pong token=${String(token)}`);
    }
    expectMalformed(parseClientFrame(json({ v: 1, type: 'ping' })), 'ping without token');
    expectMalformed(parseServerFrame(json({ v: 1, type: 'pong' })), 'pong without token');
    expectMalformed(parseClientFrame(json({ v: 1, type: 'ping', token: TOKEN, room: ROOM })), 'ping with extra key');
    expectMalformed(parseServerFrame(json({ v: 1, type: 'pong', token: TOKEN, peer: PEER })), 'pong with extra key');
  });

  it('keeps each direction to its own side: a pong is not a client frame, a ping not a server frame', () => {
    expect(parseClientFrame(json({ v: 1, type: 'pong', token: TOKEN }))).toMatchObject({ ok: false, error: { code: 'unknown-type' } });
    expect(parseServerFrame(json({ v: 1, type: 'ping', token: TOKEN }))).toMatchObject({ ok: false, error: { code: 'unknown-type' } });
  });
});

describe('parseServerFrame', () => {
  it('accepts every well-formed server frame (round trip through encodeFrame)', () => {
    const frames: ServerFrame[] = [
      { v: 1, type: 'joined', self: PEER, peers: [] },
      {
        v: 1,
        type: 'joined',
        self: PEER,
        peers: [
          { peer: 'a', nonce: NONCE },
          { peer: 'b-c_d', nonce: OTHER_NONCE },
        ],
      },
      { v: 1, type: 'peer-joined', peer: PEER, nonce: NONCE },
      { v: 1, type: 'peer-left', peer: PEER },
      { v: 1, type: 'signal', from: PEER, blob: BLOB },
      { v: 1, type: 'pong', token: TOKEN },
      ...ERROR_CODES.map((code): ServerFrame => ({ v: 1, type: 'error', code, message: 'something happened' })),
    ];
    for (const frame of frames) expect(parseServerFrame(encodeFrame(frame))).toEqual({ ok: true, value: frame });
  });

  it('refuses non-objects, wrong versions and unknown types', () => {
    for (const text of [undefined, 7, '', 'null', '[]', '{', json({ type: 'joined', self: PEER, peers: [] }), json({ v: 2, type: 'joined', self: PEER, peers: [] })]) {
      expectMalformed(parseServerFrame(text), String(text));
    }
    for (const type of ['join', 'welcome', 'Signal', undefined]) {
      const result = parseServerFrame(json({ v: 1, type, peer: PEER }));
      expect(result.ok, String(type)).toBe(false);
      if (!result.ok) expect(result.error.code).toBe('unknown-type');
    }
  });

  it('refuses a malformed joined frame', () => {
    const member = { peer: PEER, nonce: NONCE };
    const members = (count: number) => Array.from({ length: count }, (_, i) => ({ peer: `p${i}`, nonce: NONCE }));
    const bad: unknown[] = [
      { v: 1, type: 'joined', self: PEER },
      { v: 1, type: 'joined', peers: [] },
      { v: 1, type: 'joined', self: '', peers: [] },
      { v: 1, type: 'joined', self: PEER, peers: 'a,b' },
      { v: 1, type: 'joined', self: PEER, peers: [7] },
      { v: 1, type: 'joined', self: PEER, peers: [PEER] },
      { v: 1, type: 'joined', self: PEER, peers: [member, { peer: 'not ok', nonce: NONCE }] },
      { v: 1, type: 'joined', self: PEER, peers: [null] },
      { v: 1, type: 'joined', self: PEER, peers: [[PEER, NONCE]] },
      { v: 1, type: 'joined', self: PEER, peers: [{ peer: PEER }] },
      { v: 1, type: 'joined', self: PEER, peers: [{ nonce: NONCE }] },
      { v: 1, type: 'joined', self: PEER, peers: [{ ...member, extra: 1 }] },
      ...BAD_NONCES.map((nonce) => ({ v: 1, type: 'joined', self: PEER, peers: [{ peer: PEER, nonce }] })),
      { v: 1, type: 'joined', self: PEER, peers: { 0: member, length: 1 } },
      { v: 1, type: 'joined', self: PEER, peers: members(65) },
      { v: 1, type: 'joined', self: PEER, peers: [], room: ROOM },
    ];
    for (const frame of bad) expectMalformed(parseServerFrame(json(frame)), json(frame).slice(0, 120));
    expect(parseServerFrame(json({ v: 1, type: 'joined', self: PEER, peers: members(64) })).ok).toBe(true);
  });

  it('refuses malformed peer-joined and peer-left frames', () => {
    const shapes = (type: string, extra: Record<string, unknown>) => [
      { v: 1, type, ...extra },
      { v: 1, type, peer: '', ...extra },
      { v: 1, type, peer: 'a b', ...extra },
      { v: 1, type, peer: 3, ...extra },
      { v: 1, type, peer: PEER, ...extra, extra: 1 },
    ];
    for (const frame of [...shapes('peer-joined', { nonce: NONCE }), ...shapes('peer-left', {})]) {
      expectMalformed(parseServerFrame(json(frame)), json(frame));
    }
    expectMalformed(parseServerFrame(json({ v: 1, type: 'peer-joined', peer: PEER })), 'peer-joined without a nonce');
    for (const nonce of BAD_NONCES) expectMalformed(parseServerFrame(json({ v: 1, type: 'peer-joined', peer: PEER, nonce })), `nonce=${String(nonce)}`);
    expectMalformed(parseServerFrame(json({ v: 1, type: 'peer-left', peer: PEER, nonce: NONCE })), 'peer-left with a nonce');
  });

  it('refuses a malformed signal frame (server must name the sender, never a recipient)', () => {
    const bad: unknown[] = [
      { v: 1, type: 'signal', to: PEER, blob: BLOB },
      { v: 1, type: 'signal', from: PEER },
      { v: 1, type: 'signal', from: PEER, blob: '' },
      { v: 1, type: 'signal', from: PEER, blob: 'x y' },
      { v: 1, type: 'signal', from: 'p'.repeat(33), blob: BLOB },
      { v: 1, type: 'signal', from: PEER, blob: BLOB, to: PEER },
    ];
    for (const frame of bad) expectMalformed(parseServerFrame(json(frame)), json(frame));
  });

  it('refuses an error frame with an unknown code, a non-string or over-long message, or extra keys', () => {
    const bad: unknown[] = [
      { v: 1, type: 'error', code: 'teapot', message: 'x' },
      { v: 1, type: 'error', code: 'MALFORMED', message: 'x' },
      { v: 1, type: 'error', code: 'toString', message: 'x' },
      { v: 1, type: 'error', code: 1, message: 'x' },
      { v: 1, type: 'error', code: 'malformed' },
      { v: 1, type: 'error', code: 'malformed', message: 5 },
      { v: 1, type: 'error', code: 'malformed', message: 'm'.repeat(501) },
      { v: 1, type: 'error', code: 'malformed', message: 'x', detail: 'y' },
    ];
    for (const frame of bad) expectMalformed(parseServerFrame(json(frame)), json(frame).slice(0, 80));
    expect(parseServerFrame(json({ v: 1, type: 'error', code: 'malformed', message: 'm'.repeat(500) })).ok).toBe(true);
  });
});
