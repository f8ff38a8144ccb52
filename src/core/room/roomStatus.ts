/**
 * Where a room stands, as unions the UI turns into words: each member's state (for the Members panel) and one
 * headline for the whole room, derived from the room's own phase and its members by a pure rule.
 */
import type { PeerIdentity } from '../crypto/identityProof.ts';
import type { ErrorCode } from '../protocol/signaling.ts';
import type { Admission } from './admission.ts';

/** Why one member's connection ended or never came up. The room goes on with the others. */
/**
 * How this page reaches members: whether the site has a relay (TURN) server to fall back on when no direct path
 * exists, and whether the person chose to go only through it ("Always relay", which hides their address).
 */
export type RelayRoute = { readonly relayServer: boolean; readonly relayOnly: boolean };

export type MemberFailure =
  | { readonly kind: 'signal-rejected' }
  | { readonly kind: 'verification-failed'; readonly detail: string }
  | { readonly kind: 'frame-rejected'; readonly detail: string }
  /** No connection within the connect timeout, with what this page could have used to get through (see RelayRoute). */
  | { readonly kind: 'no-connection'; readonly relay: RelayRoute }
  /** A held member sent more than MAX_HELD_BACK_EVENTS before the person decided; none of it was shown. */
  | { readonly kind: 'held-overflow' }
  /** It sent messages (or receipts) faster than a person can; its session was ended, nothing past the limit shown. */
  | { readonly kind: 'flooded'; readonly detail: string }
  /** The member broke a group rule (a message under another member's name, say); its session was ended. */
  | { readonly kind: 'misbehaved'; readonly detail: string };

/** Why the whole room stopped: the person must start again. */
export type RoomFailure =
  /** The server refused us. Only the code is kept: the server's own wording is never shown to the user. */
  | { readonly kind: 'server-refused'; readonly code: ErrorCode }
  | { readonly kind: 'server-unintelligible'; readonly detail: string }
  /** The server listed more people than a browser meshes with (spec §12.3). */
  | { readonly kind: 'too-many-members' }
  /** The first signaling connection never opened (a PeerJS broker that is down or misnamed, §3.8). */
  | { readonly kind: 'signaling-unreachable'; readonly endpoint: string }
  /** The signaling service answered but refused this page (a PeerJS broker's key or limits, §3.8). */
  | { readonly kind: 'signaling-refused'; readonly endpoint: string };

export type MemberState =
  /** Learned of, no secure session yet (waiting for or making the connection). */
  | 'connecting'
  /** The direct connection is open; the handshake and identities are being checked. */
  | 'verifying'
  /** Verified, but the admission policy held it: nothing goes to it, nothing from it is shown, until accepted. */
  | 'held'
  /** Verified and admitted: messages and files flow. */
  | 'connected'
  /** The pair broke while both are in the room; a new connection is due or being made. */
  | 'reconnecting'
  /** No direct connection could be made in time, or re-dials ran out for now; tried again later. */
  | 'unreachable'
  /** Said goodbye, or the server says it left and it no longer answers. */
  | 'left'
  /** Its session broke a rule; see `failure`. Not re-dialled until it joins again. */
  | 'failed';

export interface MemberView {
  /** Stable while this room session lasts: the member id once verified, else the server's peer id. */
  readonly key: string;
  readonly state: MemberState;
  /** The verified identity (null until verified). */
  readonly peer: PeerIdentity | null;
  /** Derived from the verified key (spec §12.2); null until verified. */
  readonly memberId: string | null;
  /** Why it was admitted or held (null until verified). */
  readonly admission: Admission | null;
  readonly failure: MemberFailure | null;
}

/** The room's own progress, apart from its members. */
export type RoomPhase =
  | { readonly kind: 'preparing' }
  | { readonly kind: 'joined' }
  /** The signaling socket is down and being re-opened; live sessions go on. */
  | { readonly kind: 'reconnecting' }
  /** The server could not place us in the room just now (`unavailable`); trying again, at the next server if any. */
  | { readonly kind: 'server-unavailable' }
  | { readonly kind: 'room-full' }
  | { readonly kind: 'failed'; readonly failure: RoomFailure };

/** One line for the whole room, the same words a two-person room always had. */
export type RoomStatus =
  | { readonly kind: 'preparing' }
  | { readonly kind: 'waiting' }
  | { readonly kind: 'connecting' }
  | { readonly kind: 'verifying' }
  /** At least one member is connected. */
  | { readonly kind: 'secure'; readonly connected: number }
  /** Nobody connected, and someone waits for the person to accept them. */
  | { readonly kind: 'held' }
  /** Alone, after someone was here. */
  | { readonly kind: 'peer-left' }
  | { readonly kind: 'server-unavailable' }
  | { readonly kind: 'reconnecting' }
  /** Nobody connected and every member here failed or is unreachable: the latest reason. */
  | { readonly kind: 'member-failed'; readonly failure: MemberFailure }
  | { readonly kind: 'room-full' }
  | { readonly kind: 'failed'; readonly failure: RoomFailure };

/** A status the room will not leave on its own; the user must start again. */
export function isTerminal(status: RoomStatus): boolean {
  return status.kind === 'failed' || status.kind === 'room-full';
}

const PRESENT: ReadonlySet<MemberState> = new Set(['connecting', 'verifying', 'held', 'connected', 'reconnecting', 'unreachable', 'failed']);

/**
 * The headline from the phase and the members: connected beats held beats verifying beats connecting; a room
 * whose members all failed says why; alone is "waiting" or, once someone was here, "left".
 */
export function roomHeadline(phase: RoomPhase, members: readonly MemberView[], someoneWasHere: boolean): RoomStatus {
  switch (phase.kind) {
    case 'preparing':
      return { kind: 'preparing' };
    case 'room-full':
      return { kind: 'room-full' };
    case 'failed':
      return { kind: 'failed', failure: phase.failure };
    case 'joined':
    case 'reconnecting':
    case 'server-unavailable':
      break;
  }
  const present = members.filter((member) => PRESENT.has(member.state));
  const count = (state: MemberState): number => present.filter((member) => member.state === state).length;
  if (count('connected') > 0) return { kind: 'secure', connected: count('connected') };
  if (count('held') > 0) return { kind: 'held' };
  if (count('verifying') > 0) return { kind: 'verifying' };
  if (count('connecting') > 0) return { kind: 'connecting' };
  if (count('reconnecting') > 0) return { kind: 'reconnecting' };
  const failed = present.findLast((member) => member.failure !== null);
  if (failed?.failure) return { kind: 'member-failed', failure: failed.failure };
  if (present.length > 0) return { kind: 'connecting' };
  if (phase.kind === 'reconnecting') return { kind: 'reconnecting' };
  if (phase.kind === 'server-unavailable') return { kind: 'server-unavailable' };
  return someoneWasHere ? { kind: 'peer-left' } : { kind: 'waiting' };
}
