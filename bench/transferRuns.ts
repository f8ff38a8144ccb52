/**
 * One timed file transfer between the bench pages (pinger → echoer), through Parley or a raw bulk link, with
 * optional memory sampling of the receiving page and CPU accounting per process. Durations run from the sender's start to the receiver's end,
 * both as epoch milliseconds of the pages' own clocks; digests are taken only after the clock stops.
 */
import type { BenchPair } from './benchPages.ts';
import type { CpuMeter, CpuUse } from './cpuMeter.ts';
import type { MemoryRun, MemorySampler } from './memorySampler.ts';
import type { BulkReceiveMode, BulkReceiveResult, BulkSendResult, TransferTimeline } from './page/benchApi.ts';

export type RawRun = {
  readonly kind: 'raw';
  readonly mode: BulkReceiveMode;
  readonly totalMs: number;
  readonly send: BulkSendResult;
  readonly receive: BulkReceiveResult;
  /** WebCrypto SHA-256 of the received Blob (not for 'count'), null when not checked. */
  readonly digest: string | null;
  readonly memory: MemoryRun | null;
  readonly cpu: CpuUse | null;
};

export type ParleyPhases = {
  /** send() → 'offered': building the offer and queueing it. */
  readonly hashMs: number;
  /** 'offered' → 'sending': the offer's trip, the receiver opening its hasher and sink, the accept's trip back. */
  readonly acceptMs: number;
  /** 'sending' → every byte acknowledged: chunks read, sealed, sent, opened, hashed and stored by the receiver. */
  readonly streamMs: number;
  /** Receiver: every byte stored → 'done' (the content digest compared, the Blob parts made into one). */
  readonly finishMs: number;
  /** send() → the receiver's 'done'. */
  readonly totalMs: number;
};

export type ParleyRun = {
  readonly kind: 'parley';
  /** The same as phases.totalMs: send() → the receiver's 'done'. */
  readonly totalMs: number;
  readonly phases: ParleyPhases;
  readonly sender: TransferTimeline;
  readonly receiver: TransferTimeline;
  readonly digest: string | null;
  readonly memory: MemoryRun | null;
  readonly cpu: CpuUse | null;
};

export interface RunOptions {
  readonly sampler: MemorySampler | null;
  readonly cpu: CpuMeter | null;
  /** Take the WebCrypto digest of the received copy after timing. */
  readonly digest: boolean;
  readonly timeoutMs: number;
}

function mark(value: number | null | undefined, what: string): number {
  if (value === null || value === undefined) throw new Error(`the transfer timeline has no ${what}`);
  return value;
}

interface Sampled<T> {
  readonly result: T;
  readonly memory: MemoryRun | null;
  readonly cpu: CpuUse | null;
}

/** Runs `work` with the receiver's memory sampled against its idle level and CPU time counted, as `options` ask. */
async function sampled<T>(options: RunOptions, work: () => Promise<T>): Promise<Sampled<T>> {
  const { sampler, cpu } = options;
  const idle = sampler === null ? null : await sampler.idle();
  sampler?.start();
  const cpuStart = cpu?.read() ?? null;
  try {
    const result = await work();
    const cpuUse = cpu === null || cpuStart === null ? null : cpu.since(cpuStart);
    return { result, memory: sampler === null || idle === null ? null : await sampler.stop(idle), cpu: cpuUse };
  } catch (error) {
    if (sampler !== null && idle !== null) await sampler.stop(idle);
    throw error;
  }
}

/**
 * Where a raw sender takes its bytes: pieces already in memory; the File read as the app reads it, in pieces of this
 * size; or the File read in slices of `readBytes`, sent as messages of `messageBytes`.
 */
export type RawSource =
  | { readonly from: 'memory' }
  | { readonly from: 'file'; readonly pieceBytes: number }
  | { readonly from: 'slices'; readonly messageBytes: number; readonly readBytes: number };

