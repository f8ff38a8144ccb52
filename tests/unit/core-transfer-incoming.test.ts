import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/ports.ts';
import { chunkRange, planChunks } from '../../src/core/transfer/chunkPlan.ts';
import { OfferGate } from '../../src/core/transfer/incomingPolicy.ts';
import { IncomingTransfer, type ChunkVerdict } from '../../src/core/transfer/incomingTransfer.ts';
import { ACK_EVERY_BYTES, DEFAULT_CHUNK_BYTES, DEFAULT_MAX_FILE_BYTES, MAX_CHUNK_BYTES } from '../../src/core/transfer/transferLimits.ts';
import { newTransferId, type ChunkHeader, type TransferOffer } from '../../src/core/transfer/transferMessages.ts';
import { seededRandom } from './support/coreFixtures.ts';

const CHUNK = DEFAULT_CHUNK_BYTES;
const MiB = 1024 * 1024;
const random = seededRandom(99);

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** The content digest of §7.9, by Node's own SHA-256: the digest of every chunk's bytes, then of those digests in a row. */
function contentDigest(content: Uint8Array, chunkBytes: number): Uint8Array {
  const plan = planChunks(content.length, chunkBytes);
  const digests = Array.from({ length: plan.chunkCount }, (_, index) => {
    const { startByte, endByte } = chunkRange(plan, index);
    return sha256(content.subarray(startByte, endByte));
  });
  return new Uint8Array(sha256(Buffer.concat(digests)));
}

/** Whether the last verdict says the content digest matched (null if it is not a last chunk's). */
async function hashMatches(verdict: ChunkVerdict | undefined): Promise<boolean | null> {
  return verdict?.kind === 'store' && verdict.done !== null ? verdict.done.hashMatches : null;
}

function contentOf(sizeBytes: number): Uint8Array {
  const content = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) content[i] = (i * 31 + (i >>> 8)) & 0xff;
  return content;
}

function offerFor(content: Uint8Array, chunkBytes = CHUNK, overrides: Partial<TransferOffer> = {}): TransferOffer {
  return {
    id: newTransferId(random),
    name: 'data.bin',
    mimeType: 'application/octet-stream',
    sizeBytes: content.length,
    chunkBytes,
    chunkCount: planChunks(content.length, chunkBytes).chunkCount,
    ...overrides,
  };
}

function open(offer: TransferOffer, maxFileBytes = DEFAULT_MAX_FILE_BYTES): IncomingTransfer {
  const result = IncomingTransfer.fromOffer(offer, maxFileBytes);
  if (!result.ok) throw new Error(`refused: ${result.detail}`);
  return result.transfer;
}

/** The chunks a correct sender produces for `content`: the last one ends with the content digest of `digestOf` (the content). */
function chunksOf(offer: TransferOffer, content: Uint8Array, digestOf: Uint8Array = content): { header: ChunkHeader; data: Uint8Array }[] {
  const plan = planChunks(offer.sizeBytes, offer.chunkBytes);
  return Array.from({ length: plan.chunkCount }, (_, index) => {
    const { startByte, endByte } = chunkRange(plan, index);
    const isLast = index === plan.chunkCount - 1;
    const bytes = content.subarray(startByte, endByte);
    return { header: { id: offer.id, index, isLast }, data: isLast ? Buffer.concat([bytes, contentDigest(digestOf, offer.chunkBytes)]) : bytes };
  });
}

/** A receiver that writes what it is told to store, as the adapter would. */
function receive(transfer: IncomingTransfer, chunks: readonly { header: ChunkHeader; data: Uint8Array }[]): { verdicts: ChunkVerdict[]; stored: Uint8Array } {
  const stored = new Uint8Array(transfer.offer.sizeBytes);
  let storedBytes = 0;
  const verdicts = chunks.map(({ header, data }) => {
    const verdict = transfer.onChunk(header, data);
    if (verdict.kind === 'store') {
      stored.set(verdict.content, verdict.offsetBytes);
      storedBytes = verdict.offsetBytes + verdict.content.length;
    }
    return verdict;
  });
  return { verdicts, stored: stored.subarray(0, storedBytes) };
}

