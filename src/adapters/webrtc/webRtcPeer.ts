/**
 * The peer port over the browser's own RTCPeerConnection: one ordered data channel, trickled candidates, the
 * signal shapes of spec §3.4. Written here rather than taken from simple-peer, whose prebuilt bundle (Node's
 * Buffer, streams and events shims around this same API) was 28 KB gzip of the page's first load.
 */
import { assertNever } from '../../core/assertNever.ts';
import type { IceServerConfig } from '../../core/protocol/appConfig.ts';
import type { PeerSignal } from '../../core/protocol/peerSignal.ts';
import type { RoomPlatform } from '../../core/room/roomPorts.ts';
import { whenWritable } from './backpressure.ts';

/** What a new peer connection uses; read for each one, so a changed setting or fresh credentials apply to the next. */
export type IceOptions = { readonly iceServers: readonly IceServerConfig[]; readonly relayOnly: boolean };

/** The same bytes typed as the channel takes them; frames are never in shared memory, so this copies nothing. */
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes.slice();
}

export function webRtcPeerFactory(iceOptions: () => IceOptions): RoomPlatform['createPeer'] {
  return (initiator, handlers) => {
    const { iceServers, relayOnly } = iceOptions();
    const pc = new RTCPeerConnection({
      // Only what config.json lists and what our own server handed out: never a default public STUN server.
      iceServers: iceServers.map((server) => ({ ...server, urls: [...server.urls] })),
      // "Always relay": only relay candidates are gathered and offered, so no peer ever learns our addresses.
      iceTransportPolicy: relayOnly ? 'relay' : 'all',
    });
    let channel: RTCDataChannel | null = null;
    let connected = false;
    let closed = false;
    // Signals are applied one at a time, in order, so a candidate never reaches the connection before the
    // description it belongs to.
    let inbound: Promise<void> = Promise.resolve();

    // The room hears of the end once, and never from inside one of its own calls (it may be mid-way through
    // replacing this peer), as it did with simple-peer.
    const close = (): void => {
      if (closed) return;
      closed = true;
      channel?.close();
      pc.close();
      queueMicrotask(() => handlers.onClose());
    };
    const fail = (what: string, error?: unknown): void => {
      if (closed) return;
      console.warn(`Parley: the direct connection failed (${what}):`, error instanceof Error ? error.message : (error ?? ''));
      close();
    };
    const emitDescription = (type: 'offer' | 'answer'): void => {
      const sdp = pc.localDescription?.sdp;
      if (!closed && sdp !== undefined) handlers.onSignal({ type, sdp });
    };
    // Connected once the channel is open and ICE reports a working path, the two conditions simple-peer waited for
    // (its 'connect'), in whichever order the browser announces them.
    const opened = (): void => {
      if (connected || closed || channel?.readyState !== 'open') return;
      if (pc.iceConnectionState !== 'connected' && pc.iceConnectionState !== 'completed') return;
      connected = true;
      handlers.onConnect();
    };
    const attach = (dataChannel: RTCDataChannel): void => {
      channel = dataChannel;
      dataChannel.binaryType = 'arraybuffer';
      dataChannel.addEventListener('open', opened);
      dataChannel.addEventListener('message', (event: MessageEvent<unknown>) => {
        if (!closed && event.data instanceof ArrayBuffer) handlers.onData(new Uint8Array(event.data));
      });
      dataChannel.addEventListener('close', close);
      dataChannel.addEventListener('error', (event) => fail('data channel', event instanceof RTCErrorEvent ? event.error : undefined));
      // An incoming channel may already be open when it is announced.
      if (dataChannel.readyState === 'open') queueMicrotask(opened);
    };

    pc.addEventListener('icecandidate', (event) => {
      const candidate = event.candidate;
      if (closed || candidate === null) return;
      handlers.onSignal({ type: 'candidate', candidate: { candidate: candidate.candidate, sdpMLineIndex: candidate.sdpMLineIndex, sdpMid: candidate.sdpMid } });
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.iceConnectionState === 'failed') fail('no network path');
      else opened();
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed') fail('connection');
    });
    if (initiator) {
      attach(pc.createDataChannel('parley', { ordered: true }));
      inbound = pc
        .setLocalDescription()
        .then(() => emitDescription('offer'))
        .catch((error: unknown) => fail('offer', error));
    } else {
      pc.addEventListener('datachannel', (event) => {
        if (channel === null) attach(event.channel);
      });
    }

    const apply = async (signal: PeerSignal): Promise<void> => {
      switch (signal.type) {
        case 'offer':
          await pc.setRemoteDescription(signal);
          await pc.setLocalDescription();
          emitDescription('answer');
          return;
        case 'answer':
          await pc.setRemoteDescription(signal);
          return;
        case 'candidate':
          await pc.addIceCandidate(signal.candidate);
          return;
        default:
          return assertNever(signal, 'peer signal');
      }
    };

    return {
      signal: (signal) => {
        if (closed) return;
        inbound = inbound.then(() => (closed ? undefined : apply(signal))).catch((error: unknown) => fail(`${signal.type} from the other side`, error));
      },
      send: (bytes) => {
        try {
          channel?.send(ownBuffer(bytes));
        } catch {
          // The channel closed under us; its 'close' follows and ends the session.
        }
      },
      writable: () => whenWritable(channel),
      destroy: close,
    };
  };
}
