import { describe, expect, it } from 'vitest';
import { base64urlToBytes, bytesToBase64url, toBufferSource, utf8 } from '../../src/core/encoding.ts';
import {
  deriveRoomKeys,
  generateRoomSecret,
  parseRoomFragment,
  ROOM_SECRET_BYTES,
  roomFragment,
} from '../../src/core/crypto/roomSecret.ts';
import { openSignal, sealSignal, type SignalRoute } from '../../src/core/crypto/signalSeal.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { chromiumDataChannelSdp, secretFromSeed, seededRandom } from './support/coreFixtures.ts';

describe('parseRoomFragment', () => {
  it('treats an empty hash and a bare # as no room', () => {
    expect(parseRoomFragment('')).toEqual({ kind: 'none' });
    expect(parseRoomFragment('#')).toEqual({ kind: 'none' });
  });

  it('accepts a 43-character canonical fragment, with or without #', () => {
    const secret = secretFromSeed(1);
    const fragment = roomFragment(secret);
    expect(fragment).toHaveLength(43);
    expect(parseRoomFragment(`#${fragment}`)).toEqual({ kind: 'room', secret });
    expect(parseRoomFragment(fragment)).toEqual({ kind: 'room', secret });
  });

  it('round-trips a generated secret', () => {
    const secret = generateRoomSecret(systemRandom);
    expect(secret).toHaveLength(ROOM_SECRET_BYTES);
    expect(parseRoomFragment(`#${roomFragment(secret)}`)).toEqual({ kind: 'room', secret });
  });

  it('refuses a fragment that is too short (cut off when copied)', () => {
    const fragment = roomFragment(secretFromSeed(2));
    const result = parseRoomFragment(`#${fragment.slice(0, 42)}`);
    expect(result.kind).toBe('malformed');
    expect(parseRoomFragment(`#${fragment.slice(0, 10)}`).kind).toBe('malformed');
  });

  it('refuses a fragment that is too long', () => {
    const fragment = roomFragment(secretFromSeed(3));
    expect(parseRoomFragment(`#${fragment}A`).kind).toBe('malformed');
    expect(parseRoomFragment(`#${fragment}${fragment}`).kind).toBe('malformed');
  });

  it('refuses 43 characters that include characters outside base64url', () => {
    const fragment = roomFragment(secretFromSeed(4));
    for (const bad of ['+', '/', '=', ' ', '.', '%', 'é']) {
      const text = `${bad}${fragment.slice(1)}`;
      expect(text).toHaveLength(43);
      expect(parseRoomFragment(`#${text}`).kind).toBe('malformed');
    }
  });

  it('refuses a non-canonical fragment (stray low bits in the last character)', () => {
    // 32 bytes use 256 of the 258 bits of 43 characters, so the last character carries 2 unused bits.
    const fragment = roomFragment(new Uint8Array(32));
    expect(fragment.endsWith('A')).toBe(true);
    const nonCanonical = `${fragment.slice(0, 42)}B`;
    expect(parseRoomFragment(`#${nonCanonical}`).kind).toBe('malformed');
  });

  it('gives a human-readable reason when malformed', () => {
    const result = parseRoomFragment('#abc');
    expect(result.kind).toBe('malformed');
    if (result.kind === 'malformed') expect(result.reason.length).toBeGreaterThan(10);
  });
});

