/**
 * Attacks and broken environments at the app's edges: a hostile signaling relay, another site borrowing its visitors'
 * browsers, and a page without WebCrypto.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from '@playwright/test';
import { startHostileRelay, type RelayMode } from '../fixtures/hostileRelay.ts';
import { CHROMIUM_ARGS, findChromium } from '../chromium.ts';
import { createRoom, expect, statusOf, test } from './fixtures.ts';

const TAMPER_WORDS = 'did not open with this link’s key';

const attacks: readonly { mode: RelayMode; name: string }[] = [
  { mode: 'flip', name: 'changes one character of each sealed signal' },
  { mode: 'foreign', name: 'replaces sealed signals with blobs sealed under another room’s key' },
  { mode: 'replay', name: 'delivers every sealed signal twice' },
];

for (const { mode, name } of attacks) {
  test(`a relay that ${name} never yields a connection, and the user is told`, async ({ newPerson, parley }) => {
    const relay = await startHostileRelay(parley.url, mode);
    try {
      const alice = await newPerson();
      const bob = await newPerson();
      const link = await createRoom(alice, relay.url);
      await bob.goto(link);
      // Whoever received the altered signal refuses it and says why.
      await expect(async () => {
        const texts = await Promise.all([statusOf(alice).innerText(), statusOf(bob).innerText()]);
        expect(texts.some((text) => text.includes(TAMPER_WORDS))).toBe(true);
      }).toPass({ timeout: 15_000 });
      expect(relay.alteredCount()).toBeGreaterThan(0);
      // Give a connection every chance to appear anyway; it must not.
      await alice.waitForTimeout(2_000);
      for (const page of [alice, bob]) {
        await expect(statusOf(page)).not.toContainText('Secure');
        await expect(page.getByRole('button', { name: 'Send' })).toBeDisabled();
      }
    } finally {
      await relay.close();
    }
  });
}

test('a server frame that is not valid signaling is refused with a visible error', async ({ newPerson, parley }) => {
  const relay = await startHostileRelay(parley.url, 'garbage');
  try {
    const alice = await newPerson();
    await createRoom(alice, relay.url);
    await expect(statusOf(alice)).toContainText('does not understand');
    expect(relay.alteredCount()).toBe(1);
    await expect(alice.getByRole('button', { name: 'Try again' })).toBeVisible();
  } finally {
    await relay.close();
  }
});

test('a page of another site cannot open the signaling WebSocket, so it cannot make its visitors hold connections', async ({ newPerson, parley }) => {
  // Another origin (another port) with a page of its own, which no CSP of ours restricts.
  const elsewhere = http.createServer((_req, res) => res.end('<!doctype html><title>Another site</title>'));
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  try {
    const page = await newPerson();
    await page.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
    const signalingUrl = `${parley.url.replace(/^http/, 'ws')}/ws`;
    const outcome = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(url);
          socket.onopen = () => {
            socket.close();
            resolve('opened');
          };
          socket.onclose = (event) => resolve(`closed ${event.code}`);
        }),
      signalingUrl,
    );
    // Refused before the upgrade (403), which a page sees as an abnormal close.
    expect(outcome).toBe('closed 1006');
    // The site's own pages still connect.
    await createRoom(page, parley.url);
    await expect(statusOf(page)).toContainText('Waiting');
  } finally {
    elsewhere.closeAllConnections();
    await new Promise<void>((resolve) => elsewhere.close(() => resolve()));
  }
});

test('a page without a secure context explains what to do instead of failing obscurely', async ({ parley }) => {
  // Any host name other than localhost is not a secure context over plain HTTP; map one to our loopback server.
  const executablePath = findChromium();
  const browser = await chromium.launch({
    ...(executablePath === null ? {} : { executablePath }),
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP parley.test 127.0.0.1'],
  });
  try {
    const page = await browser.newPage();
    const port = new URL(parley.url).port;
    await page.goto(`http://parley.test:${port}/`);
    expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
    await expect(page.getByRole('alert')).toContainText('needs a secure connection');
    await expect(page.getByRole('button', { name: 'Create room' })).toHaveCount(0);
  } finally {
    await browser.close();
  }
});
