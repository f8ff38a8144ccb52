/**
 * Shared plumbing for bench sections: the section contract, the real server on loopback, fresh browser pages,
 * and timeouts. Functions passed to page.evaluate must not declare named inner functions: tsx wraps those in a
 * `__name` helper that does not exist inside the page.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { parseConfig } from '../signaling/config.ts';
import { startServer, type RunningServer } from '../signaling/server.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
export type JsonObject = { readonly [key: string]: Json };

export type Table = {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
};

/** A target from the brief, judged against a figure of the same run. */
export type Check = {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
};

export type SectionResult = {
  /** Every figure, for the JSON file. */
  readonly data: JsonObject;
  /** What stdout shows. */
  readonly tables: readonly Table[];
  readonly checks: readonly Check[];
  readonly notes: readonly string[];
};

export interface BenchContext {
  readonly browser: Browser;
  /** The real app (dist/) served by the real signaling server. */
  readonly appUrl: string;
  /** The bench page (dist-bench/) served by a second instance of the same server. */
  readonly benchUrl: string;
  /** A page in a fresh browser context: its own storage and WebRTC identity, like a different person. */
  newPage(): Promise<Page>;
  /** Closes the contexts of the given pages now, instead of when the section ends. */
  closePages(...pages: readonly Page[]): Promise<void>;
  log(line: string): void;
}

export interface Section {
  readonly id: string;
  readonly title: string;
  /** A section that takes longer has hung; the run reports it as failed and goes on. */
  readonly timeoutMs: number;
  /** False for a section that drives no browser page; a run of only such sections builds no page and starts no browser. */
  readonly usesBrowser?: boolean;
  run(ctx: BenchContext): Promise<SectionResult>;
}

/**
 * Rooms of up to 8, as docs/PROTOCOL.md §12.1 makes the default; the server's own fallback still says 2 on this
 * branch, so the bench says 8 itself.
 */
const MAX_ROOM_MEMBERS = '8';

/** Starts the real signaling server on a free loopback port, serving `staticDir`. */
export async function startSite(staticDir: string): Promise<RunningServer> {
  // BENCH_SERVER_LOG=info prints the servers' log lines (opens, closes with their reasons), to see what a section did.
  const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG: process.env['BENCH_SERVER_LOG'] ?? 'silent', STATIC_DIR: staticDir, MAX_ROOM_MEMBERS });
  if (!parsed.ok) throw new Error(parsed.message);
  if (!existsSync(path.join(parsed.config.staticDir, 'index.html'))) throw new Error(`${staticDir} holds no index.html: it is not built.`);
  return startServer(parsed.config);
}

/** Browser contexts opened for one section, so all of them are closed when it ends, even when it fails. */
export class PageScope {
  private readonly contexts = new Map<Page, BrowserContext>();

  constructor(private readonly browser: Browser) {}

  async newPage(): Promise<Page> {
    const context = await this.browser.newContext();
    const page = await context.newPage();
    this.contexts.set(page, context);
    return page;
  }

  async close(...pages: readonly Page[]): Promise<void> {
    const chosen = pages.length === 0 ? [...this.contexts.keys()] : pages;
    await Promise.all(
      chosen.map(async (page) => {
        const context = this.contexts.get(page);
        this.contexts.delete(page);
        await context?.close().catch(() => {});
      }),
    );
  }
}

export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  // Work abandoned at the timeout may still fail later; that must not crash the run as an unhandled rejection.
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
