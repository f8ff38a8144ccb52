import { describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../../src/core/encoding.ts';
import {
  encodeIdentityMessage,
  MAX_DISPLAY_NAME_BYTES,
  normalizeDisplayName,
  parseIdentityMessage,
  type IdentityMessage,
} from '../../src/core/protocol/identityMessage.ts';

// Structure only: these bytes need not be a real key or signature (identityProof checks those).
const SPKI = Uint8Array.from({ length: 91 }, (_, i) => i);
const SIGNATURE = Uint8Array.from({ length: 64 }, (_, i) => 200 - i);

function profileBytes(name: Uint8Array, spki: Uint8Array = SPKI, signature: Uint8Array = SIGNATURE): Uint8Array {
  return concatBytes(Uint8Array.of(0x01, 0x01), spki, signature, name);
}

function reasonOf(bytes: Uint8Array): string {
  const parsed = parseIdentityMessage(bytes);
  if (parsed.ok) throw new Error(`accepted: ${JSON.stringify(parsed.message)}`);
  return parsed.reason;
}

describe('identity message encoding', () => {
  it('a guest is 01 02 ‖ spki[91] ‖ signature[64]: its key for this room session, no name', () => {
    const message: IdentityMessage = { type: 'guest', publicKeySpki: SPKI, signature: SIGNATURE };
    const bytes = encodeIdentityMessage(message);
    expect(bytes).toEqual(concatBytes(Uint8Array.of(0x01, 0x02), SPKI, SIGNATURE));
    expect(parseIdentityMessage(bytes)).toEqual({ ok: true, message });
  });

  it('a profile is 01 01 ‖ spki[91] ‖ signature[64] ‖ utf8(name), and parses back to the same values', () => {
    const message: IdentityMessage = { type: 'profile', publicKeySpki: SPKI, signature: SIGNATURE, displayName: 'Zoë 🌻' };
    const bytes = encodeIdentityMessage(message);
    expect(bytes).toEqual(concatBytes(Uint8Array.of(0x01, 0x01), SPKI, SIGNATURE, utf8('Zoë 🌻')));
    expect(bytes).toHaveLength(2 + 91 + 64 + utf8('Zoë 🌻').length);
    expect(parseIdentityMessage(bytes)).toEqual({ ok: true, message });
  });

  it('refuses to encode what the parser would refuse (a caller bug, not a wire value)', () => {
    const valid = { type: 'profile', publicKeySpki: SPKI, signature: SIGNATURE, displayName: 'Ana' } as const;
    expect(() => encodeIdentityMessage({ ...valid, displayName: ' Ana' })).toThrow();
    expect(() => encodeIdentityMessage({ ...valid, displayName: '' })).toThrow();
    expect(() => encodeIdentityMessage({ ...valid, publicKeySpki: SPKI.subarray(1) })).toThrow();
    expect(() => encodeIdentityMessage({ ...valid, signature: new Uint8Array(65) })).toThrow();
  });
});

describe('parseIdentityMessage refuses anything malformed', () => {
  it('too short, another version, an unknown kind (the key-less guest 00 of protocol 1 included), or a guest of the wrong size', () => {
    expect(reasonOf(new Uint8Array(0))).toMatch(/too short/);
    expect(reasonOf(Uint8Array.of(0x01))).toMatch(/too short/);
    expect(reasonOf(Uint8Array.of(0x02, 0x00))).toMatch(/version 2/);
    expect(reasonOf(Uint8Array.of(0x00, 0x00))).toMatch(/version 0/);
    expect(reasonOf(Uint8Array.of(0x01, 0x00))).toMatch(/unknown identity kind 0/);
    expect(reasonOf(Uint8Array.of(0x01, 0x03))).toMatch(/unknown identity kind 3/);
    expect(reasonOf(Uint8Array.of(0x01, 0x02))).toMatch(/guest identity of 2 bytes/);
    expect(reasonOf(concatBytes(Uint8Array.of(0x01, 0x02), SPKI, SIGNATURE, Uint8Array.of(0)))).toMatch(/guest identity of 158 bytes/);
    expect(reasonOf(concatBytes(Uint8Array.of(0x01, 0x02), SPKI, SIGNATURE.subarray(1)))).toMatch(/guest identity of 156 bytes/);
    expect(reasonOf(concatBytes(Uint8Array.of(0x02, 0x01), SPKI, SIGNATURE, utf8('Ana')))).toMatch(/version 2/);
  });

  it('a profile with no name, a truncated key or signature, or a name over 256 bytes', () => {
    expect(reasonOf(profileBytes(new Uint8Array(0)))).toMatch(/no room for a name/);
    // One byte short overall: the "name" would start inside the signature, so the size is all it can go by.
    expect(reasonOf(concatBytes(Uint8Array.of(0x01, 0x01), SPKI, SIGNATURE.subarray(1)))).toMatch(/no room for a name/);
    expect(reasonOf(profileBytes(utf8('a'.repeat(MAX_DISPLAY_NAME_BYTES + 1))))).toMatch(/no room for a name/);
  });

  it('a name longer than 64 characters, counted in code points', () => {
    expect(parseIdentityMessage(profileBytes(utf8('a'.repeat(64)))).ok).toBe(true);
    expect(reasonOf(profileBytes(utf8('a'.repeat(65))))).toMatch(/has 65 characters, not 1..64/);
    // 64 four-byte characters are 256 bytes, the most a name can take; 65 do not fit.
    expect(parseIdentityMessage(profileBytes(utf8('🌻'.repeat(64)))).ok).toBe(true);
    expect(reasonOf(profileBytes(utf8('🌻'.repeat(65))))).toMatch(/no room for a name/);
  });

  it('control, separator and bidi formatting characters anywhere in the name', () => {
    for (const name of ['Ali\u0007ce', 'Alice\nBob', 'Al\tice', 'Alice\u007f', 'Alice\u0085', 'Ali\u2028ce', 'Alice\u202e', 'Al\u2066ice', 'Ali\u200fce', 'A\u0000']) {
      expect(reasonOf(profileBytes(utf8(name))), JSON.stringify(name)).toMatch(/control, separator or bidi/);
    }
  });

  it('a name that is not in canonical form: untrimmed, white space only, or not NFC', () => {
    for (const name of [' Alice', 'Alice ', '\u00a0Alice', '   ', 'Zoe\u0308']) {
      expect(reasonOf(profileBytes(utf8(name))), JSON.stringify(name)).toMatch(/not trimmed or not NFC/);
    }
  });

  it('a name that is not valid UTF-8 (a stray byte, an encoded surrogate, an overlong form)', () => {
    for (const bytes of [Uint8Array.of(0x41, 0xff), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xc0, 0xaf)]) {
      expect(reasonOf(profileBytes(bytes))).toMatch(/not valid UTF-8/);
    }
  });
});

describe('normalizeDisplayName', () => {
  it('trims and composes (NFC), so the sender signs the one spelling the receiver accepts', () => {
    expect(normalizeDisplayName('  Zoe\u0308 \n')).toBe('Zoë');
    expect(normalizeDisplayName('Ana María')).toBe('Ana María');
  });

  it('refuses empty, white-space-only, over-long, control and bidi names, and lone surrogates', () => {
    for (const name of ['', '   ', '\n', 'a'.repeat(65), 'Ali\u0007ce', 'Alice\u202egnp.exe', 'Ali\ud800ce']) {
      expect(normalizeDisplayName(name), JSON.stringify(name)).toBeNull();
    }
    expect(normalizeDisplayName('a'.repeat(64))).toBe('a'.repeat(64));
  });
});
