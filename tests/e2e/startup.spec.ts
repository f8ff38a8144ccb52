/**
 * The way from a room link to "Secure" (spec §9): the page connects its signaling socket while it starts, before the
 * room view is drawn, and the room joins on that same socket; a socket the server closed before the room took it
 * (a person unlocking a profile first) is replaced, and the room still joins. The settings controls, a lazy part
 * since then, say so in words when their code does not arrive.
 */
import type { Page } from '@playwright/test';
import { parseConfig } from '../../signaling/config.ts';
import { startServer } from '../../signaling/server.ts';
import { createRoom, expect, expectSecure, test } from './fixtures.ts';
import { createProfile, unlock } from './profiles.ts';

/** Runs in the page before its scripts: notes, in order, each signaling socket made and each new status text. */
const NOTE_ORDER = `(() => {
  const order = [];
  window.parleyOrder = order;
  const Native = window.WebSocket;
  window.WebSocket = new Proxy(Native, {
    construct(target, args) {
      order.push('socket');
      return Reflect.construct(target, args);
    },
  });
  let last = '';
  new MutationObserver(() => {
    const text = document.querySelector('[role="status"]')?.textContent ?? '';
    if (text === last) return;
    last = text;
    order.push('status: ' + text);
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();`;

function order(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { parleyOrder: string[] }).parleyOrder);
}

test('a room link connects its socket before the room view is drawn, and joins on it: one socket for the page', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  const link = await createRoom(alice, parley.url);
  const bob = await newPerson();
  await bob.addInitScript({ content: NOTE_ORDER });
  await bob.goto(link);
  await expectSecure(alice, bob);
  const seen = await order(bob);
  expect(seen.filter((event) => event === 'socket')).toHaveLength(1);
  const firstStatus = seen.findIndex((event) => event.startsWith('status: '));
  expect(firstStatus).toBeGreaterThan(seen.indexOf('socket'));
  expect(seen.indexOf('socket')).toBeGreaterThanOrEqual(0);
});

test('a socket the server closed while the person unlocked their profile is replaced, and the room joins', async ({ newPerson }) => {
  test.slow();
  // The server gives a socket one second to join a room; unlocking takes longer than that here.
  const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG: 'silent', JOIN_TIMEOUT_MS: '1000' });
  if (!parsed.ok) throw new Error(parsed.message);
  const server = await startServer(parsed.config);
  try {
    const alice = await newPerson();
    const link = await createRoom(alice, server.url);
    const profilePage = await newPerson();
    await createProfile(profilePage, server.url, 'Bob');
    // Bob comes back to the link in a new tab, where his profile is locked.
    const bob = await profilePage.context().newPage();
    await profilePage.close();
    const closed: string[] = [];
    bob.on('websocket', (socket) => socket.on('close', () => closed.push(socket.url())));
    await bob.goto(link);
    await expect(bob.getByRole('heading', { name: 'Unlock to keep this conversation' })).toBeVisible();
    // The socket opened ahead for this link is closed by the server before anyone unlocks.
    await expect.poll(() => closed.length, { timeout: 10_000 }).toBe(1);
    await unlock(bob);
    await expectSecure(alice, bob);
  } finally {
    await server.close();
  }
});

test('the settings controls load after the first screen; when their code does not arrive the page says so and still works', async ({ newPerson, parley }) => {
  const page = await newPerson();
  // The network drops just for that one file.
  await page.route(/\/assets\/settingsControls-[\w-]+\.js$/, (route) => route.abort());
  await page.goto(parley.url);
  await expect(page.getByRole('alert').filter({ hasText: 'This part of Parley did not load' })).toBeVisible();
  await expect(page.getByLabel('Theme')).toHaveCount(0);
  await page.unroute(/\/assets\/settingsControls-[\w-]+\.js$/);
  // A room still opens and works, and there (on first use after start-up) the controls load.
  await page.getByRole('button', { name: 'Create room' }).click();
  await expect(page.getByLabel('Theme')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Turn on notifications' })).toBeVisible();
});
