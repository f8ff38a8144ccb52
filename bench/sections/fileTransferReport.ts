/**
 * Turns the file-transfer runs into the section's tables, targets, JSON and notes: throughput against raw, every
 * run in order, Parley's phases, the receiver's memory, CPU per process, and the pipeline stages timed alone.
 */
import os from 'node:os';
import type { CpuUse } from '../cpuMeter.ts';
import type { MemoryMetric, MemoryRun } from '../memorySampler.ts';
import { stagesJson, stagesTable, type StageCost } from '../pipelineStages.ts';
import type { ProcessIds } from '../processMemory.ts';
import type { Check, Json, JsonObject, SectionResult, Table } from '../harness.ts';
import { median, round } from '../stats.ts';
import { mbPerSecond, type ParleyRun, type RawRun } from '../transferRuns.ts';

const MIB = 1024 * 1024;
const RATIO_TARGET = 0.9;
/** Parley may spend at most this multiple of the CPU "raw done well" spends on the same file. */
const CPU_RATIO_TARGET = 1.25;
const MEMORY_TARGET_BYTES = 64 * MIB;

export type Variant = 'raw' | 'rawKeep' | 'rawFile' | 'rawWell' | 'parley';
export const VARIANTS: readonly Variant[] = ['raw', 'rawKeep', 'rawFile', 'rawWell', 'parley'];
const LABELS: Readonly<Record<Variant, string>> = {
  raw: 'raw RTCDataChannel, receiver counts',
  rawKeep: 'raw, receiver keeps chunks, builds Blob',
  rawFile: 'raw, sender reads the File, receiver keeps',
  rawWell: 'raw done well: File in 4 MiB slices, 256 KiB messages, Blob every 4 MiB',
  parley: 'Parley (TransferManager, real adapters)',
};

export type Run = RawRun | ParleyRun;
export interface Measured {
  readonly order: number;
  readonly variant: Variant;
  readonly run: Run;
}

export interface FileTransferFigures {
  readonly fineTimers: boolean;
  readonly fileBytes: number;
  readonly chunkBytes: number;
  readonly rounds: number;
  readonly warmupBytes: number;
  readonly generateMs: number;
  readonly expectedDigest: string;
  readonly receiver: ProcessIds;
  readonly senderRenderer: number;
  readonly measured: readonly Measured[];
  readonly stages: readonly StageCost[];
}

function mib(bytes: number | null): string {
  return bytes === null ? '-' : (bytes / MIB).toFixed(1);
}

function memoryJson(memory: MemoryRun | null): Json {
  if (memory === null) return null;
  return { idle: memory.idle, peak: memory.peak, peakAboveIdle: memory.peakAboveIdle, samples: memory.samples };
}

function runJson(measured: Measured, fileBytes: number, expectedDigest: string): JsonObject {
  const { run } = measured;
  const common = {
    order: measured.order,
    variant: measured.variant,
    totalMs: round(run.totalMs),
    mbPerSecond: round(mbPerSecond(fileBytes, run.totalMs), 2),
    digestMatches: run.digest === null ? null : run.digest === expectedDigest,
    memory: memoryJson(run.memory),
    cpu: cpuJson(run.cpu),
  };
  if (run.kind === 'raw') {
    return {
      ...common,
      backpressureWaits: run.send.backpressureWaits,
      lastByteAfterMs: round(run.receive.lastByteAtEpochMs - run.send.startedAtEpochMs),
    };
  }
  const { phases } = run;
  return {
    ...common,
    phasesMs: { hash: round(phases.hashMs), accept: round(phases.acceptMs), stream: round(phases.streamMs), finish: round(phases.finishMs) },
    senderBackpressureWaitMs: run.sender.channelWaitMs === null ? null : round(run.sender.channelWaitMs),
    senderBackpressureWaits: run.sender.channelWaits,
    senderViews: run.sender.views,
    receiverViews: run.receiver.views,
  };
}

function cpuJson(cpu: CpuUse | null): Json {
  if (cpu === null) return null;
  return {
    wallMs: round(cpu.wallMs),
    senderRendererMs: cpu.senderMs,
    receiverRendererMs: cpu.receiverMs,
    browserMs: cpu.browserMs,
    otherChromiumMs: cpu.otherChromiumMs,
    chromiumMs: chromiumMs(cpu),
    machineBusyMs: cpu.machineBusyMs,
    machineCapacityMs: cpu.machineCapacityMs === null ? null : round(cpu.machineCapacityMs),
  };
}

