/**
 * The signaling port over a PeerServer, with the `peerjs` client holding one broker connection per claimed slot.
 * Loaded with a dynamic import only when config.json chooses mode "peerjs" (spec §3.8).
 */
import { Peer, type PeerError, type PeerErrorType } from 'peerjs';
import { peerjsBrokerName, type PeerjsSignalingConfig } from '../../core/protocol/appConfig.ts';
import type { Clock, Random } from '../../core/ports.ts';
import { brokerSignaling, type BrokerHandlers, type BrokerPort, type BrokerProblem } from '../../core/room/brokerSignaling.ts';
import type { RoomPlatform } from '../../core/room/roomPorts.ts';

/**
 * The PeerServer relays these message types from one id to another, stamping the sender, and keeps them a while for
 * an id nobody holds yet (then answers EXPIRE). A stock PeerJS client ignores an ANSWER that names no connection.
 */
const RELAYED_TYPE = 'ANSWER';

export function peerjsSignaling(config: PeerjsSignalingConfig, clock: Clock, random: Random): RoomPlatform['connectSignaling'] {
  return brokerSignaling({ broker: peerjsBroker(config, random), clock, random });
}

function peerjsBroker(config: PeerjsSignalingConfig, random: Random): BrokerPort {
  return {
    endpoint: peerjsBrokerName(config),
    connect: (id, handlers) => connectToBroker(config, random, id, handlers),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function connectToBroker(config: PeerjsSignalingConfig, random: Random, id: string, handlers: BrokerHandlers): ReturnType<BrokerPort['connect']> {
  const peer = new Peer(id, {
    host: config.host,
    port: config.port,
    path: config.path,
    key: config.key,
    secure: config.secure,
    // A fresh secret per claim: nobody, not even this page later, can take over the id by presenting it again.
    token: [...random.bytes(16)].map((byte) => byte.toString(16).padStart(2, '0')).join(''),
    // PeerJS's own connections are never used; should anything make one, it must not reach a public STUN server.
    config: { iceServers: [] },
    debug: 0,
  });
  let opened = false;
  let ended = false;
  const end = (report: () => void): void => {
    if (ended) return;
    ended = true;
    report();
    peer.destroy();
  };
  peer.on('open', () => {
    opened = true;
    if (!ended) handlers.onOpen();
  });
  peer.on('error', (error: PeerError<`${PeerErrorType}`>) => {
    switch (error.type) {
      case 'unavailable-id':
        end(() => handlers.onTaken());
        return;
      // The broker answered, and said no: a wrong key, its connection limit, an id it will not take.
      case 'server-error':
      case 'invalid-key':
      case 'invalid-id':
      case 'ssl-unavailable':
      case 'browser-incompatible':
        end(() => handlers.onClose(opened ? null : 'refused'));
        return;
      case 'network':
      case 'socket-error':
      case 'socket-closed':
      case 'disconnected':
        end(() => handlers.onClose(opened ? null : 'unreachable'));
        return;
      // EXPIRE, which the message listener below reports with the id it names.
      case 'peer-unavailable':
      // Only PeerJS's own connections, which are never made.
      case 'webrtc':
        return;
      default:
        // A kind this PeerJS version does not declare: the connection cannot be trusted to work, so it ends.
        end(() => handlers.onClose(opened ? null : 'unreachable'));
    }
  });
  peer.on('disconnected', () => end(() => handlers.onClose(opened ? null : 'unreachable')));
  // Relaying between ids is not in PeerJS's documented API (which offers only its own WebRTC connections, with their
  // SDP in clear); the broker connection it keeps is, marked internal. Every message is parsed here, nothing trusted.
  peer.socket.on('message', (message: unknown) => {
    if (ended || !isRecord(message) || typeof message['src'] !== 'string') return;
    if (message['type'] === RELAYED_TYPE) handlers.onMessage(message['src'], message['payload']);
    else if (message['type'] === 'EXPIRE') handlers.onUndeliverable(message['src']);
  });
  return {
    send: (to, payload) => {
      if (!ended) peer.socket.send({ type: RELAYED_TYPE, dst: to, payload });
    },
    close: () => end(() => {}),
  };
}
