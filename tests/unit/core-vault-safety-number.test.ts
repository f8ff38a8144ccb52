import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64urlToBytes, concatBytes, framedConcat, utf8 } from '../../src/core/encoding.ts';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import { SAFETY_NUMBER_ITERATIONS, safetyNumber } from '../../src/core/vault/safetyNumber.ts';

/** Public halves of P-256 keys whose private scalars are the fixed bytes 01 02 … 20 and 21 22 … 40. */
const JWK_A = { kty: 'EC', crv: 'P-256', x: 'UVw9brnjlrkE0_7Kf1T9zQzB6Ze_N13KUVrQpsO0A18', y: 'RTa-OlDzGPv5pUdZAqIhUCvvDVfgjFOyzApW8X2fk1Q' };
const JWK_B = { kty: 'EC', crv: 'P-256', x: 'HxQBRr-xslH4T03b4NTNz9d6_ZhKlSDjV5QCH4MSu54', y: '7JlaCLH6dwTfPcwLUKlmUmP7dxH5X5-KRJxQluR8iSs' };
const KNOWN_A_B = '72896 98278 03270 02763 21887 41663 83662 74170 44879 82831 28947 72058';

const FORMAT = /^\d{5}( \d{5}){11}$/;
const P256_SPKI_PREFIX_COMPRESSED = '3039301306072a8648ce3d020106082a8648ce3d030107032200';

async function spkiFromJwk(jwk: JsonWebKey): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  return new Uint8Array(await crypto.subtle.exportKey('spki', key));
}

async function freshSpki(): Promise<Uint8Array> {
  return (await generateIdentity()).publicKeySpki;
}

function decode(text: string): Uint8Array {
  const bytes = base64urlToBytes(text);
  if (bytes === null) throw new Error(`bad base64url ${text}`);
  return bytes;
}

/** The documented derivation, written out again with Node's synchronous SHA-512 and the JWK coordinates. */
function referenceHalf(jwk: { readonly x: string; readonly y: string }): string {
  const point = concatBytes(Uint8Array.of(4), decode(jwk.x), decode(jwk.y));
  let digest = framedConcat(utf8('parley/v1 safety number'), point);
  for (let i = 0; i < 1024; i++) digest = createHash('sha512').update(digest).update(point).digest();
  let digits = '';
  for (let chunk = 0; chunk < 6; chunk++) {
    const value = Buffer.from(digest).readUIntBE(chunk * 5, 5);
    digits += String(value % 100000).padStart(5, '0');
  }
  return digits;
}

function group(digits: string): string {
  return digits.match(/\d{5}/g)?.join(' ') ?? '';
}

describe('safetyNumber', () => {
  it('is the same string on both sides', async () => {
    const [ours, theirs] = [await freshSpki(), await freshSpki()];
    expect(await safetyNumber(ours, theirs)).toBe(await safetyNumber(theirs, ours));
  });

  it('is 60 digits in 12 groups of 5, separated by single spaces', async () => {
    const number = await safetyNumber(await freshSpki(), await freshSpki());
    expect(number).toMatch(FORMAT);
    expect(number).toHaveLength(71);
  });

  it('changes when either key changes, keeping the half of the unchanged key', async () => {
    const [a, b, c] = [await freshSpki(), await freshSpki(), await freshSpki()];
    const ab = await safetyNumber(a, b);
    const ac = await safetyNumber(a, c);
    const cb = await safetyNumber(c, b);
    expect(ac).not.toBe(ab);
    expect(cb).not.toBe(ab);
    const halves = (number: string): string[] => {
      const digits = number.replace(/ /g, '');
      return [digits.slice(0, 30), digits.slice(30)];
    };
    const aHalf = halves(ab).filter((half) => halves(ac).includes(half));
    expect(aHalf).toHaveLength(1);
  });

  it('has a stable known value for two fixed keys, matching the documented derivation computed independently', async () => {
    const a = await spkiFromJwk(JWK_A);
    const b = await spkiFromJwk(JWK_B);
    expect(SAFETY_NUMBER_ITERATIONS).toBe(1024);
    const [halfA, halfB] = [referenceHalf(JWK_A), referenceHalf(JWK_B)];
    // A's point starts 04 51…, B's 04 1f…, so B is the bytewise smaller key and its half comes first.
    expect(group(halfB + halfA)).toBe(KNOWN_A_B);
    expect(await safetyNumber(a, b)).toBe(KNOWN_A_B);
    expect(await safetyNumber(b, a)).toBe(KNOWN_A_B);
  });

  it('depends on the key, not on its SPKI encoding (a compressed point gives the same number)', async () => {
    const a = await spkiFromJwk(JWK_A);
    const yA = decode(JWK_A.y);
    const compressed = concatBytes(
      new Uint8Array(Buffer.from(P256_SPKI_PREFIX_COMPRESSED, 'hex')),
      Uint8Array.of(2 + ((yA[31] ?? 0) & 1)),
      decode(JWK_A.x),
    );
    const b = await spkiFromJwk(JWK_B);
    expect(await safetyNumber(compressed, b)).toBe(await safetyNumber(a, b));
  });

  it('gives two equal halves when both keys are the same', async () => {
    const a = await spkiFromJwk(JWK_A);
    const digits = (await safetyNumber(a, a)).replace(/ /g, '');
    expect(digits.slice(0, 30)).toBe(digits.slice(30));
    expect(digits.slice(0, 30)).toBe(referenceHalf(JWK_A));
  });

  it('throws for a key that is not ECDSA P-256 (callers verify the peer key first)', async () => {
    const a = await spkiFromJwk(JWK_A);
    await expect(safetyNumber(a, new Uint8Array(91))).rejects.toThrow(/P-256/);
    await expect(safetyNumber(utf8('nope'), a)).rejects.toThrow(/P-256/);
  });
});
