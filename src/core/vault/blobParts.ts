/**
 * Blobs built from many byte arrays and read back in slices, without holding a large one twice in memory:
 * appended bytes are folded into an intermediate Blob every few MiB, which a browser may keep on disk.
 */
import { toBufferSource } from '../encoding.ts';

const FOLD_BYTES = 16 * 1024 * 1024;

export class BlobBuilder {
  private readonly folded: Blob[] = [];
  private pending: Uint8Array<ArrayBuffer>[] = [];
  private pendingBytes = 0;

  append(bytes: Uint8Array): void {
    this.pending.push(toBufferSource(bytes));
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= FOLD_BYTES) this.fold();
  }

  build(type = ''): Blob {
    this.fold();
    return new Blob(this.folded, { type });
  }

  private fold(): void {
    if (this.pending.length === 0) return;
    this.folded.push(new Blob(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }
}

/** Random access to bytes that may not fit in memory at once (a Blob, a File, or a test's array). */
export interface ByteSource {
  readonly sizeBytes: number;
  /** Bytes startByte..endByte (end exclusive); fewer only if the source ends first. */
  read(startByte: number, endByte: number): Promise<Uint8Array>;
}

export function blobByteSource(blob: Blob): ByteSource {
  return {
    sizeBytes: blob.size,
    read: async (startByte, endByte) => new Uint8Array(await blob.slice(startByte, endByte).arrayBuffer()),
  };
}
