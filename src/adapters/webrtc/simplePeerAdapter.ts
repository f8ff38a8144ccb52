/** The peer port over simple-peer's prebuilt browser bundle (the source entry needs Node polyfills). */
import SimplePeer from 'simple-peer/simplepeer.min.js';
import type { IceServerConfig } from '../../core/protocol/appConfig.ts';
import type { RoomPlatform } from '../../core/room/roomPorts.ts';
import { whenWritable } from './backpressure.ts';

/** What a new peer connection uses; read for each one, so a changed setting or fresh credentials apply to the next. */
export type IceOptions = { readonly iceServers: readonly IceServerConfig[]; readonly relayOnly: boolean };

export function simplePeerFactory(iceOptions: () => IceOptions): RoomPlatform['createPeer'] {
  return (initiator, handlers) => {
    const { iceServers, relayOnly } = iceOptions();
    const peer = new SimplePeer({
      initiator,
      trickle: true,
      config: {
        // Only what config.json lists and what our own server handed out: never a default public STUN server.
        iceServers: iceServers.map((server) => ({ ...server, urls: [...server.urls] })),
        // "Always relay": only relay candidates are gathered and offered, so no peer ever learns our addresses.
        iceTransportPolicy: relayOnly ? 'relay' : 'all',
      },
      channelConfig: { ordered: true },
    });
    let closed = false;
    const closeOnce = (): void => {
      if (closed) return;
      closed = true;
      handlers.onClose();
    };
    peer.on('signal', (data: unknown) => handlers.onSignal(data));
    peer.on('connect', () => handlers.onConnect());
    peer.on('data', (data: unknown) => {
      if (data instanceof Uint8Array) handlers.onData(data);
    });
    peer.on('close', closeOnce);
    peer.on('error', (error: unknown) => {
      console.warn('Parley: the direct connection failed:', error instanceof Error ? error.message : 'unknown error');
      closeOnce();
    });
    return {
      // Already parsed by core. The typings claim a candidate is an RTCIceCandidate, but simple-peer passes
      // it straight to `new RTCIceCandidate(init)`, which takes exactly the init dictionary we hold.
      signal: (signal) => peer.signal(signal as SimplePeer.SignalData),
      send: (bytes) => {
        try {
          peer.send(bytes);
        } catch {
          // The channel closed under us; 'close' follows and ends the session.
        }
      },
      // simple-peer keeps its RTCDataChannel private and has no backpressure of its own.
      writable: () => whenWritable((peer as unknown as { _channel?: RTCDataChannel | null })._channel ?? null),
      destroy: () => peer.destroy(),
    };
  };
}
