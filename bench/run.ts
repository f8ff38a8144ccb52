/**
 * `npm run bench`: builds the bench page, starts the real server twice (app and bench page) on loopback, launches
 * Chromium, runs each section in turn, prints tables and writes bench/results/. Add a section by appending it to
 * SECTIONS; each one gets fresh pages and a time limit of its own.
 * BENCH_ONLY=id,id runs only those sections (while working on one); a full run is what counts.
 */
import os from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';
import { build } from 'vite';
import { CHROMIUM_ARGS, findChromium } from '../tests/chromium.ts';
import type { RunningServer } from '../signaling/server.ts';
import { errorText, PageScope, REPO_ROOT, startSite, withTimeout, type BenchContext, type Check, type JsonObject, type Section } from './harness.ts';
import { formatChecks, formatTable, writeResults } from './report.ts';
import { keyPairCost } from './sections/keyPairCost.ts';
import { linkToSecure } from './sections/linkToSecure.ts';
import { fileTransfer } from './sections/fileTransfer.ts';
import { group } from './sections/group.ts';
import { messageRoundTrip } from './sections/messageRoundTrip.ts';
import { photoPreview } from './sections/photoPreview.ts';
import { serverAbuse } from './sections/serverAbuse.ts';
import { signalingLoad } from './sections/signalingLoad.ts';
import { staticSite } from './sections/staticSite.ts';
import { transferStages } from './sections/transferStages.ts';
import { vault } from './sections/vault.ts';
import { vaultGroup } from './sections/vaultGroup.ts';
import { wireBytes } from './sections/wireBytes.ts';

const SECTIONS: readonly Section[] = [wireBytes, linkToSecure, staticSite, keyPairCost, messageRoundTrip, group, fileTransfer, transferStages, photoPreview, vault, vaultGroup, serverAbuse, signalingLoad];
/** Past this the run has hung somewhere no section timeout reaches (a browser that will not close): give up loudly. */
const HARD_DEADLINE_MS = 2_880_000;

function log(line: string): void {
  console.log(`  · ${line}`);
}

function machine(browserVersion: string): JsonObject {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemoryBytes: os.totalmem(),
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    chromium: browserVersion,
  };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const started = performance.now();
  const deadline = setTimeout(() => {
    console.error(`bench: still running after ${HARD_DEADLINE_MS / 1000} s; giving up.`);
    process.exit(1);
  }, HARD_DEADLINE_MS);
  deadline.unref();

  const only = process.env['BENCH_ONLY']?.split(',').filter((id) => id !== '');
  const selected = SECTIONS.filter((candidate) => only === undefined || only.includes(candidate.id));
  // The bench page is built only when a chosen section drives pages.
  const needsPages = selected.some((section) => section.usesBrowser !== false);
  if (needsPages) {
    console.log('Building the bench page (vite.bench.config.ts → dist-bench/)…');
    await build({ configFile: path.join(REPO_ROOT, 'vite.bench.config.ts') });
  }

  const executablePath = process.env['CHROMIUM_PATH'] ?? findChromium();
  if (executablePath === null || executablePath === '') throw new Error('No Chromium: set CHROMIUM_PATH or install chromium.');
  const servers: RunningServer[] = [];
  const results: Record<string, JsonObject> = {};
  const checks: Check[] = [];
  const failures: { section: string; error: string }[] = [];
  let browserVersion = 'unknown';
  try {
    const app = await startSite(path.join(REPO_ROOT, 'dist'));
    servers.push(app);
    const benchSite = needsPages ? await startSite(path.join(REPO_ROOT, 'dist-bench')) : null;
    if (benchSite !== null) servers.push(benchSite);
    const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    browserVersion = browser.version();
    console.log(`Chromium ${browserVersion}; app at ${app.url}, bench page at ${benchSite?.url ?? '(not needed)'}\n`);
    try {
      for (const section of selected) {
        console.log(`== ${section.title}`);
        const scope = new PageScope(browser);
        const ctx: BenchContext = {
          browser,
          appUrl: app.url,
          benchUrl: benchSite?.url ?? '',
          newPage: () => scope.newPage(),
          closePages: (...pages) => scope.close(...pages),
          log,
        };
        const sectionStarted = performance.now();
        try {
          const result = await withTimeout(section.run(ctx), section.timeoutMs, section.title);
          results[section.id] = { ...result.data, durationMs: Math.round(performance.now() - sectionStarted) };
          checks.push(...result.checks);
          for (const table of result.tables) console.log(`\n${formatTable(table)}`);
          for (const note of result.notes) console.log(`\n  ${note}`);
          console.log(`\n  (${((performance.now() - sectionStarted) / 1000).toFixed(1)} s)\n`);
        } catch (error) {
          failures.push({ section: section.id, error: errorText(error) });
          console.error(`  FAILED: ${errorText(error)}\n`);
        } finally {
          await scope.close();
        }
      }
    } finally {
      await browser.close();
    }
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }

  const durationMs = Math.round(performance.now() - started);
  const report: JsonObject = {
    date: startedAt.toISOString(),
    durationMs,
    machine: machine(browserVersion),
    sections: results,
    checks,
    failures,
  };
  const file = await writeResults(path.join(REPO_ROOT, 'bench', 'results'), startedAt, report);
  console.log('== Targets');
  console.log(formatChecks(checks));
  for (const failure of failures) console.log(`FAIL  ${failure.section}: ${failure.error}`);
  console.log(`\nWrote ${path.relative(REPO_ROOT, file)} and bench/results/latest.json (${(durationMs / 1000).toFixed(1)} s).`);
  clearTimeout(deadline);
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
