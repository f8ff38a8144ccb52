/**
 * The group frame codec (spec §12.5): every frame round-trips exactly, the encoding is canonical, and every
 * malformed plaintext is refused with a reason rather than read loosely.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToBase64url, concatBytes, utf8 } from '../../src/core/encoding.ts';
import { FrameType } from '../../src/core/protocol/frames.ts';
import {
  DIGEST_BYTES,
  encodeGroupFrame,
  MAX_DIGEST_ENTRIES,
  MAX_MESSAGE_TEXT_BYTES,
  MEMBER_ID_BYTES,
  MESSAGE_ID_BYTES,
  parseGroupFrame,
  type GroupFrame,
  type GroupFrameType,
  textBody,
} from '../../src/core/protocol/groupMessages.ts';

const GROUP_TYPES: readonly GroupFrameType[] = [FrameType.message, FrameType.receipts, FrameType.ping, FrameType.pong, FrameType.bye, FrameType.digests];
const TWO_TO_53 = 2n ** 53n;

function u64(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value);
  return bytes;
}

function roundTrip(frame: GroupFrame): GroupFrame {
  const { type, plaintext } = encodeGroupFrame(frame);
  const parsed = parseGroupFrame(type, plaintext);
  if (!parsed.ok) throw new Error(`did not parse: ${parsed.reason}`);
  return parsed.frame;
}

function refusal(type: GroupFrameType, plaintext: Uint8Array): string {
  const parsed = parseGroupFrame(type, plaintext);
  if (parsed.ok) throw new Error(`parsed what should be refused: ${JSON.stringify(parsed.frame)}`);
  return parsed.reason;
}

const id16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(bytesToBase64url);
const safeSeq = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const safeCount = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const messageFrame = fc.record({
  type: fc.constant('message' as const),
  message: fc.record({
    id: id16,
    author: id16,
    seq: safeSeq,
    writtenAtMs: safeCount,
    stream: fc.constantFrom('group' as const, 'private' as const),
    body: fc.oneof(
      fc.record({ type: fc.constant('text' as const), text: fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), replyTo: fc.option(id16, { nil: null }) }),
      fc.record({ type: fc.constant('deletion' as const), target: id16 }),
    ),
  }),
});
const digestsFrame = fc.record({
  type: fc.constant('digests' as const),
  entries: fc.array(fc.record({ author: id16, seq: safeSeq, digest: id16 }), { minLength: 1, maxLength: MAX_DIGEST_ENTRIES }),
});
const anyFrame: fc.Arbitrary<GroupFrame> = fc.oneof(
  messageFrame,
  fc.record({ type: fc.constant('receipts' as const), deliveredSeq: safeCount, readSeq: safeCount }),
  fc.record({ type: fc.constant('ping' as const), n: safeCount }),
  fc.record({ type: fc.constant('pong' as const), n: safeCount }),
  fc.constant({ type: 'bye' as const }),
  digestsFrame,
);

/** A message plaintext with fields given as raw bytes, so each can be made wrong on its own. */
function messagePlaintext(fields: { seq?: bigint; writtenAtMs?: bigint; stream?: number; text?: Uint8Array; idBytes?: number } = {}): Uint8Array {
  return concatBytes(
    new Uint8Array(fields.idBytes ?? MESSAGE_ID_BYTES).fill(1),
    new Uint8Array(MEMBER_ID_BYTES).fill(2),
    u64(fields.seq ?? 1n),
    u64(fields.writtenAtMs ?? 0n),
    Uint8Array.of(fields.stream ?? 0),
    fields.text ?? utf8('hi'),
  );
}

function digestEntry(seq: bigint = 1n): Uint8Array {
  return concatBytes(new Uint8Array(MEMBER_ID_BYTES).fill(3), u64(seq), new Uint8Array(DIGEST_BYTES).fill(4));
}

