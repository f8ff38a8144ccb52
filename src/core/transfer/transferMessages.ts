/** Transfer control messages (offer, accept, ack, cancel, complete) and the binary chunk header, with strict codecs. */
import { assertNever } from '../assertNever.ts';
import { base64urlToBytes, bytesToBase64url, parseJsonBytes, utf8 } from '../encoding.ts';
import type { Random } from '../ports.ts';
import { planChunks } from './chunkPlan.ts';
import { hasUnsafeNameChar, safeFileName } from './fileName.ts';
import { MAX_CHUNK_BYTES, MAX_MIME_CHARS, MAX_NAME_CHARS, MIN_CHUNK_BYTES, TRANSFER_ID_BYTES } from './transferLimits.ts';

export const SHA256_BYTES = 32;
/**
 * The last chunk's data is the file's last bytes followed by the content digest of the whole file (a SHA-256 hash
 * list, §7.9, see hashList.ts), sealed with it.
 * Sent at the end instead of in the offer, so the first chunk leaves at once instead of after a whole extra
 * pass over the file, and the file is read once (§7.4).
 */
export const DIGEST_TRAILER_BYTES = SHA256_BYTES;
/** Generous for the largest legitimate offer (a 255-character name written entirely as \u escapes is 1 530 bytes). */
export const MAX_CONTROL_BYTES = 4096;
/** Chunk indices travel as u32, so a plan may have at most 2^32 chunks. */
export const MAX_CHUNK_COUNT = 2 ** 32;

export interface TransferOffer {
  /** base64url of TRANSFER_ID_BYTES random bytes. */
  readonly id: string;
  readonly name: string;
  readonly mimeType: string;
  readonly sizeBytes: number;
  readonly chunkBytes: number;
  readonly chunkCount: number;
}

export type CancelReason =
  | 'cancelled-by-sender'
  | 'cancelled-by-receiver'
  | 'too-large'
  | 'hash-mismatch'
  | 'protocol-error'
  | 'timed-out'
  | 'too-many-transfers'
  | 'storage-failed';

export const CANCEL_REASONS: readonly CancelReason[] = [
  'cancelled-by-sender',
  'cancelled-by-receiver',
  'too-large',
  'hash-mismatch',
  'protocol-error',
  'timed-out',
  'too-many-transfers',
  'storage-failed',
];

export type TransferControl =
  | { readonly type: 'offer'; readonly offer: TransferOffer }
  | { readonly type: 'accept'; readonly id: string; readonly offsetBytes: number }
  | { readonly type: 'ack'; readonly id: string; readonly receivedBytes: number }
  | { readonly type: 'cancel'; readonly id: string; readonly reason: CancelReason }
  | { readonly type: 'complete'; readonly id: string };

export type TransferControlParseResult =
  | { readonly ok: true; readonly message: TransferControl }
  | { readonly ok: false; readonly reason: string };

export interface ChunkHeader {
  readonly id: string;
  readonly index: number;
  readonly isLast: boolean;
}

/** 16-byte id, u32 index (big endian), u8 flags (bit 0 = last; other bits must be 0). */
export const CHUNK_HEADER_BYTES = 21;
const LAST_CHUNK_FLAG = 0x01;

/** RFC 7230 token characters; a MIME type here is exactly `token/token`, without parameters. */
const MIME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function newTransferId(random: Random): string {
  return bytesToBase64url(random.bytes(TRANSFER_ID_BYTES));
}

export function isTransferId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const bytes = base64urlToBytes(value);
  return bytes !== null && bytes.length === TRANSFER_ID_BYTES;
}

