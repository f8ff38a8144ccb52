/** Finds a Chromium for the browser tests and benchmarks: CHROMIUM_PATH, Debian's, or Playwright's own. */
import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';

export function findChromium(): string | null {
  const candidates = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  try {
    candidates.push(chromium.executablePath());
  } catch {
    // No Playwright-managed browser installed; that is fine if another one exists.
  }
  return candidates.find((path): path is string => path !== undefined && path !== '' && existsSync(path)) ?? null;
}

/** Flags that keep Chromium quiet on a machine without internet and give WebRTC plain IP candidates. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];