describe('round trips', () => {
  it('every frame parses back to itself', () => {
    fc.assert(
      fc.property(anyFrame, (frame) => {
        expect(roundTrip(frame)).toEqual(frame);
      }),
    );
  });

  it('parsing is canonical and never throws: whatever parses re-encodes to the very same bytes', () => {
    const u64Near53 = fc.oneof(fc.bigInt({ min: 0n, max: TWO_TO_53 + 2n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(u64);
    // Plaintexts shaped like each frame, with every field free to be wrong, plus plain noise.
    const nearlyValid = fc.oneof(
      fc.tuple(fc.constant(FrameType.message), fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), u64Near53, u64Near53, fc.integer({ min: 0, max: 3 }).map((byte) => Uint8Array.of(byte)), fc.uint8Array({ maxLength: 12 })).map((parts) => concatBytes(...parts))),
      fc.tuple(fc.constant(FrameType.receipts), fc.tuple(u64Near53, u64Near53).map((parts) => concatBytes(...parts))),
      fc.tuple(fc.constantFrom(FrameType.ping, FrameType.pong), u64Near53),
      fc.tuple(fc.constant(FrameType.digests), fc.tuple(fc.integer({ min: 0, max: 3 }), fc.array(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), u64Near53, fc.uint8Array({ minLength: 16, maxLength: 16 })), { maxLength: 3 })).map(([count, entries]) => concatBytes(Uint8Array.of(count), ...entries.flat()))),
      fc.tuple(fc.constantFrom(...GROUP_TYPES), fc.uint8Array({ maxLength: 120 })),
    );
    fc.assert(
      fc.property(nearlyValid, ([type, plaintext]) => {
        const parsed = parseGroupFrame(type, plaintext);
        if (!parsed.ok) return;
        const again = encodeGroupFrame(parsed.frame);
        expect(again.type).toBe(type);
        expect(again.plaintext).toEqual(plaintext);
      }),
    );
  });

  it('lays a message out as id ‖ author ‖ seq ‖ writtenAtMs ‖ stream ‖ text', () => {
    const frame: GroupFrame = {
      type: 'message',
      message: { id: bytesToBase64url(new Uint8Array(16).fill(1)), author: bytesToBase64url(new Uint8Array(16).fill(2)), seq: 1, writtenAtMs: 0, stream: 'private', body: textBody('hi') },
    };
    expect(encodeGroupFrame(frame)).toEqual({ type: FrameType.message, plaintext: messagePlaintext({ stream: 1 }) });
  });

  it('carries the largest values: text of 65 536 bytes, seq and times up to 2^53 − 1, 64 digests', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const id = bytesToBase64url(new Uint8Array(16));
    const frames: GroupFrame[] = [
      { type: 'message', message: { id, author: id, seq: max, writtenAtMs: max, stream: 'group', body: textBody('é'.repeat(MAX_MESSAGE_TEXT_BYTES / 2)) } },
      { type: 'receipts', deliveredSeq: max, readSeq: 0 },
      { type: 'ping', n: max },
      { type: 'digests', entries: Array.from({ length: MAX_DIGEST_ENTRIES }, (_, seq) => ({ author: id, seq: seq + 1, digest: id })) },
    ];
    for (const frame of frames) expect(roundTrip(frame)).toEqual(frame);
  });
});

describe('malformed messages are refused', () => {
  it.each([
    ['no text', messagePlaintext({ text: new Uint8Array(0) })],
    ['shorter than the fixed fields', messagePlaintext().subarray(0, 30)],
    ['empty', new Uint8Array(0)],
    ['text of 65 537 bytes', messagePlaintext({ text: new Uint8Array(MAX_MESSAGE_TEXT_BYTES + 1).fill(0x61) })],
    ['seq 0', messagePlaintext({ seq: 0n })],
    ['seq 2^53', messagePlaintext({ seq: TWO_TO_53 })],
    ['seq 2^64 − 1', messagePlaintext({ seq: 2n ** 64n - 1n })],
    ['time 2^53', messagePlaintext({ writtenAtMs: TWO_TO_53 })],
    ['stream 2', messagePlaintext({ stream: 2 })],
    ['stream 0xff', messagePlaintext({ stream: 0xff })],
    ['invalid byte', messagePlaintext({ text: Uint8Array.of(0x61, 0xff) })],
    ['overlong NUL', messagePlaintext({ text: Uint8Array.of(0xc0, 0x80) })],
    ['encoded surrogate', messagePlaintext({ text: Uint8Array.of(0xed, 0xa0, 0x80) })],
    ['truncated sequence', messagePlaintext({ text: Uint8Array.of(0xe2, 0x82) })],
  ])('%s', (_, plaintext) => {
    expect(refusal(FrameType.message, plaintext)).toMatch(/./);
  });

  it('a message whose id is one byte short is read shifted, and refused', () => {
    // There is no length field to disagree with: one byte short moves the stream byte onto the text's "h".
    expect(refusal(FrameType.message, messagePlaintext({ idBytes: 15 }))).toBe('unknown message stream 104');
  });
});

