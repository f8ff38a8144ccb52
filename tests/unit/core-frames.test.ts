import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/core/encoding.ts';
import {
  encodeFrameHeader,
  FRAME_HEADER_BYTES,
  FRAME_VERSION,
  FrameType,
  MAX_FRAME_BYTES,
  parseFrame,
  type FrameType as FrameTypeValue,
} from '../../src/core/protocol/frames.ts';

const MAX_U64 = 2n ** 64n - 1n;

function frameOf(type: FrameTypeValue, seq: bigint, body: Uint8Array): Uint8Array {
  return concatBytes(encodeFrameHeader(type, seq), body);
}

describe('encodeFrameHeader', () => {
  it('writes version, type and a big-endian u64 sequence number in 10 bytes', () => {
    expect(FRAME_HEADER_BYTES).toBe(10);
    expect(encodeFrameHeader(FrameType.message, 0x0102030405060708n)).toEqual(Uint8Array.of(FRAME_VERSION, 0x12, 1, 2, 3, 4, 5, 6, 7, 8));
  });
});

describe('parseFrame', () => {
  it('round-trips every frame type with boundary sequence numbers', () => {
    const body = Uint8Array.of(9, 8, 7);
    for (const type of Object.values(FrameType)) {
      for (const seq of [0n, 1n, 255n, 256n, 2n ** 32n, 2n ** 63n, MAX_U64]) {
        const bytes = frameOf(type, seq, body);
        const parsed = parseFrame(bytes);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) continue;
        expect(parsed.frame.type).toBe(type);
        expect(parsed.frame.seq).toBe(seq);
        expect(parsed.frame.header).toEqual(bytes.subarray(0, 10));
        expect(parsed.frame.body).toEqual(body);
      }
    }
  });

  it('accepts a header with an empty body', () => {
    const parsed = parseFrame(encodeFrameHeader(FrameType.receipts, 5n));
    expect(parsed.ok && parsed.frame.body.length).toBe(0);
  });

  it('reads correctly from a view into a larger buffer (non-zero byteOffset)', () => {
    const inner = frameOf(FrameType.confirm, 42n, Uint8Array.of(1, 2));
    const outer = concatBytes(Uint8Array.of(0xff, 0xff, 0xff), inner, Uint8Array.of(0xee));
    const view = outer.subarray(3, 3 + inner.length);
    const parsed = parseFrame(view);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.frame.type).toBe(FrameType.confirm);
      expect(parsed.frame.seq).toBe(42n);
      expect(parsed.frame.body).toEqual(Uint8Array.of(1, 2));
    }
  });

  it('splits header and body as views of the input, without copying a chunk-sized body', () => {
    const bytes = frameOf(FrameType.message, 1n, Uint8Array.of(1, 2, 3));
    const parsed = parseFrame(bytes);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.frame.header.buffer).toBe(bytes.buffer);
    expect(parsed.frame.body.buffer).toBe(bytes.buffer);
    expect([...parsed.frame.header]).toEqual([...bytes.subarray(0, FRAME_HEADER_BYTES)]);
    expect([...parsed.frame.body]).toEqual([1, 2, 3]);
  });

  it('refuses anything shorter than the header', () => {
    const header = encodeFrameHeader(FrameType.message, 0n);
    for (let length = 0; length < FRAME_HEADER_BYTES; length++) {
      expect(parseFrame(header.subarray(0, length)).ok, `length ${length}`).toBe(false);
    }
  });

  it('accepts exactly MAX_FRAME_BYTES and refuses one byte more', () => {
    expect(MAX_FRAME_BYTES).toBe(262_144);
    expect(parseFrame(frameOf(FrameType.message, 0n, new Uint8Array(MAX_FRAME_BYTES - FRAME_HEADER_BYTES))).ok).toBe(true);
    const oversized = parseFrame(frameOf(FrameType.message, 0n, new Uint8Array(MAX_FRAME_BYTES - FRAME_HEADER_BYTES + 1)));
    expect(oversized.ok).toBe(false);
  });

  it('refuses other versions (1, the two-person protocol, and 2, the one before hash-list transfers, included)', () => {
    for (const version of [0, 1, 2, 4, 0xff]) {
      const bytes = frameOf(FrameType.message, 0n, Uint8Array.of(1));
      bytes[0] = version;
      expect(parseFrame(bytes).ok, `version ${version}`).toBe(false);
    }
  });

  it('refuses unknown types', () => {
    const known = new Set<number>(Object.values(FrameType));
    for (let type = 0; type < 256; type++) {
      const bytes = frameOf(FrameType.message, 0n, Uint8Array.of(1));
      bytes[1] = type;
      expect(parseFrame(bytes).ok, `type ${type}`).toBe(known.has(type));
    }
  });

  it('gives a reason when refusing', () => {
    const result = parseFrame(new Uint8Array(3));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/shorter/);
  });
});
