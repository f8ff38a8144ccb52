/**
 * One-way baseline links for group latency: a bare RTCDataChannel from the sending page to one other page, whose
 * messages carry a number; the receiving end notes when each number arrived (epoch ms, comparable across pages).
 * The same send and arrival clocks as Parley's measured messages, with nothing on top of the channel.
 */
import { epochNowMs } from './epoch.ts';
import { parseRelayedSignal, RawPipe, relayThroughNode } from './rawPipe.ts';

/** The number travels in the first four bytes; the rest pads the message to the size of Parley's frame. */
const NUMBER_BYTES = 4;

export class MarkLink {
  private readonly pipe: RawPipe;

  constructor(linkId: string, initiator: boolean, onMark: (n: number, atEpochMs: number) => void) {
    this.pipe = new RawPipe(initiator, relayThroughNode(linkId), (bytes) => {
      // Noted before anything else runs, as Parley's arrival is noted as soon as its message is shown.
      const atEpochMs = epochNowMs();
      if (bytes.length >= NUMBER_BYTES) onMark(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0), atEpochMs);
    });
  }

  get opened(): Promise<void> {
    return this.pipe.opened;
  }

  deliver(json: string): void {
    this.pipe.deliver(parseRelayedSignal(json));
  }

  /** Sends mark `n` in a fresh message of `sizeBytes`, as the app seals a fresh frame per addressee. */
  send(n: number, sizeBytes: number): void {
    const bytes = new Uint8Array(Math.max(NUMBER_BYTES, sizeBytes));
    new DataView(bytes.buffer).setUint32(0, n);
    this.pipe.send(bytes);
  }

  close(): void {
    this.pipe.close();
  }
}
