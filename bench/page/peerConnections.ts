/**
 * Notes every RTCPeerConnection this page makes (the room's as well as the bench's own), so the
 * driver can learn which UDP ports the page's WebRTC traffic uses and cut exactly that page off the network. The
 * connections themselves are Chromium's, unchanged: the subclass only keeps a list.
 */

const connections: RTCPeerConnection[] = [];

/** Call before anything makes a connection; the peer adapter looks RTCPeerConnection up on globalThis for every peer. */
export function trackPeerConnections(): void {
  const Native = globalThis.RTCPeerConnection;
  globalThis.RTCPeerConnection = class TrackedPeerConnection extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      connections.push(this);
    }
  };
}

function isLocalUdpCandidate(report: unknown): report is { readonly port: number } {
  return (
    typeof report === 'object' &&
    report !== null &&
    'type' in report &&
    report.type === 'local-candidate' &&
    'protocol' in report &&
    report.protocol === 'udp' &&
    'port' in report &&
    typeof report.port === 'number'
  );
}

/** The local UDP ports of every connection that is not closed (each candidate has its own socket). */
export async function localUdpPorts(): Promise<number[]> {
  const live = connections.filter((connection) => connection.connectionState !== 'closed');
  connections.splice(0, connections.length, ...live);
  const ports = new Set<number>();
  for (const connection of live) {
    const stats = await connection.getStats();
    stats.forEach((report: unknown) => {
      if (isLocalUdpCandidate(report)) ports.add(report.port);
    });
  }
  return [...ports].sort((a, b) => a - b);
}

/** How many connections are not closed; after a cut and a return, new ones replace the broken ones. */
export function liveConnections(): number {
  return connections.filter((connection) => connection.connectionState !== 'closed').length;
}