/** Every Chromium process together: on a machine shared with other work, the part of "machine busy" that is ours. */
function chromiumMs(use: CpuUse): number | null {
  const parts = [use.senderMs, use.receiverMs, use.browserMs, use.otherChromiumMs];
  return parts.some((part) => part === null) ? null : parts.reduce<number>((sum, part) => sum + (part ?? 0), 0);
}

/** Median over runs of one CPU figure, in ms; null when no run has it. */
function cpuMedian(runs: readonly Run[], pick: (cpu: CpuUse) => number | null): number | null {
  const values = runs.map((run) => (run.cpu === null ? null : pick(run.cpu))).filter((value): value is number => value !== null);
  return values.length === 0 ? null : median(values);
}

function cpuCell(runs: readonly Run[], pick: (cpu: CpuUse) => number | null): string {
  return cpuMedian(runs, pick)?.toFixed(0) ?? '-';
}

function peakValues(runs: readonly Run[], metric: MemoryMetric): number[] {
  return runs.map((run) => run.memory?.peakAboveIdle[metric] ?? null).filter((value): value is number => value !== null);
}

/** "median / worst" of a memory figure's peak above idle, in MiB. */
function memoryCell(runs: readonly Run[], metric: MemoryMetric): string {
  const values = peakValues(runs, metric);
  return values.length === 0 ? '-' : `${mib(median(values))} / ${mib(Math.max(...values))}`;
}

