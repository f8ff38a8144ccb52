/**
 * What members of a room send each other through a PeerJS broker (spec §3.8): who is here (hello, welcome, here,
 * leave) and Parley's sealed signals. Each is JSON text in the `payload` of a PeerServer message; the broker sees
 * it, so it carries nothing a Parley signaling server would not see.
 */
import { BLOB_PATTERN, NONCE_PATTERN, PEER_ID_PATTERN, PROBE_TOKEN_PATTERN } from './signaling.ts';

export const BROKER_FRAME_VERSION = 1;
/** The longest payload parsed: a signal frame with the longest blob and some room for its keys. */
export const MAX_BROKER_PAYLOAD_CHARS = 60_200;

/** `peer` is always the sender's peer id; `to` the recipient's, so a frame the broker kept for a slot's earlier holder is dropped. */
export type BrokerFrame =
  /** A member that just took its slot, to every other slot. */
  | { readonly v: 1; readonly type: 'hello'; readonly peer: string; readonly nonce: string }
  /** The answer to a hello from a member already in the room: "dial me". */
  | { readonly v: 1; readonly type: 'welcome'; readonly peer: string; readonly nonce: string; readonly to: string }
  /** Presence, so a member whose page vanished without a word is noticed. */
  | { readonly v: 1; readonly type: 'here'; readonly peer: string; readonly to: string }
  | { readonly v: 1; readonly type: 'leave'; readonly peer: string; readonly to: string }
  | { readonly v: 1; readonly type: 'signal'; readonly peer: string; readonly to: string; readonly blob: string }
  /** Sent to our own slot: the broker handing it back proves the connection carries messages both ways (§3.1). */
  | { readonly v: 1; readonly type: 'echo'; readonly peer: string; readonly token: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasExactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const actual = Object.keys(value);
  return actual.length === keys.length && keys.every((key) => Object.hasOwn(value, key));
}

function matches(value: unknown, pattern: RegExp): value is string {
  return typeof value === 'string' && pattern.test(value);
}

/** Parses a payload that came through the broker; anything but exactly one of the frames above is null. */
export function parseBrokerFrame(payload: unknown): BrokerFrame | null {
  if (typeof payload !== 'string' || payload.length > MAX_BROKER_PAYLOAD_CHARS) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (!isRecord(value) || value['v'] !== BROKER_FRAME_VERSION || !matches(value['peer'], PEER_ID_PATTERN)) return null;
  const { peer, nonce, to, blob, token } = value;
  switch (value['type']) {
    case 'hello':
      return hasExactKeys(value, ['v', 'type', 'peer', 'nonce']) && matches(nonce, NONCE_PATTERN) ? { v: 1, type: 'hello', peer, nonce } : null;
    case 'welcome':
      return hasExactKeys(value, ['v', 'type', 'peer', 'nonce', 'to']) && matches(nonce, NONCE_PATTERN) && matches(to, PEER_ID_PATTERN)
        ? { v: 1, type: 'welcome', peer, nonce, to }
        : null;
    case 'here':
    case 'leave':
      return hasExactKeys(value, ['v', 'type', 'peer', 'to']) && matches(to, PEER_ID_PATTERN) ? { v: 1, type: value['type'], peer, to } : null;
    case 'signal':
      return hasExactKeys(value, ['v', 'type', 'peer', 'to', 'blob']) && matches(to, PEER_ID_PATTERN) && matches(blob, BLOB_PATTERN)
        ? { v: 1, type: 'signal', peer, to, blob }
        : null;
    case 'echo':
      return hasExactKeys(value, ['v', 'type', 'peer', 'token']) && matches(token, PROBE_TOKEN_PATTERN) ? { v: 1, type: 'echo', peer, token } : null;
    default:
      return null;
  }
}

export function encodeBrokerFrame(frame: BrokerFrame): string {
  return JSON.stringify(frame);
}
