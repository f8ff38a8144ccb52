import { describe, expect, it } from 'vitest';
import { chunkRange, planChunks } from '../../src/core/transfer/chunkPlan.ts';
import { ChunkReader } from '../../src/core/transfer/chunkReader.ts';
import type { FileSource } from '../../src/core/transfer/transferManager.ts';

const MiB = 1024 * 1024;
/** What this Chromium's File.stream() hands over: 64 KiB, 704 KiB, 1.25 MiB, then 2 MiB pieces. */
const BROWSER_PIECES = [64 * 1024, 704 * 1024, 1280 * 1024];
const BROWSER_PIECE = 2 * MiB;

interface FakeSource extends FileSource {
  readonly bytes: Uint8Array;
  /** Where each stream started. */
  readonly starts: number[];
  /** Every piece handed out, in order, across streams. */
  readonly handed: Uint8Array[];
  /** next() calls, across streams. */
  asked: number;
  cancelled: number;
}

interface FakeOptions {
  /** Piece sizes in order; after them, `then` bytes each. */
  readonly pieces?: readonly number[];
  readonly then?: number;
  /** The piece containing this byte fails to read. */
  readonly failAt?: number;
  /** The stream ends here although the file claims more (it changed on disk). */
  readonly endsAt?: number;
}

function fakeSource(sizeBytes: number, options: FakeOptions = {}): FakeSource {
  // A plain loop: Uint8Array.from with a callback over many MiB took seconds on a loaded machine.
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 7 + 3) & 0xff;
  const sizes = options.pieces ?? BROWSER_PIECES;
  const then = options.then ?? BROWSER_PIECE;
  const source: FakeSource = {
    name: 'f',
    mimeType: 'application/octet-stream',
    sizeBytes,
    bytes,
    starts: [],
    handed: [],
    asked: 0,
    cancelled: 0,
    stream(startByte) {
      source.starts.push(startByte);
      const end = options.endsAt ?? sizeBytes;
      let at = startByte;
      let index = 0;
      return {
        next: async () => {
          source.asked += 1;
          if (at >= end) return null;
          const length = Math.min(sizes[index] ?? then, end - at);
          index += 1;
          if (options.failAt !== undefined && at <= options.failAt && options.failAt < at + length) throw new Error('disk gone');
          // Each piece its own buffer, as a stream's are.
          const piece = bytes.slice(at, at + length);
          at += length;
          source.handed.push(piece);
          return piece;
        },
        cancel: () => {
          source.cancelled += 1;
        },
      };
    },
  };
  return source;
}

async function readAll(reader: ChunkReader, sizeBytes: number, chunkBytes: number): Promise<Uint8Array[]> {
  const plan = planChunks(sizeBytes, chunkBytes);
  const chunks: Uint8Array[] = [];
  for (let index = 0; index < plan.chunkCount; index++) {
    const { startByte, endByte } = chunkRange(plan, index);
    chunks.push(await reader.read(startByte, endByte));
  }
  return chunks;
}

const joined = (chunks: readonly Uint8Array[]) => Buffer.concat(chunks.map((chunk) => Buffer.from(chunk)));

