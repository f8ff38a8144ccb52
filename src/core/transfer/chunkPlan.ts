/** How a file of a given size splits into chunks: counts, byte ranges and resume offsets. */
import { MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from './transferLimits.ts';

export interface ChunkPlan {
  readonly sizeBytes: number;
  readonly chunkBytes: number;
  readonly chunkCount: number;
}

/** Chunk count by exact integer steps (`%` and an exact division), so it never rests on rounding. */
function countChunks(sizeBytes: number, chunkBytes: number): number {
  const remainderBytes = sizeBytes % chunkBytes;
  const fullChunks = (sizeBytes - remainderBytes) / chunkBytes;
  return Math.max(1, fullChunks + (remainderBytes > 0 ? 1 : 0));
}

/**
 * Only ever called with validated values, so bad input is a programming error and throws. A 0-byte file
 * is one empty chunk, so the receiver sees an explicit last chunk for every file, empty or not.
 */
export function planChunks(sizeBytes: number, chunkBytes: number): ChunkPlan {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new RangeError(`file size ${sizeBytes} is not a safe non-negative integer`);
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES) {
    throw new RangeError(`chunk size ${chunkBytes} is outside ${MIN_CHUNK_BYTES}..${MAX_CHUNK_BYTES}`);
  }
  return { sizeBytes, chunkBytes, chunkCount: countChunks(sizeBytes, chunkBytes) };
}

function isChunkIndex(plan: ChunkPlan, index: number): boolean {
  return Number.isSafeInteger(index) && index >= 0 && index < plan.chunkCount;
}

/** Byte range of chunk `index`, end exclusive; the last chunk may be shorter (or empty, for an empty file). */
export function chunkRange(plan: ChunkPlan, index: number): { readonly startByte: number; readonly endByte: number } {
  if (!isChunkIndex(plan, index)) throw new RangeError(`chunk index ${index} is outside 0..${plan.chunkCount - 1}`);
  const startByte = index * plan.chunkBytes;
  return { startByte, endByte: Math.min(startByte + plan.chunkBytes, plan.sizeBytes) };
}

/** False (rather than a throw) for an index outside the plan, since callers may hold an index read from the wire. */
export function isLastChunk(plan: ChunkPlan, index: number): boolean {
  return isChunkIndex(plan, index) && index === plan.chunkCount - 1;
}

/**
 * The chunk that starts at `offsetBytes`, or null when no chunk starts there. Offset == size is null
 * (except 0 for an empty file, whose one chunk starts there): a receiver that holds every byte has
 * verified the hash and answers `complete`, never `accept` at the end.
 */
export function chunkIndexAtOffset(plan: ChunkPlan, offsetBytes: number): number | null {
  if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0) return null;
  if (offsetBytes === 0) return 0;
  if (offsetBytes >= plan.sizeBytes || offsetBytes % plan.chunkBytes !== 0) return null;
  return offsetBytes / plan.chunkBytes;
}
