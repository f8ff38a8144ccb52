/**
 * Diagnosis for Link to Secure: what the RSA-3072 session key pairs still cost on the way to "Secure". Two bench
 * pages run the real room, composed as the app composes it, with the page-wide key pair pool as the app makes it
 * (started while the page loads, the room started at once, as when a person opens a link), and with the first pair
 * made before the room starts (see KeyPairMode), in turn; the figure is B's time from room start to Secure by its
 * own clock, with A already waiting in the room.
 */
import type { Page } from '@playwright/test';
import { generateRoomSecret, roomFragment } from '../../src/core/crypto/roomSecret.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { loadBenchPage } from '../benchPages.ts';
import type { KeyPairMode } from '../page/benchApi.ts';
import type { BenchContext, JsonObject, Section, SectionResult } from '../harness.ts';
import { round, roundSummary, summarize, type Summary } from '../stats.ts';

const MODES: readonly KeyPairMode[] = ['app', 'premade'];
const RUNS_PER_MODE = 5;
/** As in linkToSecure: both pages idle before B starts, as after a person has passed the link on. */
const LINK_SHARING_PAUSE_MS = 1000;
const SECURE_TIMEOUT_MS = 20_000;

const MODE_LABELS: Readonly<Record<KeyPairMode, string>> = {
  app: 'app: pool started at page load, room at once',
  premade: 'first pair ready before the room starts',
};

async function waitForRoomStatus(page: Page, wanted: string): Promise<void> {
  try {
    await page.waitForFunction((kind) => window.parleyBench?.status() === kind, wanted, { timeout: SECURE_TIMEOUT_MS });
  } catch (error) {
    const now = await page.evaluate(() => window.parleyBench?.status() ?? 'no bench API').catch(() => 'page gone');
    throw new Error(`bench room did not reach ${wanted}; it is ${now}`, { cause: error });
  }
}

/** One room between the two pages; both are reused across runs (a new page load each time) to keep the run short. */
async function oneRun(ctx: BenchContext, pages: readonly [Page, Page], mode: KeyPairMode, run: number): Promise<number> {
  const [alicePage, bobPage] = pages;
  // The query differs per run, so each goto is a full page load with a fresh room, never a same-document jump.
  const fragment = roomFragment(generateRoomSecret(systemRandom));
  const url = (start: 'auto' | 'manual'): string => `${ctx.benchUrl}/?keys=${mode}&start=${start}&run=${run}#${fragment}`;
  const alice = await loadBenchPage(alicePage, url('manual'));
  await alice.evaluate((api) => api.startRoom());
  await waitForRoomStatus(alicePage, 'waiting');
  await new Promise((resolve) => setTimeout(resolve, LINK_SHARING_PAUSE_MS));
  // 'app': B opens the link and its room starts as the page loads; 'premade': B's room starts once its pair is made.
  const bob = await loadBenchPage(bobPage, url(mode === 'app' ? 'auto' : 'manual'));
  if (mode === 'premade') await bob.evaluate((api) => api.startRoom());
  await Promise.all([waitForRoomStatus(bobPage, 'secure'), waitForRoomStatus(alicePage, 'secure')]);
  const bobMs = await bob.evaluate((api) => api.secureAfterMs());
  if (bobMs === null) throw new Error('B is secure but has no time to Secure');
  return bobMs;
}

export const keyPairCost: Section = {
  id: 'keyPairCost',
  title: 'Diagnosis: RSA key pairs on the way to Secure (bench pages)',
  timeoutMs: 120_000,
  async run(ctx): Promise<SectionResult> {
    const samples: Record<KeyPairMode, number[]> = { app: [], premade: [] };
    const pages = [await ctx.newPage(), await ctx.newPage()] as const;
    // Modes take turns so that load from elsewhere on the machine falls on all of them alike.
    for (let run = 0; run < RUNS_PER_MODE * MODES.length; run++) {
      const mode = MODES[run % MODES.length] ?? 'app';
      samples[mode].push(await oneRun(ctx, pages, mode, run));
    }
    const of = (mode: KeyPairMode): Summary => roundSummary(summarize(samples[mode]));
    const summaries: Record<KeyPairMode, Summary> = { app: of('app'), premade: of('premade') };
    const app = summaries.app;
    const data: JsonObject = {
      runsPerMode: RUNS_PER_MODE,
      linkSharingPauseMs: LINK_SHARING_PAUSE_MS,
      bobRoomStartToSecureMs: Object.fromEntries(
        MODES.map((mode) => [mode, { ...summaries[mode], runs: samples[mode].map((value) => round(value, 1)), medianSavedVsAppMs: round(app.p50 - summaries[mode].p50, 1) }]),
      ),
    };
    return {
      data,
      checks: [],
      tables: [
        {
          title: `B from room start to Secure, ${RUNS_PER_MODE} runs per mode (ms, B's own clock, page load excluded)`,
          columns: ['key pairs', 'median', 'min', 'max', 'median saved vs app'],
          rows: MODES.map((mode) => [
            MODE_LABELS[mode],
            summaries[mode].p50.toFixed(0),
            summaries[mode].min.toFixed(0),
            summaries[mode].max.toFixed(0),
            mode === 'app' ? '-' : (app.p50 - summaries[mode].p50).toFixed(0),
          ]),
        },
      ],
      notes: [
        '"premade" is the floor if session key generation cost nothing on the way to Secure; the difference is what the page-wide pool, started as the page loads, still leaves on the critical path of someone who opens a link.',
      ],
    };
  },
};
