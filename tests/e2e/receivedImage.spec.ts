/**
 * A received image in Chromium, without the app's UI (tests/e2e/pages/receivedImage): its check (sniff, decode,
 * render) starts as soon as the receiving store has made the file, while the content digest is still compared, and
 * the verdict is handed out only with a file whose digest matched. A sender whose digest does not match gets nothing
 * shown: the file is never handed out, the check that had started has its render let go, and the transfer fails
 * with a hash mismatch on both sides (what the app shows the person as a failed file).
 */
import { test, expect } from '@playwright/test';
import type { RunningServer } from '../../signaling/server.ts';
import { serveTestPage } from './pages/testPage.ts';
import { makePng } from '../fixtures/images.ts';

// Three chunks of 255 KiB and a bit: the decode has real work while the digest is compared.
const PNG_BASE64 = makePng(400, 500).toString('base64');

let server: RunningServer;

test.beforeAll(async () => {
  server = await serveTestPage('receivedImage');
});

test.afterAll(async () => {
  await server.close();
});

test('a received image is checked once, from when its store made it, and shown only after its digest matched', async ({ page }) => {
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.receivedImageTest !== undefined);
  const result = await page.evaluate((png) => window.receivedImageTest?.run(png, false), PNG_BASE64);
  expect(result).toEqual({
    receiverState: 'done',
    senderState: 'done',
    viewsWithFile: 1,
    // One check: the one started early is the one handed out, and its render is still there to be shown.
    checksStarted: 1,
    checks: [{ verdict: 'image', renderWidthAfter: 400 }],
    taken: { verdict: 'image', widthPx: 400 },
  });
});

test('a last chunk whose content digest does not match shows nothing, though the image check had started: the render is let go, both sides told', async ({ page }) => {
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.receivedImageTest !== undefined);
  const result = await page.evaluate((png) => window.receivedImageTest?.run(png, true), PNG_BASE64);
  expect(result).toEqual({
    receiverState: 'failed: hash-mismatch',
    senderState: 'failed: hash-mismatch',
    viewsWithFile: 0,
    checksStarted: 1,
    // It decoded (the bytes are a fine PNG; only the digest lies), and the render was closed: nothing to draw.
    checks: [{ verdict: 'image', renderWidthAfter: 0 }],
    taken: null,
  });
});