describe('deriveRoomKeys', () => {
  const route: SignalRoute = { roomId: 'AAAAAAAAAAAAAAAAAAAAAA', fromPeerId: 'p1', fromNonce: 'n1', toPeerId: 'p2', toNonce: 'n2' };
  const offer = { type: 'offer', sdp: chromiumDataChannelSdp() } as const;

  it('is deterministic: the same secret gives the same 22-character room id', async () => {
    const secret = secretFromSeed(10);
    const [a, b] = await Promise.all([deriveRoomKeys(secret), deriveRoomKeys(secret.slice())]);
    expect(a.roomId).toBe(b.roomId);
    expect(a.roomId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(base64urlToBytes(a.roomId)).toHaveLength(16);
  });

  it('gives different room ids for different secrets, even one bit apart', async () => {
    const secret = secretFromSeed(11);
    const neighbour = secret.slice();
    neighbour[31] = (neighbour[31] ?? 0) ^ 1;
    const ids = await Promise.all([secret, neighbour, secretFromSeed(12), new Uint8Array(32)].map(async (s) => (await deriveRoomKeys(s)).roomId));
    expect(new Set(ids).size).toBe(4);
  });

  it('room id reveals neither the secret nor any piece of its encoding', async () => {
    const secret = secretFromSeed(13);
    const encoded = roomFragment(secret);
    const { roomId } = await deriveRoomKeys(secret);
    expect(roomId).not.toBe(encoded);
    expect(encoded.includes(roomId)).toBe(false);
    expect(roomId).not.toBe(encoded.slice(0, 22));
    expect(roomId).not.toBe(bytesToBase64url(secret.subarray(0, 16)));
    expect(roomId).not.toBe(bytesToBase64url(secret.subarray(16)));
  });

  it('derives keys that are not extractable', async () => {
    const keys = await deriveRoomKeys(secretFromSeed(14));
    expect(keys.signalKey.extractable).toBe(false);
    expect(keys.authKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('raw', keys.signalKey)).rejects.toThrow();
  });

  it('refuses a secret of the wrong length', async () => {
    await expect(deriveRoomKeys(new Uint8Array(31))).rejects.toThrow();
    await expect(deriveRoomKeys(new Uint8Array(33))).rejects.toThrow();
  });

  it("signal keys of two secrets are not interchangeable: a blob sealed with one does not open with the other", async () => {
    const [one, two, oneAgain] = await Promise.all([
      deriveRoomKeys(secretFromSeed(20)),
      deriveRoomKeys(secretFromSeed(21)),
      deriveRoomKeys(secretFromSeed(20)),
    ]);
    const blob = await sealSignal(one.signalKey, route, 0, offer, systemRandom);
    expect(await openSignal(two.signalKey, route, blob)).toEqual({ ok: false, reason: 'unauthentic' });
    // Sanity: the same secret derived again does open it.
    expect(await openSignal(oneAgain.signalKey, route, blob)).toEqual({ ok: true, seq: 0, signal: offer });
  });

  it('auth keys of two secrets are not interchangeable: an HMAC by one does not verify under the other', async () => {
    const [one, two, oneAgain] = await Promise.all([
      deriveRoomKeys(secretFromSeed(30)),
      deriveRoomKeys(secretFromSeed(31)),
      deriveRoomKeys(secretFromSeed(30)),
    ]);
    const data = toBufferSource(utf8('transcript'));
    const mac = await crypto.subtle.sign('HMAC', one.authKey, data);
    expect(mac.byteLength).toBe(32);
    expect(await crypto.subtle.verify('HMAC', two.authKey, mac, data)).toBe(false);
    expect(await crypto.subtle.verify('HMAC', oneAgain.authKey, mac, data)).toBe(true);
  });

  it('the signal key and the auth key of one secret are separate keys with separate algorithms', async () => {
    const keys = await deriveRoomKeys(secretFromSeed(40));
    expect(keys.signalKey.algorithm.name).toBe('AES-GCM');
    expect(keys.authKey.algorithm.name).toBe('HMAC');
    expect(keys.signalKey.usages.sort()).toEqual(['decrypt', 'encrypt']);
    expect(keys.authKey.usages.sort()).toEqual(['sign', 'verify']);
  });

  it('uses every bit of the secret (seeded secrets that share 31 bytes still differ)', async () => {
    const base = seededRandom(99).bytes(32);
    const variants = [0, 15, 31].map((index) => {
      const copy = base.slice();
      copy[index] = (copy[index] ?? 0) ^ 0x80;
      return copy;
    });
    const ids = await Promise.all([base, ...variants].map(async (s) => (await deriveRoomKeys(s)).roomId));
    expect(new Set(ids).size).toBe(4);
  });
});
