import { describe, expect, it } from 'vitest';
import { framedConcat, utf8 } from '../../src/core/encoding.ts';
import { systemRandom } from '../../src/core/ports.ts';
import {
  isRecordKind,
  MIN_SEALED_RECORD_BYTES,
  openJsonRecord,
  openRecord,
  RECORD_KINDS,
  sealJsonRecord,
  sealRecord,
  type RecordKind,
} from '../../src/core/vault/records.ts';
import { aesKey, flipBit } from './support/coreFixtures.ts';

describe('record kinds', () => {
  it('lists exactly the five kinds and recognises only them', () => {
    expect(RECORD_KINDS).toEqual(['message', 'image', 'contact', 'settings', 'conversation', 'outbox']);
    for (const kind of RECORD_KINDS) expect(isRecordKind(kind)).toBe(true);
    for (const value of ['Message', 'messages', '', null, 1, undefined]) expect(isRecordKind(value)).toBe(false);
  });
});

describe('sealRecord and openRecord', () => {
  it('round-trips every kind, and an empty plaintext', async () => {
    const key = await aesKey();
    for (const kind of RECORD_KINDS) {
      const plaintext = utf8(`a ${kind} record`);
      const sealed = await sealRecord(key, kind, 'id-1', plaintext, systemRandom);
      expect(sealed).toHaveLength(12 + plaintext.length + 16);
      expect(await openRecord(key, kind, 'id-1', sealed)).toEqual({ ok: true, plaintext });
    }
    const empty = await sealRecord(key, 'settings', 'empty', new Uint8Array(0), systemRandom);
    expect(empty).toHaveLength(MIN_SEALED_RECORD_BYTES);
    expect(await openRecord(key, 'settings', 'empty', empty)).toEqual({ ok: true, plaintext: new Uint8Array(0) });
  });

  it('uses a fresh IV for every seal', async () => {
    const key = await aesKey();
    const a = await sealRecord(key, 'message', 'same', utf8('same'), systemRandom);
    const b = await sealRecord(key, 'message', 'same', utf8('same'), systemRandom);
    expect(a.slice(0, 12)).not.toEqual(b.slice(0, 12));
    expect(a).not.toEqual(b);
  });

  it('is AES-GCM with IV ‖ ciphertext and additional data framedConcat("parley/v1 record", kind, id)', async () => {
    const key = await aesKey();
    const sealed = await sealRecord(key, 'contact', 'c/7', utf8('Ada'), systemRandom);
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sealed.slice(0, 12), additionalData: new Uint8Array(framedConcat(utf8('parley/v1 record'), utf8('contact'), utf8('c/7'))) },
      key,
      sealed.slice(12),
    );
    expect(new Uint8Array(plaintext)).toEqual(utf8('Ada'));
  });

  it('refuses a record moved to another id', async () => {
    const key = await aesKey();
    const sealed = await sealRecord(key, 'message', 'conv-1/msg-1', utf8('hi'), systemRandom);
    for (const id of ['conv-1/msg-2', 'conv-2/msg-1', 'conv-1/msg-1 ', '', 'CONV-1/MSG-1']) {
      expect(await openRecord(key, 'message', id, sealed)).toEqual({ ok: false, reason: 'unauthentic' });
    }
  });

  it('refuses a record opened as another kind', async () => {
    const key = await aesKey();
    const sealed = await sealRecord(key, 'contact', 'x', utf8('{}'), systemRandom);
    for (const kind of RECORD_KINDS.filter((other): other is RecordKind => other !== 'contact')) {
      expect(await openRecord(key, kind, 'x', sealed)).toEqual({ ok: false, reason: 'unauthentic' });
    }
  });

  it('refuses a record from another vault (another data key)', async () => {
    const sealed = await sealRecord(await aesKey(), 'message', 'm', utf8('hi'), systemRandom);
    expect(await openRecord(await aesKey(), 'message', 'm', sealed)).toEqual({ ok: false, reason: 'unauthentic' });
  });

  it('refuses every truncation: malformed below the minimum size, unauthentic above it', async () => {
    const key = await aesKey();
    const sealed = await sealRecord(key, 'message', 'm', utf8('some message'), systemRandom);
    for (let length = 0; length < sealed.length; length++) {
      const expected = length < MIN_SEALED_RECORD_BYTES ? 'malformed' : 'unauthentic';
      expect(await openRecord(key, 'message', 'm', sealed.slice(0, length))).toEqual({ ok: false, reason: expected });
    }
    // A dropped first byte shifts the IV: long enough, but not authentic.
    expect(await openRecord(key, 'message', 'm', sealed.slice(1))).toEqual({ ok: false, reason: 'unauthentic' });
  });

  it('refuses a flipped bit anywhere: IV, ciphertext or tag', async () => {
    const key = await aesKey();
    const sealed = await sealRecord(key, 'image', 'img', utf8('pixels'), systemRandom);
    for (let index = 0; index < sealed.length; index++) {
      for (let bit = 0; bit < 8; bit++) {
        expect(await openRecord(key, 'image', 'img', flipBit(sealed, index, 1 << bit))).toEqual({ ok: false, reason: 'unauthentic' });
      }
    }
    expect(await openRecord(key, 'image', 'img', sealed)).toEqual({ ok: true, plaintext: utf8('pixels') });
  });

  it('refuses ids that are not well-formed UTF-16, which UTF-8 would merge with U+FFFD', async () => {
    const key = await aesKey();
    await expect(sealRecord(key, 'message', '\uD800', utf8('x'), systemRandom)).rejects.toThrow(/surrogate/);
    const sealed = await sealRecord(key, 'message', '\uFFFD', utf8('x'), systemRandom);
    expect((await openRecord(key, 'message', '\uFFFD', sealed)).ok).toBe(true);
    expect(await openRecord(key, 'message', '\uD800', sealed)).toEqual({ ok: false, reason: 'malformed' });
    expect(await openRecord(key, 'message', '\uDC00', sealed)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('accepts any well-formed id, including astral characters and separators', async () => {
    const key = await aesKey();
    for (const id of ['\u{1F600}', 'a\u0000b', 'x'.repeat(1000)]) {
      const sealed = await sealRecord(key, 'conversation', id, utf8('ok'), systemRandom);
      expect((await openRecord(key, 'conversation', id, sealed)).ok).toBe(true);
    }
  });
});

describe('sealJsonRecord and openJsonRecord', () => {
  it('round-trips a JSON value', async () => {
    const key = await aesKey();
    const value = { name: 'Ada', tags: ['x', 'ü'], n: 3, nested: { ok: true, nothing: null } };
    const sealed = await sealJsonRecord(key, 'contact', 'ada', value, systemRandom);
    expect(await openJsonRecord(key, 'contact', 'ada', sealed)).toEqual({ ok: true, value });
  });

  it('keeps the binding: another id, kind or key is unauthentic', async () => {
    const key = await aesKey();
    const sealed = await sealJsonRecord(key, 'settings', 'theme', { dark: true }, systemRandom);
    expect(await openJsonRecord(key, 'settings', 'font', sealed)).toEqual({ ok: false, reason: 'unauthentic' });
    expect(await openJsonRecord(key, 'contact', 'theme', sealed)).toEqual({ ok: false, reason: 'unauthentic' });
    expect(await openJsonRecord(await aesKey(), 'settings', 'theme', sealed)).toEqual({ ok: false, reason: 'unauthentic' });
  });

  it('calls an authentic record that is not UTF-8 JSON malformed', async () => {
    const key = await aesKey();
    const notJson = await sealRecord(key, 'settings', 's', utf8('{not json'), systemRandom);
    expect(await openJsonRecord(key, 'settings', 's', notJson)).toEqual({ ok: false, reason: 'malformed' });
    const notUtf8 = await sealRecord(key, 'settings', 's', Uint8Array.of(0xff, 0xfe), systemRandom);
    expect(await openJsonRecord(key, 'settings', 's', notUtf8)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('throws for a value JSON cannot represent', async () => {
    const key = await aesKey();
    await expect(sealJsonRecord(key, 'settings', 's', undefined, systemRandom)).rejects.toThrow(/JSON/);
    await expect(sealJsonRecord(key, 'settings', 's', () => 1, systemRandom)).rejects.toThrow(/JSON/);
  });
});
