/**
 * The smallest correct RTCPeerConnection between the two bench pages: one ordered channel, trickled candidates, no
 * ICE servers, signals relayed by Node. Shared by the echo links (round trips) and the bulk links (file baselines).
 */
import { parsePeerSignal, type PeerSignal } from '../../src/core/protocol/peerSignal.ts';

/** What a link needs from a transport: send bytes, hear bytes, take the other side's signals. */
export interface Pipe {
  readonly opened: Promise<void>;
  send(bytes: Uint8Array<ArrayBuffer>): void;
  deliver(signal: PeerSignal): void;
  close(): void;
}

export type Relay = (signal: PeerSignal) => void;
export type OnBytes = (bytes: Uint8Array) => void;
/** What a raw channel delivers: a view of the whole ArrayBuffer of one message (binaryType 'arraybuffer'). */
export type OnBufferBytes = (bytes: Uint8Array<ArrayBuffer>) => void;

export interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export function deferred(): Deferred {
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

/** A relay that hands each signal of link `linkId` to Node, which passes it to the other page. */
/** A signal Node relayed to this page as JSON; anything else is a harness bug, so it throws. */
export function parseRelayedSignal(json: string): PeerSignal {
  const signal = parsePeerSignal(JSON.parse(json));
  if (signal === null) throw new Error(`not a signal: ${json.slice(0, 80)}`);
  return signal;
}

export function relayThroughNode(linkId: string): Relay {
  return (signal) => {
    const send = window.parleyBenchRelay;
    if (send === undefined) throw new Error('Node did not expose parleyBenchRelay');
    void send(linkId, JSON.stringify(signal));
  };
}

export class RawPipe implements Pipe {
  private readonly pc = new RTCPeerConnection({ iceServers: [] });
  private dataChannel: RTCDataChannel | null = null;
  private readonly open = deferred();
  // Signals are applied one at a time, so candidates never reach the connection before its remote description.
  private inbound: Promise<void> = Promise.resolve();
  readonly opened = this.open.promise;

  constructor(
    initiator: boolean,
    private readonly relay: Relay,
    private readonly onBytes: OnBufferBytes,
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

  /** The open channel, for senders that apply their own backpressure; null before it exists. */
  get channel(): RTCDataChannel | null {
    return this.dataChannel;
  }

  send(bytes: Uint8Array<ArrayBuffer>): void {
    this.dataChannel?.send(bytes);
  }

  deliver(signal: PeerSignal): void {
    // A signal that does not apply means the link will never open: say why instead of timing out silently.
    this.inbound = this.inbound.then(() => this.apply(signal)).catch((error: unknown) => this.open.reject(new Error(`raw link: ${String(error)}`)));
  }

  close(): void {
    this.dataChannel?.close();
    this.pc.close();
  }

  private attach(channel: RTCDataChannel): void {
    channel.binaryType = 'arraybuffer';
    channel.addEventListener('open', () => this.open.resolve());
    channel.addEventListener('message', (event: MessageEvent<unknown>) => {
      if (event.data instanceof ArrayBuffer) this.onBytes(new Uint8Array(event.data));
    });
    this.dataChannel = channel;
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
