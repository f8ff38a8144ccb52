/**
 * A room's file transfers, composed exactly as RoomState composes them (MemberTransfers: one TransferManager per
 * member, with src/main.ts's platform: the Blob sink, fileSource, default chunk size and window), minus the Svelte UI. Every view the managers emit is timed, and a received file is presented as
 * the app presents it: checkRasterImage (started when the receiving store made the file, taken once it is handed out),
 * then its render drawn into a canvas, here awaited until painted. The room gets
 * the transfers through a thin endpoint that only times how long a sender waits on its channel's backpressure.
 */
import { assertNever } from '../../src/core/assertNever.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../../src/core/protocol/appConfig.ts';
import { systemClock, systemRandom } from '../../src/core/ports.ts';
import type { TransferEndpoint } from '../../src/core/room/roomSession.ts';
import { MemberTransfers } from '../../src/core/transfer/memberTransfers.ts';
import { isFinal, type TransferChannel, type TransferState, type TransferView } from '../../src/core/transfer/transferManager.ts';
import { blobSink } from '../../src/adapters/transfer/blobSink.ts';
import { checkRasterImage } from '../../src/adapters/transfer/imageCheck.ts';
import { EarlyImageChecks } from '../../src/adapters/transfer/earlyImageCheck.ts';
import { fileSource } from '../../src/adapters/transfer/fileSource.ts';
import type { HopMark, PreviewMarks, TransferStateKind, TransferTimeline } from './benchApi.ts';
import { CHUNK_HEADER_BYTES, parseChunkHeader, type ChunkHeader, type TransferControl } from '../../src/core/transfer/transferMessages.ts';
import { FRAME_HEADER_BYTES, FrameType } from '../../src/core/protocol/frames.ts';
import { epochNowMs } from './epoch.ts';

interface Tracked {
  readonly id: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly sizeBytes: number;
  state: TransferState;
  sendCalledAtEpochMs: number | null;
  readonly stateAtEpochMs: Partial<Record<TransferStateKind, number>>;
  allBytesAtEpochMs: number | null;
  views: number;
  file: Blob | null;
  preview: PreviewMarks | null;
  /** Sender only: time spent waiting in writable() while this transfer was the one sending. */
  channelWaitMs: number | null;
  channelWaits: number;
  /** Resolved once the transfer is final and, for a received file, its preview has settled. */
  settled: boolean;
  readonly waiters: (() => void)[];
  /** The shown preview: its render and the canvas it is drawn in, as ImageRender.svelte shows it. */
  render: ImageBitmap | null;
  canvas: HTMLCanvasElement | null;
}

function describeFinal(state: TransferState): string {
  switch (state.kind) {
    case 'failed':
      return `failed: ${state.reason}`;
    case 'cancelled':
      return `cancelled by ${state.by}`;
    default:
      return state.kind;
  }
}

/** A wait on writable() shorter than this is just a resolved promise's turn, not backpressure. */
const REAL_WAIT_MS = 0.5;

export class BenchTransfers {
  private readonly members: MemberTransfers<Blob>;
  /** As src/main.ts: a received file's check starts when its store makes it, and is taken when it is presented. */
  private readonly imageChecks = new EarlyImageChecks(checkRasterImage);
  /** What the RoomSession is given: the member transfers, with each channel's writable() timed. */
  readonly endpoint: TransferEndpoint;
  /** The outgoing transfer that is sending now (the bench sends one file at a time). */
  private sending: Tracked | null = null;
  private readonly tracked = new Map<string, Tracked>();
  /** Waiters may register before the receiving page has heard of the transfer. */
  private readonly pendingWaiters = new Map<string, (() => void)[]>();
  /** Hop marks per transfer id; an offer arrives before the engine reports the transfer. */
  private readonly hops = new Map<string, Partial<Record<HopMark, number>>>();
  /** Every chunk's marks, by index (diagnostics of the stream). */
  private readonly chunkTimes = new Map<string, Record<'Sent' | 'Delivered' | 'Arrived', number[]>>();

