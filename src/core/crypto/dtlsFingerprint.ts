/** Extracts the DTLS certificate fingerprint(s) from an SDP so the handshake can bind the session to them. */

const FINGERPRINT_LINE = /^a=fingerprint:([A-Za-z0-9-]+) ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+)\s*$/;

/**
 * Returns a canonical text (algorithm in lower case, hex in upper case, lines sorted) of every
 * fingerprint in the SDP, or null when there is none: an SDP without a fingerprint cannot be bound.
 */
export function dtlsFingerprintFromSdp(sdp: string): string | null {
  const found = new Set<string>();
  for (const line of sdp.split(/\r?\n/)) {
    const match = FINGERPRINT_LINE.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) found.add(`${match[1].toLowerCase()} ${match[2].toUpperCase()}`);
  }
  return found.size === 0 ? null : [...found].sort().join('\n');
}
