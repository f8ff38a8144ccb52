/**
 * Safety numbers: 60 digits in 12 groups of 5 that two people read to each other to check that each holds the other's identity key.
 *
 * Derivation, version 1, from two ECDSA P-256 public keys given as SPKI:
 *
 *  1. Canonical key. Each SPKI is imported as ECDSA P-256 and exported 'raw': P = 0x04 ‖ X ‖ Y, 65 bytes.
 *     The number depends on the key, not on how its SPKI happened to be encoded (compressed or not).
 *  2. Per key, with N = SAFETY_NUMBER_ITERATIONS = 1024:
 *       d_0 = framedConcat(utf8("parley/v1 safety number"), P)
 *       d_i = SHA-512(d_{i-1} ‖ P)            for i = 1 … N
 *  3. Per key, 30 digits: the first 30 bytes of d_N as six 5-byte chunks; each chunk read as a big-endian
 *     40-bit integer, reduced mod 100000, written as 5 decimal digits with leading zeros. (2^40 is not a
 *     multiple of 10^5; the bias this leaves is below 10^-7 per digit group.)
 *  4. The number: the 30 digits of the key whose P is smaller (bytewise, unsigned, first differing byte),
 *     then those of the other key. Both sides order the same two keys the same way, so both see one string.
 *  5. Display: the 60 digits as 12 groups of 5 separated by single spaces.
 *
 * The iterations follow Signal's numeric fingerprint (which uses 5200 plus a user identifier; Parley has
 * no user identifiers). Matching all 30 digits of someone's half already takes about 2^100 key
 * generations; the 2^10 factor matters for people who compare only the first groups. N is kept at 1024
 * because each WebCrypto digest is an asynchronous call costing tens of microseconds: both halves together
 * (computed concurrently) take about 50 ms in Node, and 5200 would take five times as long.
 */
import { concatBytes, framedConcat, toBufferSource, utf8 } from '../encoding.ts';

export const SAFETY_NUMBER_ITERATIONS = 1024;
const SAFETY_NUMBER_LABEL = utf8('parley/v1 safety number');
const CHUNKS_PER_HALF = 6;
const CHUNK_BYTES = 5;
const DIGITS_PER_GROUP = 5;
const GROUP_MODULUS = 10 ** DIGITS_PER_GROUP;

/**
 * Throws for a key that is not ECDSA P-256: by the time a number is shown, the peer's key has already been
 * accepted (its signature verified), so a bad key here is a caller bug, not an input to report.
 */
async function canonicalPoint(spki: Uint8Array): Promise<Uint8Array> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('spki', toBufferSource(spki), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  } catch {
    throw new Error('a safety number needs two ECDSA P-256 public keys (SPKI)');
  }
  return new Uint8Array(await crypto.subtle.exportKey('raw', key));
}

async function halfDigits(point: Uint8Array): Promise<string> {
  let digest = framedConcat(SAFETY_NUMBER_LABEL, point);
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) {
    digest = new Uint8Array(await crypto.subtle.digest('SHA-512', toBufferSource(concatBytes(digest, point))));
  }
  let digits = '';
  for (let chunk = 0; chunk < CHUNKS_PER_HALF; chunk++) {
    // 40 bits fit exactly in a double, so plain arithmetic is safe here.
    let value = 0;
    for (let offset = 0; offset < CHUNK_BYTES; offset++) value = value * 256 + (digest[chunk * CHUNK_BYTES + offset] ?? 0);
    digits += String(value % GROUP_MODULUS).padStart(DIGITS_PER_GROUP, '0');
  }
  return digits;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/** "12345 67890 …": 12 groups of 5 digits; the same whichever side computes it. */
export async function safetyNumber(ourSpki: Uint8Array, theirSpki: Uint8Array): Promise<string> {
  const [ours, theirs] = await Promise.all([canonicalPoint(ourSpki), canonicalPoint(theirSpki)]);
  const [first, second] = compareBytes(ours, theirs) <= 0 ? [ours, theirs] : [theirs, ours];
  const halves = await Promise.all([halfDigits(first), halfDigits(second)]);
  const digits = halves.join('');
  const groups: string[] = [];
  for (let offset = 0; offset < digits.length; offset += DIGITS_PER_GROUP) groups.push(digits.slice(offset, offset + DIGITS_PER_GROUP));
  return groups.join(' ');
}