function storedCount(verdicts: readonly ChunkVerdict[]): number {
  return verdicts.filter((verdict) => verdict.kind === 'store').length;
}

describe('IncomingTransfer happy path', () => {
  it.each([
    ['empty', 0],
    ['one byte', 1],
    ['exactly one chunk', CHUNK],
    ['one chunk and a byte', CHUNK + 1],
    ['5 MiB and 3 bytes', 5 * MiB + 3],
  ])('%s (%i bytes) stores everything in order and ends with a matching hash', async (_label, sizeBytes) => {
    const content = contentOf(sizeBytes);
    const offer = offerFor(content);
    const transfer = open(offer);
    const { verdicts, stored } = receive(transfer, chunksOf(offer, content));
    expect(verdicts.every((verdict) => verdict.kind === 'store')).toBe(true);
    // Buffer comparison: a deep equality over 5 MiB element by element would take seconds.
    expect(stored.length).toBe(content.length);
    expect(Buffer.from(stored).equals(Buffer.from(content))).toBe(true);
    expect(transfer.receivedBytes).toBe(sizeBytes);
    expect(transfer.status).toBe('done');
    expect(await hashMatches(verdicts.at(-1))).toBe(true);
    expect(verdicts.slice(0, -1).every((verdict) => verdict.kind === 'store' && verdict.done === null)).toBe(true);
  });

  it('acknowledges at each 1 MiB crossing and at the end, cumulatively', () => {
    const content = contentOf(5 * MiB + 3);
    // 64 KiB chunks tile 1 MiB, so every crossing falls exactly on a MiB.
    const offer = offerFor(content, 64 * 1024);
    const { verdicts } = receive(open(offer), chunksOf(offer, content));
    const acks = verdicts.flatMap((verdict) => (verdict.kind === 'store' && verdict.ack !== null ? [verdict.ack] : []));
    expect(acks).toEqual([MiB, 2 * MiB, 3 * MiB, 4 * MiB, 5 * MiB, 5 * MiB + 3]);
  });

  it('acknowledges at the end of the chunk that crosses a boundary when chunks do not tile 1 MiB', () => {
    const content = contentOf(3 * MiB);
    const offer = offerFor(content, MAX_CHUNK_BYTES);
    const { verdicts } = receive(open(offer), chunksOf(offer, content));
    const acks = verdicts.flatMap((verdict) => (verdict.kind === 'store' && verdict.ack !== null ? [verdict.ack] : []));
    // 255 KiB chunks end at 1275 KiB (first past 1 MiB), 2295 KiB (first past 2 MiB), then 3 MiB is the end.
    expect(acks).toEqual([5 * MAX_CHUNK_BYTES, 9 * MAX_CHUNK_BYTES, 3 * MiB]);
    expect(acks.every((ack, i) => i === 0 || ack > (acks[i - 1] ?? 0))).toBe(true);
  });

  it('acknowledges a file smaller than 1 MiB once, at the end (0 for an empty file)', () => {
    for (const sizeBytes of [0, 1000, ACK_EVERY_BYTES - 1]) {
      const content = contentOf(sizeBytes);
      const offer = offerFor(content);
      const { verdicts } = receive(open(offer), chunksOf(offer, content));
      const acks = verdicts.flatMap((verdict) => (verdict.kind === 'store' && verdict.ack !== null ? [verdict.ack] : []));
      expect(acks).toEqual([sizeBytes]);
    }
  });
});

