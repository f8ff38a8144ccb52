/**
 * Baseline links between the two bench pages, signalled through Node: a bare RTCDataChannel, and the app's
 * own simple-peer adapter without any crypto, so the full stack can be compared layer by layer.
 */
import { simplePeerFactory } from '../../src/adapters/webrtc/simplePeerAdapter.ts';
import { parsePeerSignal, type PeerSignal } from '../../src/core/protocol/peerSignal.ts';
import type { PeerHandle } from '../../src/core/room/roomPorts.ts';
import type { EchoRole, EchoTransport } from './benchApi.ts';

/** What an echo link needs from a transport: send bytes, hear bytes, take the other side's signals. */
interface Pipe {
  readonly opened: Promise<void>;
  send(bytes: Uint8Array<ArrayBuffer>): void;
  deliver(signal: PeerSignal): void;
  close(): void;
}

type Relay = (signal: PeerSignal) => void;
type OnBytes = (bytes: Uint8Array) => void;

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<void>((done, fail) => {
    resolve = done;
    reject = fail;
  });
  // Nobody may be waiting when a link fails; the page should not log that as an uncaught error.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The smallest correct RTCPeerConnection setup: one ordered channel, trickled candidates, no servers. */
class RawPipe implements Pipe {
  private readonly pc = new RTCPeerConnection({ iceServers: [] });
  private channel: RTCDataChannel | null = null;
  private readonly open = deferred();
  // Signals are applied one at a time, so candidates never reach the connection before its remote description.
  private inbound: Promise<void> = Promise.resolve();
  readonly opened = this.open.promise;

  constructor(
    initiator: boolean,
    private readonly relay: Relay,
    private readonly onBytes: OnBytes,
  ) {
    this.pc.addEventListener('icecandidate', (event) => {
      const candidate = event.candidate;
      if (candidate === null) return;
      relay({ type: 'candidate', candidate: { candidate: candidate.candidate, sdpMLineIndex: candidate.sdpMLineIndex, sdpMid: candidate.sdpMid } });
    });
    if (initiator) {
      this.attach(this.pc.createDataChannel('bench', { ordered: true }));
      void this.offer();
    } else {
      this.pc.addEventListener('datachannel', (event) => this.attach(event.channel));
    }
  }

  send(bytes: Uint8Array<ArrayBuffer>): void {
    this.channel?.send(bytes);
  }

  deliver(signal: PeerSignal): void {
    // A signal that does not apply means the link will never open: say why instead of timing out silently.
    this.inbound = this.inbound.then(() => this.apply(signal)).catch((error: unknown) => this.open.reject(new Error(`raw link: ${String(error)}`)));
  }

  close(): void {
    this.channel?.close();
    this.pc.close();
  }

  private attach(channel: RTCDataChannel): void {
    channel.binaryType = 'arraybuffer';
    channel.addEventListener('open', () => this.open.resolve());
    channel.addEventListener('message', (event: MessageEvent<unknown>) => {
      if (event.data instanceof ArrayBuffer) this.onBytes(new Uint8Array(event.data));
    });
    this.channel = channel;
  }

  private async offer(): Promise<void> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    const sdp = this.pc.localDescription?.sdp;
    if (sdp !== undefined) this.relay({ type: 'offer', sdp });
  }

  private async apply(signal: PeerSignal): Promise<void> {
    switch (signal.type) {
      case 'offer': {
        await this.pc.setRemoteDescription(signal);
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        const sdp = this.pc.localDescription?.sdp;
        if (sdp !== undefined) this.relay({ type: 'answer', sdp });
        return;
      }
      case 'answer':
        await this.pc.setRemoteDescription(signal);
        return;
      case 'candidate':
        await this.pc.addIceCandidate(signal.candidate);
        return;
    }
  }
}

/** The app's peer adapter exactly as RoomSession uses it, with nothing on top. */
class SimplePeerPipe implements Pipe {
  private readonly open = deferred();
  private readonly handle: PeerHandle;
  readonly opened = this.open.promise;

  constructor(initiator: boolean, relay: Relay, onBytes: OnBytes) {
    this.handle = simplePeerFactory([])(initiator, {
      onSignal: (raw) => {
        const signal = parsePeerSignal(raw);
        if (signal !== null) relay(signal);
      },
      onConnect: () => this.open.resolve(),
      onData: onBytes,
      // Rejecting after the link opened changes nothing; before, it explains the failure.
      onClose: () => this.open.reject(new Error('simple-peer link closed')),
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
    const relay: Relay = (signal) => {
      const send = window.parleyBenchRelay;
      if (send === undefined) throw new Error('Node did not expose parleyBenchRelay');
      void send(linkId, JSON.stringify(signal));
    };
    const onBytes: OnBytes =
      role === 'echoer'
        ? () => this.pipe.send(this.reply)
        : () => {
            const waiting = this.waiting;
            this.waiting = null;
            waiting?.();
          };
    this.pipe = transport === 'raw' ? new RawPipe(initiator, relay, onBytes) : new SimplePeerPipe(initiator, relay, onBytes);
  }

  get opened(): Promise<void> {
    return this.pipe.opened;
  }

  deliver(json: string): void {
    const value: unknown = JSON.parse(json);
    const signal = parsePeerSignal(value);
    if (signal === null) throw new Error(`not a signal: ${json.slice(0, 80)}`);
    this.pipe.deliver(signal);
  }

  async roundTrips(count: number, pingBytes: number): Promise<number[]> {
    // A fresh buffer per message, as the app allocates a fresh frame per message.
    const rtts: number[] = [];
    for (let i = 0; i < count; i++) {
      const startedAt = performance.now();
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
