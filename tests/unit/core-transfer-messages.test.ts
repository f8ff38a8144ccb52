import { describe, expect, it } from 'vitest';
import { bytesToBase64url, concatBytes, utf8 } from '../../src/core/encoding.ts';
import { planChunks } from '../../src/core/transfer/chunkPlan.ts';
import {
  CANCEL_REASONS,
  CHUNK_HEADER_BYTES,
  encodeChunkHeader,
  encodeTransferControl,
  isSameOffer,
  MAX_CONTROL_BYTES,
  newTransferId,
  parseChunkHeader,
  parseTransferControl,
  type TransferControl,
  type TransferOffer,
} from '../../src/core/transfer/transferMessages.ts';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MAX_MIME_CHARS, MAX_NAME_CHARS, MIN_CHUNK_BYTES, TRANSFER_ID_BYTES } from '../../src/core/transfer/transferLimits.ts';
import { seededRandom } from './support/coreFixtures.ts';

const random = seededRandom(7);
const id = (): string => newTransferId(random);

function offer(overrides: Partial<TransferOffer> = {}): TransferOffer {
  const sizeBytes = overrides.sizeBytes ?? 5 * 1024 * 1024 + 3;
  const chunkBytes = overrides.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  return {
    id: id(),
    name: 'holiday photo.jpg',
    mimeType: 'image/jpeg',
    sizeBytes,
    chunkBytes,
    chunkCount: planChunks(sizeBytes, chunkBytes).chunkCount,
    ...overrides,
  };
}

/** The wire form of an offer as a plain object, for building hostile variants. */
function offerJson(o: TransferOffer = offer()): Record<string, unknown> {
  return { type: 'offer', id: o.id, name: o.name, mimeType: o.mimeType, sizeBytes: o.sizeBytes, chunkBytes: o.chunkBytes, chunkCount: o.chunkCount };
}

const parseJson = (value: unknown): ReturnType<typeof parseTransferControl> => parseTransferControl(utf8(JSON.stringify(value)));

function roundTrip(message: TransferControl): TransferControl {
  const parsed = parseTransferControl(encodeTransferControl(message));
  if (!parsed.ok) throw new Error(`did not parse: ${parsed.reason}`);
  return parsed.message;
}

describe('transfer control codecs', () => {
  it('round-trip every message type', () => {
    const messages: TransferControl[] = [
      { type: 'offer', offer: offer() },
      { type: 'offer', offer: offer({ sizeBytes: 0, name: 'empty', mimeType: 'application/octet-stream' }) },
      { type: 'offer', offer: offer({ name: '😀 ünïcödé שלום.png', chunkBytes: MIN_CHUNK_BYTES }) },
      { type: 'accept', id: id(), offsetBytes: 0 },
      { type: 'accept', id: id(), offsetBytes: 3 * DEFAULT_CHUNK_BYTES },
      { type: 'ack', id: id(), receivedBytes: 1024 * 1024 },
      { type: 'complete', id: id() },
      ...CANCEL_REASONS.map((reason): TransferControl => ({ type: 'cancel', id: id(), reason })),
    ];
    for (const message of messages) expect(roundTrip(message)).toEqual(message);
  });

  it('encode an offer as flat UTF-8 JSON', () => {
    const o = offer();
    const text = new TextDecoder().decode(encodeTransferControl({ type: 'offer', offer: o }));
    expect(JSON.parse(text)).toEqual(offerJson(o));
  });

  it('accept keys in any order', () => {
    const o = offer();
    const reversed = Object.fromEntries(Object.entries(offerJson(o)).reverse());
    const parsed = parseJson(reversed);
    expect(parsed.ok && parsed.message.type === 'offer' && isSameOffer(parsed.message.offer, o)).toBe(true);
  });

  it('refuse to encode what the parser would refuse', () => {
    expect(() => encodeTransferControl({ type: 'offer', offer: offer({ name: '' }) })).toThrow();
    expect(() => encodeTransferControl({ type: 'offer', offer: offer({ chunkCount: 1 }) })).toThrow();
    expect(() => encodeTransferControl({ type: 'accept', id: 'short', offsetBytes: 0 })).toThrow();
    expect(() => encodeTransferControl({ type: 'ack', id: id(), receivedBytes: -1 })).toThrow();
  });
});

