/**
 * Times the file pipeline's stages one at a time in one bench page (see page/pipelineCosts.ts), each with the CPU the
 * page's renderer, the browser process and the other Chromium processes spent on it, and turns them into a table.
 */
import type { Browser, JSHandle, Page } from '@playwright/test';
import { CpuMeter, otherChromiumPids } from './cpuMeter.ts';
import type { BenchApi, PipelineStage } from './page/benchApi.ts';
import { processIdsOf } from './processMemory.ts';
import type { JsonObject, Table } from './harness.ts';
import { round } from './stats.ts';
import { mbPerSecond } from './transferRuns.ts';

export const STAGE_LABELS: Readonly<Record<PipelineStage, string>> = {
  'read-64k': 'read the File in 64 KiB slices',
  'read-1m': 'read the File in 1 MiB slices',
  'read-4m': 'read the File in 4 MiB slices',
  'read-stream': 'read the File as File.stream()',
  'hash-wasm-64k': 'SHA-256, hash-wasm, 64 KiB updates',
  'hash-list-64k': 'SHA-256, WebCrypto per 64 KiB + over the digests',
  'hash-list-256k': 'SHA-256, WebCrypto per 256 KiB + over the digests',
  'hash-list-256k-x4': 'the same, 4 digests in flight',
  'seal-64k': 'seal 64 KiB chunk frames (AES-GCM)',
  'seal-255k': 'seal 255 KiB chunk frames (AES-GCM)',
  'seal-255k-x4': 'the same, 4 seals in flight (as the sender now does)',
  open: 'open the frames just sealed',
  'open-overlapped': 'open the frames just sealed, all started at once (as they arrive)',
  'keep-blobs-64k': 'keep 64 KiB chunks as a Blob every 4 MiB, then one Blob',
  'keep-blobs-255k': 'keep 255 KiB chunks as a Blob every 4 MiB, then one Blob',
};

/** In this order: each open follows the seal whose frames it opens. */
export const STAGES: readonly PipelineStage[] = [
  'read-64k',
  'read-1m',
  'read-4m',
  'read-stream',
  'hash-wasm-64k',
  'hash-list-64k',
  'hash-list-256k',
  'hash-list-256k-x4',
  'seal-64k',
  'open',
  'seal-255k',
  'open',
  'seal-255k-x4',
  'open-overlapped',
  'keep-blobs-64k',
  'keep-blobs-255k',
];

export interface StageCost {
  readonly stage: PipelineStage;
  /** Which seal an 'open' follows, for its label. */
  readonly after: PipelineStage | null;
  readonly wallMs: number;
  readonly rendererMs: number | null;
  readonly browserMs: number | null;
  readonly otherChromiumMs: number | null;
}

/** Runs every stage of STAGES over file `key` of `page`, in order, each once. */
export async function measureStages(browser: Browser, page: Page, api: JSHandle<BenchApi>, key: string): Promise<StageCost[]> {
  const ids = await processIdsOf(browser, page);
  const cpu = new CpuMeter({ sender: ids.renderer, receiver: ids.renderer, browser: ids.browser, others: await otherChromiumPids(browser, [ids.renderer, ids.browser]) });
  await api.evaluate((bench, file) => bench.prepareStages(file), key);
  const costs: StageCost[] = [];
  try {
    for (const [index, stage] of STAGES.entries()) {
      const start = cpu.read();
      const wallMs = await api.evaluate((bench, name) => bench.runStage(name), stage);
      const use = cpu.since(start);
      costs.push({ stage, after: stage === 'open' || stage === 'open-overlapped' ? (STAGES[index - 1] ?? null) : null, wallMs, rendererMs: use.senderMs, browserMs: use.browserMs, otherChromiumMs: use.otherChromiumMs });
    }
  } finally {
    await api.evaluate((bench) => bench.releaseStages());
  }
  return costs;
}

function label(cost: StageCost): string {
  return (cost.stage === 'open' || cost.stage === 'open-overlapped') && cost.after !== null ? `${STAGE_LABELS[cost.stage]} (${cost.after})` : STAGE_LABELS[cost.stage];
}

function ms(value: number | null): string {
  return value === null ? '-' : value.toFixed(0);
}

export function stagesTable(costs: readonly StageCost[], fileBytes: number): Table {
  return {
    title: `Pipeline stages alone: ${fileBytes / 2 ** 20} MiB in one page, no network, one stage at a time (ms; CPU from /proc)`,
    columns: ['stage', 'wall', 'MB/s', 'CPU renderer', 'CPU browser', 'CPU other Chromium'],
    rows: costs.map((cost) => [label(cost), ms(cost.wallMs), mbPerSecond(fileBytes, cost.wallMs).toFixed(0), ms(cost.rendererMs), ms(cost.browserMs), ms(cost.otherChromiumMs)]),
  };
}

export function stagesJson(costs: readonly StageCost[]): JsonObject {
  return Object.fromEntries(
    costs.map((cost) => [
      cost.after === null ? cost.stage : `${cost.stage}-after-${cost.after}`,
      { wallMs: round(cost.wallMs), rendererMs: cost.rendererMs, browserMs: cost.browserMs, otherChromiumMs: cost.otherChromiumMs },
    ]),
  );
}
