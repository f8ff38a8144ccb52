/**
 * Which Chromium processes matter for one page's memory, and how much each holds. The page's renderer process is
 * found through a short trace: the browser's TracingStartedInBrowser event maps each traced frame to its renderer
 * PID (the same record DevTools' Performance panel uses), which is exact even with several renderers alive, unlike
 * guessing from a process listing. The browser process (Blob data) and the storage service (IndexedDB; kept in
 * memory for these incognito contexts) are shared by every page and are read for context only. Resident memory
 * comes from /proc/<pid>/status (VmRSS), so it is null where there is no /proc.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from '@playwright/test';

export interface ProcessIds {
  readonly renderer: number;
  readonly browser: number;
  /** The storage service utility process (IndexedDB), or null if this Chromium runs it elsewhere. */
  readonly storage: number | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function field(value: unknown, ...path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** The renderer PID of `frameId` and the browser PID, from a trace's TracingStartedInBrowser event. */
function pidsFromTrace(trace: unknown, frameId: string): { renderer: number; browser: number } | null {
  const events = Array.isArray(trace) ? trace : field(trace, 'traceEvents');
  if (!Array.isArray(events)) return null;
  for (const event of events) {
    if (field(event, 'name') !== 'TracingStartedInBrowser') continue;
    const browser = field(event, 'pid');
    const frames = field(event, 'args', 'data', 'frames');
    if (typeof browser !== 'number' || !Array.isArray(frames)) continue;
    for (const frame of frames) {
      const processId = field(frame, 'processId');
      if (field(frame, 'frame') === frameId && typeof processId === 'number') return { renderer: processId, browser };
    }
  }
  return null;
}

export async function processIdsOf(browser: Browser, page: Page): Promise<ProcessIds> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const tree = await cdp.send('Page.getFrameTree');
    const frameId = tree.frameTree.frame.id;
    await browser.startTracing(page, { categories: ['disabled-by-default-devtools.timeline'] });
    const trace: unknown = JSON.parse((await browser.stopTracing()).toString('utf8'));
    const pids = pidsFromTrace(trace, frameId);
    if (pids === null) throw new Error(`the trace names no renderer process for frame ${frameId}`);
    const browserCdp = await browser.newBrowserCDPSession();
    try {
      const info: unknown = await browserCdp.send('SystemInfo.getProcessInfo');
      const processes = field(info, 'processInfo');
      const storage = Array.isArray(processes) ? processes.find((entry) => field(entry, 'type') === 'storage.mojom.StorageService') : undefined;
      const storagePid = field(storage, 'id');
      return { ...pids, storage: typeof storagePid === 'number' ? storagePid : null };
    } finally {
      await browserCdp.detach();
    }
  } finally {
    await cdp.detach();
  }
}

/** Resident set size in bytes, or null when /proc is missing or the process is gone. */
export function residentBytes(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}