describe('IncomingTransfer refuses hostile senders', () => {
  const content = contentOf(3 * CHUNK + 100);

  /** Runs `chunks` and then every correct chunk again: after the first reject nothing may be stored. */
  function expectDeadAfter(chunks: { header: ChunkHeader; data: Uint8Array }[], storedBefore: number): void {
    const offer = offerFor(content);
    const transfer = open(offer);
    const good = chunksOf(offer, content);
    const hostile = chunks.map((chunk) => ({ header: { ...chunk.header, id: chunk.header.id === 'OFFER' ? offer.id : chunk.header.id }, data: chunk.data }));
    const { verdicts } = receive(transfer, [...hostile, ...good]);
    const firstReject = verdicts.findIndex((verdict) => verdict.kind === 'reject');
    expect(firstReject).toBe(storedBefore);
    expect(storedCount(verdicts)).toBe(storedBefore);
    expect(verdicts.slice(firstReject).every((verdict) => verdict.kind === 'reject')).toBe(true);
    expect(transfer.status).toBe('dead');
    expect(transfer.receivedBytes).toBe(storedBefore === 0 ? 0 : chunkRange(planChunks(content.length, CHUNK), storedBefore - 1).endByte);
  }

  /** Correct chunk `index` of `content`, addressed to whichever offer expectDeadAfter opens. */
  function chunk(index: number, change: Partial<ChunkHeader> = {}, data?: Uint8Array): { header: ChunkHeader; data: Uint8Array } {
    const plan = planChunks(content.length, CHUNK);
    const range = index < plan.chunkCount ? chunkRange(plan, index) : { startByte: 0, endByte: 0 };
    return { header: { id: 'OFFER', index, isLast: index === plan.chunkCount - 1, ...change }, data: data ?? content.subarray(range.startByte, range.endByte) };
  }

  it('a chunk of another transfer', () => expectDeadAfter([chunk(0, { id: newTransferId(random) })], 0));
  it('an index out of range', () => expectDeadAfter([chunk(0), chunk(4, {}, new Uint8Array(0)), chunk(2 ** 32 - 1)], 1));
  it('a skipped index', () => expectDeadAfter([chunk(0), chunk(2)], 1));
  it('a duplicate chunk', () => expectDeadAfter([chunk(0), chunk(1), chunk(1)], 2));
  it('reordered chunks', () => expectDeadAfter([chunk(1), chunk(0)], 0));
  it('the last chunk without its flag', () => expectDeadAfter([chunk(0), chunk(1), chunk(2), chunk(3, { isLast: false })], 3));
  it('the last flag on a middle chunk (an early end)', () => expectDeadAfter([chunk(0), chunk(1, { isLast: true })], 1));
  it('a chunk shorter than planned', () => expectDeadAfter([chunk(0, {}, content.subarray(0, CHUNK - 1))], 0));
  it('a chunk longer than planned', () => expectDeadAfter([chunk(0, {}, content.subarray(0, CHUNK + 1))], 0));
  it('a last chunk longer than planned (more than the announced size)', () => {
    expectDeadAfter([chunk(0), chunk(1), chunk(2), chunk(3, {}, new Uint8Array(CHUNK))], 3);
  });

  it('an extra chunk after the last', () => {
    const offer = offerFor(content);
    const transfer = open(offer);
    const good = chunksOf(offer, content);
    const { verdicts } = receive(transfer, [...good, { header: { id: offer.id, index: 4, isLast: true }, data: new Uint8Array(10) }, good[3] ?? chunk(3)]);
    expect(verdicts.map((verdict) => verdict.kind)).toEqual(['store', 'store', 'store', 'store', 'reject', 'reject']);
    expect(transfer.receivedBytes).toBe(content.length);
  });

  it('content that does not match the digest at its end ends with hashMatches false', async () => {
    const offer = offerFor(content);
    const tampered = content.slice();
    tampered[CHUNK + 5] = (tampered[CHUNK + 5] ?? 0) ^ 1;
    const transfer = open(offer);
    const { verdicts } = receive(transfer, chunksOf(offer, tampered, content));
    expect(await hashMatches(verdicts.at(-1))).toBe(false);
    expect(transfer.onChunk({ id: offer.id, index: 3, isLast: true }, new Uint8Array(100)).kind).toBe('reject');
  });

  it('an offer larger than the receiver allows is refused as too-large', () => {
    const offer = offerFor(content);
    const refused = IncomingTransfer.fromOffer(offer, content.length - 1);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toBe('too-large');
    expect(IncomingTransfer.fromOffer(offer, content.length).ok).toBe(true);
    const huge = { ...offer, sizeBytes: 2 ** 40, chunkCount: planChunks(2 ** 40, CHUNK).chunkCount };
    const hugeResult = IncomingTransfer.fromOffer(huge, DEFAULT_MAX_FILE_BYTES);
    expect(!hugeResult.ok && hugeResult.reason).toBe('too-large');
  });

  it('an offer no parser would accept is refused as a protocol error', () => {
    const offer = offerFor(content, CHUNK, { chunkCount: 99 });
    const result = IncomingTransfer.fromOffer(offer, DEFAULT_MAX_FILE_BYTES);
    expect(!result.ok && result.reason).toBe('protocol-error');
  });
});

