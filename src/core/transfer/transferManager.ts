/**
 * Runs every file transfer of one room: queues outgoing files and streams them chunk by chunk under
 * backpressure and an acknowledgement window, hashing them on the way and appending the content digest (§7.9)
 * to the last chunk; receives incoming ones into a sink while checking every chunk against the announcement and
 * the content against that digest, and survives a dropped connection by resuming from what the receiver holds.
 * `F` is the platform's handle of a finished received file.
 */
import { assertNever } from '../assertNever.ts';
import { concatBytes } from '../encoding.ts';
import type { Clock, Random } from '../ports.ts';
import { chunkRange, isLastChunk, planChunks } from './chunkPlan.ts';
import { ChunkReader } from './chunkReader.ts';
import { HashList } from './hashList.ts';
import { IncomingTransfer } from './incomingTransfer.ts';
import { OfferGate } from './incomingPolicy.ts';
import { OutgoingWindow } from './outgoingWindow.ts';
import { isFinal } from './transferState.ts';
import { DEFAULT_CHUNK_BYTES, DEFAULT_WINDOW_BYTES, MAX_PARKED_INCOMING, MIN_PROGRESS_BYTES, PROGRESS_WINDOW_MS } from './transferLimits.ts';
import { announceableMimeType, announceableName, isSameOffer, newTransferId, type CancelReason, type ChunkHeader, type TransferControl, type TransferOffer } from './transferMessages.ts';

export { isFinal };

export interface FileSource {
  readonly name: string;
  readonly mimeType: string;
  readonly sizeBytes: number;
  read(startByte: number, endByte: number): Promise<Uint8Array>;
}

export interface ReceiveSink<F> {
  append(bytes: Uint8Array): Promise<void>;
  /**
   * Makes the file of everything appended. Called as soon as the last chunk is stored, while the content digest is
   * still being compared: what it makes is handed out only if the digest matches, else discard() follows.
   */
  finish(): Promise<F>;
  /** Lets go of everything, also of a file finish() made (or is making): it is never to be shown. */
  discard(): Promise<void>;
}

export interface TransferPlatform<F> {
  readonly clock: Clock;
  readonly random: Random;
  readonly openSink: (offer: TransferOffer) => Promise<ReceiveSink<F>>;
  readonly maxFileBytes: number;
  readonly chunkBytes?: number;
  readonly windowBytes?: number;
  /** A receiving transfer must bring MIN_PROGRESS_BYTES (or the rest) in every window this long, else it is given up. */
  readonly progressWindowMs?: number;
  /** A paused incoming transfer whose sender does not come back within this long is given up. */
  readonly abandonTimeoutMs?: number;
}

/** The live secure session's sending side, as transfers see it. */
export interface TransferChannel {
  sendControl(message: TransferControl): void;
  sendChunk(header: ChunkHeader, data: Uint8Array): Promise<void>;
  /** Resolves when the data channel has room for more (its buffer is below the low-water mark). */
  writable(): Promise<void>;
}

export type TransferFailure = CancelReason | 'read-failed';

export type TransferState =
  | { readonly kind: 'queued' }
  | { readonly kind: 'offered' }
  | { readonly kind: 'sending' }
  | { readonly kind: 'receiving' }
  | { readonly kind: 'paused' }
  /** Incoming only: the sender is back and offers it again, but every slot is taken; it resumes when one frees. */
  | { readonly kind: 'waiting' }
  | { readonly kind: 'verifying' }
  | { readonly kind: 'done' }
  | { readonly kind: 'cancelled'; readonly by: 'me' | 'peer' }
  | { readonly kind: 'failed'; readonly reason: TransferFailure };

export interface TransferView<F> {
  readonly id: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly name: string;
  readonly mimeType: string;
  readonly sizeBytes: number;
  /** Bytes the receiver holds: acknowledged ones for the sender, stored ones for the receiver. */
  readonly transferredBytes: number;
  /** Bytes sent again after a resume; 0 when nothing had to be repeated. */
  readonly resentBytes: number;
  /** Where the latest resume started (the receiver already held this much); null if never resumed. */
  readonly resumedAtBytes: number | null;
  readonly state: TransferState;
  readonly startedAtMs: number;
  readonly file: F | null;
}