function rawSend(pair: BenchPair, linkId: string, key: string, source: RawSource): Promise<BulkSendResult> {
  switch (source.from) {
    case 'memory':
      return pair.pinger.evaluate((api, [id, file]) => api.bulkSend(id, file), [linkId, key] as const);
    case 'file':
      return pair.pinger.evaluate((api, [id, file, piece]) => api.bulkSendFile(id, file, piece), [linkId, key, source.pieceBytes] as const);
    case 'slices':
      return pair.pinger.evaluate((api, [id, file, message, read]) => api.bulkSendFileSlices(id, file, message, read), [linkId, key, source.messageBytes, source.readBytes] as const);
  }
}

export async function rawRun(
  pair: BenchPair,
  linkId: string,
  key: string,
  sizeBytes: number,
  mode: BulkReceiveMode,
  source: RawSource,
  options: RunOptions,
): Promise<RawRun> {
  const { result, memory, cpu } = await sampled(options, async () => {
    await pair.echoer.evaluate((api, [id, bytes, how]) => api.bulkExpect(id, bytes, how), [linkId, sizeBytes, mode] as const);
    const [send, receive] = await Promise.all([
      rawSend(pair, linkId, key, source),
      pair.echoer.evaluate((api, id) => api.bulkReceived(id), linkId),
    ]);
    return { send, receive };
  });
  const { send, receive } = result;
  if (receive.bytes !== sizeBytes) throw new Error(`raw ${mode}: ${receive.bytes} bytes arrived, ${sizeBytes} sent`);
  const digest = options.digest && mode !== 'count' ? await pair.echoer.evaluate((api, id) => api.bulkReceivedDigest(id), linkId) : null;
  await pair.echoer.evaluate((api, id) => api.bulkRelease(id), linkId);
  return { kind: 'raw', mode, totalMs: receive.readyAtEpochMs - send.startedAtEpochMs, send, receive, digest, memory, cpu };
}

function phasesOf(sender: TransferTimeline, receiver: TransferTimeline): ParleyPhases {
  const sentAt = mark(sender.sendCalledAtEpochMs, 'send() time');
  const offeredAt = mark(sender.stateAtEpochMs.offered, "sender's 'offered'");
  const sendingAt = mark(sender.stateAtEpochMs.sending, "sender's 'sending'");
  const ackedAt = mark(sender.allBytesAtEpochMs, 'last acknowledgement');
  const storedAt = mark(receiver.allBytesAtEpochMs, "receiver's last stored byte");
  const doneAt = mark(receiver.stateAtEpochMs.done, "receiver's 'done'");
  return {
    hashMs: offeredAt - sentAt,
    acceptMs: sendingAt - offeredAt,
    streamMs: ackedAt - sendingAt,
    finishMs: doneAt - storedAt,
    totalMs: doneAt - sentAt,
  };
}

export async function parleyRun(pair: BenchPair, key: string, options: RunOptions): Promise<ParleyRun> {
  const { result, memory, cpu } = await sampled(options, async () => {
    const id = await pair.pinger.evaluate((api, file) => api.sendFile(file), key);
    // The receiver's view settles first ('done', then its preview); the sender's when the peer's 'complete' arrives.
    const [receiver, sender] = await Promise.all([
      pair.echoer.evaluate((api, [transfer, ms]) => api.transferSettled(transfer, ms), [id, options.timeoutMs] as const),
      pair.pinger.evaluate((api, [transfer, ms]) => api.transferSettled(transfer, ms), [id, options.timeoutMs] as const),
    ]);
    return { id, receiver, sender };
  });
  const { id, receiver, sender } = result;
  if (receiver.finalState !== 'done' || sender.finalState !== 'done') {
    throw new Error(`Parley transfer ended '${sender.finalState}' at the sender and '${receiver.finalState}' at the receiver`);
  }
  const digest = options.digest ? await pair.echoer.evaluate((api, transfer) => api.receivedDigest(transfer), id) : null;
  await pair.echoer.evaluate((api, transfer) => api.releaseTransfer(transfer), id);
  const phases = phasesOf(sender, receiver);
  return { kind: 'parley', totalMs: phases.totalMs, phases, sender, receiver, digest, memory, cpu };
}

/** Megabytes (10^6 bytes) per second. */
export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}
