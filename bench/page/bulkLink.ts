/**
 * One end of a one-way bulk link over a bare RTCDataChannel: the baseline for file transfers. The sender applies the
 * same backpressure rule as the app's peer adapter (send while bufferedAmount < 4 MiB, else wait for the
 * 'bufferedamountlow' event at 1 MiB); the receiver only counts bytes, or also keeps them and builds a Blob at the end
 * (at once, or from a Blob made every few MiB as a receiver with bounded memory must).
 */
import type { BulkReceiveMode, BulkReceiveResult, BulkSendResult } from './benchApi.ts';
import { epochNowMs } from './epoch.ts';
import { parseRelayedSignal, RawPipe, relayThroughNode } from './rawPipe.ts';
// The app's own backpressure code, so that only the layers above the channel differ.
import { BUFFER_HIGH_BYTES, whenWritable } from '../../src/adapters/webrtc/backpressure.ts';
// And the app's own file reading, for the baseline that sends a File as Parley does.
import { fileSource } from '../../src/adapters/transfer/fileSource.ts';
import { ChunkReader } from '../../src/core/transfer/chunkReader.ts';

/** 'parts' mode: received bytes become a Blob (leaving the page's memory for the browser's) every this many bytes. */
const PART_BYTES = 4 * 1024 * 1024;

interface Expectation {
  readonly totalBytes: number;
  readonly mode: BulkReceiveMode;
  readonly kept: Uint8Array<ArrayBuffer>[];
  keptBytes: number;
  readonly parts: Blob[];
  receivedBytes: number;
  messages: number;
  firstByteAtEpochMs: number | null;
  readonly resolve: (result: BulkReceiveResult) => void;
  readonly reject: (error: Error) => void;
  readonly done: Promise<BulkReceiveResult>;
}


export class BulkLink {
  private readonly pipe: RawPipe;
  private expectation: Expectation | null = null;
  private lastBlob: Blob | null = null;

  constructor(linkId: string, initiator: boolean) {
    this.pipe = new RawPipe(initiator, relayThroughNode(linkId), (bytes) => this.onBytes(bytes));
  }

  get opened(): Promise<void> {
    return this.pipe.opened;
  }

  deliver(json: string): void {
    this.pipe.deliver(parseRelayedSignal(json));
  }

  /** Receiver: arms the link for the next `totalBytes`; call before the sender starts. */
  expect(totalBytes: number, mode: BulkReceiveMode): void {
    if (this.expectation !== null) throw new Error('this bulk link is already receiving');
    this.lastBlob = null;
    let resolve: (result: BulkReceiveResult) => void = () => {};
    let reject: (error: Error) => void = () => {};
    const done = new Promise<BulkReceiveResult>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    done.catch(() => {});
    this.expectation = { totalBytes, mode, kept: [], keptBytes: 0, parts: [], receivedBytes: 0, messages: 0, firstByteAtEpochMs: null, resolve, reject, done };
  }

  /** Receiver: resolves once every expected byte arrived (and, unless it only counts, the Blob is built and readable). */
  received(): Promise<BulkReceiveResult> {
    const expectation = this.expectation;
    if (expectation === null) return Promise.reject(new Error('this bulk link expects nothing'));
    return expectation.done;
  }

  /** Receiver, 'keep' or 'parts' mode: the Blob built from the last transfer, until released. */
  receivedBlob(): Blob {
    if (this.lastBlob === null) throw new Error('this bulk link holds no received Blob');
    return this.lastBlob;
  }

  releaseReceived(): void {
    this.lastBlob = null;
  }

  /** Sender: every piece, in order, under the app's backpressure rule. */
  send(pieces: readonly Uint8Array<ArrayBuffer>[]): Promise<BulkSendResult> {
    return this.sendFrom(pieces.length, async (index) => pieces[index] ?? new Uint8Array(0));
  }

  /** Sender: the File read as the app reads one (fileSource, 1 MiB blocks with read-ahead), cut into `pieceBytes`. */
  sendFile(file: File, pieceBytes: number): Promise<BulkSendResult> {
    const reader = new ChunkReader(fileSource(file), pieceBytes);
    const count = Math.ceil(file.size / pieceBytes);
    return this.sendFrom(count, async (index) => {
      const view = await reader.read(index * pieceBytes, Math.min(file.size, (index + 1) * pieceBytes));
      // A view into a read block; RTCDataChannel.send wants a whole buffer source, and copies it anyway.
      return new Uint8Array(view);
    });
  }