describe('transfer control parser refuses', () => {
  const refused = (value: unknown): void => {
    const parsed = parseJson(value);
    expect(parsed.ok, JSON.stringify(value).slice(0, 200)).toBe(false);
  };

  it('bytes that are not UTF-8 JSON objects, or too long', () => {
    for (const bytes of [Uint8Array.of(0xff), utf8('not json'), utf8('[]'), utf8('null'), utf8('"offer"'), utf8('')]) {
      expect(parseTransferControl(bytes).ok).toBe(false);
    }
    const padded = concatBytes(utf8(JSON.stringify({ type: 'complete', id: id() })), utf8(' '.repeat(MAX_CONTROL_BYTES)));
    expect(parseTransferControl(padded).ok).toBe(false);
  });

  it('unknown types', () => {
    refused({ type: 'resume', id: id() });
    refused({ id: id() });
  });

  it('offers with a missing or an extra key', () => {
    for (const key of Object.keys(offerJson())) {
      const missing = offerJson();
      delete missing[key];
      refused(missing);
    }
    refused({ ...offerJson(), extra: 1 });
    refused(JSON.parse(`{"__proto__":1,${JSON.stringify(offerJson()).slice(1)}`));
  });

  it('offer fields of the wrong type', () => {
    for (const [key, value] of [
      ['id', 1],
      ['name', 42],
      ['mimeType', null],
      ['sizeBytes', '100'],
      ['sha256', [1, 2]],
      ['chunkBytes', '65536'],
      ['chunkCount', true],
    ] as const) {
      refused({ ...offerJson(), [key]: value });
    }
  });

  it('ids that are not 16 bytes of canonical base64url', () => {
    const good = id();
    const badIds = ['', 'abc', bytesToBase64url(new Uint8Array(15)), bytesToBase64url(new Uint8Array(17)), `${good.slice(0, -1)}+`, `${good}==`, `${good.slice(0, -1)}B`];
    expect(bytesToBase64url(new Uint8Array(TRANSFER_ID_BYTES)).length).toBe(22);
    for (const bad of badIds) {
      refused({ ...offerJson(), id: bad });
      refused({ type: 'accept', id: bad, offsetBytes: 0 });
      refused({ type: 'ack', id: bad, receivedBytes: 0 });
      refused({ type: 'cancel', id: bad, reason: 'timed-out' });
      refused({ type: 'complete', id: bad });
    }
  });

  it('empty, over-long, control-character and bidi names', () => {
    refused({ ...offerJson(), name: '' });
    refused({ ...offerJson(), name: 'a'.repeat(MAX_NAME_CHARS + 1) });
    expect(parseJson({ ...offerJson(), name: 'a'.repeat(MAX_NAME_CHARS) }).ok).toBe(true);
    for (const bad of ['\u0000', '\u0007', '\n', '\u001f', '\u007f', '\u0085', '\u009f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c', '\u2028', '\ud800', '\udc00']) {
      refused({ ...offerJson(), name: `invoice${bad}fdp.exe` });
    }
    // Escaped in the JSON text, too: the check is on the decoded string.
    const escaped = JSON.stringify(offerJson()).replace('"holiday photo.jpg"', '"invoice\\u202efdp.exe"');
    expect(parseTransferControl(utf8(escaped)).ok).toBe(false);
    expect(parseJson({ ...offerJson(), name: '👩‍👩‍👧 family.png' }).ok).toBe(true);
  });

  it('MIME types that are not type/subtype tokens, or too long', () => {
    for (const bad of ['', 'image', 'image/', '/png', 'image/png; charset=x', 'image /png', 'image/png/x', 'imagé/png', 'text/html\n', `a/${'b'.repeat(MAX_MIME_CHARS - 1)}`]) {
      refused({ ...offerJson(), mimeType: bad });
    }
    for (const good of ['image/png', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'Text/Plain', 'application/x-7z+compressed', `a/${'b'.repeat(MAX_MIME_CHARS - 2)}`]) {
      expect(parseJson({ ...offerJson(), mimeType: good }).ok, good).toBe(true);
    }
  });

  it('sizes that are not safe non-negative integers', () => {
    for (const sizeBytes of [-1, 1.5, 2 ** 53, 1e300]) refused({ ...offerJson(), sizeBytes, chunkCount: 1 });
    // Far over any receiver's limit, yet well-formed: the parser leaves the limit to policy.
    const huge = offer({ sizeBytes: 2 ** 40 });
    expect(parseJson(offerJson(huge)).ok).toBe(true);
  });

  it('an offer that still carries a hash (the digest travels at the end, §7.4)', () => {
    refused({ ...offerJson(), sha256: bytesToBase64url(new Uint8Array(32)) });
  });

  it('chunk sizes out of range and chunk counts the size does not imply', () => {
    const o = offer({ sizeBytes: 10 * DEFAULT_CHUNK_BYTES + 1 });
    for (const chunkBytes of [0, MIN_CHUNK_BYTES - 1, MAX_CHUNK_BYTES + 1, 1024.5]) refused({ ...offerJson(o), chunkBytes });
    for (const chunkCount of [0, 10, 12, -11, 11.5]) refused({ ...offerJson(o), chunkCount });
    expect(parseJson(offerJson(o)).ok).toBe(true);
    refused({ ...offerJson(offer({ sizeBytes: 0 })), chunkCount: 0 });
  });

  it('more chunks than a u32 index can number', () => {
    const sizeBytes = 2 ** 32 * MIN_CHUNK_BYTES + 1;
    refused(offerJson(offer({ sizeBytes, chunkBytes: MIN_CHUNK_BYTES })));
    expect(parseJson(offerJson(offer({ sizeBytes: sizeBytes - 1, chunkBytes: MIN_CHUNK_BYTES }))).ok).toBe(true);
  });

  it('accept, ack, cancel and complete with wrong keys or values', () => {
    const good = id();
    for (const value of [
      { type: 'accept', id: good },
      { type: 'accept', id: good, offsetBytes: -1 },
      { type: 'accept', id: good, offsetBytes: 1.5 },
      { type: 'accept', id: good, offsetBytes: '0' },
      { type: 'accept', id: good, offsetBytes: 0, extra: true },
      { type: 'ack', id: good, receivedBytes: 2 ** 53 },
      { type: 'ack', id: good, offsetBytes: 0 },
      { type: 'cancel', id: good },
      { type: 'cancel', id: good, reason: 'because' },
      { type: 'cancel', id: good, reason: 'timed-out', detail: 'x' },
      { type: 'complete', id: good, sha256: '' },
    ]) {
      refused(value);
    }
  });
});