/**
 * An honest sender never has more than its window unacknowledged, and we acknowledge only what is stored;
 * more than this waiting to be stored means a sender ignoring the window to make us hold its data in memory.
 */
const MAX_QUEUED_INCOMING_BYTES = 2 * DEFAULT_WINDOW_BYTES;
/** Chunks handed to the session but not yet sealed and sent: enough to overlap reading, sealing and sending. */
const MAX_CHUNKS_IN_SEAL = 4;

/** An incoming transfer kept for a resume: it holds its partial file, but no slot. */
function isParked(state: TransferState): boolean {
  return state.kind === 'paused' || state.kind === 'waiting';
}

function isActive(state: TransferState): boolean {
  return state.kind === 'offered' || state.kind === 'sending' || state.kind === 'verifying' || state.kind === 'receiving';
}

interface Outgoing {
  readonly direction: 'outgoing';
  readonly id: string;
  readonly source: FileSource;
  /** Null only for a file refused before it was announced (too large). */
  readonly offer: TransferOffer | null;
  /** Hashes the content as it is first sent, in order; resent chunks were hashed already. */
  readonly hashes: HashList;
  hashedBytes: number;
  /** The content digest, once the last chunk was read; a resent last chunk carries the same one. */
  digest: Uint8Array | null;
  state: TransferState;
  window: OutgoingWindow | null;
  resentBytes: number;
  resumedAtBytes: number | null;
  readonly startedAtMs: number;
  /** Wakes a sender loop that waits for an acknowledgement, a cancel or a lost connection. */
  wake: () => void;
}

interface Incoming<F> {
  readonly direction: 'incoming';
  readonly id: string;
  readonly offer: TransferOffer;
  readonly transfer: IncomingTransfer;
  readonly sink: ReceiveSink<F>;
  state: TransferState;
  file: F | null;
  readonly startedAtMs: number;
  /** Chunks are stored strictly one after another. */
  chain: Promise<void>;
  /** Bytes that arrived and wait in `chain` to be stored. */
  queuedBytes: number;
  /** A resume was granted a slot and its answer waits in `chain`: it counts as moving already. */
  resuming: boolean;
  cancelTimer: () => void;
}

type Entry<F> = Outgoing | Incoming<F>;

export class TransferManager<F> {
  private readonly entries = new Map<string, Entry<F>>();
  private channel: TransferChannel | null = null;
  private readonly gate: OfferGate;
  /** Offers admitted but still being set up (opening their sink): they count against the limit already. */
  private incomingBeingOpened = 0;
  private readonly chunkBytes: number;
  private readonly windowBytes: number;

  constructor(
    private readonly platform: TransferPlatform<F>,
    private readonly onChange: (view: TransferView<F>) => void,
  ) {
    this.gate = new OfferGate(platform.clock);
    this.chunkBytes = platform.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.windowBytes = platform.windowBytes ?? DEFAULT_WINDOW_BYTES;
  }

  // ---- the session comes and goes ----------------------------------------------------------------

  /** A verified session is up: resume and start what waits. */
  attach(channel: TransferChannel): void {
    this.channel = channel;
    this.pumpOutgoing();
  }

  /** The session ended: everything in flight pauses, to resume on the next session. */
  detach(): void {
    this.channel = null;
    for (const entry of this.entries.values()) {
      if (entry.direction === 'incoming' && entry.state.kind === 'waiting') {
        // Its re-offer belonged to the session that ended; the abandon timer keeps running.
        this.setState(entry, { kind: 'paused' });
        continue;
      }
      if (!isActive(entry.state)) continue;
      this.setState(entry, { kind: 'paused' });
      if (entry.direction === 'outgoing') entry.wake();
      else this.armAbandonTimer(entry);
    }
    this.limitParked();
  }

