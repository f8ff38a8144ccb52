import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, findChromium } from './tests/chromium.ts';

const executablePath = findChromium();

export default defineConfig({
  testDir: 'tests/e2e',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  // Two pages with WebRTC per test on a two-core machine: one worker keeps timings sane.
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { ...(executablePath === null ? {} : { executablePath }), args: CHROMIUM_ARGS },
    trace: 'retain-on-failure',
  },
});
