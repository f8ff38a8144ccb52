/**
 * The sender's reads of one file, in blocks. Every FileSource read is a round trip to wherever the bytes live (in
 * the browser, a Blob read crosses to the browser process and back), so chunks are cut from blocks of about 4 MiB,
 * and the next block is read while the current one is being sent. Holds at most two blocks (the current one and up to
 * one block of reads ahead), for one sending loop.
 */
import type { FileSource } from './transferManager.ts';

/**
 * Large enough that the per-read cost vanishes next to the bytes, small enough that two blocks are cheap. `npm run
 * bench` (transferStages) measured reading 64 MiB here at about half the CPU in 4 MiB slices as in 1 MiB ones.
 */
export const READ_BLOCK_BYTES = 4 * 1024 * 1024;

/** The second read of the ramp reads at least this much, so small chunks do not cost a dozen tiny reads. */
const RAMP_START_BYTES = 256 * 1024;

interface Block {
  readonly start: number;
  readonly bytes: Uint8Array;
}

interface PendingRead {
  readonly start: number;
  readonly endByte: number;
  readonly bytes: Promise<Uint8Array>;
}

export class ChunkReader {
  private block: Block | null = null;
  /** Reads started ahead of the current block, in file order; together at most one block (or the one next read). */
  private ahead: PendingRead[] = [];
  private readonly blockBytes: number;
  /**
   * Bytes of the latest read started, 0 before the first. A transfer starts with a read of one chunk, so the first
   * chunk leaves at once, and each read after it is twice as large as the one before (at least RAMP_START_BYTES), up to
   * a whole block; the first ones are started together. A block read right after the first chunk left the channel idle
   * for the 40–90 ms that reading 4 MiB takes here once that one chunk was on the wire (npm run bench, photoPreview,
   * §7.14).
   */
  private lastReadBytes = 0;

  constructor(
    private readonly source: FileSource,
    private readonly chunkBytes: number,
  ) {
    // A whole number of chunks per block, so that consecutive chunks never straddle two blocks.
    this.blockBytes = Math.max(1, Math.floor(READ_BLOCK_BYTES / chunkBytes)) * chunkBytes;
  }

  /** Bytes `startByte`..`endByte` (end exclusive), as a view into a block; the caller must not modify them. */
  async read(startByte: number, endByte: number): Promise<Uint8Array> {
    let block = this.block;
    if (block === null || startByte < block.start || endByte > block.start + block.bytes.length) {
      block = await this.fetch(startByte);
      this.block = block;
    }
    // A source that returned less than asked for: read this chunk on its own, as before blocks existed.
    if (endByte > block.start + block.bytes.length) return this.source.read(startByte, endByte);
    return block.bytes.subarray(startByte - block.start, endByte - block.start);
  }

  private async fetch(start: number): Promise<Block> {
    const next = this.ahead.shift();
    if (next?.start !== start) {
      // Nothing read ahead from here (the first read, or a resume): start small again.
      this.ahead = [];
      this.lastReadBytes = 0;
      const first = this.startRead(start);
      this.readAhead(first.endByte);
      return { start, bytes: await first.bytes };
    }
    this.readAhead(next.endByte);
    return { start, bytes: await next.bytes };
  }

  /** The ramp's next read size in whole chunks (see lastReadBytes). */
  private nextReadBytes(): number {
    const wanted = this.lastReadBytes === 0 ? this.chunkBytes : Math.max(RAMP_START_BYTES, 2 * this.lastReadBytes);
    return Math.min(this.blockBytes, Math.ceil(wanted / this.chunkBytes) * this.chunkBytes);
  }

  /** Starts the ramp's next read from `start`, never past the file. */
  private startRead(start: number): PendingRead {
    this.lastReadBytes = this.nextReadBytes();
    const endByte = Math.min(this.source.sizeBytes, start + this.lastReadBytes);
    const bytes = this.source.read(start, endByte);
    // Awaited, and a failure reported, only when that block is needed; a loop that stops earlier drops it.
    bytes.catch(() => {});
    return { start, endByte, bytes };
  }

  /**
   * Keeps reads going ahead of the block that ends at `fromByte`: at least the next one, and more while they fit in one
   * block together (the ramp's small first reads all start at once).
   */
  private readAhead(fromByte: number): void {
    let aheadBytes = this.ahead.reduce((sum, read) => sum + (read.endByte - read.start), 0);
    let start = this.ahead.at(-1)?.endByte ?? fromByte;
    while (start < this.source.sizeBytes) {
      if (this.ahead.length > 0 && aheadBytes + this.nextReadBytes() > this.blockBytes) return;
      const read = this.startRead(start);
      this.ahead.push(read);
      aheadBytes += read.endByte - read.start;
      start = read.endByte;
    }
  }
}