function isCancelReason(value: unknown): value is CancelReason {
  return CANCEL_REASONS.some((reason) => reason === value);
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasExactKeys(obj: Record<string, unknown>, keys: readonly string[]): boolean {
  const actual = Object.keys(obj);
  return actual.length === keys.length && keys.every((key) => Object.hasOwn(obj, key));
}

/**
 * Why `offer` is not acceptable from the wire, or null if it is. Shared by the parser, the encoder and
 * IncomingTransfer, so no path can create or accept an offer the others would refuse. The maximum file
 * size is receiver policy and is not checked here.
 */
export function offerProblem(offer: TransferOffer): string | null {
  if (!isTransferId(offer.id)) return `transfer id is not ${TRANSFER_ID_BYTES} bytes of canonical base64url`;
  if (offer.name.length === 0 || offer.name.length > MAX_NAME_CHARS) return `name length ${offer.name.length} is outside 1..${MAX_NAME_CHARS}`;
  if (hasUnsafeNameChar(offer.name)) return 'name contains control, separator, bidi or lone surrogate characters';
  if (offer.mimeType.length > MAX_MIME_CHARS || !MIME_PATTERN.test(offer.mimeType)) return 'MIME type is not a short type/subtype';
  if (!isByteCount(offer.sizeBytes)) return 'size is not a safe non-negative integer';
  if (!Number.isSafeInteger(offer.chunkBytes) || offer.chunkBytes < MIN_CHUNK_BYTES || offer.chunkBytes > MAX_CHUNK_BYTES) {
    return `chunk size is outside ${MIN_CHUNK_BYTES}..${MAX_CHUNK_BYTES}`;
  }
  const expectedCount = planChunks(offer.sizeBytes, offer.chunkBytes).chunkCount;
  if (offer.chunkCount !== expectedCount) return `chunk count ${offer.chunkCount} does not match the ${expectedCount} the size implies`;
  if (expectedCount > MAX_CHUNK_COUNT) return 'more chunks than a u32 index can number';
  return null;
}

/** The name to announce for a local file: itself when the protocol accepts it, else a cleaned one. */
export function announceableName(name: string): string {
  if (name.length > 0 && name.length <= MAX_NAME_CHARS && !hasUnsafeNameChar(name)) return name;
  const cleaned = safeFileName(name);
  return hasUnsafeNameChar(cleaned) ? 'file' : cleaned;
}

/** The MIME type to announce: the local one when it is a plain `type/subtype`, else a generic one. */
export function announceableMimeType(mimeType: string): string {
  return mimeType.length <= MAX_MIME_CHARS && MIME_PATTERN.test(mimeType) ? mimeType : 'application/octet-stream';
}

/** True if a re-offer announces the same content as the offer being resumed (same id, name, type, size, chunking). */
export function isSameOffer(a: TransferOffer, b: TransferOffer): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.mimeType === b.mimeType &&
    a.sizeBytes === b.sizeBytes &&
    a.chunkBytes === b.chunkBytes &&
    a.chunkCount === b.chunkCount
  );
}

function toWire(message: TransferControl): Record<string, unknown> {
  switch (message.type) {
    case 'offer': {
      const { offer } = message;
      return {
        type: 'offer',
        id: offer.id,
        name: offer.name,
        mimeType: offer.mimeType,
        sizeBytes: offer.sizeBytes,
        chunkBytes: offer.chunkBytes,
        chunkCount: offer.chunkCount,
      };
    }
    case 'accept':
      return { type: 'accept', id: message.id, offsetBytes: message.offsetBytes };
    case 'ack':
      return { type: 'ack', id: message.id, receivedBytes: message.receivedBytes };
    case 'cancel':
      return { type: 'cancel', id: message.id, reason: message.reason };
    case 'complete':
      return { type: 'complete', id: message.id };
    default:
      return assertNever(message, 'transfer control message');
  }
}

/** UTF-8 JSON with the offer flattened into the message. Throws if the result would not parse: that is a bug here. */
export function encodeTransferControl(message: TransferControl): Uint8Array {
  const bytes = utf8(JSON.stringify(toWire(message)));
  const parsed = parseTransferControl(bytes);
  if (!parsed.ok) throw new Error(`refusing to encode an invalid ${message.type}: ${parsed.reason}`);
  return bytes;
}

