/** What the group engine tells the app (spec §12.5–§12.8): messages to show, delivery states, warnings. */
import type { GroupMessage } from '../protocol/groupMessages.ts';
import type { ExpiryReason } from './conversationStore.ts';

/** Where one of our messages stands with one addressee (§12.5), as a UI keeps it from the events below. */
export type DeliveryState = 'sending' | 'sent' | 'delivered' | 'read' | 'expired';

export type GroupEvent =
  /** A member's message to show; `message.author` is the member whose session carried it. */
  | { readonly type: 'shown'; readonly message: GroupMessage; readonly receivedAtMs: number }
  /**
   * One of our messages moved on for one addressee. Every addressee starts at `sending` (the send outcome
   * lists them); `read` only comes with read receipts on.
   */
  | { readonly type: 'delivery'; readonly messageId: string; readonly seq: number; readonly member: string; readonly state: 'sent' | 'delivered' | 'read' }
  /** The outbox gave up on one of our messages for one addressee: it did not reach that member. */
  | { readonly type: 'expired'; readonly messageId: string; readonly seq: number; readonly member: string; readonly reason: ExpiryReason }
  /**
   * `members` reported a version of `author`'s message `seq` other than the one we hold (or, if `author` is
   * us, sent). Who is at fault is unknown: say "You and Bob saw different versions of a message from Alice".
   */
  | { readonly type: 'inconsistent'; readonly author: string; readonly seq: number; readonly members: readonly string[] }
  /** `member` is writing to us now, or stopped (only when the person shares typing, §12.5). */
  | { readonly type: 'typing'; readonly member: string; readonly typing: boolean }
  /** Work in the background (storing, digesting) failed; `detail` says what, in plain words. */
  | { readonly type: 'failed'; readonly detail: string };
