/** Turns a room's status into the words a person sees, and a tone for styling. */
import { assertNever } from '../core/assertNever.ts';
import type { MemberFailure, RelayRoute, RoomFailure, RoomStatus } from '../core/room/roomStatus.ts';
import type { ErrorCode } from '../core/protocol/signaling.ts';

export type Tone = 'progress' | 'good' | 'attention' | 'error';

/** Our own words for each refusal: the server's message text is never shown, so it cannot put words in our mouth. */
function serverRefusalText(code: ErrorCode): string {
  switch (code) {
    case 'server-busy':
      return 'The server is too busy right now. Try again in a minute.';
    case 'unavailable':
      return 'The server cannot take new conversations right now. Try again in a minute.';
    case 'rate-limited':
      return 'The server received too much from this page too quickly and stopped relaying it. Try again.';
    case 'idle-timeout':
      return 'The server closed the connection because joining took too long. Try again.';
    case 'room-full':
      return 'This room is full.';
    case 'malformed':
    case 'unknown-type':
    case 'not-joined':
    case 'already-joined':
    case 'unknown-peer':
      return `The server refused a message from this page (${code}). This page and the server may be different versions; reload the page and try again.`;
    default:
      return assertNever(code, 'server error code');
  }
}

/** What stood in the way when no connection came up, given what this page could use to get through. */
function noConnectionText(relay: RelayRoute): string {
  if (relay.relayServer) {
    return relay.relayOnly
      ? 'Could not connect through the relay server (you chose “Always relay”). The relay server may be refusing connections or be out of reach.'
      : 'Could not connect, not even through the relay server. Their network or yours may block it, or the relay server may be refusing connections.';
  }
  return relay.relayOnly
    ? '“Always relay” is on, but this site has no relay server, so no connection can be made. Turn it off on the front page to connect directly.'
    : 'Could not connect directly: a network on the way blocks direct connections between browsers, and this site has no relay (TURN) server to go through instead. Whoever runs this site can add one (see “Deploying” in the README).';
}

/** Why one member's connection ended or never came up; the room goes on with the others. */
export function memberFailureText(failure: MemberFailure): string {
  switch (failure.kind) {
    case 'signal-rejected':
      return 'Could not connect: a connection message did not open with this link’s key. The link may be incomplete or wrong, or someone tampered with the connection.';
    case 'verification-failed':
      return 'The connection could not be verified, so nothing was sent. Someone may be interfering with it.';
    case 'frame-rejected':
      return 'A message could not be verified, so that connection was closed to keep you safe. That message was not shown.';
    case 'no-connection':
      return noConnectionText(failure.relay);
    case 'held-overflow':
      return 'They sent more than Parley keeps while you decide whether to accept them, so their connection was closed. None of it was shown.';
    case 'flooded':
      return 'Their side sent messages faster than a person can, so the connection was ended to protect this page. Nothing past that point was shown or kept.';
    case 'misbehaved':
      return 'Their side broke the rules of a group conversation, so the connection was ended. What broke them was not shown.';
    default:
      return assertNever(failure, 'member failure');
  }
}

/** Why the whole room stopped. */
export function failureText(failure: RoomFailure): string {
  switch (failure.kind) {
    case 'server-refused':
      return serverRefusalText(failure.code);
    case 'server-unintelligible':
      return 'The server sent a message Parley does not understand, so the connection was stopped. The server may be misconfigured or tampered with.';
    case 'too-many-members':
      return 'This room has more people than Parley connects to at once (16), so it did not join. Ask for a new link for a smaller group.';
    case 'signaling-unreachable':
      return `Cannot reach the connection broker at ${failure.endpoint}. It may be down, or this site’s config.json may name it wrongly. Try again later.`;
    case 'signaling-refused':
      return `The connection broker at ${failure.endpoint} refused this page: the key or path in this site’s config.json may be wrong, or the broker is full. Try again later.`;
    default:
      return assertNever(failure, 'room failure');
  }
}

/** The technical reason behind a failure, for the "Details" line and for bug reports; never secret material. */
export function failureDetail(status: RoomStatus): string | null {
  if (status.kind !== 'failed' && status.kind !== 'member-failed') return null;
  const failure = status.failure;
  return 'detail' in failure ? failure.detail : null;
}

export function statusText(status: RoomStatus): { readonly text: string; readonly tone: Tone } {
  switch (status.kind) {
    case 'preparing':
      return { text: 'Getting ready…', tone: 'progress' };
    case 'waiting':
      return { text: 'Waiting for the other person to open the link…', tone: 'progress' };
    case 'connecting':
      return { text: 'Connecting to the other person…', tone: 'progress' };
    case 'verifying':
      return { text: 'Verifying the connection…', tone: 'progress' };
    case 'secure':
      return { text: status.connected === 1 ? 'Secure: end-to-end encrypted' : `Secure: end-to-end encrypted with ${status.connected} people`, tone: 'good' };
    case 'held':
      return { text: 'Encrypted, but this person’s identity needs your confirmation before you can talk.', tone: 'attention' };
    case 'member-failed':
      return { text: memberFailureText(status.failure), tone: 'error' };
    case 'peer-left':
      return { text: 'The other person left. They can come back with the same link.', tone: 'attention' };
    case 'reconnecting':
      return { text: 'Connection lost. Reconnecting…', tone: 'attention' };
    case 'server-unavailable':
      return { text: 'The server cannot let anyone join right now. Trying again…', tone: 'attention' };
    case 'room-full':
      return { text: 'This room is full. Ask for a new link, or create a room of your own.', tone: 'error' };
    case 'failed':
      return { text: failureText(status.failure), tone: 'error' };
    default:
      return assertNever(status, 'room status');
  }
}
