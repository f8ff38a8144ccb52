/**
 * The plaintext of the sealed frames a group room exchanges (spec §12.5): messages (text, replies, deletions),
 * cumulative receipts, liveness (ping, pong, bye) and consistency digests, each with a strict parser. Sizes are fixed where they
 * can be, so a parser never has to trust a length the peer wrote.
 */
import { bytesToBase64url, base64urlToBytes, concatBytes, fromUtf8, utf8 } from '../encoding.ts';
import { FrameType } from './frames.ts';

export type GroupFrameType =
  | typeof FrameType.message
  | typeof FrameType.reply
  | typeof FrameType.deletion
  | typeof FrameType.typing
  | typeof FrameType.receipts
  | typeof FrameType.ping
  | typeof FrameType.pong
  | typeof FrameType.bye
  | typeof FrameType.digests;

export const MESSAGE_ID_BYTES = 16;
export const MEMBER_ID_BYTES = 16;
export const DIGEST_BYTES = 16;
/** The most text one message may carry, in UTF-8 bytes. */
export const MAX_MESSAGE_TEXT_BYTES = 65_536;
/** Entries in one digests frame. */
export const MAX_DIGEST_ENTRIES = 64;

/** Who a message is for: everyone addressed, or only the member at the other end of this session. */
export type Stream = 'group' | 'private';

/**
 * What a message says: text (answering an earlier message when `replyTo` is its id), or the author taking back
 * one of its own earlier messages. A reply carries only the id it answers, never the quoted words: each receiver
 * quotes from what it holds itself, so nobody can misquote anyone.
 */
export type MessageBody =
  | { readonly type: 'text'; readonly text: string; readonly replyTo: string | null }
  | { readonly type: 'deletion'; readonly target: string };

export interface GroupMessage {
  /** 16 random bytes as base64url (22 characters). */
  readonly id: string;
  /** The author's member id as base64url; the receiver checks it against the session's peer. */
  readonly author: string;
  /** The author's sequence number, one counter per author per room, ≥ 1. */
  readonly seq: number;
  /** The author's own clock when written: its claim, for display only. */
  readonly writtenAtMs: number;
  readonly stream: Stream;
  readonly body: MessageBody;
}

/** A message's text, or null for a deletion. */
export function messageText(message: GroupMessage): string | null {
  return message.body.type === 'text' ? message.body.text : null;
}

/** A text message's body, answering `replyTo` if given. */
export function textBody(text: string, replyTo: string | null = null): MessageBody {
  return { type: 'text', text, replyTo };
}

export interface DigestEntry {
  readonly author: string;
  readonly seq: number;
  /** 16 bytes as base64url. */
  readonly digest: string;
}

export type GroupFrame =
  | { readonly type: 'message'; readonly message: GroupMessage }
  | { readonly type: 'receipts'; readonly deliveredSeq: number; readonly readSeq: number }
  | { readonly type: 'ping'; readonly n: number }
  | { readonly type: 'pong'; readonly n: number }
  | { readonly type: 'bye' }
  | { readonly type: 'digests'; readonly entries: readonly DigestEntry[] }
  /** The sender is writing to the receiver now (`true`), or stopped (`false`). */
  | { readonly type: 'typing'; readonly typing: boolean };

export type GroupFrameParseResult = { readonly ok: true; readonly frame: GroupFrame } | { readonly ok: false; readonly reason: string };

const MESSAGE_FIXED_BYTES = MESSAGE_ID_BYTES + MEMBER_ID_BYTES + 8 + 8 + 1;
const DIGEST_ENTRY_BYTES = MEMBER_ID_BYTES + 8 + DIGEST_BYTES;
const STREAM_BYTE: Readonly<Record<Stream, number>> = { group: 0x00, private: 0x01 };

export function textSizeBytes(text: string): number {
  return utf8(text).length;
}

function fixedBytes(text: string, length: number, what: string): Uint8Array {
  const bytes = base64urlToBytes(text);
  if (bytes === null || bytes.length !== length) throw new Error(`${what} ${text} is not ${length} bytes of base64url`);
  return bytes;
}

