/**
 * File transfer: 64 MiB of random bytes, written to disk and attached through a file input, from page A to page B through Parley's TransferManager (composed as
 * src/main.ts does: WebCrypto hash list, Blob sink, 255 KiB chunks, default window), against a raw ordered
 * RTCDataChannel between the same two pages with the app's backpressure marks, whose receiver only counts bytes or
 * also keeps them and builds a Blob, and against "raw done well" (the File read in 4 MiB slices, sent in 256 KiB
 * messages, received into a Blob every 4 MiB): the least any correct file transfer does. Runs are interleaved; B's memory and every process's CPU time are sampled
 * during every run; every received copy is checked by SHA-256 after the clock stops; then the pipeline's stages are
 * timed alone in page A. fileTransferReport.ts turns the figures into tables.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { openBenchPair, type BenchPair } from '../benchPages.ts';
import { CpuMeter, otherChromiumPids } from '../cpuMeter.ts';
import { MemorySampler } from '../memorySampler.ts';
import { measureStages } from '../pipelineStages.ts';
import { processIdsOf, type ProcessIds } from '../processMemory.ts';
import type { BenchContext, Section, SectionResult } from '../harness.ts';
import { mbPerSecond, parleyRun, rawRun, type RunOptions } from '../transferRuns.ts';
import { reportFileTransfer, VARIANTS, type Measured, type Run, type Variant } from './fileTransferReport.ts';

const MIB = 1024 * 1024;
const FILE_BYTES = 64 * MIB;
const PIECE_BYTES = 64 * 1024;
/** "Raw done well": the largest message Chromium's data channel takes, read from the File in slices of a few MiB. */
const WELL_MESSAGE_BYTES = 256 * 1024;
const WELL_READ_BYTES = 4 * MIB;
const WARMUP_BYTES = 8 * MIB;
/** Each variant runs this many times, taking turns, so a burst of load from elsewhere hits all of them alike. */
const ROUNDS = 3;
const TRANSFER_TIMEOUT_MS = 60_000;
/** As in messageRoundTrip: right after Secure each page makes its next RSA key pair; let that finish off the clock. */
const SETTLE_AFTER_SECURE_MS = 1500;

async function sampler(pair: BenchPair, ids: ProcessIds): Promise<MemorySampler> {
  const cdpOf = (page: Page) => page.context().newCDPSession(page);
  return MemorySampler.create(await cdpOf(pair.echoerPage), ids, [await cdpOf(pair.pingerPage)]);
}

async function measure(pair: BenchPair, linkId: string, variant: Variant, key: string, bytes: number, options: RunOptions): Promise<Run> {
  switch (variant) {
    case 'raw':
      return rawRun(pair, linkId, key, bytes, 'count', { from: 'memory' }, options);
    case 'rawKeep':
      return rawRun(pair, linkId, key, bytes, 'keep', { from: 'memory' }, options);
    case 'rawFile':
      return rawRun(pair, linkId, key, bytes, 'keep', { from: 'file', pieceBytes: PIECE_BYTES }, options);
    case 'rawWell':
      return rawRun(pair, linkId, key, bytes, 'parts', { from: 'slices', messageBytes: WELL_MESSAGE_BYTES, readBytes: WELL_READ_BYTES }, options);
    case 'parley':
      return parleyRun(pair, key, options);
  }
}

async function run(ctx: BenchContext): Promise<SectionResult> {
  const pair = await openBenchPair(ctx);
  await pair.waitSecure(20_000);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_AFTER_SECURE_MS));
  const linkId = await pair.openBulkLink(20_000);
  // The 64 MiB go to disk and into the page through its file input: a disk-backed File, as a person's would be.
  const generateStartedAt = performance.now();
  const bigPath = path.join(await mkdtemp(path.join(os.tmpdir(), 'parley-bench-')), 'big.bin');
  await writeFile(bigPath, randomBytes(FILE_BYTES));
  await pair.pingerPage.setInputFiles('#bench-file', bigPath);
  await pair.pinger.evaluate((api, piece) => api.adoptPickedFile('big', piece), PIECE_BYTES);
  const generateMs = performance.now() - generateStartedAt;
  await pair.pinger.evaluate((api, [bytes, piece]) => api.makeRandomFile('warm', bytes, piece), [WARMUP_BYTES, PIECE_BYTES] as const);
  const expectedDigest = await pair.pinger.evaluate((api) => api.fileDigest('big'));
  const ids = await processIdsOf(ctx.browser, pair.echoerPage);
  const senderIds = await processIdsOf(ctx.browser, pair.pingerPage);
  const memory = await sampler(pair, ids);
  const known = [senderIds.renderer, ids.renderer, ids.browser];
  const cpu = new CpuMeter({ sender: senderIds.renderer, receiver: ids.renderer, browser: ids.browser, others: await otherChromiumPids(ctx.browser, known) });

  // Warm-up, not counted: JIT, first WebRTC and WebCrypto use.
  const warmOptions: RunOptions = { sampler: null, cpu: null, digest: false, timeoutMs: TRANSFER_TIMEOUT_MS };
  for (const variant of VARIANTS) await measure(pair, linkId, variant, 'warm', WARMUP_BYTES, warmOptions);
  ctx.log(`warmed up with ${WARMUP_BYTES / MIB} MiB per variant; now ${ROUNDS} interleaved rounds of ${FILE_BYTES / MIB} MiB`);

  const options: RunOptions = { sampler: memory, cpu, digest: true, timeoutMs: TRANSFER_TIMEOUT_MS };
  const measured: Measured[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, index) => VARIANTS[(index + round) % VARIANTS.length]).filter((v): v is Variant => v !== undefined);
    for (const variant of order) {
      const result = await measure(pair, linkId, variant, 'big', FILE_BYTES, options);
      measured.push({ order: measured.length + 1, variant, run: result });
      ctx.log(`${variant}: ${mbPerSecond(FILE_BYTES, result.totalMs).toFixed(1)} MB/s`);
    }
  }
  ctx.log('transfers measured; now the pipeline stages alone in page A');
  const stages = await measureStages(ctx.browser, pair.pingerPage, pair.pinger, 'big');
  await pair.closeBulkLink(linkId);
  await rm(path.dirname(bigPath), { recursive: true, force: true });

  return reportFileTransfer({
    fineTimers: pair.fineTimers,
    fileBytes: FILE_BYTES,
    chunkBytes: PIECE_BYTES,
    rounds: ROUNDS,
    warmupBytes: WARMUP_BYTES,
    generateMs,
    expectedDigest,
    receiver: ids,
    senderRenderer: senderIds.renderer,
    measured,
    stages,
  });
}

export const fileTransfer: Section = {
  id: 'fileTransfer',
  title: '64 MiB file transfer, Parley vs raw RTCDataChannel, with receiver memory',
  timeoutMs: 400_000,
  run,
};
