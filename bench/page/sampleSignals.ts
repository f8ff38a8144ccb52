/** Collects the offer and first ICE candidate that the app's peer adapter emits, then throws the peer away. */
import { webRtcPeerFactory } from '../../src/adapters/webrtc/webRtcPeer.ts';
import { parsePeerSignal, type PeerSignal } from '../../src/core/protocol/peerSignal.ts';
import type { SampleSignals } from './benchApi.ts';

export function sampleSignals(): Promise<SampleSignals> {
  return new Promise((resolve, reject) => {
    let offer: PeerSignal | null = null;
    const timer = setTimeout(() => {
      handle.destroy();
      reject(new Error('the peer adapter produced no offer and candidate within 10 s'));
    }, 10_000);
    const handle = webRtcPeerFactory(() => ({ iceServers: [], relayOnly: false }))(true, {
      onSignal: (raw) => {
        const signal = parsePeerSignal(raw);
        if (signal?.type === 'offer') offer = signal;
        if (signal?.type !== 'candidate' || offer === null) return;
        clearTimeout(timer);
        // Closing a peer that is still gathering is fine: nobody is on the other end.
        handle.destroy();
        resolve({ offerJson: JSON.stringify(offer), candidateJson: JSON.stringify(signal) });
      },
      onConnect: () => {},
      onData: () => {},
      onClose: () => {},
    });
  });
}
