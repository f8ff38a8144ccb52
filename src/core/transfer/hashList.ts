/**
 * A file's content digest as the transfer protocol defines it (§7.9): the SHA-256 of every chunk's file bytes, in
 * order, then the SHA-256 of those digests laid end to end (a hash list). Every call is one WebCrypto digest, which
 * runs natively and off the main thread, so no incremental hasher has to stream the whole file.
 */
import { concatBytes, toBufferSource } from '../encoding.ts';

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', toBufferSource(bytes)));
}

export class HashList {
  private readonly chunkDigests: Promise<Uint8Array>[] = [];

  /** Chunks added so far. */
  get chunkCount(): number {
    return this.chunkDigests.length;
  }

  /**
   * Starts hashing the next chunk's file bytes. Chunks must be added in file order, each exactly once; the bytes are
   * copied at once (WebCrypto takes its own copy), so the caller may reuse them.
   */
  add(content: Uint8Array): void {
    const digest = sha256(content);
    // A failure surfaces in digest(); until then nobody awaits this one.
    digest.catch(() => {});
    this.chunkDigests.push(digest);
  }

  /** The content digest over every chunk added; rejects if any chunk could not be hashed. */
  async digest(): Promise<Uint8Array> {
    return sha256(concatBytes(...(await Promise.all(this.chunkDigests))));
  }
}
