/**
 * Baseline links between the two bench pages, signalled through Node: a bare RTCDataChannel, and the app's
 * own peer adapter without any crypto, so the full stack can be compared layer by layer.
 */
import { webRtcPeerFactory } from '../../src/adapters/webrtc/webRtcPeer.ts';
import { parsePeerSignal, type PeerSignal } from '../../src/core/protocol/peerSignal.ts';
import type { PeerHandle } from '../../src/core/room/roomPorts.ts';
import type { EchoRole, EchoTransport } from './benchApi.ts';
import { deferred, parseRelayedSignal, RawPipe, relayThroughNode, type OnBytes, type Pipe, type Relay } from './rawPipe.ts';

/** The app's peer adapter exactly as RoomSession uses it, with nothing on top. */
class AdapterPipe implements Pipe {
  private readonly open = deferred();
  private readonly handle: PeerHandle;
  readonly opened = this.open.promise;

  constructor(initiator: boolean, relay: Relay, onBytes: OnBytes) {
    this.handle = webRtcPeerFactory(() => ({ iceServers: [], relayOnly: false }))(initiator, {
      onSignal: (raw) => {
        const signal = parsePeerSignal(raw);
        if (signal !== null) relay(signal);
      },
      onConnect: () => this.open.resolve(),
      onData: onBytes,
      // Rejecting after the link opened changes nothing; before, it explains the failure.
      onClose: () => this.open.reject(new Error('peer adapter link closed')),
    });
  }

  send(bytes: Uint8Array<ArrayBuffer>): void {
    this.handle.send(bytes);
  }

  deliver(signal: PeerSignal): void {
    this.handle.signal(signal);
  }

  close(): void {
    this.handle.destroy();
  }
}

/** One end of a ping/reply link: the pinger times round trips, the echoer answers each message at once. */
export class EchoLink {
  private readonly pipe: Pipe;
  private waiting: (() => void) | null = null;
  private readonly reply: Uint8Array<ArrayBuffer>;

  constructor(linkId: string, transport: EchoTransport, initiator: boolean, role: EchoRole, replyBytes: number) {
    this.reply = new Uint8Array(replyBytes);
    const relay = relayThroughNode(linkId);
    const onBytes: OnBytes =
      role === 'echoer'
        ? () => this.pipe.send(this.reply)
        : () => {
            const waiting = this.waiting;
            this.waiting = null;
            waiting?.();
          };
    this.pipe = transport === 'raw' ? new RawPipe(initiator, relay, onBytes) : new AdapterPipe(initiator, relay, onBytes);
  }

  get opened(): Promise<void> {
    return this.pipe.opened;
  }

  deliver(json: string): void {
    this.pipe.deliver(parseRelayedSignal(json));
  }

  /** Round trips started at least `spacingMs` apart, at the pace Parley's round trips are measured at. */
  async roundTrips(count: number, pingBytes: number, spacingMs: number): Promise<number[]> {
    // A fresh buffer per message, as the app allocates a fresh frame per message.
    const rtts: number[] = [];
    let nextAt = performance.now();
    for (let i = 0; i < count; i++) {
      const waitMs = nextAt - performance.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      const startedAt = performance.now();
      nextAt = startedAt + spacingMs;
      const answered = new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
      this.pipe.send(new Uint8Array(pingBytes));
      await answered;
      rtts.push(performance.now() - startedAt);
    }
    return rtts;
  }

  close(): void {
    this.pipe.close();
  }
}