describe('malformed receipts, ping, pong and bye are refused', () => {
  it.each([
    ['receipts of 15 bytes', FrameType.receipts, new Uint8Array(15)],
    ['receipts of 17 bytes', FrameType.receipts, new Uint8Array(17)],
    ['empty receipts', FrameType.receipts, new Uint8Array(0)],
    ['receipts delivered beyond 2^53', FrameType.receipts, concatBytes(u64(TWO_TO_53), u64(0n))],
    ['receipts read beyond 2^53', FrameType.receipts, concatBytes(u64(0n), u64(TWO_TO_53))],
    ['ping of 7 bytes', FrameType.ping, new Uint8Array(7)],
    ['ping of 9 bytes', FrameType.ping, new Uint8Array(9)],
    ['ping beyond 2^53', FrameType.ping, u64(TWO_TO_53)],
    ['pong of 0 bytes', FrameType.pong, new Uint8Array(0)],
    ['pong beyond 2^53', FrameType.pong, u64(2n ** 64n - 1n)],
    ['bye with a byte', FrameType.bye, new Uint8Array(1)],
  ] as const)('%s', (_, type, plaintext) => {
    expect(refusal(type, plaintext)).toMatch(/./);
  });
});

describe('malformed digests are refused', () => {
  it.each([
    ['empty', new Uint8Array(0)],
    ['count 0', Uint8Array.of(0)],
    ['count 0 with an entry', concatBytes(Uint8Array.of(0), digestEntry())],
    ['count 65 with 65 entries', concatBytes(Uint8Array.of(65), ...Array.from({ length: 65 }, () => digestEntry()))],
    ['count 2 with one entry', concatBytes(Uint8Array.of(2), digestEntry())],
    ['count 1 with two entries', concatBytes(Uint8Array.of(1), digestEntry(), digestEntry())],
    ['one byte too many', concatBytes(Uint8Array.of(1), digestEntry(), Uint8Array.of(0))],
    ['one byte too few', concatBytes(Uint8Array.of(1), digestEntry()).subarray(0, 40)],
    ['an entry with seq 0', concatBytes(Uint8Array.of(2), digestEntry(), digestEntry(0n))],
    ['an entry with seq 2^53', concatBytes(Uint8Array.of(1), digestEntry(TWO_TO_53))],
  ])('%s', (_, plaintext) => {
    expect(refusal(FrameType.digests, plaintext)).toMatch(/./);
  });
});

describe('the encoder refuses what the parser would', () => {
  const id = bytesToBase64url(new Uint8Array(16));
  const message = { id, author: id, seq: 1, writtenAtMs: 0, stream: 'group' as const, body: textBody('x') };
  it.each([
    ['empty text', { type: 'message', message: { ...message, body: textBody('') } }],
    ['text of 65 537 bytes', { type: 'message', message: { ...message, body: textBody('a'.repeat(MAX_MESSAGE_TEXT_BYTES + 1)) } }],
    ['seq 0', { type: 'message', message: { ...message, seq: 0 } }],
    ['an unsafe seq', { type: 'message', message: { ...message, seq: 2 ** 53 } }],
    ['a fractional time', { type: 'message', message: { ...message, writtenAtMs: 1.5 } }],
    ['a 15-byte id', { type: 'message', message: { ...message, id: bytesToBase64url(new Uint8Array(15)) } }],
    ['an author that is not base64url', { type: 'message', message: { ...message, author: '!'.repeat(22) } }],
    ['negative receipts', { type: 'receipts', deliveredSeq: -1, readSeq: 0 }],
    ['no digests', { type: 'digests', entries: [] }],
    ['65 digests', { type: 'digests', entries: Array.from({ length: 65 }, () => ({ author: id, seq: 1, digest: id })) }],
  ] satisfies [string, GroupFrame][])('%s', (_, frame) => {
    expect(() => encodeGroupFrame(frame)).toThrow();
  });
});
