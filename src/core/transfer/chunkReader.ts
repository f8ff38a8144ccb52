/**
 * The sender's reads of one file, as one stream from wherever the sending starts. A browser File's stream hands over
 * its bytes in pieces that grow to 2 MiB (64 KiB first), through shared memory; reading the same 64 MiB as 4 MiB
 * slices, each its own round trip to the browser process and its own copy, cost about half again as much CPU
 * (`npm run bench`, transferStages; spec §7.5). Chunks are cut from the pieces: a chunk inside one piece is a view
 * of it, and only a chunk that straddles two pieces is copied (one in eight of 255 KiB chunks from 2 MiB pieces).
 * Holds the current piece and the next one, which is asked for as soon as the current one arrives, so the file is
 * read while the chunks before are sealed and sent.
 */
import type { ByteStream, FileSource } from './transferManager.ts';

const EMPTY = new Uint8Array(0);

export class ChunkReader {
  private stream: ByteStream | null = null;
  /** The unread rest of the latest piece. */
  private piece: Uint8Array = EMPTY;
  /** Where in the file `piece` starts: the stream's next unread byte. */
  private position = 0;
  /** The piece after `piece`, asked for already; null once the stream has ended or before anything was asked. */
  private ahead: Promise<Uint8Array | null> | null = null;
  private ended = false;

  constructor(private readonly source: FileSource) {}

  /**
   * Bytes `startByte`..`endByte` (end exclusive), usually a view into a piece; the caller must not modify them. Reads
   * follow one another through the file; a read anywhere else (a resume) starts a new stream there.
   */
  async read(startByte: number, endByte: number): Promise<Uint8Array> {
    if (this.stream === null || startByte !== this.position) this.restart(startByte);
    const length = endByte - startByte;
    while (this.piece.length === 0 && length > 0) await this.nextPiece(endByte);
    if (this.piece.length >= length) return this.take(length);
    const chunk = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (this.piece.length === 0) await this.nextPiece(endByte);
      const part = this.take(Math.min(length - filled, this.piece.length));
      chunk.set(part, filled);
      filled += part.length;
    }
    return chunk;
  }

  /** Lets the file go (the sending loop ended, finished or not). */
  close(): void {
    this.stream?.cancel();
    this.stream = null;
    this.ahead = null;
    this.piece = EMPTY;
  }

  private restart(startByte: number): void {
    this.close();
    this.stream = this.source.stream(startByte);
    this.position = startByte;
    this.ended = false;
    this.ahead = this.ask();
  }

  private ask(): Promise<Uint8Array | null> | null {
    if (this.stream === null || this.ended) return null;
    const next = this.stream.next();
    // Awaited, and a failure reported, when that piece is needed; a loop that stops earlier drops it.
    next.catch(() => {});
    return next;
  }

  /** Moves to the next piece (and asks for the one after it); the file ending before `endByte` is an error. */
  private async nextPiece(endByte: number): Promise<void> {
    const next = this.ahead === null ? null : await this.ahead;
    if (next === null) {
      this.ended = true;
      this.ahead = null;
      throw new Error(`the file ended at byte ${this.position}, before byte ${endByte}: it changed while it was being sent`);
    }
    this.piece = next;
    this.ahead = this.ask();
  }

  private take(length: number): Uint8Array {
    const part = this.piece.subarray(0, length);
    this.piece = this.piece.subarray(length);
    this.position += length;
    return part;
  }
}
