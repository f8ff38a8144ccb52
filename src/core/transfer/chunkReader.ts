/**
 * The sender's reads of one file, in blocks. Every FileSource read is a round trip to wherever the bytes live (in
 * the browser, a Blob read crosses to the browser process and back), so chunks are cut from blocks of about 4 MiB,
 * and the next block is read while the current one is being sent. Holds at most two blocks, for one sending loop.
 */
import type { FileSource } from './transferManager.ts';

/**
 * Large enough that the per-read cost vanishes next to the bytes, small enough that two blocks are cheap. `npm run
 * bench` (transferStages) measured reading 64 MiB here at about half the CPU in 4 MiB slices as in 1 MiB ones.
 */
export const READ_BLOCK_BYTES = 4 * 1024 * 1024;

interface Block {
  readonly start: number;
  readonly bytes: Uint8Array;
}

export class ChunkReader {
  private block: Block | null = null;
  private ahead: { readonly start: number; readonly bytes: Promise<Uint8Array> } | null = null;
  private readonly blockBytes: number;

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
    this.readAhead(block);
    return block.bytes.subarray(startByte - block.start, endByte - block.start);
  }

  private async fetch(start: number): Promise<Block> {
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead !== null && ahead.start === start) return { start, bytes: await ahead.bytes };
    // Nothing read ahead (the first read, or a resume): read one chunk, so it can leave at once, and let the next
    // block be read while it is sealed and sent. A first read of a whole block held the first chunk back by the
    // 40–90 ms that reading 4 MiB takes here (npm run bench, photoPreview).
    return { start, bytes: await this.source.read(start, Math.min(this.source.sizeBytes, start + this.chunkBytes)) };
  }

  private readAhead(block: Block): void {
    const start = block.start + block.bytes.length;
    if (this.ahead !== null || start >= this.source.sizeBytes) return;
    const bytes = this.source.read(start, Math.min(this.source.sizeBytes, start + this.blockBytes));
    // Awaited, and a failure reported, only when that block is needed; a loop that stops earlier drops it.
    bytes.catch(() => {});
    this.ahead = { start, bytes };
  }
}
