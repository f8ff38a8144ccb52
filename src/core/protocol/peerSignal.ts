/** The WebRTC signals we let through signaling (offer, answer, ICE candidate), and their strict parser. */

export const MAX_SDP_CHARS = 32_768;
const MAX_CANDIDATE_CHARS = 1_024;

export interface IceCandidateInit {
  readonly candidate: string;
  readonly sdpMLineIndex: number | null;
  readonly sdpMid: string | null;
}

export type PeerSignal =
  | { readonly type: 'offer'; readonly sdp: string }
  | { readonly type: 'answer'; readonly sdp: string }
  | { readonly type: 'candidate'; readonly candidate: IceCandidateInit };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOnlyKeys(obj: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(obj).every((key) => allowed.includes(key));
}

/**
 * Turns an unknown value (a signal the WebRTC adapter produced, or one that arrived sealed) into a
 * PeerSignal, or null. Renegotiation and transceiver requests are refused: Parley uses one data channel.
 */
export function parsePeerSignal(value: unknown): PeerSignal | null {
  if (!isRecord(value)) return null;
  const type = value['type'];
  if (type === 'offer' || type === 'answer') {
    const sdp = value['sdp'];
    if (!hasOnlyKeys(value, ['type', 'sdp']) || typeof sdp !== 'string' || sdp.length === 0 || sdp.length > MAX_SDP_CHARS) {
      return null;
    }
    return { type, sdp };
  }
  if (type === 'candidate') {
    const init = value['candidate'];
    if (!hasOnlyKeys(value, ['type', 'candidate']) || !isRecord(init)) return null;
    if (!hasOnlyKeys(init, ['candidate', 'sdpMLineIndex', 'sdpMid', 'usernameFragment'])) return null;
    const { candidate, sdpMLineIndex, sdpMid } = init;
    if (typeof candidate !== 'string' || candidate.length > MAX_CANDIDATE_CHARS) return null;
    if (!(sdpMLineIndex === null || (Number.isInteger(sdpMLineIndex) && typeof sdpMLineIndex === 'number' && sdpMLineIndex >= 0 && sdpMLineIndex < 16))) {
      return null;
    }
    if (!(sdpMid === null || (typeof sdpMid === 'string' && sdpMid.length <= 64))) return null;
    return { type, candidate: { candidate, sdpMLineIndex, sdpMid } };
  }
  return null;
}
