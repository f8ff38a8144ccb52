import { describe, expect, it } from 'vitest';
import { chunkIndexAtOffset, chunkRange, isLastChunk, planChunks, type ChunkPlan } from '../../src/core/transfer/chunkPlan.ts';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from '../../src/core/transfer/transferLimits.ts';

const CHUNK = DEFAULT_CHUNK_BYTES;

function ranges(plan: ChunkPlan): { startByte: number; endByte: number }[] {
  return Array.from({ length: plan.chunkCount }, (_, index) => chunkRange(plan, index));
}

describe('planChunks', () => {
  it.each([
    ['empty file', 0, 1, 0],
    ['one byte', 1, 1, 1],
    ['exactly one chunk', CHUNK, 1, CHUNK],
    ['one chunk and a byte', CHUNK + 1, 2, 1],
    ['two whole chunks', 2 * CHUNK, 2, CHUNK],
    ['5 MiB and 3 bytes', 5 * 1024 * 1024 + 3, 21, 20_483],
  ])('%s: %i bytes → %i chunks, the last %i bytes long', (_label, sizeBytes, chunkCount, lastBytes) => {
    const plan = planChunks(sizeBytes, CHUNK);
    expect(plan).toEqual({ sizeBytes, chunkBytes: CHUNK, chunkCount });
    const last = chunkRange(plan, chunkCount - 1);
    expect(last.endByte - last.startByte).toBe(lastBytes);
  });

  it('ranges cover the file exactly once, in order, without gaps or overlap', () => {
    for (const [sizeBytes, chunkBytes] of [
      [0, CHUNK],
      [1, MIN_CHUNK_BYTES],
      [CHUNK, CHUNK],
      [CHUNK + 1, CHUNK],
      [5 * 1024 * 1024 + 3, CHUNK],
      [1_000_003, 1_025],
      [3 * MAX_CHUNK_BYTES - 1, MAX_CHUNK_BYTES],
    ] as const) {
      const plan = planChunks(sizeBytes, chunkBytes);
      let expectedStart = 0;
      for (const [index, range] of ranges(plan).entries()) {
        expect(range.startByte).toBe(expectedStart);
        const isLast = index === plan.chunkCount - 1;
        // Every chunk but the last is full; the last is non-empty unless the file is.
        if (!isLast) expect(range.endByte - range.startByte).toBe(chunkBytes);
        else expect(range.endByte - range.startByte).toBeGreaterThan(sizeBytes === 0 ? -1 : 0);
        expectedStart = range.endByte;
      }
      expect(expectedStart).toBe(sizeBytes);
    }
  });

  it('counts exactly for sizes near 2^53', () => {
    for (const chunkBytes of [MIN_CHUNK_BYTES, 1_025, 2_047, CHUNK, MAX_CHUNK_BYTES]) {
      for (const sizeBytes of [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, 2 ** 52 + 1]) {
        const exact = (BigInt(sizeBytes) + BigInt(chunkBytes) - 1n) / BigInt(chunkBytes);
        expect(BigInt(planChunks(sizeBytes, chunkBytes).chunkCount)).toBe(exact);
      }
    }
  });

  it('throws for invalid sizes and chunk sizes (callers validate first)', () => {
    for (const sizeBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) expect(() => planChunks(sizeBytes, CHUNK)).toThrow();
    for (const chunkBytes of [0, MIN_CHUNK_BYTES - 1, MAX_CHUNK_BYTES + 1, 4096.5, Number.NaN]) expect(() => planChunks(10, chunkBytes)).toThrow();
    expect(planChunks(10, MIN_CHUNK_BYTES).chunkBytes).toBe(MIN_CHUNK_BYTES);
    expect(planChunks(10, MAX_CHUNK_BYTES).chunkBytes).toBe(MAX_CHUNK_BYTES);
  });
});

describe('chunkRange and isLastChunk', () => {
  const plan = planChunks(CHUNK * 2 + 10, CHUNK);

  it('give byte ranges with an exclusive end', () => {
    expect(chunkRange(plan, 0)).toEqual({ startByte: 0, endByte: CHUNK });
    expect(chunkRange(plan, 2)).toEqual({ startByte: 2 * CHUNK, endByte: 2 * CHUNK + 10 });
  });

  it('throw for an index outside the plan', () => {
    for (const index of [-1, 3, 1.5, Number.NaN]) expect(() => chunkRange(plan, index)).toThrow();
  });

  it('mark only the final index as last, and nothing outside the plan', () => {
    expect([0, 1, 2].map((index) => isLastChunk(plan, index))).toEqual([false, false, true]);
    expect(isLastChunk(plan, 3)).toBe(false);
    expect(isLastChunk(plan, -1)).toBe(false);
    expect(isLastChunk(planChunks(0, CHUNK), 0)).toBe(true);
  });
});

describe('chunkIndexAtOffset', () => {
  it('finds chunk starts only', () => {
    const plan = planChunks(CHUNK * 2 + 10, CHUNK);
    expect(chunkIndexAtOffset(plan, 0)).toBe(0);
    expect(chunkIndexAtOffset(plan, CHUNK)).toBe(1);
    expect(chunkIndexAtOffset(plan, 2 * CHUNK)).toBe(2);
    for (const offset of [1, CHUNK - 1, CHUNK + 1, -CHUNK, 0.5, Number.NaN]) expect(chunkIndexAtOffset(plan, offset)).toBeNull();
  });

  it('refuses the end of the file (a receiver holding everything completes instead of resuming)', () => {
    const ragged = planChunks(CHUNK * 2 + 10, CHUNK);
    expect(chunkIndexAtOffset(ragged, ragged.sizeBytes)).toBeNull();
    expect(chunkIndexAtOffset(ragged, 3 * CHUNK)).toBeNull();
    const exact = planChunks(CHUNK * 2, CHUNK);
    expect(chunkIndexAtOffset(exact, exact.sizeBytes)).toBeNull();
  });

  it('accepts offset 0 of an empty file, where its one empty chunk starts', () => {
    expect(chunkIndexAtOffset(planChunks(0, CHUNK), 0)).toBe(0);
  });
});