export function reportFileTransfer(figures: FileTransferFigures): SectionResult {
  const { measured, stages, expectedDigest, fileBytes, rounds } = figures;
  const ids = figures.receiver;
  const runsOf = (variant: Variant): Run[] => measured.filter((entry) => entry.variant === variant).map((entry) => entry.run);
  const medianMs = (variant: Variant): number => median(runsOf(variant).map((entry) => entry.totalMs));
  const rate = (variant: Variant): number => mbPerSecond(fileBytes, medianMs(variant));
  const ratio = rate('parley') / rate('raw');
  const ratioKeep = rate('parley') / rate('rawKeep');
  const ratioFile = rate('parley') / rate('rawFile');
  const ratioWell = rate('parley') / rate('rawWell');
  const cpuRatio = (pick: (cpu: CpuUse) => number | null): number | null => {
    const parley = cpuMedian(runsOf('parley'), pick);
    const well = cpuMedian(runsOf('rawWell'), pick);
    return parley === null || well === null || well === 0 ? null : parley / well;
  };
  const busyRatio = cpuRatio((use) => use.machineBusyMs);
  const chromiumRatio = cpuRatio(chromiumMs);
  const parleyRuns = runsOf('parley').filter((entry): entry is ParleyRun => entry.kind === 'parley');
  const worstRss = Math.max(...peakValues(parleyRuns, 'rendererRss'));
  const digests = measured.filter((entry) => entry.run.digest !== null);
  const intact = digests.every((entry) => entry.run.digest === expectedDigest);

  const checks: Check[] = [
    {
      name: '64 MiB transfer, Parley / raw done well (median MB/s)',
      target: `>= ${RATIO_TARGET.toFixed(2)}`,
      measured: `${ratioWell.toFixed(2)} (${rate('parley').toFixed(1)} vs ${rate('rawWell').toFixed(1)} MB/s; plain raw ${rate('raw').toFixed(1)}, Parley / raw ${ratio.toFixed(2)})`,
      met: ratioWell >= RATIO_TARGET,
    },
    {
      name: '64 MiB transfer, CPU of Parley / raw done well (median machine busy ms)',
      target: `<= ${CPU_RATIO_TARGET.toFixed(2)}`,
      measured:
        busyRatio === null
          ? 'not measurable here (no /proc)'
          : `${busyRatio.toFixed(2)} (Chromium processes alone: ${chromiumRatio?.toFixed(2) ?? '-'})`,
      met: busyRatio !== null && busyRatio <= CPU_RATIO_TARGET,
    },
    {
      name: 'Receiver renderer RSS above idle during Parley 64 MiB (worst run)',
      target: `< ${MEMORY_TARGET_BYTES / MIB} MiB`,
      measured: Number.isFinite(worstRss) ? `${mib(worstRss)} MiB` : 'not measurable here (no /proc)',
      met: Number.isFinite(worstRss) && worstRss < MEMORY_TARGET_BYTES,
    },
    {
      name: 'Received copies equal the sent file (WebCrypto SHA-256)',
      target: 'all',
      measured: `${digests.filter((entry) => entry.run.digest === expectedDigest).length} of ${digests.length}`,
      met: intact,
    },
  ];

  const busyShare = (variant: Variant): string => {
    const shares = runsOf(variant)
      .map((entry) => {
        const busy = entry.cpu?.machineBusyMs ?? null;
        const capacity = entry.cpu?.machineCapacityMs ?? null;
        return busy === null || capacity === null || capacity === 0 ? null : busy / capacity;
      })
      .filter((value): value is number => value !== null);
    return shares.length === 0 ? 'unknown' : `${(median(shares) * 100).toFixed(0)}%`;
  };
  const phase = (pick: (run: ParleyRun) => number): string => median(parleyRuns.map(pick)).toFixed(0);
  const streamRate = mbPerSecond(fileBytes, median(parleyRuns.map((r) => r.phases.streamMs)));
  const tables: Table[] = [
    {
      title: `${fileBytes / MIB} MiB A→B, ${rounds} interleaved runs per variant (ms; MB/s with MB = 10^6 bytes)`,
      columns: ['variant', 'runs', 'median ms', 'min ms', 'max ms', 'median MB/s', 'vs raw', 'vs raw done well'],
      rows: VARIANTS.map((variant) => {
        const times = runsOf(variant).map((entry) => entry.totalMs);
        return [
          LABELS[variant],
          String(times.length),
          medianMs(variant).toFixed(0),
          Math.min(...times).toFixed(0),
          Math.max(...times).toFixed(0),
          rate(variant).toFixed(1),
          (rate(variant) / rate('raw')).toFixed(2),
          (rate(variant) / rate('rawWell')).toFixed(2),
        ];
      }),
    },
    {
      title: 'Every run in the order run (B memory: peak above idle just before the run, MiB)',
      columns: ['#', 'variant', 'ms', 'MB/s', 'B renderer RSS', 'B JS heap', 'B ArrayBuffers', 'sha256'],
      rows: measured.map((entry) => [
        String(entry.order),
        entry.variant,
        entry.run.totalMs.toFixed(0),
        mbPerSecond(fileBytes, entry.run.totalMs).toFixed(1),
        mib(entry.run.memory?.peakAboveIdle.rendererRss ?? null),
        mib(entry.run.memory?.peakAboveIdle.jsHeapUsed ?? null),
        mib(entry.run.memory?.peakAboveIdle.arrayBuffers ?? null),
        entry.run.digest === null ? '-' : entry.run.digest === expectedDigest ? 'ok' : 'MISMATCH',
      ]),
    },
    {
      title: 'Parley phases (ms, median of runs): where the time goes',
      columns: ['prepare (send→offered)', 'offer→accept', 'stream (→last byte acked)', 'B finish (stored→done)', 'total', 'stream alone MB/s', 'stream vs raw', 'sender waited on backpressure'],
      rows: [
        [
          phase((r) => r.phases.hashMs),
          phase((r) => r.phases.acceptMs),
          phase((r) => r.phases.streamMs),
          phase((r) => r.phases.finishMs),
          phase((r) => r.totalMs),
          streamRate.toFixed(1),
          (streamRate / rate('raw')).toFixed(2),
          phase((r) => r.sender.channelWaitMs ?? 0),
        ],
      ],
    },
    {
      title: 'Receiver (B) memory, peak above idle during the transfer (MiB, median / worst of runs)',
      columns: ['variant', 'renderer RSS', 'JS heap used', 'ArrayBuffers', 'browser process RSS', 'storage service RSS'],
      rows: VARIANTS.map((variant) => [
        LABELS[variant],
        memoryCell(runsOf(variant), 'rendererRss'),
        memoryCell(runsOf(variant), 'jsHeapUsed'),
        memoryCell(runsOf(variant), 'arrayBuffers'),
        memoryCell(runsOf(variant), 'browserRss'),
        memoryCell(runsOf(variant), 'storageRss'),
      ]),
    },
    {
      title: 'CPU time during each run (ms, median of runs; from /proc; machine = all cores, whoever used them)',
      columns: ['variant', 'wall', 'A renderer', 'B renderer', 'browser', 'other Chromium', 'all Chromium', 'machine busy', 'machine capacity'],
      rows: VARIANTS.map((variant) => [
        LABELS[variant],
        cpuCell(runsOf(variant), (use) => use.wallMs),
        cpuCell(runsOf(variant), (use) => use.senderMs),
        cpuCell(runsOf(variant), (use) => use.receiverMs),
        cpuCell(runsOf(variant), (use) => use.browserMs),
        cpuCell(runsOf(variant), (use) => use.otherChromiumMs),
        cpuCell(runsOf(variant), chromiumMs),
        cpuCell(runsOf(variant), (use) => use.machineBusyMs),
        cpuCell(runsOf(variant), (use) => use.machineCapacityMs),
      ]),
    },
    stagesTable(stages, fileBytes),
  ];

  const data: JsonObject = {
    fineTimers: figures.fineTimers,
    fileBytes: fileBytes,
    chunkBytes: figures.chunkBytes,
    rounds,
    warmupBytes: figures.warmupBytes,
    generateFileMs: round(figures.generateMs),
    processes: { senderRenderer: figures.senderRenderer, receiverRenderer: ids.renderer, browser: ids.browser, storageService: ids.storage },
    medianMs: Object.fromEntries(VARIANTS.map((variant) => [variant, round(medianMs(variant))])),
    medianMbPerSecond: Object.fromEntries(VARIANTS.map((variant) => [variant, round(rate(variant), 2)])),
    parleyVsRaw: round(ratio, 3),
    parleyVsRawKeep: round(ratioKeep, 3),
    parleyVsRawFile: round(ratioFile, 3),
    parleyVsRawWell: round(ratioWell, 3),
    cpuParleyVsRawWell: { machineBusy: busyRatio === null ? null : round(busyRatio, 3), chromium: chromiumRatio === null ? null : round(chromiumRatio, 3) },
    loadAverage1m: round(os.loadavg()[0] ?? 0, 2),
    parleyPhasesMedianMs: {
      hash: round(median(parleyRuns.map((r) => r.phases.hashMs))),
      accept: round(median(parleyRuns.map((r) => r.phases.acceptMs))),
      stream: round(median(parleyRuns.map((r) => r.phases.streamMs))),
      finish: round(median(parleyRuns.map((r) => r.phases.finishMs))),
      senderBackpressureWait: round(median(parleyRuns.map((r) => r.sender.channelWaitMs ?? 0))),
    },
    streamPhaseMbPerSecond: round(streamRate, 2),
    streamPhaseVsRaw: round(streamRate / rate('raw'), 3),
    pipelineStages: stagesJson(stages),
    receiverRendererRssPeakAboveIdleWorstParleyBytes: Number.isFinite(worstRss) ? worstRss : null,
    digestsMatch: intact,
    runs: measured.map((entry) => runJson(entry, fileBytes, expectedDigest)),
  };

  return {
    data,
    checks,
    tables,
    notes: [
      `Timing: from the sender's start (Parley: just before TransferManager.send(); raw: the first channel.send) to the receiver's end (Parley: B's view 'done'; raw: last byte counted, or the kept Blob readable), as epoch ms from each page's clock. The ${fileBytes / MIB} MiB were made before the clock (${figures.generateMs.toFixed(0)} ms: random bytes written to a file on disk, attached through the page's file input as a person attaches one, and read once into 64 KiB pieces for raw). Parley reads the disk-backed File through the app's fileSource; raw sends the in-memory pieces, so the baseline pays nothing for reading.`,
      `Parley / raw-keep: ${ratioKeep.toFixed(2)}; Parley / raw from the File (the same reads and the same kept Blob, without Parley's encryption, hashing and acknowledgements): ${ratioFile.toFixed(2)}. Raw uses the app's marks: send while bufferedAmount < 4 MiB, else wait for 'bufferedamountlow' at 1 MiB.`,
      `Memory: B's renderer process (PID ${ids.renderer}, found through a trace's TracingStartedInBrowser frame list) VmRSS from /proc; JS heap from CDP Performance.getMetrics (JSHeapUsedSize), which excludes ArrayBuffer contents, so those come from CDP Runtime.getHeapUsage (backingStorageSize); sampled every 100 ms; idle = median of 5 readings after a forced GC in both pages. Peaks shorter than 100 ms can be missed.`,
      `Where the received file lives: not in B's renderer. Blob bytes are held by the browser process (PID ${ids.browser}); its RSS rose by ${memoryCell(runsOf('parley'), 'browserRss')} MiB (median / worst) during Parley runs and ${memoryCell(runsOf('rawKeep'), 'browserRss')} MiB during raw-keep runs, while the storage service (PID ${ids.storage ?? 'unknown'}) moved by ${memoryCell(runsOf('parley'), 'storageRss')} MiB. These bench contexts are incognito, so blobs stay in memory; in a normal profile Chromium moves large ones to disk. Both processes are shared by every page, so their figures are context, not B's own.`,
      `CPU: both pages, the browser process and the other Chromium processes (chiefly the network service, through which Chromium's WebRTC UDP sockets run) share ${os.cpus().length} cores here. During raw runs the machine was busy ${busyShare('raw')} of its capacity, so a transfer is CPU-bound and every extra CPU-millisecond per byte shows up as lost throughput; on two separate machines each side would have its cores to itself.`,
      'Parley here is the TransferManager without the Svelte UI: the app also re-renders the transfer line on every view (one per acknowledged MiB on each side, plus state changes), which these figures leave out.',
    ],
  };
}

