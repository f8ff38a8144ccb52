import { describe, expect, it } from 'vitest';
import {
  base64urlToBytes,
  bytesEqual,
  bytesToBase64url,
  concatBytes,
  framedConcat,
  fromUtf8,
  toBufferSource,
  utf8,
} from '../../src/core/encoding.ts';
import { seededRandom } from './support/coreFixtures.ts';

describe('base64url', () => {
  it('round-trips every length from 0 to 70 bytes', () => {
    const random = seededRandom(7);
    for (let length = 0; length <= 70; length++) {
      const bytes = random.bytes(length);
      const text = bytesToBase64url(bytes);
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(text.length).toBe(Math.ceil((length * 4) / 3));
      expect(base64urlToBytes(text)).toEqual(bytes);
    }
  });

  it('round-trips all 256 byte values and a buffer larger than one 0x8000 chunk', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(base64urlToBytes(bytesToBase64url(all))).toEqual(all);
    const big = seededRandom(3).bytes(0x8000 * 2 + 5);
    const decoded = base64urlToBytes(bytesToBase64url(big));
    expect(decoded).not.toBeNull();
    expect(bytesEqual(decoded ?? new Uint8Array(0), big)).toBe(true);
  });

  it('uses - and _ where standard base64 would use + and /', () => {
    expect(bytesToBase64url(Uint8Array.of(0xfb, 0xff))).toBe('-_8');
  });

  it('refuses padding', () => {
    expect(base64urlToBytes('AA==')).toBeNull();
    expect(base64urlToBytes('AAA=')).toBeNull();
    expect(base64urlToBytes('AA')).toEqual(Uint8Array.of(0));
  });

  it('refuses the standard-alphabet characters + and /', () => {
    expect(base64urlToBytes('-_8')).toEqual(Uint8Array.of(0xfb, 0xff));
    expect(base64urlToBytes('+_8')).toBeNull();
    expect(base64urlToBytes('-/8')).toBeNull();
  });

  it('refuses whitespace and other characters', () => {
    for (const text of ['AA AA', 'AAAA\n', ' AAAA', 'AA.A', 'AAÀA', 'AA%3D']) expect(base64urlToBytes(text)).toBeNull();
  });

  it('refuses a non-canonical last character (stray low bits)', () => {
    // 'AA' is the canonical encoding of one zero byte; 'AB'..'AP' carry bits that do not fit in one byte.
    expect(base64urlToBytes('AA')).toEqual(Uint8Array.of(0));
    expect(base64urlToBytes('AB')).toBeNull();
    expect(base64urlToBytes('AP')).toBeNull();
    // Two bytes: 'AAA' is canonical; 'AAB' sets a stray bit.
    expect(base64urlToBytes('AAA')).toEqual(Uint8Array.of(0, 0));
    expect(base64urlToBytes('AAB')).toBeNull();
  });

  it('refuses a length that is 1 modulo 4', () => {
    expect(base64urlToBytes('A')).toBeNull();
    expect(base64urlToBytes('AAAAA')).toBeNull();
  });

  it('decodes the empty string to no bytes', () => {
    expect(base64urlToBytes('')).toEqual(new Uint8Array(0));
  });
});

describe('utf8', () => {
  it('round-trips text including astral characters and RTL', () => {
    for (const text of ['', 'hello', 'héllo', '😀👩‍👩‍👧', 'مرحبا', 'e\u0301']) {
      expect(fromUtf8(utf8(text))).toBe(text);
    }
  });

  it('refuses a lone 0xFF byte', () => {
    expect(fromUtf8(Uint8Array.of(0xff))).toBeNull();
    expect(fromUtf8(Uint8Array.of(0x61, 0xff, 0x62))).toBeNull();
  });

  it('refuses a truncated multi-byte sequence', () => {
    const euro = utf8('€');
    expect(euro.length).toBe(3);
    expect(fromUtf8(euro.subarray(0, 2))).toBeNull();
    const emoji = utf8('😀');
    expect(fromUtf8(emoji.subarray(0, 3))).toBeNull();
  });

  it('refuses an encoded surrogate (CESU-style) and overlong encodings', () => {
    expect(fromUtf8(Uint8Array.of(0xed, 0xa0, 0x80))).toBeNull(); // U+D800
    expect(fromUtf8(Uint8Array.of(0xc0, 0x80))).toBeNull(); // overlong NUL
    expect(fromUtf8(Uint8Array.of(0xf4, 0x90, 0x80, 0x80))).toBeNull(); // above U+10FFFF
  });

  it('does not strip or alter a leading byte-order mark', () => {
    expect(fromUtf8(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61))).toBe('\ufeffa');
  });

  it('keeps decoding strictly after a refusal (the decoder is not left in a bad state)', () => {
    expect(fromUtf8(Uint8Array.of(0xe2, 0x82))).toBeNull();
    expect(fromUtf8(utf8('ok'))).toBe('ok');
  });
});

describe('framedConcat and concatBytes', () => {
  it('distinguishes ["ab","c"] from ["a","bc"]', () => {
    const left = framedConcat(utf8('ab'), utf8('c'));
    const right = framedConcat(utf8('a'), utf8('bc'));
    expect(bytesEqual(left, right)).toBe(false);
    // Plain concatenation does not, which is why framing exists.
    expect(bytesEqual(concatBytes(utf8('ab'), utf8('c')), concatBytes(utf8('a'), utf8('bc')))).toBe(true);
  });

  it('distinguishes a trailing empty part from none', () => {
    expect(bytesEqual(framedConcat(utf8('a')), framedConcat(utf8('a'), new Uint8Array(0)))).toBe(false);
  });

  it('prefixes each part with its 32-bit big-endian length', () => {
    expect(framedConcat(utf8('ab'), utf8('c'))).toEqual(Uint8Array.of(0, 0, 0, 2, 0x61, 0x62, 0, 0, 0, 1, 0x63));
  });
});

describe('bytesEqual', () => {
  it('compares length and content', () => {
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
    expect(bytesEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});

describe('toBufferSource', () => {
  it('returns an ArrayBuffer-backed view with the same bytes', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(3));
    shared.set([1, 2, 3]);
    const copy = toBufferSource(shared);
    expect(copy.buffer).toBeInstanceOf(ArrayBuffer);
    expect(copy).toEqual(Uint8Array.of(1, 2, 3));
    const plain = Uint8Array.of(4, 5);
    expect(toBufferSource(plain)).toBe(plain);
  });
});