  /** Gives up the oldest parked incoming transfers beyond MAX_PARKED_INCOMING (see there). */
  private limitParked(): void {
    const parked = [...this.entries.values()].filter((entry): entry is Incoming<F> => entry.direction === 'incoming' && isParked(entry.state));
    for (const entry of parked.slice(0, Math.max(0, parked.length - MAX_PARKED_INCOMING))) this.finish(entry, { kind: 'failed', reason: 'timed-out' });
  }

  /** Incoming transfers that hold a slot: moving, being set up, or granted a resume whose answer is on its way. */
  private incomingInSlots(): number {
    let count = this.incomingBeingOpened;
    for (const entry of this.entries.values()) {
      if (entry.direction === 'incoming' && (isActive(entry.state) || entry.resuming)) count += 1;
    }
    return count;
  }

  // ---- sending -------------------------------------------------------------------------------------

  /** Queues a file and returns its transfer id. Over the size limit it is refused at once, before anything is sent. */
  send(source: FileSource): string {
    const id = newTransferId(this.platform.random);
    const tooLarge = source.sizeBytes > this.platform.maxFileBytes;
    const entry: Outgoing = {
      direction: 'outgoing',
      id,
      source,
      offer: tooLarge ? null : this.offerFor(id, source),
      hashes: new HashList(),
      hashedBytes: 0,
      digest: null,
      state: tooLarge ? { kind: 'failed', reason: 'too-large' } : { kind: 'queued' },
      window: null,
      resentBytes: 0,
      resumedAtBytes: null,
      startedAtMs: this.platform.clock.nowMs(),
      wake: () => {},
    };
    this.entries.set(id, entry);
    this.emit(entry);
    this.pumpOutgoing();
    return id;
  }