describe('ChunkReader', () => {
  it.each<[string, FakeOptions, number, number]>([
    ['the browser’s pieces, 255 KiB chunks', {}, 255 * 1024, 9 * MiB + 12_345],
    ['the browser’s pieces, 64 KiB chunks', {}, 64 * 1024, 9 * MiB + 12_345],
    ['pieces smaller than a chunk', { pieces: [], then: 100_000 }, 255 * 1024, 9 * MiB + 12_345],
    ['pieces of one byte', { pieces: [], then: 1 }, 1024, 20_011],
    ['odd pieces around odd chunks', { pieces: [1, 7, 300_000, 3], then: 123_457 }, 100_000, 9 * MiB + 12_345],
  ])('returns every chunk exactly, in order (%s)', async (_name, options, chunkBytes, sizeBytes) => {
    const source = fakeSource(sizeBytes, options);
    const chunks = await readAll(new ChunkReader(source), sizeBytes, chunkBytes);
    expect(joined(chunks).equals(Buffer.from(source.bytes))).toBe(true);
    expect(source.starts).toEqual([0]);
  });

  it('serves a chunk inside one piece as a view of it, and copies only a chunk that straddles two pieces', async () => {
    const chunkBytes = 255 * 1024;
    const sizeBytes = 16 * MiB;
    const source = fakeSource(sizeBytes);
    const chunks = await readAll(new ChunkReader(source), sizeBytes, chunkBytes);
    const views = chunks.filter((chunk) => source.handed.some((piece) => piece.buffer === chunk.buffer));
    // Where pieces end (64 KiB, 768 KiB, 2 MiB, then every 2 MiB) a chunk straddles them unless a chunk ends there too.
    const pieceEnds = [64 * 1024, 768 * 1024, 2 * MiB, 4 * MiB, 6 * MiB, 8 * MiB, 10 * MiB, 12 * MiB, 14 * MiB];
    const straddling = pieceEnds.filter((end) => end % chunkBytes !== 0).length;
    expect(chunks.length - views.length).toBe(straddling);
    expect(straddling).toBeLessThan(chunks.length / 6);
  });

  it('asks for the next piece as soon as the current one arrives, and never for more than one ahead', async () => {
    const chunkBytes = 255 * 1024;
    const source = fakeSource(16 * MiB);
    const reader = new ChunkReader(source);
    // The first chunk takes the 64 KiB and 704 KiB pieces; the 1.25 MiB one is already asked for.
    await reader.read(0, chunkBytes);
    expect(source.handed.map((piece) => piece.length)).toEqual([64 * 1024, 704 * 1024, 1280 * 1024]);
    expect(source.asked).toBe(3);
    for (let index = 1; index < 12; index++) await reader.read(index * chunkBytes, (index + 1) * chunkBytes);
    // 12 chunks are 3 060 KiB: into the fourth piece, whose successor is asked for.
    expect(source.asked).toBe(5);
  });

  it('starts a new stream where a resume asks, lets the old one go, and serves no stale bytes', async () => {
    const sizeBytes = 8 * MiB;
    const source = fakeSource(sizeBytes);
    const reader = new ChunkReader(source);
    await reader.read(6 * MiB, 6 * MiB + 65_536);
    const chunk = await reader.read(65_536, 131_072);
    expect(Buffer.from(chunk).equals(Buffer.from(source.bytes.subarray(65_536, 131_072)))).toBe(true);
    expect(source.starts).toEqual([6 * MiB, 65_536]);
    expect(source.cancelled).toBe(1);
    // And it goes on from there through the same new stream.
    expect(Buffer.from(await reader.read(131_072, 200_000)).equals(Buffer.from(source.bytes.subarray(131_072, 200_000)))).toBe(true);
    expect(source.starts).toHaveLength(2);
  });

  it('reads an empty file as one empty chunk', async () => {
    expect((await new ChunkReader(fakeSource(0)).read(0, 0)).length).toBe(0);
  });

  it('reports a failed read when that piece is needed, not before', async () => {
    const chunkBytes = 64 * 1024;
    const source = fakeSource(6 * MiB, { failAt: 4 * MiB + 5 });
    const reader = new ChunkReader(source);
    // Everything before the failing piece is served, though that piece was asked for ahead.
    for (let index = 0; index < (4 * MiB) / chunkBytes; index++) await reader.read(index * chunkBytes, (index + 1) * chunkBytes);
    await expect(reader.read(4 * MiB, 4 * MiB + chunkBytes)).rejects.toThrow('disk gone');
  });

  it('says so in words when the file ends before its announced size (it changed while being sent)', async () => {
    const source = fakeSource(3 * MiB, { endsAt: 2 * MiB + 100 });
    await expect(readAll(new ChunkReader(source), 3 * MiB, 255 * 1024)).rejects.toThrow(/the file ended at byte \d+, before byte \d+: it changed while it was being sent/);
  });

  it('lets the file go when closed', async () => {
    const source = fakeSource(4 * MiB);
    const reader = new ChunkReader(source);
    await reader.read(0, 1000);
    reader.close();
    expect(source.cancelled).toBe(1);
  });
});
