/** Which Chromium `npm test` uses, or whether it runs Playwright's installer, or what it tells the person to install. */
import { describe, expect, it } from 'vitest';
import { decideChromium, INSTALL_COMMAND, INSTALL_INSTRUCTION, type ChromiumSearch } from '../chromium.ts';

const PLAYWRIGHT_PATH = '/home/dev/.cache/ms-playwright/chromium-1234/chrome-linux/chrome';

function machine(files: readonly string[], overrides: Partial<ChromiumSearch> = {}): ChromiumSearch {
  return {
    configuredPath: undefined,
    exists: (path) => files.includes(path),
    playwrightPath: PLAYWRIGHT_PATH,
    platform: 'linux',
    installer: 'allowed',
    ...overrides,
  };
}

describe('decideChromium', () => {
  it('uses CHROMIUM_PATH when it names a file, before anything else', () => {
    expect(decideChromium(machine(['/opt/chromium/chrome', '/usr/bin/chromium'], { configuredPath: '/opt/chromium/chrome' }))).toEqual({
      kind: 'found',
      path: '/opt/chromium/chrome',
    });
  });

  it('says so, and installs nothing, when CHROMIUM_PATH names no file', () => {
    const decision = decideChromium(machine(['/usr/bin/chromium'], { configuredPath: '/opt/missing/chrome' }));
    expect(decision).toEqual({ kind: 'missing', message: expect.stringContaining('CHROMIUM_PATH is set to /opt/missing/chrome, but there is no file there') });
  });

  it('takes an empty CHROMIUM_PATH as unset', () => {
    expect(decideChromium(machine(['/usr/bin/chromium'], { configuredPath: '' }))).toEqual({ kind: 'found', path: '/usr/bin/chromium' });
  });

  it("prefers Debian's chromium, then chromium-browser, then Playwright's own", () => {
    expect(decideChromium(machine(['/usr/bin/chromium', '/usr/bin/chromium-browser', PLAYWRIGHT_PATH]))).toEqual({ kind: 'found', path: '/usr/bin/chromium' });
    expect(decideChromium(machine(['/usr/bin/chromium-browser', PLAYWRIGHT_PATH]))).toEqual({ kind: 'found', path: '/usr/bin/chromium-browser' });
    expect(decideChromium(machine([PLAYWRIGHT_PATH]))).toEqual({ kind: 'found', path: PLAYWRIGHT_PATH });
  });

  it("runs Playwright's installer when there is no Chromium at all, on a platform it has builds for", () => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) {
      expect(decideChromium(machine([], { platform }))).toEqual({ kind: 'install', command: INSTALL_COMMAND });
    }
    expect(INSTALL_COMMAND).toEqual(['npx', 'playwright', 'install', 'chromium']);
  });

  it('says exactly what to install when the installer cannot help', () => {
    const instruction = 'Install Chromium: `sudo apt-get install chromium` (Debian/Ubuntu) or run `npx playwright install chromium`';
    expect(INSTALL_INSTRUCTION).toContain(instruction);
    // Refused (PARLEY_NO_BROWSER_DOWNLOAD=1), a platform without builds, or a Playwright that names no browser here.
    for (const search of [machine([], { installer: 'refused' }), machine([], { platform: 'freebsd' }), machine([], { playwrightPath: null })]) {
      expect(decideChromium(search)).toEqual({ kind: 'missing', message: `No Chromium found for the browser tests. ${INSTALL_INSTRUCTION}` });
    }
  });

  it('after the installer ran and left no Chromium, says that and what to install, and never asks for the installer again', () => {
    const decision = decideChromium(machine([], { installer: 'failed' }));
    expect(decision).toEqual({ kind: 'missing', message: expect.stringMatching(/^Playwright’s installer did not install Chromium .*Install Chromium: `sudo apt-get install chromium`/) });
  });

  it("after the installer ran and left Playwright's Chromium, uses it", () => {
    expect(decideChromium(machine([PLAYWRIGHT_PATH], { installer: 'failed' }))).toEqual({ kind: 'found', path: PLAYWRIGHT_PATH });
  });
});