  /** Cancels a transfer from this side, telling the peer when connected. */
  cancel(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined || isFinal(entry.state)) return;
    const reason: CancelReason = entry.direction === 'outgoing' ? 'cancelled-by-sender' : 'cancelled-by-receiver';
    if (entry.offer !== null) this.channel?.sendControl({ type: 'cancel', id, reason });
    this.finish(entry, { kind: 'cancelled', by: 'me' });
  }

  private offerFor(id: string, source: FileSource): TransferOffer {
    const plan = planChunks(source.sizeBytes, this.chunkBytes);
    return {
      id,
      // A local name or type the protocol refuses (bidi marks, odd MIME strings) is cleaned, not fatal.
      name: announceableName(source.name),
      mimeType: announceableMimeType(source.mimeType),
      sizeBytes: source.sizeBytes,
      chunkBytes: plan.chunkBytes,
      chunkCount: plan.chunkCount,
    };
  }

  /** One outgoing transfer at a time gets the channel; the rest wait in order. Paused ones go first. */
  private pumpOutgoing(): void {
    const channel = this.channel;
    if (channel === null) return;
    const outgoing = [...this.entries.values()].filter((entry): entry is Outgoing => entry.direction === 'outgoing');
    if (outgoing.some((entry) => isActive(entry.state))) return;
    const next = outgoing.find((entry) => entry.state.kind === 'paused') ?? outgoing.find((entry) => entry.state.kind === 'queued');
    if (next === undefined || next.offer === null) return;
    this.setState(next, { kind: 'offered' });
    try {
      channel.sendControl({ type: 'offer', offer: next.offer });
    } catch {
      // An offer our own encoder refuses must fail this file, not the conversation (nor block the queue).
      this.finish(next, { kind: 'failed', reason: 'protocol-error' });
    }
  }

  private onAccept(entry: Outgoing, offsetBytes: number): void {
    const channel = this.channel;
    if (entry.state.kind !== 'offered' || entry.offer === null || channel === null) {
      this.protocolError(entry);
      return;
    }
    const window = entry.window ?? new OutgoingWindow(planChunks(entry.offer.sizeBytes, entry.offer.chunkBytes), this.windowBytes);
    const sentBefore = window.sentBytes;
    if (!window.resumeFrom(offsetBytes).ok) {
      this.protocolError(entry);
      return;
    }
    // A second accept for the same transfer means the connection dropped and it resumes.
    if (entry.window !== null) entry.resumedAtBytes = offsetBytes;
    entry.window = window;
    // Only what was sent before and goes out again counts as resent.
    entry.resentBytes += Math.max(0, sentBefore - offsetBytes);
    this.setState(entry, { kind: 'sending' });
    void this.runSender(entry, window, channel);
  }

  private async runSender(entry: Outgoing, window: OutgoingWindow, channel: TransferChannel): Promise<void> {
    const offer = entry.offer;
    if (offer === null) return;
    const plan = planChunks(offer.sizeBytes, offer.chunkBytes);
    const stillMine = (): boolean => entry.state.kind === 'sending' && this.channel === channel;
    const inSeal: Promise<void>[] = [];
    const reader = new ChunkReader(entry.source, plan.chunkBytes);
    try {
      for (let index = window.nextIndex; index !== null; index = window.nextIndex) {
        if (!window.canSend()) {
          await new Promise<void>((resolve) => {
            entry.wake = resolve;
          });
          if (!stillMine()) return;
          continue;
        }
        await channel.writable();
        if (!stillMine()) return;
        const { startByte, endByte } = chunkRange(plan, index);
        const isLast = isLastChunk(plan, index);
        const data = await this.withDigest(entry, startByte, await reader.read(startByte, endByte), isLast);
        if (!stillMine()) return;
        window.markSent(index);
        inSeal.push(channel.sendChunk({ id: entry.id, index, isLast }, data));
        if (inSeal.length >= MAX_CHUNKS_IN_SEAL) await inSeal.shift();
      }
      await Promise.all(inSeal);
    } catch {
      if (stillMine()) {
        channel.sendControl({ type: 'cancel', id: entry.id, reason: 'cancelled-by-sender' });
        this.finish(entry, { kind: 'failed', reason: 'read-failed' });
      }
      return;
    }
    if (stillMine()) this.setState(entry, { kind: 'verifying' });
  }

  /**
   * Hashes a chunk read for the first time (chunks go out in order, so that is exactly when it starts where the
   * hash stands), and appends the content's digest to the last one. A resent chunk was hashed already.
   */
  private async withDigest(entry: Outgoing, startByte: number, content: Uint8Array, isLast: boolean): Promise<Uint8Array> {
    if (startByte === entry.hashedBytes && entry.digest === null) {
      entry.hashes.add(content);
      entry.hashedBytes += content.length;
    } else if (startByte > entry.hashedBytes) {
      throw new Error(`chunk at ${startByte} read before the bytes from ${entry.hashedBytes} were hashed`);
    }
    if (!isLast) return content;
    entry.digest ??= await entry.hashes.digest();
    return concatBytes(content, entry.digest);
  }

  // ---- from the peer -------------------------------------------------------------------------------

  /** Control messages from the peer, for both directions. */
  onControl(message: TransferControl): void {
    switch (message.type) {
      case 'offer':
        void this.onOffer(message.offer);
        return;
      case 'accept':
        this.withOutgoing(message.id, (entry) => this.onAccept(entry, message.offsetBytes));
        return;
      case 'ack':
        this.withOutgoing(message.id, (entry) => {
          const result = entry.window?.onAck(message.receivedBytes) ?? { ok: false };
          if (!result.ok) {
            this.protocolError(entry);
            return;
          }
          this.emit(entry);
          entry.wake();
        });
        return;
      case 'complete':
        this.withOutgoing(message.id, (entry) => {
          // 'offered' too, but only on a re-offer: after a reconnect the receiver may already hold the
          // whole file. On a first offer it would be a receiver claiming a file it was never sent.
          const resumed = entry.state.kind === 'offered' && entry.window !== null;
          if (entry.state.kind === 'verifying' || resumed) this.finish(entry, { kind: 'done' });
          else this.protocolError(entry);
        });
        return;
      case 'cancel': {
        const entry = this.entries.get(message.id);
        if (entry === undefined || isFinal(entry.state)) return;
        const byPeer = message.reason === 'cancelled-by-sender' || message.reason === 'cancelled-by-receiver';
        this.finish(entry, byPeer ? { kind: 'cancelled', by: 'peer' } : { kind: 'failed', reason: message.reason });
        return;
      }
      default:
        assertNever(message, 'transfer control');
    }
  }

  onChunk(header: ChunkHeader, data: Uint8Array): void {
    const entry = this.entries.get(header.id);
    // Chunks still in flight after a cancel: the peer already knows, one cancel is enough.
    if (entry !== undefined && isFinal(entry.state)) return;
    if (entry?.direction !== 'incoming' || entry.state.kind !== 'receiving') {
      this.refuse(header.id);
      return;
    }
    entry.queuedBytes += data.length;
    if (entry.queuedBytes > MAX_QUEUED_INCOMING_BYTES) {
      this.protocolError(entry);
      return;
    }
    entry.chain = entry.chain.then(async () => {
      await this.storeChunk(entry, header, data);
      entry.queuedBytes -= data.length;
    });
  }

  private withOutgoing(id: string, act: (entry: Outgoing) => void): void {
    const entry = this.entries.get(id);
    if (entry?.direction === 'outgoing' && !isFinal(entry.state)) act(entry);
    else if (entry === undefined) this.refuse(id);
  }

  private async onOffer(offer: TransferOffer): Promise<void> {
    const channel = this.channel;
    if (channel === null) return;
    const known = this.entries.get(offer.id);
    if (known !== undefined) {
      this.onRepeatedOffer(known, offer, channel);
      return;
    }
    // Decided before any await, so a burst of offers cannot all slip in while the first ones are set up.
    if (!this.gate.admit(this.incomingInSlots()).ok) {
      // A flood: refused without putting one more line on the screen for each offer.
      channel.sendControl({ type: 'cancel', id: offer.id, reason: 'too-many-transfers' });
      return;
    }
    this.incomingBeingOpened += 1;
    try {
      await this.openIncoming(offer, channel);
    } finally {
      this.incomingBeingOpened -= 1;
    }
  }

  private async openIncoming(offer: TransferOffer, channel: TransferChannel): Promise<void> {
    const accepted = IncomingTransfer.fromOffer(offer, this.platform.maxFileBytes);
    if (!accepted.ok) {
      channel.sendControl({ type: 'cancel', id: offer.id, reason: accepted.reason });
      this.emitRefused(offer, accepted.reason);
      return;
    }
    let sink: ReceiveSink<F>;
    try {
      sink = await this.platform.openSink(offer);
    } catch {
      channel.sendControl({ type: 'cancel', id: offer.id, reason: 'storage-failed' });
      this.emitRefused(offer, 'storage-failed');
      return;
    }
    // The same id may have been offered twice while we awaited; the first one wins.
    if (this.entries.has(offer.id)) {
      await sink.discard();
      return;
    }
    const entry: Incoming<F> = {
      direction: 'incoming',
      id: offer.id,
      offer,
      transfer: accepted.transfer,
      sink,
      state: { kind: 'receiving' },
      file: null,
      startedAtMs: this.platform.clock.nowMs(),
      chain: Promise.resolve(),
      queuedBytes: 0,
      resuming: false,
      cancelTimer: () => {},
    };
    this.entries.set(offer.id, entry);
    this.armProgressTimer(entry);
    this.emit(entry);
    channel.sendControl({ type: 'accept', id: offer.id, offsetBytes: 0 });
  }

  /** The sender came back after a drop and offers the same transfer again. */
  private onRepeatedOffer(known: Entry<F>, offer: TransferOffer, channel: TransferChannel): void {
    if (known.direction !== 'incoming' || !isSameOffer(known.offer, offer)) {
      channel.sendControl({ type: 'cancel', id: offer.id, reason: 'protocol-error' });
      return;
    }
    switch (known.state.kind) {
      case 'done':
        channel.sendControl({ type: 'complete', id: offer.id });
        return;
      case 'paused':
        if (this.gate.hasFreeSlot(this.incomingInSlots())) this.grantResume(known, channel);
        // The sender's offer stays open (it has no timeout); the answer goes out when a slot frees.
        else this.setState(known, { kind: 'waiting' });
        return;
      case 'cancelled':
      case 'failed':
        channel.sendControl({ type: 'cancel', id: offer.id, reason: 'cancelled-by-receiver' });
        return;
      case 'queued':
      case 'offered':
      case 'sending':
      case 'receiving':
      case 'waiting':
      case 'verifying':
        this.protocolError(known);
        return;
      default:
        assertNever(known.state, 'transfer state');
    }
  }

  private grantResume(entry: Incoming<F>, channel: TransferChannel): void {
    entry.resuming = true;
    // Chunks that arrived before the drop may still wait to be stored: answer only once they are,
    // so the offset we give counts them and the sender does not send them again.
    entry.chain = entry.chain.then(() => this.answerResume(entry, channel));
  }

  /** A slot freed: the longest-known waiting resumes get it, before any new offer can. */
  private resumeWaiting(): void {
    const channel = this.channel;
    if (channel === null) return;
    for (const entry of this.entries.values()) {
      if (!this.gate.hasFreeSlot(this.incomingInSlots())) return;
      if (entry.direction === 'incoming' && entry.state.kind === 'waiting' && !entry.resuming) this.grantResume(entry, channel);
    }
  }

  private answerResume(entry: Incoming<F>, channel: TransferChannel): void {
    entry.resuming = false;
    if (!isParked(entry.state) || this.channel !== channel) {
      this.resumeWaiting();
      return;
    }
    // Holding every byte means the file is being finished; 'complete' goes out when it is.
    if (entry.transfer.status === 'done') return;
    this.setState(entry, { kind: 'receiving' });
    this.armProgressTimer(entry);
    channel.sendControl({ type: 'accept', id: entry.id, offsetBytes: entry.transfer.receivedBytes });
  }

  private async storeChunk(entry: Incoming<F>, header: ChunkHeader, data: Uint8Array): Promise<void> {
    // Paused is fine: a chunk that arrived, authenticated, before the connection dropped is kept, and
    // the resume answer (queued behind it) counts it, so it is not sent twice.
    if (isFinal(entry.state)) return;
    const verdict = entry.transfer.onChunk(header, data);
    if (verdict.kind === 'reject') {
      this.protocolError(entry);
      return;
    }
    try {
      await entry.sink.append(verdict.content);
    } catch {
      this.fail(entry, 'storage-failed');
      return;
    }
    if (isFinal(entry.state)) return;
    // The connection may have dropped while this chunk was being stored: it is kept all the same, and
    // a last chunk still completes the file, so the sender's re-offer is answered with 'complete'.
    const connected = entry.state.kind === 'receiving';
    // Acknowledge only what is stored: the sender's window then bounds what waits in memory here.
    if (connected && verdict.ack !== null) this.channel?.sendControl({ type: 'ack', id: entry.id, receivedBytes: verdict.ack });
    // Progress is shown per acknowledged MiB, not per 64 KiB chunk: a thousand repaints per 64 MiB buy nothing.
    if (verdict.ack !== null || verdict.done !== null) this.emit(entry);
    if (verdict.done === null) return;
    // The store makes the file (and the platform may start looking at it: an image check decodes it) while the
    // content digest is compared; the file is handed out only once the digest matches, else discarded (§7.10).
    const finishing = entry.sink.finish();
    finishing.catch(() => {});
    let hashMatches: boolean;
    try {
      hashMatches = await verdict.done.hashMatches;
    } catch {
      this.fail(entry, 'storage-failed');
      return;
    }
    if (!hashMatches) {
      this.fail(entry, 'hash-mismatch');
      return;
    }
    if (isFinal(entry.state)) return;
    if (connected) this.setState(entry, { kind: 'verifying' });
    let file: F;
    try {
      file = await finishing;
    } catch {
      this.fail(entry, 'storage-failed');
      return;
    }
    if (isFinal(entry.state)) return;
    entry.file = file;
    this.channel?.sendControl({ type: 'complete', id: entry.id });
    this.finish(entry, { kind: 'done' });
  }

  // ---- shared ----------------------------------------------------------------------------------------

  /**
   * Starts a progress window: when it ends, the transfer must have brought MIN_PROGRESS_BYTES (or the rest of the
   * file) since it started, else it fails. A trickling peer cannot hold a slot, and a stalled one gives it back.
   */
  private armProgressTimer(entry: Incoming<F>): void {
    entry.cancelTimer();
    const fromBytes = entry.transfer.receivedBytes;
    const neededBytes = Math.min(MIN_PROGRESS_BYTES, entry.offer.sizeBytes - fromBytes);
    entry.cancelTimer = this.platform.clock.setTimer(this.platform.progressWindowMs ?? PROGRESS_WINDOW_MS, () => {
      if (entry.state.kind !== 'receiving') return;
      if (entry.transfer.receivedBytes - fromBytes >= neededBytes) this.armProgressTimer(entry);
      else this.fail(entry, 'timed-out');
    });
  }

  private armAbandonTimer(entry: Incoming<F>): void {
    entry.cancelTimer();
    entry.cancelTimer = this.platform.clock.setTimer(this.platform.abandonTimeoutMs ?? 10 * 60_000, () => {
      if (isParked(entry.state)) this.finish(entry, { kind: 'failed', reason: 'timed-out' });
    });
  }

  /** Gives up one transfer, telling the peer why; the conversation itself goes on. */
  private fail(entry: Entry<F>, reason: CancelReason): void {
    if (isFinal(entry.state)) return;
    this.channel?.sendControl({ type: 'cancel', id: entry.id, reason });
    this.finish(entry, { kind: 'failed', reason });
  }

  /** The peer broke the transfer protocol (a lying or broken sender or receiver). */
  private protocolError(entry: Entry<F>): void {
    this.fail(entry, 'protocol-error');
  }

  private refuse(id: string): void {
    this.channel?.sendControl({ type: 'cancel', id, reason: 'protocol-error' });
  }

  private finish(entry: Entry<F>, state: TransferState): void {
    this.setState(entry, state);
    if (entry.direction === 'incoming') {
      entry.cancelTimer();
      // Half a file never lingers: whatever did not finish is thrown away.
      if (state.kind !== 'done') void entry.sink.discard().catch(() => {});
      this.resumeWaiting();
    } else {
      entry.wake();
      this.pumpOutgoing();
    }
  }

  private setState(entry: Entry<F>, state: TransferState): void {
    entry.state = state;
    this.emit(entry);
  }

  private emitRefused(offer: TransferOffer, reason: CancelReason): void {
    this.onChange({
      id: offer.id,
      direction: 'incoming',
      name: offer.name,
      mimeType: offer.mimeType,
      sizeBytes: offer.sizeBytes,
      transferredBytes: 0,
      resentBytes: 0,
      resumedAtBytes: null,
      state: { kind: 'failed', reason },
      startedAtMs: this.platform.clock.nowMs(),
      file: null,
    });
  }

  private emit(entry: Entry<F>): void {
    const common = { id: entry.id, direction: entry.direction, state: entry.state, startedAtMs: entry.startedAtMs };
    if (entry.direction === 'outgoing') {
      const { name, mimeType, sizeBytes } = entry.source;
      this.onChange({ ...common, name, mimeType, sizeBytes, transferredBytes: entry.window?.ackedBytes ?? 0, resentBytes: entry.resentBytes, resumedAtBytes: entry.resumedAtBytes, file: null });
    } else {
      const { name, mimeType, sizeBytes } = entry.offer;
      this.onChange({ ...common, name, mimeType, sizeBytes, transferredBytes: entry.transfer.receivedBytes, resentBytes: 0, resumedAtBytes: null, file: entry.file });
    }
  }
}
