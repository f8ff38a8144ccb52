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
    // One read per block plus the check read above; never one per chunk.
    expect(src.reads.length - 1).toBeLessThanOrEqual(Math.ceil(sizeBytes / (READ_BLOCK_BYTES - chunkBytes)) + 1);
  });

  it('reads one chunk first, so the first chunk does not wait for a whole block, then whole blocks ahead', async () => {
    const chunkBytes = 64 * 1024;
    const sizeBytes = 3 * READ_BLOCK_BYTES;
    const src = source(sizeBytes);
    const reader = new ChunkReader(src, chunkBytes);
    expect(await reader.read(0, chunkBytes)).toEqual((await src.read(0, chunkBytes)));
    expect(src.reads.slice(0, 2)).toEqual([
      [0, chunkBytes],
      [chunkBytes, chunkBytes + READ_BLOCK_BYTES],
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
