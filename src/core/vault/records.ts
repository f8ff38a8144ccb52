/**
 * Seals and opens every record the vault stores: AES-GCM-256 under the data key, with additional data
 * framedConcat("parley/v1 record", kind, id), so a record moved to another id or kind, or copied in from
 * another vault, does not open.
 */
import { concatBytes, framedConcat, fromUtf8, parseJsonBytes, toBufferSource, utf8 } from '../encoding.ts';
import type { Random } from '../ports.ts';

export const RECORD_KINDS = ['message', 'image', 'contact', 'settings', 'conversation', 'outbox'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/**
 * Random 96-bit IVs. NIST SP 800-38D caps a key at 2^32 random-IV encryptions (keeping the chance of any IV
 * repeating below 2^-32). A vault that seals a thousand records a day for a century reaches about 2^25,
 * under a hundredth of that. A passphrase change keeps the data key, and so keeps counting.
 */
export const RECORD_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
/** The smallest sealed record: an IV and the tag of an empty plaintext. */
export const MIN_SEALED_RECORD_BYTES = RECORD_IV_BYTES + GCM_TAG_BYTES;

export type OpenRecordResult =
  | { readonly ok: true; readonly plaintext: Uint8Array }
  | { readonly ok: false; readonly reason: 'unauthentic' | 'malformed' };

export type OpenJsonRecordResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly reason: 'unauthentic' | 'malformed' };

export function isRecordKind(value: unknown): value is RecordKind {
  return RECORD_KINDS.some((kind) => kind === value);
}

/**
 * TextEncoder turns every lone surrogate into U+FFFD, so two different ill-formed ids would share one
 * additional data and a record could be moved between them; only ids that survive a UTF-8 round trip bind.
 */
function isWellFormedId(id: string): boolean {
  return fromUtf8(utf8(id)) === id;
}

function recordAdditionalData(kind: RecordKind, id: string): Uint8Array<ArrayBuffer> {
  return toBufferSource(framedConcat(utf8('parley/v1 record'), utf8(kind), utf8(id)));
}

/** Returns IV ‖ ciphertext ‖ tag. The id must be unique within its kind for the binding to mean anything. */
export async function sealRecord(
  dataKey: CryptoKey,
  kind: RecordKind,
  id: string,
  plaintext: Uint8Array,
  random: Random,
): Promise<Uint8Array> {
  if (!isWellFormedId(id)) throw new Error('record id is not well-formed UTF-16 (lone surrogate)');
  const iv = toBufferSource(random.bytes(RECORD_IV_BYTES));
  if (iv.length !== RECORD_IV_BYTES) throw new Error(`Random returned ${iv.length} bytes for a ${RECORD_IV_BYTES}-byte IV`);
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: recordAdditionalData(kind, id) },
    dataKey,
    toBufferSource(plaintext),
  );
  return concatBytes(iv, new Uint8Array(ciphertext));
}

/** 'malformed': too short to be a sealed record, or an id nothing can have been sealed under; 'unauthentic': the tag fails. */
export async function openRecord(dataKey: CryptoKey, kind: RecordKind, id: string, sealed: Uint8Array): Promise<OpenRecordResult> {
  if (sealed.length < MIN_SEALED_RECORD_BYTES || !isWellFormedId(id)) return { ok: false, reason: 'malformed' };
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: toBufferSource(sealed.slice(0, RECORD_IV_BYTES)), additionalData: recordAdditionalData(kind, id) },
      dataKey,
      toBufferSource(sealed.subarray(RECORD_IV_BYTES)),
    );
    return { ok: true, plaintext: new Uint8Array(plaintext) };
  } catch {
    // AES-GCM cannot tell a wrong key from a moved or altered record, and must not: all are "not ours".
    return { ok: false, reason: 'unauthentic' };
  }
}

/** JSON.stringify, then sealRecord. Throws for values JSON cannot represent (undefined, functions): a caller bug. */
export async function sealJsonRecord(dataKey: CryptoKey, kind: RecordKind, id: string, value: unknown, random: Random): Promise<Uint8Array> {
  const text: unknown = JSON.stringify(value);
  if (typeof text !== 'string') throw new Error(`a ${kind} record value has no JSON form`);
  const plaintext = utf8(text);
  try {
    return await sealRecord(dataKey, kind, id, plaintext, random);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * openRecord, then strict UTF-8 and JSON. The value is `unknown`: an authentic record is still parsed by its
 * caller, because a record written by an older version (or a bug) is no more trusted than the wire.
 */
export async function openJsonRecord(dataKey: CryptoKey, kind: RecordKind, id: string, sealed: Uint8Array): Promise<OpenJsonRecordResult> {
  const opened = await openRecord(dataKey, kind, id, sealed);
  if (!opened.ok) return opened;
  const parsed = parseJsonBytes(opened.plaintext);
  opened.plaintext.fill(0);
  return parsed.ok ? { ok: true, value: parsed.value } : { ok: false, reason: 'malformed' };
}
