import { describe, expect, it } from 'vitest';
import { chunkRange, planChunks } from '../../src/core/transfer/chunkPlan.ts';
import { ChunkReader, READ_BLOCK_BYTES } from '../../src/core/transfer/chunkReader.ts';
import type { FileSource } from '../../src/core/transfer/transferManager.ts';

function source(sizeBytes: number, failAt: number | null = null): FileSource & { reads: [number, number][] } {
  // A plain loop: Uint8Array.from with a callback over these ~20 MiB took seconds on a loaded machine.
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 7 + 3) & 0xff;
  const reads: [number, number][] = [];
  return {
    name: 'f',
    mimeType: 'application/octet-stream',
    sizeBytes,
    reads,
    read: async (start, end) => {
      reads.push([start, end]);
      if (failAt !== null && start <= failAt && failAt < end) throw new Error('disk gone');
      return bytes.slice(start, end);
    },
  };
}

async function readAll(reader: ChunkReader, sizeBytes: number, chunkBytes: number): Promise<Uint8Array> {
  const plan = planChunks(sizeBytes, chunkBytes);
  const whole = new Uint8Array(sizeBytes);
  for (let index = 0; index < plan.chunkCount; index++) {
    const { startByte, endByte } = chunkRange(plan, index);
    whole.set(await reader.read(startByte, endByte), startByte);
  }
  return whole;
}

describe('ChunkReader', () => {
  it.each([1024, 64 * 1024, 100_000, 192 * 1024])('returns every chunk exactly, in about one read per block (chunk %i)', async (chunkBytes) => {
    const sizeBytes = 5 * READ_BLOCK_BYTES + 12_345;
    const src = source(sizeBytes);
    const got = await readAll(new ChunkReader(src, chunkBytes), sizeBytes, chunkBytes);
    expect(Buffer.from(got).equals(await src.read(0, sizeBytes))).toBe(true);
    // One read per block, plus the ramp's reads (one chunk, then 256 KiB doubling up to a block: at most 6), plus the
    // check read above; never one per chunk.
    expect(src.reads.length - 1).toBeLessThanOrEqual(Math.ceil(sizeBytes / (READ_BLOCK_BYTES - chunkBytes)) + 1 + 6);
  });

  it('reads one chunk first, so the first chunk does not wait for a whole block, then reads twice as large each time up to a block', async () => {
    const chunkBytes = 255 * 1024;
    const sizeBytes = 3 * READ_BLOCK_BYTES;
    const src = source(sizeBytes);
    const reader = new ChunkReader(src, chunkBytes);
    await readAll(reader, sizeBytes, chunkBytes);
    // 1, 2, 4, 8 chunks: the ramp; then whole blocks of 16 (the last one cut at the end of the file).
    const at = (chunks: number): number => chunks * chunkBytes;
    expect(src.reads).toEqual([
      [0, at(1)],
      [at(1), at(3)],
      [at(3), at(7)],
      [at(7), at(15)],
      [at(15), at(31)],
      [at(31), at(47)],
      [at(47), sizeBytes],
    ]);
  });

  it('starts the first reads of the ramp together, up to one block ahead', async () => {
    const chunkBytes = 255 * 1024;
    const src = source(3 * READ_BLOCK_BYTES);
    const reader = new ChunkReader(src, chunkBytes);
    await reader.read(0, chunkBytes);
    const at = (chunks: number): number => chunks * chunkBytes;
    // 1 + 2 + 4 + 8 chunks asked for before the first chunk is even served; the next block waits until one is used.
    expect(src.reads).toEqual([
      [0, at(1)],
      [at(1), at(3)],
      [at(3), at(7)],
      [at(7), at(15)],
    ]);
  });

  it('starts the ramp again at one chunk after a resume', async () => {
    const chunkBytes = 255 * 1024;
    const src = source(3 * READ_BLOCK_BYTES);
    const reader = new ChunkReader(src, chunkBytes);
    await readAll(reader, 2 * READ_BLOCK_BYTES, chunkBytes);
    src.reads.length = 0;
    await reader.read(chunkBytes, 2 * chunkBytes);
    expect(src.reads.slice(0, 2)).toEqual([
      [chunkBytes, 2 * chunkBytes],
      [2 * chunkBytes, 4 * chunkBytes],
    ]);
  });

  it('reads an empty file as one empty chunk', async () => {
    expect((await new ChunkReader(source(0), 64 * 1024).read(0, 0)).length).toBe(0);
  });

  it('starts again wherever it is asked to (a resume), without serving stale bytes', async () => {
    const sizeBytes = 3 * READ_BLOCK_BYTES;
    const src = source(sizeBytes);
    const reader = new ChunkReader(src, 64 * 1024);
    await reader.read(2 * READ_BLOCK_BYTES, 2 * READ_BLOCK_BYTES + 65_536);
    expect(Buffer.from(await reader.read(65_536, 131_072)).equals(await src.read(65_536, 131_072))).toBe(true);
  });

  it('reports a failed read when that block is needed', async () => {
    const sizeBytes = 2 * READ_BLOCK_BYTES;
    const reader = new ChunkReader(source(sizeBytes, READ_BLOCK_BYTES + 5), 64 * 1024);
    await expect(readAll(reader, sizeBytes, 64 * 1024)).rejects.toThrow('disk gone');
  });
});
