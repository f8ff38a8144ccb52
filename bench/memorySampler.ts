/**
 * Samples one page's memory while something runs, against its idle level just before. Per sample: the renderer's
 * resident memory (VmRSS: everything the page's process holds, V8 heap, ArrayBuffer contents, WebRTC buffers,
 * allocator slack), V8's used JS heap (CDP Performance.getMetrics JSHeapUsedSize), ArrayBuffer backing stores
 * outside that heap (CDP Runtime.getHeapUsage backingStorageSize), and, for context, the shared browser process
 * (Blob data) and storage service (IndexedDB).
 */
import type { CDPSession } from '@playwright/test';
import { residentBytes, type ProcessIds } from './processMemory.ts';

export const MEMORY_METRICS = ['rendererRss', 'jsHeapUsed', 'arrayBuffers', 'browserRss', 'storageRss'] as const;
export type MemoryMetric = (typeof MEMORY_METRICS)[number];
export type MemoryPoint = Record<MemoryMetric, number | null>;

export interface MemoryRun {
  readonly idle: MemoryPoint;
  readonly peak: MemoryPoint;
  readonly peakAboveIdle: MemoryPoint;
  readonly samples: number;
}

const SAMPLE_EVERY_MS = 100;
const IDLE_SAMPLES = 5;
const SETTLE_AFTER_GC_MS = 300;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function medianOf(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
}

function emptyPoint(): MemoryPoint {
  return { rendererRss: null, jsHeapUsed: null, arrayBuffers: null, browserRss: null, storageRss: null };
}

export class MemorySampler {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private readonly points: MemoryPoint[] = [];

  private constructor(
    private readonly cdp: CDPSession,
    private readonly pids: ProcessIds,
    /** Other pages to collect garbage in before an idle reading, so their leftovers do not land mid-run. */
    private readonly alsoCollect: readonly CDPSession[],
  ) {}

  static async create(cdp: CDPSession, pids: ProcessIds, alsoCollect: readonly CDPSession[]): Promise<MemorySampler> {
    await cdp.send('Performance.enable');
    return new MemorySampler(cdp, pids, alsoCollect);
  }

  /** Collects garbage in the pages, lets them settle, and returns the median of a few readings. */
  async idle(): Promise<MemoryPoint> {
    await Promise.all([this.cdp, ...this.alsoCollect].map((session) => session.send('HeapProfiler.collectGarbage')));
    await sleep(SETTLE_AFTER_GC_MS);
    const readings: MemoryPoint[] = [];
    for (let i = 0; i < IDLE_SAMPLES; i++) {
      readings.push(await this.read());
      await sleep(SAMPLE_EVERY_MS);
    }
    const idle = emptyPoint();
    for (const metric of MEMORY_METRICS) {
      idle[metric] = medianOf(readings.map((point) => point[metric]).filter((value): value is number => value !== null));
    }
    return idle;
  }

  start(): void {
    if (this.timer !== null) throw new Error('the memory sampler is already running');
    this.points.length = 0;
    this.timer = setInterval(() => {
      // A CDP reply can take longer than the interval under load; skip rather than pile up requests.
      if (this.inFlight !== null) return;
      this.inFlight = this.read()
        .then((point) => {
          this.points.push(point);
        })
        .catch(() => {})
        .finally(() => {
          this.inFlight = null;
        });
    }, SAMPLE_EVERY_MS);
  }

  /** Stops sampling (one last reading included) and reports the peak against `idle`. */
  async stop(idle: MemoryPoint): Promise<MemoryRun> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
    this.points.push(await this.read());
    const peak = emptyPoint();
    const peakAboveIdle = emptyPoint();
    for (const metric of MEMORY_METRICS) {
      const values = this.points.map((point) => point[metric]).filter((value): value is number => value !== null);
      const max = values.length === 0 ? null : Math.max(...values);
      const base = idle[metric];
      peak[metric] = max;
      peakAboveIdle[metric] = max === null || base === null ? null : max - base;
    }
    return { idle, peak, peakAboveIdle, samples: this.points.length };
  }

  private async read(): Promise<MemoryPoint> {
    const rendererRss = residentBytes(this.pids.renderer);
    const browserRss = residentBytes(this.pids.browser);
    const storageRss = residentBytes(this.pids.storage);
    const [metrics, usage] = await Promise.all([this.cdp.send('Performance.getMetrics'), this.cdp.send('Runtime.getHeapUsage')]);
    const jsHeapUsed = metrics.metrics.find((metric) => metric.name === 'JSHeapUsedSize')?.value ?? null;
    return { rendererRss, jsHeapUsed, arrayBuffers: usage.backingStorageSize, browserRss, storageRss };
  }
}
