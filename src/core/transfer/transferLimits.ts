/** Sizes and counts that bound file transfers, shared by sender, receiver and tests. */

/** A transfer id is 16 random bytes, sent as base64url (22 characters). */
export const TRANSFER_ID_BYTES = 16;

/**
 * The largest whole KiB whose last chunk (plus its 32-byte digest, the 21-byte chunk header, the 10-byte frame header
 * and the 16-byte GCM tag) still fits one 262 144-byte frame: fewer, larger frames cost fewer WebCrypto calls,
 * sends and message events per MiB (§7.2).
 */
export const MAX_CHUNK_BYTES = 255 * 1024;
export const DEFAULT_CHUNK_BYTES = MAX_CHUNK_BYTES;
export const MIN_CHUNK_BYTES = 1024;

/** Receiver policy, not a protocol limit: the offer parser accepts any safe size; IncomingTransfer enforces this. */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

/** The receiver acknowledges cumulatively each time its received byte count crosses a multiple of this. */
export const ACK_EVERY_BYTES = 1024 * 1024;
/** Unacknowledged bytes a sender keeps in flight; must exceed ACK_EVERY_BYTES plus one chunk (see OutgoingWindow). */
export const DEFAULT_WINDOW_BYTES = 16 * 1024 * 1024;

/** Limits of the announced name and MIME type, in UTF-16 code units (JavaScript string length). */
export const MAX_NAME_CHARS = 255;
export const MAX_MIME_CHARS = 127;

/** Incoming transfers moving at once (receiving or being set up); paused and waiting ones do not take a slot. */
export const MAX_CONCURRENT_INCOMING = 4;
/**
 * Paused or waiting incoming transfers kept for a resume; beyond it the oldest is given up. They take no slot, but
 * each holds its partial file in the receiving store, so a peer that drops again and again must not pile them up.
 */
export const MAX_PARKED_INCOMING = 8;
/**
 * Minimum progress of a receiving transfer: in every window of PROGRESS_WINDOW_MS it must bring MIN_PROGRESS_BYTES
 * (or the rest of the file, if less), else it fails as timed out. 256 KiB in 30 s is about 70 kbit/s, slower than any
 * link a file is worth sending over; a peer trickling a chunk now and then to hold a slot is far below it.
 */
export const PROGRESS_WINDOW_MS = 30_000;
export const MIN_PROGRESS_BYTES = 256 * 1024;
export const DEFAULT_MAX_OFFERS_PER_MINUTE = 30;