class ManualClock implements Clock {
  now = 0;
  nowMs(): number {
    return this.now;
  }
  setTimer(): () => void {
    throw new Error('OfferGate sets no timers');
  }
}

describe('OfferGate', () => {
  it('refuses beyond the concurrent limit (default 4)', () => {
    const gate = new OfferGate(new ManualClock());
    expect(gate.admit(3)).toEqual({ ok: true });
    expect(gate.admit(4)).toEqual({ ok: false, reason: 'too-many-transfers' });
    expect(new OfferGate(new ManualClock(), { maxConcurrent: 1 }).admit(1).ok).toBe(false);
  });

  it('admits at most 30 offers in any 60 s, sliding', () => {
    const clock = new ManualClock();
    const gate = new OfferGate(clock);
    for (let i = 0; i < 30; i++) {
      clock.now = i * 1000;
      expect(gate.admit(0).ok).toBe(true);
    }
    clock.now = 59_999;
    expect(gate.admit(0).ok).toBe(false);
    // The first admission (at 0) ages out at 60 000; the second (at 1 000) still counts.
    clock.now = 60_000;
    expect(gate.admit(0).ok).toBe(true);
    expect(gate.admit(0).ok).toBe(false);
    clock.now = 61_000;
    expect(gate.admit(0).ok).toBe(true);
  });

  it('does not count refused offers against the rate', () => {
    const clock = new ManualClock();
    const gate = new OfferGate(clock, { maxOffersPerMinute: 2 });
    for (let i = 0; i < 50; i++) expect(gate.admit(4).ok).toBe(false);
    expect(gate.admit(0).ok).toBe(true);
    expect(gate.admit(0).ok).toBe(true);
    expect(gate.admit(0).ok).toBe(false);
  });

  it('throws for limits that are not positive integers', () => {
    expect(() => new OfferGate(new ManualClock(), { maxConcurrent: 0 })).toThrow();
    expect(() => new OfferGate(new ManualClock(), { maxOffersPerMinute: 1.5 })).toThrow();
  });
});

describe('IncomingTransfer and the digest that ends the last chunk', () => {
  const content = contentOf(2 * CHUNK + 100);

  it('refuses a last chunk without its 32-byte digest, or with extra bytes after it, storing nothing of it', () => {
    for (const trailerBytes of [0, 31, 33]) {
      const offer = offerFor(content);
      const transfer = open(offer);
      const good = chunksOf(offer, content);
      const last = good.at(-1);
      if (last === undefined) throw new Error('no chunks');
      const data = Buffer.concat([content.subarray(2 * CHUNK), new Uint8Array(trailerBytes)]);
      const { verdicts } = receive(transfer, [...good.slice(0, -1), { header: last.header, data }]);
      expect(verdicts.map((verdict) => verdict.kind)).toEqual(['store', 'store', 'reject']);
      expect(transfer.receivedBytes).toBe(2 * CHUNK);
    }
  });

  it('ends with hashMatches false when the digest is not the content’s, and never stores the digest as content', async () => {
    const offer = offerFor(content);
    const transfer = open(offer);
    const { verdicts, stored } = receive(transfer, chunksOf(offer, content, contentOf(7)));
    const last = verdicts.at(-1);
    expect(await hashMatches(last)).toBe(false);
    expect(last?.kind === 'store' && last.content.length).toBe(100);
    expect(stored.length).toBe(content.length);
  });

  it('an empty file is one last chunk that is only the digest', async () => {
    const empty = new Uint8Array(0);
    const offer = offerFor(empty);
    const transfer = open(offer);
    const { verdicts } = receive(transfer, chunksOf(offer, empty));
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatchObject({ kind: 'store', offsetBytes: 0, ack: 0 });
    expect(await hashMatches(verdicts[0])).toBe(true);
    expect(verdicts[0]?.kind === 'store' && verdicts[0].content.length).toBe(0);
  });
});
