/** The peer port over simple-peer's prebuilt browser bundle (the source entry needs Node polyfills). */
import SimplePeer from 'simple-peer/simplepeer.min.js';
import type { IceServerConfig } from '../../core/protocol/appConfig.ts';
import type { RoomPlatform } from '../../core/room/roomPorts.ts';
import { whenWritable } from './backpressure.ts';

export function simplePeerFactory(iceServers: readonly IceServerConfig[]): RoomPlatform['createPeer'] {
  return (initiator, handlers) => {
    const peer = new SimplePeer({
      initiator,
      trickle: true,
      // Only what config.json lists: never a default public STUN server.
      config: { iceServers: iceServers.map((server) => ({ ...server, urls: [...server.urls] })) },
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