describe('chunk headers', () => {
  it('round-trip at the edges of the index range', () => {
    for (const header of [
      { id: id(), index: 0, isLast: false },
      { id: id(), index: 0, isLast: true },
      { id: id(), index: 2 ** 32 - 1, isLast: true },
      { id: id(), index: 81, isLast: false },
    ]) {
      const bytes = encodeChunkHeader(header);
      expect(bytes.length).toBe(CHUNK_HEADER_BYTES);
      expect(parseChunkHeader(bytes)).toEqual(header);
    }
  });

  it('lay out id, big-endian index and flags', () => {
    const header = { id: bytesToBase64url(Uint8Array.from({ length: 16 }, (_, i) => i)), index: 0x01020304, isLast: true };
    expect([...encodeChunkHeader(header)]).toEqual([...Array.from({ length: 16 }, (_, i) => i), 1, 2, 3, 4, 1]);
  });

  it('parse from a view into a larger buffer', () => {
    const header = { id: id(), index: 9, isLast: false };
    const buffer = concatBytes(Uint8Array.of(0xaa, 0xbb), encodeChunkHeader(header), Uint8Array.of(0xcc));
    expect(parseChunkHeader(buffer.subarray(2, 2 + CHUNK_HEADER_BYTES))).toEqual(header);
  });

  it('refuse any flag bit other than "last"', () => {
    const bytes = encodeChunkHeader({ id: id(), index: 1, isLast: false });
    for (let bit = 1; bit < 8; bit++) {
      const flagged = bytes.slice();
      flagged[CHUNK_HEADER_BYTES - 1] = 1 << bit;
      expect(parseChunkHeader(flagged)).toBeNull();
      flagged[CHUNK_HEADER_BYTES - 1] = (1 << bit) | 1;
      expect(parseChunkHeader(flagged)).toBeNull();
    }
  });

  it('refuse a wrong length', () => {
    const bytes = encodeChunkHeader({ id: id(), index: 1, isLast: false });
    expect(parseChunkHeader(bytes.subarray(0, CHUNK_HEADER_BYTES - 1))).toBeNull();
    expect(parseChunkHeader(concatBytes(bytes, Uint8Array.of(0)))).toBeNull();
    expect(parseChunkHeader(new Uint8Array(0))).toBeNull();
  });

  it('encode refuses bad ids and indices', () => {
    expect(() => encodeChunkHeader({ id: 'abc', index: 0, isLast: false })).toThrow();
    for (const index of [-1, 2 ** 32, 0.5]) expect(() => encodeChunkHeader({ id: id(), index, isLast: false })).toThrow();
  });
});

describe('transfer ids and offers', () => {
  it('newTransferId gives 16 random bytes as base64url', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newTransferId(random)));
    expect(ids.size).toBe(100);
    for (const value of ids) expect(value).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('isSameOffer notices any changed field', () => {
    const o = offer();
    expect(isSameOffer(o, { ...o })).toBe(true);
    const changed: Partial<TransferOffer>[] = [{ id: id() }, { name: 'other.jpg' }, { mimeType: 'image/png' }];
    for (const change of changed) expect(isSameOffer(o, { ...o, ...change })).toBe(false);
    const bigger = offer({ sizeBytes: o.sizeBytes + DEFAULT_CHUNK_BYTES });
    expect(isSameOffer(o, { ...bigger, id: o.id, name: o.name })).toBe(false);
  });
});
