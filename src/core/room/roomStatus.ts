/** Where a room stands, as a union the UI turns into words. */
import type { PeerIdentity } from '../crypto/identityProof.ts';
import type { ErrorCode } from '../protocol/signaling.ts';
import type { Admission } from './admission.ts';

export type RoomFailure =
  | { readonly kind: 'signal-rejected' }
  | { readonly kind: 'verification-failed'; readonly detail: string }
  | { readonly kind: 'frame-rejected'; readonly detail: string }
  | { readonly kind: 'no-connection' }
  /** A held peer sent more than MAX_HELD_BACK_EVENTS before the user decided; none of it was shown. */
  | { readonly kind: 'held-overflow' }
  /** An admitted peer sent chat messages (or receipts) faster than PEER_MESSAGE_LIMIT; the one over it was not shown. */
  | { readonly kind: 'flooded' }
  /** The server refused us. Only the code is kept: the server's own wording is never shown to the user. */
  | { readonly kind: 'server-refused'; readonly code: ErrorCode }
  | { readonly kind: 'server-unintelligible'; readonly detail: string };

export type RoomStatus =
  | { readonly kind: 'preparing' }
  | { readonly kind: 'waiting' }
  | { readonly kind: 'connecting' }
  | { readonly kind: 'verifying' }
  /**
   * Verified, and the peer (guest or profile) admitted: chat and transfers flow. `admission` says why (and, for
   * a held peer the person accepted, why it was held).
   */
  | { readonly kind: 'secure'; readonly peer: PeerIdentity; readonly admission: Admission }
  /**
   * Verified, but the admission policy held this peer (say, a known name with a new key): nothing is sent to
   * it and nothing it sends is shown or handed to transfers until RoomSession.admitPeer.
   */
  | { readonly kind: 'held'; readonly peer: PeerIdentity; readonly admission: Admission }
  | { readonly kind: 'peer-left' }
  | { readonly kind: 'reconnecting' }
  | { readonly kind: 'room-full' }
  | { readonly kind: 'failed'; readonly failure: RoomFailure };

/** A status the room will not leave on its own; the user must start again. */
export function isTerminal(status: RoomStatus): boolean {
  return status.kind === 'failed' || status.kind === 'room-full';
}