function u64(value: number, what: string): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${what} ${value} is not a safe non-negative integer`);
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
  return bytes;
}

/** A u64 that must fit a JavaScript safe integer; null otherwise. */
function readU64(bytes: Uint8Array, offset: number): number | null {
  const value = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
}

function encodeMessage(message: GroupMessage): { readonly type: GroupFrameType; readonly plaintext: Uint8Array } {
  const { id, author, seq, writtenAtMs, stream, body } = message;
  if (seq < 1) throw new Error(`message seq ${seq} is below 1`);
  const fixed = concatBytes(
    fixedBytes(id, MESSAGE_ID_BYTES, 'message id'),
    fixedBytes(author, MEMBER_ID_BYTES, 'member id'),
    u64(seq, 'seq'),
    u64(writtenAtMs, 'writtenAtMs'),
    Uint8Array.of(STREAM_BYTE[stream]),
  );
  switch (body.type) {
    case 'text': {
      const textBytes = utf8(body.text);
      if (textBytes.length === 0 || textBytes.length > MAX_MESSAGE_TEXT_BYTES) {
        throw new Error(`message text of ${textBytes.length} bytes is outside 1..${MAX_MESSAGE_TEXT_BYTES}`);
      }
      if (body.replyTo === null) return { type: FrameType.message, plaintext: concatBytes(fixed, textBytes) };
      return { type: FrameType.reply, plaintext: concatBytes(fixed, fixedBytes(body.replyTo, MESSAGE_ID_BYTES, 'replied message id'), textBytes) };
    }
    case 'deletion':
      return { type: FrameType.deletion, plaintext: concatBytes(fixed, fixedBytes(body.target, MESSAGE_ID_BYTES, 'deleted message id')) };
  }
}

export function encodeGroupFrame(frame: GroupFrame): { readonly type: GroupFrameType; readonly plaintext: Uint8Array } {
  switch (frame.type) {
    case 'message':
      return encodeMessage(frame.message);
    case 'receipts':
      return { type: FrameType.receipts, plaintext: concatBytes(u64(frame.deliveredSeq, 'deliveredSeq'), u64(frame.readSeq, 'readSeq')) };
    case 'ping':
      return { type: FrameType.ping, plaintext: u64(frame.n, 'ping') };
    case 'pong':
      return { type: FrameType.pong, plaintext: u64(frame.n, 'pong') };
    case 'bye':
      return { type: FrameType.bye, plaintext: new Uint8Array(0) };
    case 'typing':
      return { type: FrameType.typing, plaintext: Uint8Array.of(frame.typing ? 1 : 0) };
    case 'digests': {
      const { entries } = frame;
      if (entries.length < 1 || entries.length > MAX_DIGEST_ENTRIES) throw new Error(`${entries.length} digest entries is outside 1..${MAX_DIGEST_ENTRIES}`);
      const parts = entries.map((entry) =>
        concatBytes(fixedBytes(entry.author, MEMBER_ID_BYTES, 'member id'), u64(entry.seq, 'seq'), fixedBytes(entry.digest, DIGEST_BYTES, 'digest')),
      );
      return { type: FrameType.digests, plaintext: concatBytes(Uint8Array.of(entries.length), ...parts) };
    }
  }
}

/** What follows a message's fixed fields in each of the three message frame types. */
type MessageFrameType = typeof FrameType.message | typeof FrameType.reply | typeof FrameType.deletion;

function parseText(textBytes: Uint8Array): { readonly text: string } | { readonly reason: string } {
  if (textBytes.length === 0) return { reason: 'message without text' };
  if (textBytes.length > MAX_MESSAGE_TEXT_BYTES) return { reason: `message text of ${textBytes.length} bytes exceeds ${MAX_MESSAGE_TEXT_BYTES}` };
  const text = fromUtf8(textBytes);
  return text === null ? { reason: 'message text is not valid UTF-8' } : { text };
}

function parseMessageRest(type: MessageFrameType, rest: Uint8Array): { readonly body: MessageBody } | { readonly reason: string } {
  switch (type) {
    case FrameType.message: {
      const parsed = parseText(rest);
      return 'reason' in parsed ? parsed : { body: { type: 'text', text: parsed.text, replyTo: null } };
    }
    case FrameType.reply: {
      if (rest.length < MESSAGE_ID_BYTES) return { reason: 'reply shorter than the id it answers' };
      const parsed = parseText(rest.subarray(MESSAGE_ID_BYTES));
      if ('reason' in parsed) return parsed;
      return { body: { type: 'text', text: parsed.text, replyTo: bytesToBase64url(rest.subarray(0, MESSAGE_ID_BYTES)) } };
    }
    case FrameType.deletion:
      if (rest.length !== MESSAGE_ID_BYTES) return { reason: `deletion of ${rest.length} bytes after its fixed fields is not one message id` };
      return { body: { type: 'deletion', target: bytesToBase64url(rest) } };
  }
}

function parseMessage(type: MessageFrameType, plaintext: Uint8Array): GroupFrameParseResult {
  if (plaintext.length < MESSAGE_FIXED_BYTES) return { ok: false, reason: 'message shorter than its fixed fields' };
  const seq = readU64(plaintext, MESSAGE_ID_BYTES + MEMBER_ID_BYTES);
  const writtenAtMs = readU64(plaintext, MESSAGE_ID_BYTES + MEMBER_ID_BYTES + 8);
  if (seq === null || seq < 1) return { ok: false, reason: 'message seq is 0 or beyond 2^53' };
  if (writtenAtMs === null) return { ok: false, reason: 'message time is beyond 2^53' };
  const streamByte = plaintext[MESSAGE_FIXED_BYTES - 1];
  const stream: Stream | null = streamByte === 0x00 ? 'group' : streamByte === 0x01 ? 'private' : null;
  if (stream === null) return { ok: false, reason: `unknown message stream ${streamByte}` };
  const rest = parseMessageRest(type, plaintext.subarray(MESSAGE_FIXED_BYTES));
  if ('reason' in rest) return { ok: false, reason: rest.reason };
  return {
    ok: true,
    frame: {
      type: 'message',
      message: {
        id: bytesToBase64url(plaintext.subarray(0, MESSAGE_ID_BYTES)),
        author: bytesToBase64url(plaintext.subarray(MESSAGE_ID_BYTES, MESSAGE_ID_BYTES + MEMBER_ID_BYTES)),
        seq,
        writtenAtMs,
        stream,
        body: rest.body,
      },
    },
  };
}

function parseCounter(plaintext: Uint8Array, what: 'ping' | 'pong'): GroupFrameParseResult {
  if (plaintext.length !== 8) return { ok: false, reason: `${what} of ${plaintext.length} bytes is not 8` };
  const n = readU64(plaintext, 0);
  if (n === null) return { ok: false, reason: `${what} counter beyond 2^53` };
  return { ok: true, frame: { type: what, n } };
}

function parseDigests(plaintext: Uint8Array): GroupFrameParseResult {
  const count = plaintext[0] ?? 0;
  if (count < 1 || count > MAX_DIGEST_ENTRIES) return { ok: false, reason: `${count} digest entries is outside 1..${MAX_DIGEST_ENTRIES}` };
  if (plaintext.length !== 1 + count * DIGEST_ENTRY_BYTES) return { ok: false, reason: 'digests length does not match its count' };
  const entries: DigestEntry[] = [];
  for (let index = 0; index < count; index++) {
    const at = 1 + index * DIGEST_ENTRY_BYTES;
    const seq = readU64(plaintext, at + MEMBER_ID_BYTES);
    if (seq === null || seq < 1) return { ok: false, reason: 'digest seq is 0 or beyond 2^53' };
    entries.push({
      author: bytesToBase64url(plaintext.subarray(at, at + MEMBER_ID_BYTES)),
      seq,
      digest: bytesToBase64url(plaintext.subarray(at + MEMBER_ID_BYTES + 8, at + DIGEST_ENTRY_BYTES)),
    });
  }
  return { ok: true, frame: { type: 'digests', entries } };
}

export function parseGroupFrame(type: GroupFrameType, plaintext: Uint8Array): GroupFrameParseResult {
  switch (type) {
    case FrameType.message:
    case FrameType.reply:
    case FrameType.deletion:
      return parseMessage(type, plaintext);
    case FrameType.receipts: {
      if (plaintext.length !== 16) return { ok: false, reason: `receipts of ${plaintext.length} bytes is not 16` };
      const deliveredSeq = readU64(plaintext, 0);
      const readSeq = readU64(plaintext, 8);
      if (deliveredSeq === null || readSeq === null) return { ok: false, reason: 'receipt seq beyond 2^53' };
      return { ok: true, frame: { type: 'receipts', deliveredSeq, readSeq } };
    }
    case FrameType.ping:
      return parseCounter(plaintext, 'ping');
    case FrameType.pong:
      return parseCounter(plaintext, 'pong');
    case FrameType.bye:
      return plaintext.length === 0 ? { ok: true, frame: { type: 'bye' } } : { ok: false, reason: 'bye carries bytes' };
    case FrameType.digests:
      return parseDigests(plaintext);
    case FrameType.typing:
      if (plaintext.length !== 1 || (plaintext[0] !== 0 && plaintext[0] !== 1)) return { ok: false, reason: 'typing is not one byte 0 or 1' };
      return { ok: true, frame: { type: 'typing', typing: plaintext[0] === 1 } };
  }
}
