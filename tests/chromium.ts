/**
 * Finds a Chromium for the browser tests and benchmarks (CHROMIUM_PATH, Debian's, or Playwright's own), has
 * Playwright's installer fetch one when there is none and that can work, and otherwise says exactly what to install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';

/** Where Debian and Ubuntu put their Chromium. */
const SYSTEM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** Platforms for which Playwright's installer has Chromium builds. */
const INSTALLER_PLATFORMS: readonly NodeJS.Platform[] = ['linux', 'darwin', 'win32'];

export const INSTALL_COMMAND = ['npx', 'playwright', 'install', 'chromium'] as const;

export const INSTALL_INSTRUCTION =
  'Install Chromium: `sudo apt-get install chromium` (Debian/Ubuntu) or run `npx playwright install chromium`, or set CHROMIUM_PATH to a Chromium binary.';

/** What the decision looks at, passed in so that it is decided the same way in a unit test as on a real machine. */
export interface ChromiumSearch {
  /** CHROMIUM_PATH, if set. */
  readonly configuredPath: string | undefined;
  readonly exists: (path: string) => boolean;
  /** Where Playwright keeps its own Chromium (whether or not it is installed); null if this Playwright names none here. */
  readonly playwrightPath: string | null;
  readonly platform: NodeJS.Platform;
  /** Whether Playwright's installer may be run now, or was run already and left no Chromium behind. */
  readonly installer: 'allowed' | 'refused' | 'failed';
}

export type ChromiumDecision =
  | { readonly kind: 'found'; readonly path: string }
  | { readonly kind: 'install'; readonly command: readonly string[] }
  | { readonly kind: 'missing'; readonly message: string };

export function decideChromium(search: ChromiumSearch): ChromiumDecision {
  const configured = search.configuredPath ?? '';
  if (configured !== '') {
    // The person named one: use exactly that, never a download instead.
    return search.exists(configured)
      ? { kind: 'found', path: configured }
      : { kind: 'missing', message: `CHROMIUM_PATH is set to ${configured}, but there is no file there. Point it at a Chromium binary, or unset it.` };
  }
  const found = [...SYSTEM_PATHS, ...(search.playwrightPath === null ? [] : [search.playwrightPath])].find((path) => search.exists(path));
  if (found !== undefined) return { kind: 'found', path: found };
  if (search.installer === 'allowed' && search.playwrightPath !== null && INSTALLER_PLATFORMS.includes(search.platform)) {
    return { kind: 'install', command: INSTALL_COMMAND };
  }
  const why = search.installer === 'failed' ? 'Playwright’s installer did not install Chromium (see its output above).' : 'No Chromium found for the browser tests.';
  return { kind: 'missing', message: `${why} ${INSTALL_INSTRUCTION}` };
}

/** This machine, as the decision sees it. */
function thisMachine(installer: ChromiumSearch['installer']): ChromiumSearch {
  let playwrightPath: string | null = null;
  try {
    playwrightPath = chromium.executablePath();
  } catch {
    // This Playwright has no Chromium build for this platform.
  }
  return { configuredPath: process.env['CHROMIUM_PATH'], exists: existsSync, playwrightPath, platform: process.platform, installer };
}

/** A Chromium already on this machine, or null; never installs anything. */
export function findChromium(): string | null {
  const decision = decideChromium(thisMachine('refused'));
  return decision.kind === 'found' ? decision.path : null;
}

/**
 * A Chromium for `npm test`: the one on this machine, else one from Playwright's installer (once; not with
 * PARLEY_NO_BROWSER_DOWNLOAD=1). When there is none, says what to install and ends the process, before any test starts.
 */
export function ensureChromium(): string {
  let decision = decideChromium(thisMachine(process.env['PARLEY_NO_BROWSER_DOWNLOAD'] === '1' ? 'refused' : 'allowed'));
  if (decision.kind === 'install') {
    console.log(`No Chromium on this machine: fetching Playwright's (${decision.command.join(' ')})…`);
    const [program = 'npx', ...args] = decision.command;
    spawnSync(program, args, { stdio: 'inherit', shell: process.platform === 'win32' });
    // Whatever the installer said, what counts is whether a Chromium is there now.
    decision = decideChromium(thisMachine('failed'));
  }
  switch (decision.kind) {
    case 'found':
      return decision.path;
    case 'install':
      // Once the installer has run, the decision is 'found' or 'missing', never 'install' again.
      throw new Error('the Chromium installer was asked for twice');
    case 'missing':
      console.error(decision.message);
      return process.exit(1);
  }
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
