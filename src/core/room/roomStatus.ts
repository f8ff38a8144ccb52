/** Where a room stands, as a union the UI turns into words. */
import type { ErrorCode } from '../protocol/signaling.ts';

export type RoomFailure =
  | { readonly kind: 'signal-rejected' }
  | { readonly kind: 'verification-failed'; readonly detail: string }
  | { readonly kind: 'frame-rejected'; readonly detail: string }
  | { readonly kind: 'no-connection' }
  /** The server refused us. Only the code is kept: the server's own wording is never shown to the user. */
  | { readonly kind: 'server-refused'; readonly code: ErrorCode }
  | { readonly kind: 'server-unintelligible'; readonly detail: string };

export type RoomStatus =
  | { readonly kind: 'preparing' }
  | { readonly kind: 'waiting' }
  | { readonly kind: 'connecting' }
  | { readonly kind: 'verifying' }
  | { readonly kind: 'secure' }
  | { readonly kind: 'peer-left' }
  | { readonly kind: 'reconnecting' }
  | { readonly kind: 'room-full' }
  | { readonly kind: 'failed'; readonly failure: RoomFailure };

/** A status the room will not leave on its own; the user must start again. */
export function isTerminal(status: RoomStatus): boolean {
  return status.kind === 'failed' || status.kind === 'room-full';
}
