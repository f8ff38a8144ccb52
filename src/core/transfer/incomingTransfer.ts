/** The receiver's check of one transfer: every chunk against the offer, acknowledgements, and the trailing digest. */
import { assertNever } from '../assertNever.ts';
import { bytesEqual } from '../encoding.ts';
import { chunkRange, isLastChunk, planChunks, type ChunkPlan } from './chunkPlan.ts';
import { HashList } from './hashList.ts';
import { ACK_EVERY_BYTES } from './transferLimits.ts';
import { DIGEST_TRAILER_BYTES, offerProblem, type CancelReason, type ChunkHeader, type TransferOffer } from './transferMessages.ts';

export type ChunkVerdict =
  | {
      readonly kind: 'store';
      /** The file's bytes in this chunk: all of its data, except the last chunk's trailing digest. */
      readonly content: Uint8Array;
      /** Where `content` goes in the file. */
      readonly offsetBytes: number;
      /** Cumulative bytes to acknowledge now (a multiple of ACK_EVERY_BYTES was crossed, or this is the last chunk), else null. */
      readonly ack: number | null;
      /**
       * Set on the last chunk: whether the content digest of everything accepted (§7.9) equals the one the sender
       * appended to it. Rejects only if WebCrypto could not hash.
       */
      readonly done: null | { readonly hashMatches: Promise<boolean> };
    }
  | { readonly kind: 'reject'; readonly reason: string };

export type IncomingStatus = 'receiving' | 'done' | 'dead';

export type IncomingResult =
  | { readonly ok: true; readonly transfer: IncomingTransfer }
  | { readonly ok: false; readonly reason: CancelReason; readonly detail: string };

export class IncomingTransfer {
  private readonly plan: ChunkPlan;
  /** Every chunk accepted, in order: after a resume the list goes on where it stood. */
  private readonly hashes = new HashList();
  private nextIndex = 0;
  private received = 0;
  private state: IncomingStatus = 'receiving';

  private constructor(readonly offer: TransferOffer) {
    this.plan = planChunks(offer.sizeBytes, offer.chunkBytes);
  }

  /** Refuses an offer over this receiver's size limit (`too-large`) or one no parser would have let through. */
  static fromOffer(offer: TransferOffer, maxFileBytes: number): IncomingResult {
    if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < 0) throw new RangeError(`maximum file size ${maxFileBytes} is not a byte count`);
    const problem = offerProblem(offer);
    if (problem !== null) return { ok: false, reason: 'protocol-error', detail: problem };
    if (offer.sizeBytes > maxFileBytes) {
      return { ok: false, reason: 'too-large', detail: `${offer.sizeBytes} bytes exceeds the limit of ${maxFileBytes}` };
    }
    return { ok: true, transfer: new IncomingTransfer(offer) };
  }

  /** Bytes accepted so far, all of them in order from the start: the offset to resume from. */
  get receivedBytes(): number {
    return this.received;
  }

  get status(): IncomingStatus {
    return this.state;
  }

  /**
   * Accepts only the exact next chunk of exactly the planned length with the right "last" flag, so the
   * receiver never holds more than the announced size. Any violation kills the transfer: this and every
   * later chunk is rejected and must not be stored.
   */
  onChunk(header: ChunkHeader, data: Uint8Array): ChunkVerdict {
    const problem = this.chunkProblem(header, data);
    if (problem !== null) {
      this.state = 'dead';
      return { kind: 'reject', reason: problem };
    }
    const { startByte, endByte } = chunkRange(this.plan, header.index);
    const content = data.subarray(0, endByte - startByte);
    this.hashes.add(content);
    this.received = endByte;
    this.nextIndex += 1;
    const crossedAckPoint = Math.floor(endByte / ACK_EVERY_BYTES) > Math.floor(startByte / ACK_EVERY_BYTES);
    if (!header.isLast) return { kind: 'store', content, offsetBytes: startByte, ack: crossedAckPoint ? endByte : null, done: null };
    this.state = 'done';
    const trailer = data.subarray(endByte - startByte);
    const hashMatches = this.hashes.digest().then((digest) => bytesEqual(digest, trailer));
    return { kind: 'store', content, offsetBytes: startByte, ack: endByte, done: { hashMatches } };
  }

  private chunkProblem(header: ChunkHeader, data: Uint8Array): string | null {
    switch (this.state) {
      case 'dead':
        return 'transfer already failed';
      case 'done':
        return 'chunk after the last one';
      case 'receiving':
        break;
      default:
        return assertNever(this.state, 'incoming transfer status');
    }
    if (header.id !== this.offer.id) return 'chunk of another transfer';
    if (header.index !== this.nextIndex) return `chunk ${header.index} arrived, ${this.nextIndex} expected`;
    if (header.isLast !== isLastChunk(this.plan, header.index)) return header.isLast ? 'last flag before the last chunk' : 'last chunk without its flag';
    const { startByte, endByte } = chunkRange(this.plan, header.index);
    // The last chunk carries the content's digest after its bytes.
    const plannedBytes = endByte - startByte + (header.isLast ? DIGEST_TRAILER_BYTES : 0);
    if (data.length !== plannedBytes) return `chunk of ${data.length} bytes, ${plannedBytes} planned`;
    return null;
  }
}
