/**
 * The static site with a PeerJS broker (spec §3.8) against Parley's own server, in the same run: Link to Secure in
 * both modes, runs interleaved so that the machine's load falls on both alike; and the first load (spec §9): what
 * index.html loads and preloads, what the front page and a room link fetch before they are of use, and every chunk
 * that loads later (the PeerJS chunk only in PeerJS mode).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from '@playwright/test';
import { brokerConfig, startPeerServer, startStaticSite } from '../../tests/fixtures/staticSite.ts';
import { REPO_ROOT, type BenchContext, type Check, type JsonObject, type Section, type SectionResult } from '../harness.ts';
import { round, roundSummary, summarize } from '../stats.ts';
import { oneRun, type Run } from './linkToSecure.ts';
import { recordScripts } from '../../tests/fixtures/scriptRequests.ts';

/** Pairs of runs, one per mode each, after one uncounted warm-up pair. */
const PAIRS = 5;
const PEERJS_CHUNK = /^\/assets\/peerjsSignaling-[\w-]+\.js$/;
/** Spec §9: the JavaScript of the first load, gzip, for the front page and for a room link: 60 000 bytes (decimal, the issue's "60 KB"). */
const FIRST_LOAD_TARGET_BYTES = 60_000;

type ScriptFile = { readonly path: string; readonly bytes: number; readonly gzipBytes: number };

