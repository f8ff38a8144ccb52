/** The sender's bookkeeping for one transfer: which chunk goes next, and how many bytes may be unacknowledged. */
import { chunkIndexAtOffset, chunkRange, type ChunkPlan } from './chunkPlan.ts';
import { ACK_EVERY_BYTES } from './transferLimits.ts';

export type WindowResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };
export type ResumeResult = { readonly ok: true; readonly resentBytes: number } | { readonly ok: false; readonly reason: string };

/**
 * The smallest window that cannot stall: the receiver acknowledges only after crossing a multiple of
 * ACK_EVERY_BYTES, at the end of the chunk that crosses it, so the sender must be able to get that far
 * past its last acknowledgement. When chunks tile the ack interval exactly, the interval itself suffices.
 */
export function minWindowBytes(chunkBytes: number): number {
  return ACK_EVERY_BYTES % chunkBytes === 0 ? ACK_EVERY_BYTES : ACK_EVERY_BYTES + chunkBytes;
}

export class OutgoingWindow {
  private next = 0;
  private sent = 0;
  private acked = 0;

  /** Throws for a window below minWindowBytes: such a sender would wait forever for an ack that never comes. */
  constructor(
    readonly plan: ChunkPlan,
    readonly windowBytes: number,
  ) {
    const minimum = minWindowBytes(plan.chunkBytes);
    if (!Number.isSafeInteger(windowBytes) || windowBytes < minimum) {
      throw new RangeError(`window of ${windowBytes} bytes is below the ${minimum} the ack cadence needs`);
    }
  }

  /** The next chunk to send, or null once every chunk has been sent. */
  get nextIndex(): number | null {
    return this.next < this.plan.chunkCount ? this.next : null;
  }

  get sentBytes(): number {
    return this.sent;
  }

  get ackedBytes(): number {
    return this.acked;
  }

  get inFlightBytes(): number {
    return this.sent - this.acked;
  }

  /** Everything sent and acknowledged; the receiver's `complete` (after its hash check) is still to come. */
  get allAcked(): boolean {
    return this.nextIndex === null && this.acked === this.plan.sizeBytes;
  }

  /**
   * With nothing in flight the next chunk may always go, so a chunk larger than the window could never
   * block progress. The constructor's minimum already implies this; the explicit case keeps it true on its own.
   */
  canSend(): boolean {
    const index = this.nextIndex;
    if (index === null) return false;
    if (this.inFlightBytes === 0) return true;
    const { startByte, endByte } = chunkRange(this.plan, index);
    return this.inFlightBytes + (endByte - startByte) <= this.windowBytes;
  }

  /** Sending out of order or past the window is a bug in the caller, so it throws. */
  markSent(index: number): void {
    if (index !== this.nextIndex) throw new Error(`chunk ${index} sent, but ${String(this.nextIndex)} is next`);
    if (!this.canSend()) throw new Error(`chunk ${index} sent with a full window`);
    this.sent = chunkRange(this.plan, index).endByte;
    this.next += 1;
  }

  /**
   * A cumulative acknowledgement. Repeating the current value is a harmless no-op; going backwards,
   * beyond what was sent, or to a point inside a chunk (the receiver acknowledges whole chunks) is a
   * protocol error and changes nothing.
   */
  onAck(receivedBytes: number): WindowResult {
    if (!Number.isSafeInteger(receivedBytes) || receivedBytes < 0) return { ok: false, reason: 'ack is not a byte count' };
    if (receivedBytes === this.acked) return { ok: true };
    if (receivedBytes < this.acked) return { ok: false, reason: `ack of ${receivedBytes} bytes goes back from ${this.acked}` };
    if (receivedBytes > this.sent) return { ok: false, reason: `ack of ${receivedBytes} bytes exceeds the ${this.sent} sent` };
    if (receivedBytes !== this.plan.sizeBytes && receivedBytes % this.plan.chunkBytes !== 0) {
      return { ok: false, reason: `ack of ${receivedBytes} bytes is not at a chunk boundary` };
    }
    this.acked = receivedBytes;
    return { ok: true };
  }

  /**
   * Restarts from what the receiver says it holds (its `accept` offset). Any chunk start up to what was
   * sent is allowed, even below the last acknowledgement (a receiver may have lost stored data; it only
   * costs resending); more than was sent, or a point inside a chunk, is refused. Offset == size is
   * refused too: a receiver holding everything answers `complete`. Reports how many bytes go out again.
   */
  resumeFrom(offsetBytes: number): ResumeResult {
    const index = chunkIndexAtOffset(this.plan, offsetBytes);
    if (index === null) return { ok: false, reason: `resume offset ${offsetBytes} is not the start of a chunk` };
    if (offsetBytes > this.sent) return { ok: false, reason: `resume offset ${offsetBytes} exceeds the ${this.sent} bytes sent` };
    const resentBytes = this.sent - offsetBytes;
    this.next = index;
    this.sent = offsetBytes;
    this.acked = offsetBytes;
    return { ok: true, resentBytes };
  }
}
