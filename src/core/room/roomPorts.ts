/** What a room needs from its platform: a signaling socket and WebRTC peers, both supplied by adapters. */
import type { PeerSignal } from '../protocol/peerSignal.ts';
import type { Clock, Random } from '../ports.ts';
import type { RelayRoute } from './roomStatus.ts';

/**
 * Why a signaling connection ended, when the adapter can tell: the service could not be reached at all, or it
 * answered and refused this page. `endpoint` names the service as config.json does, for the person to check.
 */
export type SignalingProblem = { readonly kind: 'unreachable' | 'refused'; readonly endpoint: string };

export interface SignalingHandlers {
  onOpen(): void;
  /** A raw frame from the server; the room parses it. */
  onMessage(data: unknown): void;
  /** The connection ended (or never opened); with a problem when the adapter knows why. */
  onClose(problem?: SignalingProblem): void;
}

export interface SignalingSocket {
  send(text: string): void;
  close(): void;
}

export interface PeerHandlers {
  /** A signal produced by the local WebRTC stack, to be sealed and relayed. Unknown until parsed. */
  onSignal(signal: unknown): void;
  onConnect(): void;
  onData(bytes: Uint8Array): void;
  onClose(): void;
}

export interface PeerHandle {
  signal(signal: PeerSignal): void;
  send(bytes: Uint8Array): void;
  /** Resolves when the channel's send buffer has drained below its low-water mark (or the channel closed). */
  writable(): Promise<void>;
  destroy(): void;
}

export interface RoomPlatform {
  readonly connectSignaling: (handlers: SignalingHandlers) => SignalingSocket;
  readonly createPeer: (initiator: boolean, handlers: PeerHandlers) => PeerHandle;
  readonly clock: Clock;
  readonly random: Random;
  /** Read when a member cannot be reached, so the person is told what could (not) have helped. */
  readonly relayRoute: () => RelayRoute;
}
