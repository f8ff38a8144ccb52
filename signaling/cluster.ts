/**
 * What the hub needs from the other instances that share its rooms: an atomic join against the room's real size, a
 * leave, a relay to a member on another instance, and the frames other instances address to members held here.
 * The Redis implementation is in redisCluster.ts; without REDIS_URL there is no cluster and the hub is alone.
 */

import { assertNever } from '../src/core/assertNever.ts';
import { parseServerFrame, PEER_ID_PATTERN, type ServerFrame } from '../src/core/protocol/signaling.ts';

/** Another member of a room as the shared directory lists it; `local` if this instance holds its connection. */
export type ClusterMember = { readonly peer: string; readonly nonce: string; readonly local: boolean };

export type ClusterJoin =
  | { readonly ok: true; readonly others: readonly ClusterMember[] }
  | { readonly ok: false; readonly reason: 'room-full' | 'unavailable' };

export type ClusterRelay = 'sent' | 'unknown-peer' | 'unavailable';

/** Frames another instance addresses to members whose connections this instance holds. */
export type RemoteFrame = Extract<ServerFrame, { type: 'peer-joined' | 'peer-left' | 'signal' }>;
export type ClusterDelivery = { readonly recipients: readonly string[]; readonly frame: RemoteFrame };

export interface ClusterHandlers {
  deliver(delivery: ClusterDelivery): void;
  /**
   * The directory no longer lists this instance's members (it was unreachable for longer than its liveness lease, so
   * the others removed them, or Redis itself restarted empty). Every member held here must join again.
   */
  registrationLost(): void;
}

export interface RoomCluster {
  /** Whether joins can be taken now: the directory is reachable and lists this instance as alive. */
  readonly ready: boolean;
  /** Round-trip time of the latest liveness renewal, in seconds; null before the first. */
  readonly roundTripSeconds: number | null;
  join(roomId: string, peer: string, nonce: string, maxMembers: number): Promise<ClusterJoin>;
  leave(roomId: string, peer: string): Promise<void>;
  relay(roomId: string, from: string, to: string, blob: string): Promise<ClusterRelay>;
  /** Takes this instance out of the directory and closes its connections to it. */
  close(): Promise<void>;
}

/**
 * Parses a message from another instance: comma-separated recipient peer ids, one space, then a server frame. It
 * comes from outside this process, so it is checked as strictly as anything a client sends.
 */
export function parseClusterMessage(text: string): ClusterDelivery | null {
  const space = text.indexOf(' ');
  if (space <= 0) return null;
  const recipients = text.slice(0, space).split(',');
  if (recipients.length > 64 || !recipients.every((peer) => PEER_ID_PATTERN.test(peer))) return null;
  const parsed = parseServerFrame(text.slice(space + 1));
  if (!parsed.ok) return null;
  const frame = parsed.value;
  switch (frame.type) {
    case 'peer-joined':
    case 'peer-left':
    case 'signal':
      return { recipients, frame };
    case 'joined':
    case 'pong':
    case 'error':
      return null;
    default:
      return assertNever(frame, 'server frame');
  }
}
