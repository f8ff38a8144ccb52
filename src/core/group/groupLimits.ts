/** The numbers of spec §12.5–§12.8 that the group messaging engine enforces, in one place. */

/** Message frames a pair may send: a burst of this many … */
export const INBOUND_MESSAGE_BURST = 50;
/** … refilled at this many per second (§12.5). */
export const INBOUND_MESSAGES_PER_SECOND = 20;
/** Receipts and digests frames share one bucket per pair, of the same size and rate (§12.5). */
export const INBOUND_CONTROL_BURST = 50;
export const INBOUND_CONTROL_PER_SECOND = 20;

/**
 * What we send of our own messages on one pair: well inside the receiver's limit above, so a long outbox
 * resent after a reconnect is never taken for a flood even when the network bunches frames together.
 */
export const OUTBOUND_MESSAGE_BURST = 25;
export const OUTBOUND_MESSAGES_PER_SECOND = 10;

/** Receipts go to one member at most this often (§12.5). */
export const RECEIPTS_INTERVAL_MS = 100;
/** Digests go out at most this often (§12.8). */
export const DIGESTS_INTERVAL_MS = 2_000;
/** Group messages per author whose digests are kept, reported and compared (§12.8). */
export const DIGESTS_PER_AUTHOR = 8;

/** An outbox entry older than this is given up (§12.7). */
export const OUTBOX_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** Only this many newest outbox entries are kept per addressee (§12.7). */
export const OUTBOX_MAX_ENTRIES = 1_000;
/**
 * Messages already delivered to a member are remembered (to report when they are read) up to this many per
 * member; older ones stay "delivered" as far as this page can tell.
 */
export const MAX_UNREAD_TRACKED = 1_000;

/** While the person types, "typing" goes to a member at most this often (§12.5) … */
export const TYPING_REFRESH_MS = 3_000;
/** … and "stopped" follows once nothing was typed for this long. */
export const TYPING_IDLE_MS = 5_000;
/** A receiver stops showing "typing" when no refresh came for this long (the sender's "stopped" may be lost). */
export const TYPING_SHOWN_MS = 7_000;