  /**
   * Sender, "raw done well": the File read in slices of `readBytes` (a multiple of `messageBytes`; the next slice is
   * read while this one is sent), each sent as views of `messageBytes`, so there is no copy before the channel's own.
   */
  sendFileSlices(file: File, messageBytes: number, readBytes: number): Promise<BulkSendResult> {
    if (readBytes % messageBytes !== 0) throw new Error(`read slices of ${readBytes} bytes do not hold whole ${messageBytes}-byte messages`);
    const readAt = (start: number): { start: number; buffer: Promise<ArrayBuffer> } => {
      const buffer = file.slice(start, Math.min(file.size, start + readBytes)).arrayBuffer();
      buffer.catch(() => {});
      return { start, buffer };
    };
    let current = readAt(0);
    let next = readBytes < file.size ? readAt(readBytes) : null;
    const count = Math.max(1, Math.ceil(file.size / messageBytes));
    return this.sendFrom(count, async (index) => {
      const start = index * messageBytes;
      if (start >= current.start + readBytes && next !== null) {
        current = next;
        const following = current.start + readBytes;
        next = following < file.size ? readAt(following) : null;
      }
      const buffer = await current.buffer;
      const offset = start - current.start;
      return new Uint8Array(buffer, offset, Math.min(messageBytes, buffer.byteLength - offset));
    });
  }

  private async sendFrom(count: number, piece: (index: number) => Promise<Uint8Array<ArrayBuffer>>): Promise<BulkSendResult> {
    const channel = this.pipe.channel;
    if (channel === null || channel.readyState !== 'open') throw new Error('the bulk link is not open');
    const startedAtEpochMs = epochNowMs();
    let bytes = 0;
    let waits = 0;
    for (let index = 0; index < count; index++) {
      const next = await piece(index);
      if (channel.bufferedAmount >= BUFFER_HIGH_BYTES) {
        waits += 1;
        await whenWritable(channel);
        if (channel.readyState !== 'open') throw new Error('the bulk link closed while sending');
      }
      channel.send(next);
      bytes += next.length;
    }
    return { startedAtEpochMs, handedOverAtEpochMs: epochNowMs(), bytes, messages: count, backpressureWaits: waits };
  }

  close(): void {
    this.expectation?.reject(new Error('bulk link closed'));
    this.expectation = null;
    this.lastBlob = null;
    this.pipe.close();
  }

  private onBytes(bytes: Uint8Array<ArrayBuffer>): void {
    const expectation = this.expectation;
    if (expectation === null) return;
    expectation.firstByteAtEpochMs ??= epochNowMs();
    expectation.receivedBytes += bytes.length;
    expectation.messages += 1;
    if (expectation.mode !== 'count') {
      expectation.kept.push(bytes);
      expectation.keptBytes += bytes.length;
    }
    if (expectation.mode === 'parts' && expectation.keptBytes >= PART_BYTES) {
      expectation.parts.push(new Blob(expectation.kept));
      expectation.kept.length = 0;
      expectation.keptBytes = 0;
    }
    if (expectation.receivedBytes >= expectation.totalBytes) void this.complete(expectation);
  }

  private async complete(expectation: Expectation): Promise<void> {
    this.expectation = null;
    const lastByteAtEpochMs = epochNowMs();
    const firstByteAtEpochMs = expectation.firstByteAtEpochMs ?? lastByteAtEpochMs;
    const common = { bytes: expectation.receivedBytes, messages: expectation.messages, firstByteAtEpochMs, lastByteAtEpochMs };
    if (expectation.mode === 'count') {
      expectation.resolve({ ...common, readyAtEpochMs: lastByteAtEpochMs });
      return;
    }
    try {
      const blob = new Blob([...expectation.parts, ...expectation.kept]);
      expectation.parts.length = 0;
      expectation.kept.length = 0;
      // The Blob's bytes reach the browser process asynchronously; reading its last byte waits until they have.
      if (blob.size > 0) await blob.slice(blob.size - 1).arrayBuffer();
      this.lastBlob = blob;
      expectation.resolve({ ...common, readyAtEpochMs: epochNowMs() });
    } catch (error) {
      expectation.reject(new Error(`building the received Blob failed: ${String(error)}`));
    }
  }
}