async function scriptFile(urlPath: string): Promise<ScriptFile> {
  const bytes = await readFile(path.join(REPO_ROOT, 'dist', urlPath));
  return { path: urlPath, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
}

const scriptFiles = (paths: readonly string[]): Promise<ScriptFile[]> => Promise.all([...new Set(paths)].sort().map(scriptFile));

/** Every script the page fetches from opening the site until a room is ready to share (workers included). */
async function firstLoadScripts(page: Page, url: string): Promise<ScriptFile[]> {
  const paths = recordScripts(page);
  await page.goto(url);
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.getByLabel('Room link').inputValue();
  await page.waitForFunction(() => document.querySelector('[role="status"]')?.textContent?.includes('Waiting for the other person') ?? false);
  return scriptFiles(paths);
}

/**
 * Runs in the page before its scripts: notes on the root element when the first element matching each selector
 * appeared (the page's clock), so that what the idle prefetch fetches afterwards is told apart from what was needed.
 */
function markArrivals(selectors: Readonly<Record<string, string>>): void {
  const pending = new Map(Object.entries(selectors));
  new MutationObserver((_records, observer) => {
    for (const [name, selector] of pending) {
      const found = document.querySelector(selector);
      if (found === null || (name === 'secure' && found.textContent?.startsWith('Secure') !== true)) continue;
      document.documentElement.dataset[name] = String(performance.now());
      pending.delete(name);
    }
    if (pending.size === 0) observer.disconnect();
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

/** The scripts the page had started to fetch when the mark `name` was made. */
async function scriptsBefore(page: Page, name: string): Promise<ScriptFile[]> {
  const paths = await page.evaluate((mark) => {
    const atMs = Number(document.documentElement.dataset[mark] ?? NaN);
    return performance
      .getEntriesByType('resource')
      .filter((entry) => new URL(entry.name).pathname.endsWith('.js') && entry.startTime < atMs)
      .map((entry) => new URL(entry.name).pathname);
  }, name);
  return scriptFiles(paths);
}

/** What the front page fetches until its profile form is drawn (the panel loads right after the page). */
async function frontPageScripts(page: Page, url: string): Promise<ScriptFile[]> {
  await page.addInitScript(markArrivals, { form: '#display-name' });
  await page.goto(url);
  await page.locator('#display-name').waitFor();
  return scriptsBefore(page, 'form');
}

/** What the person opening a room link fetches until their page says "Secure". */
async function roomLinkScripts(ctx: BenchContext): Promise<ScriptFile[]> {
  const alice = await ctx.newPage();
  const bob = await ctx.newPage();
  try {
    await alice.goto(ctx.appUrl);
    await alice.getByRole('button', { name: 'Create room' }).click();
    const link = await alice.getByLabel('Room link').inputValue();
    await bob.addInitScript(markArrivals, { secure: '[role="status"]' });
    await bob.goto(link);
    await bob.waitForFunction(() => document.documentElement.dataset['secure'] !== undefined, null, { timeout: 20_000 });
    return await scriptsBefore(bob, 'secure');
  } finally {
    await ctx.closePages(alice, bob);
  }
}

/** The scripts dist/index.html loads or preloads: the first load, whichever page the visitor came for. */
async function indexScripts(): Promise<ScriptFile[]> {
  const html = await readFile(path.join(REPO_ROOT, 'dist', 'index.html'), 'utf8');
  const tags = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g), ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)];
  return scriptFiles(tags.map((match) => match[1] ?? ''));
}

/** Every script of the build that is not in `firstLoad`: what loads on first use (or when the page is idle). */
async function laterScripts(firstLoad: readonly ScriptFile[]): Promise<ScriptFile[]> {
  const names = await readdir(path.join(REPO_ROOT, 'dist', 'assets'));
  return scriptFiles(names.filter((name) => name.endsWith('.js')).map((name) => `/assets/${name}`).filter((file) => !firstLoad.some((loaded) => loaded.path === file)));
}

const kib = (bytes: number): string => (bytes / 1024).toFixed(2);
const total = (files: readonly ScriptFile[], key: 'bytes' | 'gzipBytes'): number => files.reduce((sum, file) => sum + file[key], 0);

export const staticSite: Section = {
  id: 'staticSite',
  title: 'Static site with a PeerJS broker vs Parley server (same run)',
  // The first-load figures add three page loads and a connection to the pairs.
  timeoutMs: 300_000,
  async run(ctx): Promise<SectionResult> {
    const broker = await startPeerServer();
    const site = await startStaticSite({ signaling: brokerConfig(broker.port) });
    try {
      const parleyCtx: BenchContext = ctx;
      const peerjsCtx: BenchContext = { ...ctx, appUrl: site.url.replace(/\/$/, '') };
      await oneRun(parleyCtx);
      await oneRun(peerjsCtx);
      const parleyRuns: Run[] = [];
      const peerjsRuns: Run[] = [];
      for (let i = 0; i < PAIRS; i++) {
        // Alternate which goes first, so neither mode always follows the other.
        const order = i % 2 === 0 ? (['parley', 'peerjs'] as const) : (['peerjs', 'parley'] as const);
        for (const mode of order) {
          if (mode === 'parley') parleyRuns.push(await oneRun(parleyCtx));
          else peerjsRuns.push(await oneRun(peerjsCtx));
        }
        ctx.log(`pair ${i + 1}/${PAIRS}: Parley server ${parleyRuns.at(-1)?.bobMs.toFixed(0)} ms, PeerJS broker ${peerjsRuns.at(-1)?.bobMs.toFixed(0)} ms`);
      }
      const parley = roundSummary(summarize(parleyRuns.map((run) => run.bobMs)));
      const peerjs = roundSummary(summarize(peerjsRuns.map((run) => run.bobMs)));
      const ratio = round(peerjs.p50 / parley.p50, 3);

      const parleyPage = await ctx.newPage();
      const peerjsPage = await ctx.newPage();
      const parleyScripts = await firstLoadScripts(parleyPage, ctx.appUrl);
      const peerjsScripts = await firstLoadScripts(peerjsPage, site.url);
      await ctx.closePages(parleyPage, peerjsPage);
      const peerjsChunk = peerjsScripts.find((file) => PEERJS_CHUNK.test(file.path)) ?? null;
      const index = await indexScripts();
      const frontPagePage = await ctx.newPage();
      const frontPage = await frontPageScripts(frontPagePage, ctx.appUrl);
      await ctx.closePages(frontPagePage);
      const roomLink = await roomLinkScripts(ctx);
      const later = await laterScripts(index);
      const indexGzip = total(index, 'gzipBytes');
      const onlyIndex = (files: readonly ScriptFile[]): boolean => files.every((file) => index.some((loaded) => loaded.path === file.path));

      const checks: Check[] = [
        {
          name: 'Parley mode first load fetches no PeerJS code',
          target: 'no peerjsSignaling chunk',
          measured: parleyScripts.map((file) => file.path).join(', '),
          met: parleyScripts.every((file) => !PEERJS_CHUNK.test(file.path)) && peerjsChunk !== null,
        },
        {
          name: 'First-load JS, front page and room link: what index.html loads and preloads (gzip)',
          target: `≤ ${FIRST_LOAD_TARGET_BYTES} bytes`,
          measured: `${index.length} files, ${indexGzip} bytes (${kib(indexGzip)} KiB)`,
          met: indexGzip <= FIRST_LOAD_TARGET_BYTES,
        },
        {
          name: 'Room link: JS fetched until "Secure" (gzip), nothing beyond index.html',
          target: `≤ ${FIRST_LOAD_TARGET_BYTES} bytes`,
          measured: `${roomLink.length} files, ${total(roomLink, 'gzipBytes')} bytes${onlyIndex(roomLink) ? '' : ` (beyond index.html: ${roomLink.filter((file) => !onlyIndex([file])).map((file) => path.basename(file.path)).join(' ')})`}`,
          met: total(roomLink, 'gzipBytes') <= FIRST_LOAD_TARGET_BYTES && onlyIndex(roomLink),
        },
      ];
      const files = (list: readonly ScriptFile[]): JsonObject[] => list.map((file) => ({ path: file.path, bytes: file.bytes, gzipBytes: file.gzipBytes }));
      const data: JsonObject = {
        pairs: PAIRS,
        parleyServerBobMs: { median: parley.p50, min: parley.min, max: parley.max, runs: parleyRuns.map((run) => round(run.bobMs, 1)) },
        peerjsBrokerBobMs: { median: peerjs.p50, min: peerjs.min, max: peerjs.max, runs: peerjsRuns.map((run) => round(run.bobMs, 1)) },
        peerjsOverParleyMedianRatio: ratio,
        firstLoadScripts: { parley: files(parleyScripts), peerjs: files(peerjsScripts) },
        firstLoadJsGzipBytes: { parley: total(parleyScripts, 'gzipBytes'), peerjs: total(peerjsScripts, 'gzipBytes') },
        firstLoad: {
          targetGzipBytes: FIRST_LOAD_TARGET_BYTES,
          indexHtml: { files: files(index), gzipBytes: indexGzip },
          frontPageUntilProfileForm: { files: files(frontPage), gzipBytes: total(frontPage, 'gzipBytes') },
          roomLinkUntilSecure: { files: files(roomLink), gzipBytes: total(roomLink, 'gzipBytes') },
          laterChunks: files(later),
        },
        peerjsChunk: peerjsChunk === null ? null : { path: peerjsChunk.path, bytes: peerjsChunk.bytes, gzipBytes: peerjsChunk.gzipBytes },
      };
      const ms = (value: number): string => value.toFixed(0);
      return {
        data,
        checks,
        tables: [
          {
            title: `Link to Secure by signaling mode, ${PAIRS} interleaved pairs (ms from B starting to navigate)`,
            columns: ['mode', 'median', 'min', 'max', 'runs'],
            rows: [
              ['Parley server', ms(parley.p50), ms(parley.min), ms(parley.max), parleyRuns.map((run) => ms(run.bobMs)).join(' ')],
              ['PeerJS broker (static site)', ms(peerjs.p50), ms(peerjs.min), ms(peerjs.max), peerjsRuns.map((run) => ms(run.bobMs)).join(' ')],
              ['ratio PeerJS / Parley (median)', ratio.toFixed(2), '', '', ''],
            ],
          },
          {
            title: 'JavaScript fetched from opening the site to a room ready to share (KiB)',
            columns: ['mode', 'files', 'raw', 'gzip'],
            rows: [
              ['Parley server', parleyScripts.map((file) => path.basename(file.path)).join(' '), kib(total(parleyScripts, 'bytes')), kib(total(parleyScripts, 'gzipBytes'))],
              ['PeerJS broker', peerjsScripts.map((file) => path.basename(file.path)).join(' '), kib(total(peerjsScripts, 'bytes')), kib(total(peerjsScripts, 'gzipBytes'))],
              ['  of which the PeerJS chunk', peerjsChunk === null ? '-' : path.basename(peerjsChunk.path), peerjsChunk === null ? '-' : kib(peerjsChunk.bytes), peerjsChunk === null ? '-' : kib(peerjsChunk.gzipBytes)],
            ],
          },
          {
            title: `First load (spec §9; target ≤ ${FIRST_LOAD_TARGET_BYTES} bytes gzip each), KiB`,
            columns: ['what', 'files', 'raw', 'gzip'],
            rows: [
              ['index.html loads and preloads', index.map((file) => path.basename(file.path)).join(' '), kib(total(index, 'bytes')), kib(indexGzip)],
              ['front page, until its profile form is drawn', frontPage.map((file) => path.basename(file.path)).join(' '), kib(total(frontPage, 'bytes')), kib(total(frontPage, 'gzipBytes'))],
              ['room link, until "Secure"', roomLink.map((file) => path.basename(file.path)).join(' '), kib(total(roomLink, 'bytes')), kib(total(roomLink, 'gzipBytes'))],
            ],
          },
          {
            title: 'Chunks loaded on first use or when the page is idle, KiB',
            columns: ['chunk', 'raw', 'gzip'],
            rows: later.map((file) => [path.basename(file.path), kib(file.bytes), kib(file.gzipBytes)]),
          },
        ],
        notes: [
          'Both modes use one browser, one machine and the same built dist/: Parley mode from the real signaling server, PeerJS mode from a plain static server with a real PeerServer (the `peer` package) on loopback.',
          'PeerJS mode claims a slot (one broker WebSocket per slot tried) and meets the others by hello/welcome through the broker before any signal; gzip sizes are of the served files at level 9.',
        ],
      };
    } finally {
      await site.close();
      await broker.close();
    }
  },
};
