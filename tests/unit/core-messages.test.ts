import { describe, expect, it } from 'vitest';
import { bytesToBase64url, concatBytes, utf8 } from '../../src/core/encoding.ts';
import { FrameType } from '../../src/core/protocol/frames.ts';
import {
  encodeMessage,
  MAX_MESSAGE_TEXT_BYTES,
  MESSAGE_ID_BYTES,
  parseMessage,
  textSizeBytes,
  type SessionMessage,
} from '../../src/core/protocol/messages.ts';
import { seededRandom } from './support/coreFixtures.ts';

const random = seededRandom(42);
const newId = (): string => bytesToBase64url(random.bytes(MESSAGE_ID_BYTES));
const idBytes = (): Uint8Array => random.bytes(MESSAGE_ID_BYTES);

function roundTrip(message: SessionMessage): SessionMessage {
  const { type, plaintext } = encodeMessage(message);
  const parsed = parseMessage(type, plaintext);
  if (!parsed.ok) throw new Error(`did not parse: ${parsed.reason}`);
  return parsed.message;
}

describe('chat messages', () => {
  it('round-trip plain, emoji, RTL and combining-mark text exactly', () => {
    const texts = [
      'hello',
      'x',
      '😀👩‍👩‍👧‍👦🏳️‍🌈',
      'שלום עולם',
      'مرحبا بالعالم',
      'e\u0301 a\u0308 \u1100\u1161\u11a8',
      'mixed English and עברית \u202e reversed',
      'line one\nline two\r\n\ttabbed',
      '\u0000 NUL and \ufeff BOM',
    ];
    for (const text of texts) {
      const message: SessionMessage = { type: 'chat', id: newId(), text };
      expect(roundTrip(message)).toEqual(message);
    }
  });

  it('encodes to a chat frame type with the 16-byte id first', () => {
    const id = newId();
    const { type, plaintext } = encodeMessage({ type: 'chat', id, text: 'hi' });
    expect(type).toBe(FrameType.chat);
    expect(plaintext.length).toBe(MESSAGE_ID_BYTES + 2);
    expect(bytesToBase64url(plaintext.subarray(0, MESSAGE_ID_BYTES))).toBe(id);
  });

  it('accepts exactly 65536 bytes of text, single-byte and multi-byte', () => {
    expect(MAX_MESSAGE_TEXT_BYTES).toBe(65_536);
    const ascii = 'a'.repeat(MAX_MESSAGE_TEXT_BYTES);
    const multi = `${'€'.repeat(21_845)}a`;
    expect(textSizeBytes(multi)).toBe(MAX_MESSAGE_TEXT_BYTES);
    for (const text of [ascii, multi]) {
      const message: SessionMessage = { type: 'chat', id: newId(), text };
      expect(roundTrip(message)).toEqual(message);
    }
  });

  it('refuses 65537 bytes on encode', () => {
    expect(() => encodeMessage({ type: 'chat', id: newId(), text: 'a'.repeat(MAX_MESSAGE_TEXT_BYTES + 1) })).toThrow();
    // 21845 × 3 + 2 bytes: one character fewer than the limit counts as too many bytes.
    expect(() => encodeMessage({ type: 'chat', id: newId(), text: `${'€'.repeat(21_845)}é` })).toThrow();
  });

  it('refuses 65537 bytes on parse', () => {
    const plaintext = concatBytes(idBytes(), new Uint8Array(MAX_MESSAGE_TEXT_BYTES + 1).fill(0x61));
    expect(parseMessage(FrameType.chat, plaintext).ok).toBe(false);
  });

  it('refuses empty text on encode and on parse', () => {
    expect(() => encodeMessage({ type: 'chat', id: newId(), text: '' })).toThrow();
    expect(parseMessage(FrameType.chat, idBytes()).ok).toBe(false);
  });

  it('refuses invalid UTF-8 on parse', () => {
    const cases = [Uint8Array.of(0xff), Uint8Array.of(0x61, 0xe2, 0x82), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xc0, 0xaf)];
    for (const text of cases) expect(parseMessage(FrameType.chat, concatBytes(idBytes(), text)).ok).toBe(false);
  });

  it('refuses a chat plaintext shorter than its id', () => {
    expect(parseMessage(FrameType.chat, new Uint8Array(MESSAGE_ID_BYTES - 1)).ok).toBe(false);
    expect(parseMessage(FrameType.chat, new Uint8Array(0)).ok).toBe(false);
  });

  it('replaces a lone surrogate with U+FFFD on encode (TextEncoder behaviour) rather than refusing it', () => {
    const message: SessionMessage = { type: 'chat', id: newId(), text: 'a\ud800b' };
    expect(roundTrip(message)).toEqual({ ...message, text: 'a\ufffdb' });
  });
});

describe('receipts', () => {
  it('round-trip', () => {
    const message: SessionMessage = { type: 'receipt', id: newId() };
    expect(roundTrip(message)).toEqual(message);
    expect(encodeMessage(message).type).toBe(FrameType.receipt);
    expect(encodeMessage(message).plaintext.length).toBe(MESSAGE_ID_BYTES);
  });

  it('refuse extra bytes after the id', () => {
    expect(parseMessage(FrameType.receipt, concatBytes(idBytes(), Uint8Array.of(0))).ok).toBe(false);
    expect(parseMessage(FrameType.receipt, concatBytes(idBytes(), utf8('text'))).ok).toBe(false);
  });

  it('refuse fewer bytes than an id', () => {
    expect(parseMessage(FrameType.receipt, new Uint8Array(MESSAGE_ID_BYTES - 1)).ok).toBe(false);
  });
});

describe('message ids', () => {
  it('encode refuses ids that are not exactly 16 bytes of canonical base64url', () => {
    const good = newId();
    for (const id of ['', 'abc', bytesToBase64url(new Uint8Array(15)), bytesToBase64url(new Uint8Array(17)), `${good.slice(0, -1)}+`, `${good}==`]) {
      expect(() => encodeMessage({ type: 'receipt', id })).toThrow();
      expect(() => encodeMessage({ type: 'chat', id, text: 'x' })).toThrow();
    }
  });
});