function parseOffer(obj: Record<string, unknown>): TransferControlParseResult {
  if (!hasExactKeys(obj, ['type', 'id', 'name', 'mimeType', 'sizeBytes', 'chunkBytes', 'chunkCount'])) {
    return { ok: false, reason: 'offer has missing or extra keys' };
  }
  const { id, name, mimeType, sizeBytes, chunkBytes, chunkCount } = obj;
  if (typeof id !== 'string' || typeof name !== 'string' || typeof mimeType !== 'string') {
    return { ok: false, reason: 'offer has a non-string id, name or MIME type' };
  }
  if (typeof sizeBytes !== 'number' || typeof chunkBytes !== 'number' || typeof chunkCount !== 'number') {
    return { ok: false, reason: 'offer has a non-number size, chunk size or chunk count' };
  }
  const offer: TransferOffer = { id, name, mimeType, sizeBytes, chunkBytes, chunkCount };
  const problem = offerProblem(offer);
  if (problem !== null) return { ok: false, reason: problem };
  return { ok: true, message: { type: 'offer', offer } };
}

export function parseTransferControl(plaintext: Uint8Array): TransferControlParseResult {
  if (plaintext.length > MAX_CONTROL_BYTES) return { ok: false, reason: `control message of ${plaintext.length} bytes exceeds ${MAX_CONTROL_BYTES}` };
  const parsed = parseJsonBytes(plaintext);
  if (!parsed.ok) return { ok: false, reason: `control message is ${parsed.reason}` };
  const value = parsed.value;
  if (!isRecord(value)) return { ok: false, reason: 'control message is not a JSON object' };
  const type = value['type'];
  if (type === 'offer') return parseOffer(value);
  const id = value['id'];
  if (!isTransferId(id)) return { ok: false, reason: `transfer id is not ${TRANSFER_ID_BYTES} bytes of canonical base64url` };
  switch (type) {
    case 'accept': {
      const offsetBytes = value['offsetBytes'];
      if (!hasExactKeys(value, ['type', 'id', 'offsetBytes']) || !isByteCount(offsetBytes)) {
        return { ok: false, reason: 'accept needs exactly an id and a safe non-negative offset' };
      }
      return { ok: true, message: { type, id, offsetBytes } };
    }
    case 'ack': {
      const receivedBytes = value['receivedBytes'];
      if (!hasExactKeys(value, ['type', 'id', 'receivedBytes']) || !isByteCount(receivedBytes)) {
        return { ok: false, reason: 'ack needs exactly an id and a safe non-negative byte count' };
      }
      return { ok: true, message: { type, id, receivedBytes } };
    }
    case 'cancel': {
      const reason = value['reason'];
      if (!hasExactKeys(value, ['type', 'id', 'reason']) || !isCancelReason(reason)) {
        return { ok: false, reason: 'cancel needs exactly an id and a known reason' };
      }
      return { ok: true, message: { type, id, reason } };
    }
    case 'complete':
      if (!hasExactKeys(value, ['type', 'id'])) return { ok: false, reason: 'complete carries more than an id' };
      return { ok: true, message: { type, id } };
    default:
      return { ok: false, reason: 'unknown control message type' };
  }
}

/** Throws on an invalid id or index: headers are built only from our own validated plans. */
export function encodeChunkHeader(header: ChunkHeader): Uint8Array {
  const id = base64urlToBytes(header.id);
  if (id === null || id.length !== TRANSFER_ID_BYTES) throw new Error(`transfer id ${header.id} is not ${TRANSFER_ID_BYTES} bytes of base64url`);
  if (!Number.isSafeInteger(header.index) || header.index < 0 || header.index >= MAX_CHUNK_COUNT) {
    throw new RangeError(`chunk index ${header.index} does not fit a u32`);
  }
  const bytes = new Uint8Array(CHUNK_HEADER_BYTES);
  bytes.set(id, 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(TRANSFER_ID_BYTES, header.index);
  view.setUint8(TRANSFER_ID_BYTES + 4, header.isLast ? LAST_CHUNK_FLAG : 0);
  return bytes;
}

/** Null for a wrong length or any flag bit other than "last", so unknown flags never pass silently. */
export function parseChunkHeader(bytes: Uint8Array): ChunkHeader | null {
  if (bytes.length !== CHUNK_HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = view.getUint8(TRANSFER_ID_BYTES + 4);
  if ((flags & ~LAST_CHUNK_FLAG) !== 0) return null;
  return {
    id: bytesToBase64url(bytes.subarray(0, TRANSFER_ID_BYTES)),
    index: view.getUint32(TRANSFER_ID_BYTES),
    isLast: flags === LAST_CHUNK_FLAG,
  };
}
