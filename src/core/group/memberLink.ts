/**
 * Our side of one member's pair session, as the group engine sees it: the channel to send on, the limits on
 * what the member may send us (spec §12.5), the pacing of our own messages to it, and the throttled receipts
 * we owe it. A new link is made for every new session, so limits and pacing start afresh.
 */
import type { Clock } from '../ports.ts';
import type { GroupFrame, GroupMessage } from '../protocol/groupMessages.ts';
import {
  INBOUND_CONTROL_BURST,
  INBOUND_CONTROL_PER_SECOND,
  INBOUND_MESSAGE_BURST,
  INBOUND_MESSAGES_PER_SECOND,
  OUTBOUND_MESSAGE_BURST,
  OUTBOUND_MESSAGES_PER_SECOND,
  RECEIPTS_INTERVAL_MS,
} from './groupLimits.ts';
import { Throttle } from './throttle.ts';
import { TokenBucket } from './tokenBucket.ts';

/** A secure, admitted pair session with one member, as the mesh hands it over. */
export interface GroupChannel {
  readonly memberId: string;
  /** Seals and sends one frame; false if the session is gone (nothing was sent). */
  send(frame: GroupFrame): boolean;
}

export interface Receipts {
  readonly deliveredSeq: number;
  readonly readSeq: number;
}

export interface LinkHooks {
  /** Our receipts for this member's messages as they stand now. */
  currentReceipts(): Receipts;
  /** Whether a queued message still needs sending (a receipt may have arrived while it waited). */
  stillPending(message: GroupMessage): boolean;
  /** The message was handed to the channel. */
  sent(message: GroupMessage): void;
}

export class MemberLink {
  private channel: GroupChannel | null;
  private readonly inboundMessages: TokenBucket;
  private readonly inboundControl: TokenBucket;
  private readonly outbound: TokenBucket;
  private readonly queue: GroupMessage[] = [];
  private cancelPacing: (() => void) | null = null;
  private readonly receiptThrottle: Throttle;
  private lastReceipts: Receipts = { deliveredSeq: 0, readSeq: 0 };
  /** A duplicate arrived: the next receipts go out even if unchanged (the author lost the earlier ones). */
  private receiptsOwed = false;

  constructor(
    channel: GroupChannel | null,
    private readonly clock: Clock,
    private readonly hooks: LinkHooks,
  ) {
    this.channel = channel;
    this.inboundMessages = new TokenBucket(INBOUND_MESSAGE_BURST, INBOUND_MESSAGES_PER_SECOND, clock);
    this.inboundControl = new TokenBucket(INBOUND_CONTROL_BURST, INBOUND_CONTROL_PER_SECOND, clock);
    this.outbound = new TokenBucket(OUTBOUND_MESSAGE_BURST, OUTBOUND_MESSAGES_PER_SECOND, clock);
    this.receiptThrottle = new Throttle(clock, RECEIPTS_INTERVAL_MS, () => {
      this.sendReceipts();
    });
  }

  get isConnected(): boolean {
    return this.channel !== null;
  }

  /** Counts an incoming message frame against the limit; false once the member exceeds it. */
  admitMessage(): boolean {
    return this.inboundMessages.take();
  }

  /** Counts an incoming receipts or digests frame against the limit; false once the member exceeds it. */
  admitControl(): boolean {
    return this.inboundControl.take();
  }

  /** Queues one of our messages for this member; it leaves as fast as pacing allows, in queue order. */
  enqueue(message: GroupMessage): void {
    if (this.channel === null) return;
    this.queue.push(message);
    if (this.cancelPacing === null) this.drain();
  }

  /** Sends receipts now, if there is anything to acknowledge, and counts them for the throttle. */
  sendReceiptsNow(): void {
    if (this.sendReceipts()) this.receiptThrottle.ranNow();
  }

  /** Receipts changed (or are owed after a duplicate): sends them within the throttle. */
  receiptsDue(owed: boolean): void {
    if (owed) this.receiptsOwed = true;
    if (this.channel !== null) this.receiptThrottle.request();
  }

  /** Sends a frame that is not paced (digests); false if the session is gone. */
  sendFrame(frame: GroupFrame): boolean {
    const channel = this.channel;
    if (channel === null) return false;
    if (channel.send(frame)) return true;
    this.close();
    return false;
  }

  /** The session ended: nothing more is sent on it. */
  close(): void {
    this.channel = null;
    this.queue.length = 0;
    this.cancelPacing?.();
    this.cancelPacing = null;
    this.receiptThrottle.cancel();
  }

  private drain(): void {
    for (;;) {
      const message = this.queue[0];
      if (message === undefined || this.channel === null) return;
      if (!this.hooks.stillPending(message)) {
        this.queue.shift();
        continue;
      }
      if (!this.outbound.take()) {
        this.cancelPacing = this.clock.setTimer(this.outbound.msUntilToken(), () => {
          this.cancelPacing = null;
          this.drain();
        });
        return;
      }
      this.queue.shift();
      if (!this.sendFrame({ type: 'message', message })) return;
      this.hooks.sent(message);
    }
  }

  /** Whether receipts went out. */
  private sendReceipts(): boolean {
    const receipts = this.hooks.currentReceipts();
    const changed = receipts.deliveredSeq !== this.lastReceipts.deliveredSeq || receipts.readSeq !== this.lastReceipts.readSeq;
    if (!changed && !this.receiptsOwed) return false;
    if (!this.sendFrame({ type: 'receipts', ...receipts })) return false;
    this.lastReceipts = receipts;
    this.receiptsOwed = false;
    return true;
  }
}
