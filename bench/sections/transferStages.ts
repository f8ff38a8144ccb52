/**
 * The file pipeline's stages alone, without a transfer: 64 MiB of random bytes on disk, attached to one bench page
 * through its file input, then each stage timed over the whole file with the CPU each process spent on it. The same
 * table ends the file-transfer section; this section gives it in seconds, to weigh a lever before a full run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadBenchPage } from '../benchPages.ts';
import type { BenchContext, Section, SectionResult } from '../harness.ts';
import { measureStages, stagesJson, stagesTable } from '../pipelineStages.ts';

const FILE_BYTES = 64 * 1024 * 1024;

async function run(ctx: BenchContext): Promise<SectionResult> {
  const page = await ctx.newPage();
  const api = await loadBenchPage(page, `${ctx.benchUrl}/?start=manual`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'parley-bench-'));
  try {
    const filePath = path.join(dir, 'big.bin');
    await writeFile(filePath, randomBytes(FILE_BYTES));
    await page.setInputFiles('#bench-file', filePath);
    await api.evaluate((bench) => bench.adoptPickedFile('big', 64 * 1024));
    const costs = await measureStages(ctx.browser, page, api, 'big');
    return {
      data: { fileBytes: FILE_BYTES, loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100, stages: stagesJson(costs) },
      checks: [],
      tables: [stagesTable(costs, FILE_BYTES)],
      notes: ['Each stage runs once, one after another, over the file already in memory (reads excepted); WebCrypto calls are awaited one at a time unless the stage says otherwise.'],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const transferStages: Section = {
  id: 'transferStages',
  title: 'Diagnosis: the file pipeline stages alone, 64 MiB in one page',
  timeoutMs: 180_000,
  run,
};