  constructor() {
    this.members = new MemberTransfers<Blob>(
      {
        clock: systemClock,
        random: systemRandom,
        openSink: async () => this.imageChecks.sink(blobSink()),
        // public/config.json's value, which is also the default.
        maxFileBytes: DEFAULT_MAX_FILE_BYTES,
      },
      ({ view }) => this.onView(view),
    );
    const members = this.members;
    this.endpoint = {
      attach: (memberId, channel) => members.attach(memberId, this.timed(channel)),
      detach: (memberId) => members.detach(memberId),
      onControl: (memberId, message) => {
        this.markControl(message, 'arrived');
        members.onControl(memberId, message);
      },
      onChunk: (memberId, header, data) => {
        this.markChunk(header, 'Arrived');
        members.onChunk(memberId, header, data);
      },
    };
  }

  /**
   * A message the data channel delivered, before the session sees it: a chunk frame's clear chunk header says which
   * chunk it is (not yet authenticated; only a mark).
   */
  frameDelivered(bytes: Uint8Array): void {
    if (bytes[1] !== FrameType.transferChunk) return;
    const header = parseChunkHeader(bytes.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + CHUNK_HEADER_BYTES));
    if (header !== null) this.markChunk(header, 'Delivered');
  }

  private mark(id: string, hop: HopMark): void {
    const marks = this.hops.get(id) ?? {};
    this.hops.set(id, marks);
    marks[hop] ??= epochNowMs();
  }

  private markControl(message: TransferControl, way: 'sent' | 'arrived'): void {
    switch (message.type) {
      case 'offer':
        this.mark(message.offer.id, way === 'sent' ? 'offerSent' : 'offerArrived');
        return;
      case 'accept':
        this.mark(message.id, way === 'sent' ? 'acceptSent' : 'acceptArrived');
        return;
      case 'complete':
        this.mark(message.id, way === 'sent' ? 'completeSent' : 'completeArrived');
        return;
      case 'ack':
      case 'cancel':
        return;
      default:
        assertNever(message, 'transfer control');
    }
  }

  private markChunk(header: ChunkHeader, way: 'Sent' | 'Delivered' | 'Arrived'): void {
    const series = this.chunkTimes.get(header.id) ?? { Sent: [], Delivered: [], Arrived: [] };
    this.chunkTimes.set(header.id, series);
    series[way][header.index] ??= epochNowMs();
    if (header.index === 0) this.mark(header.id, `firstChunk${way}`);
    if (header.isLast) this.mark(header.id, `lastChunk${way}`);
  }

  private timed(channel: TransferChannel): TransferChannel {
    return {
      sendControl: (message) => {
        this.markControl(message, 'sent');
        channel.sendControl(message);
      },
      sendChunk: async (header, data) => {
        await channel.sendChunk(header, data);
        this.markChunk(header, 'Sent');
      },
      writable: async () => {
        const startedAt = performance.now();
        await channel.writable();
        const waitedMs = performance.now() - startedAt;
        const entry = this.sending;
        if (entry !== null && waitedMs >= REAL_WAIT_MS) {
          entry.channelWaitMs = (entry.channelWaitMs ?? 0) + waitedMs;
          entry.channelWaits += 1;
        }
      },
    };
  }

  /** As RoomState.sendFiles for one file and one recipient; returns the transfer id both pages know it by. */
  send(file: File, recipient: string): string {
    const calledAt = epochNowMs();
    const id = this.members.send([recipient], () => fileSource(file)).get(recipient);
    if (id === undefined) throw new Error('MemberTransfers returned no transfer for the recipient');
    // send() emits the first view synchronously, so the entry exists by now.
    const entry = this.tracked.get(id);
    if (entry !== undefined) entry.sendCalledAtEpochMs = calledAt;
    return id;
  }

  settled(id: string, timeoutMs: number): Promise<TransferTimeline> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const entry = this.tracked.get(id);
        reject(new Error(`transfer ${id} not settled within ${timeoutMs} ms (state ${entry === undefined ? 'unknown here' : describeFinal(entry.state)}, ${entry?.views ?? 0} views)`));
      }, timeoutMs);
      const check = (): void => {
        const entry = this.tracked.get(id);
        if (entry === undefined || !entry.settled) return;
        clearTimeout(timer);
        resolve(this.timeline(entry));
      };
      const entry = this.tracked.get(id);
      if (entry?.settled === true) {
        check();
        return;
      }
      this.waiterList(id).push(check);
    });
  }

  receivedFile(id: string): Blob {
    const file = this.tracked.get(id)?.file ?? null;
    if (file === null) throw new Error(`transfer ${id} left no received file in this page`);
    return file;
  }

  /** The managers keep every finished entry (as in the app); this only drops the bench's own references. */
  release(id: string): void {
    const entry = this.tracked.get(id);
    if (entry === undefined) return;
    entry.file = null;
    entry.canvas?.remove();
    entry.canvas = null;
    entry.render?.close();
    entry.render = null;
  }

  private waiterList(id: string): (() => void)[] {
    const entry = this.tracked.get(id);
    if (entry !== undefined) return entry.waiters;
    const list = this.pendingWaiters.get(id) ?? [];
    this.pendingWaiters.set(id, list);
    return list;
  }

  private onView(view: TransferView<Blob>): void {
    const now = epochNowMs();
    let entry = this.tracked.get(view.id);
    if (entry === undefined) {
      entry = {
        id: view.id,
        direction: view.direction,
        sizeBytes: view.sizeBytes,
        state: view.state,
        sendCalledAtEpochMs: null,
        stateAtEpochMs: {},
        allBytesAtEpochMs: null,
        views: 0,
        file: null,
        preview: null,
        channelWaitMs: view.direction === 'outgoing' ? 0 : null,
        channelWaits: 0,
        settled: false,
        waiters: this.pendingWaiters.get(view.id) ?? [],
        render: null,
        canvas: null,
      };
      this.pendingWaiters.delete(view.id);
      this.tracked.set(view.id, entry);
    }
    entry.views += 1;
    entry.state = view.state;
    if (view.direction === 'outgoing' && view.state.kind === 'sending') this.sending = entry;
    else if (this.sending === entry) this.sending = null;
    entry.stateAtEpochMs[view.state.kind] ??= now;
    if (view.transferredBytes === view.sizeBytes) entry.allBytesAtEpochMs ??= now;
    if (!isFinal(view.state) || entry.settled) return;
    if (view.direction === 'incoming' && view.state.kind === 'done' && view.file !== null) {
      entry.file = view.file;
      void this.present(entry, view.file);
      return;
    }
    this.settle(entry);
  }

  /** As RoomState.present: only a verified raster image gets an inline preview. */
  private async present(entry: Tracked, file: Blob): Promise<void> {
    const startedAtEpochMs = epochNowMs();
    try {
      const verdict = await this.imageChecks.take(file);
      const verdictAtEpochMs = epochNowMs();
      if (verdict.kind !== 'image') {
        entry.preview = { verdict: 'not-image', startedAtEpochMs, verdictAtEpochMs, shownAtEpochMs: null, widthPx: null, heightPx: null, error: null };
      } else {
        entry.render = verdict.render;
        const canvas = document.createElement('canvas');
        canvas.width = verdict.render.width;
        canvas.height = verdict.render.height;
        canvas.getContext('2d')?.drawImage(verdict.render, 0, 0);
        document.body.append(canvas);
        entry.canvas = canvas;
        // Shown once a frame with the canvas has been painted: the second animation frame starts after that one.
        for (let frame = 0; frame < 2; frame++) await new Promise((resolve) => requestAnimationFrame(resolve));
        entry.preview = {
          verdict: 'image',
          startedAtEpochMs,
          verdictAtEpochMs,
          shownAtEpochMs: epochNowMs(),
          widthPx: verdict.widthPx,
          heightPx: verdict.heightPx,
          error: null,
        };
      }
    } catch (error) {
      const at = epochNowMs();
      entry.preview = { verdict: 'error', startedAtEpochMs, verdictAtEpochMs: at, shownAtEpochMs: null, widthPx: null, heightPx: null, error: String(error) };
    }
    this.settle(entry);
  }

  private settle(entry: Tracked): void {
    entry.settled = true;
    entry.waiters.splice(0).forEach((wake) => wake());
  }

  private timeline(entry: Tracked): TransferTimeline {
    return {
      id: entry.id,
      direction: entry.direction,
      sizeBytes: entry.sizeBytes,
      finalState: describeFinal(entry.state),
      sendCalledAtEpochMs: entry.sendCalledAtEpochMs,
      stateAtEpochMs: { ...entry.stateAtEpochMs },
      allBytesAtEpochMs: entry.allBytesAtEpochMs,
      views: entry.views,
      preview: entry.preview,
      channelWaitMs: entry.channelWaitMs,
      channelWaits: entry.channelWaits,
      hops: { ...this.hops.get(entry.id) },
      chunkTimes: this.chunkTimes.get(entry.id) ?? null,
    };
  }
}
