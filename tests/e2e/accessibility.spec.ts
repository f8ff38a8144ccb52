/**
 * Accessibility: axe-core (every rule it runs by default, colour contrast included) finds no violation on any screen,
 * in the light and in the dark theme: front page, profile creation, the unlock gate, a room waiting (link and QR
 * code), a room with messages, a reply, a deleted message, an image and a file, the Members and Contacts panels,
 * the settings, the image viewer, a file on its way, and the error pages (axe.ts). The "Reload to update" notice
 * is checked in offline.spec.ts and a member held for a decision in group.spec.ts, where those screens come about.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { expectAccessible } from './axe.ts';
import { attach, attachGenerated, createRoom, expect, expectSecure, fileItem, holdInboundAfter, messages, sendMessage, tapped, test } from './fixtures.ts';
import { profilesInRoom, toLanding } from './profiles.ts';
import { makePng } from '../fixtures/images.ts';

function line(page: Page, text: string) {
  return messages(page).filter({ has: page.locator('p.text', { hasText: text }) });
}

test('the front page, profile creation and the error pages have no accessibility violations', async ({ newPerson, parley }) => {
  const page = await newPerson();
  await page.goto(parley.url);
  await expect(page.getByRole('button', { name: 'Create room' })).toBeVisible();
  await expectAccessible(page, 'front page');

  // Profile creation with a problem showing: a weak passphrase and confirmation that differs.
  await page.getByLabel('Display name').fill('Alice');
  await page.getByLabel('Passphrase', { exact: true }).fill('short');
  await page.getByLabel('Confirm passphrase', { exact: true }).fill('other');
  await expectAccessible(page, 'profile creation');

  await page.goto(`${parley.url}#not-a-room`);
  await expect(page.getByRole('heading', { name: 'This room link does not work' })).toBeVisible();
  await expectAccessible(page, 'malformed room link');
});

test('the error notices (broken configuration, offline) have no accessibility violations', async ({ browser, parley }) => {
  // Without a service worker, so that the page's own request for config.json is the one answered here.
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await page.route('**/config.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"signaling": 5}' }));
    await page.goto(parley.url);
    await expect(page.getByRole('heading', { name: 'Parley is not configured correctly' })).toBeVisible();
    await expectAccessible(page, 'not configured notice');
  } finally {
    await context.close();
  }
  // Offline: the service worker keeps the shell, which then says it is offline.
  const offline = await browser.newContext();
  try {
    const page = await offline.newPage();
    await page.goto(parley.url);
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await offline.setOffline(true);
    await page.reload();
    await expect(page.getByRole('heading', { name: 'You are offline' })).toBeVisible();
    await expectAccessible(page, 'offline notice');
  } finally {
    await offline.close();
  }
});

test('a room, waiting and then with messages, files, a reply and a deletion, its settings and the image viewer have no accessibility violations', async ({ newPerson, parley }) => {
  test.setTimeout(240_000);
  const alice = await newPerson();
  await alice.context().grantPermissions(['notifications']);
  const link = await createRoom(alice, parley.url);
  await alice.getByRole('button', { name: 'Show QR code' }).click();
  await expect(alice.getByRole('img', { name: /QR code/ })).toBeVisible();
  await expectAccessible(alice, 'room waiting, link and QR code shown');

  const bob = await tapped(newPerson);
  await bob.goto(link);
  await expectSecure(alice, bob);
  await sendMessage(alice, 'Here are the photos from Saturday, and the plan.');
  await expect(line(bob, 'photos from Saturday')).toBeVisible();
  await line(bob, 'photos from Saturday').getByRole('button', { name: /^Reply/ }).click();
  await bob.getByRole('textbox', { name: 'Message', exact: true }).fill('Thank you!');
  await bob.getByRole('button', { name: 'Send' }).click();
  await sendMessage(alice, 'A message I take back');
  await expect(line(bob, 'A message I take back')).toBeVisible();
  await line(alice, 'A message I take back').getByRole('button', { name: 'Delete for everyone' }).click();
  await line(alice, 'A message I take back').getByRole('button', { name: 'Delete for everyone' }).click();
  await attach(alice, 'saturday.png', 'image/png', makePng(48, 32));
  await attach(alice, 'plan.txt', 'text/plain', Buffer.from('Meet at ten.\n'));
  for (const page of [alice, bob]) {
    await expect(line(page, 'Thank you!').getByRole('button', { name: /Replying to/ })).toBeVisible();
    await expect(messages(page).filter({ hasText: 'This message was deleted' })).toHaveCount(1);
    await expect(page.getByRole('img', { name: 'saturday.png' })).toBeVisible();
    await expect(fileItem(page, 'plan.txt').locator('[data-transfer-state]')).toHaveAttribute('data-transfer-state', 'done');
  }
  await expect(fileItem(bob, 'plan.txt').getByRole('link', { name: 'Save' })).toBeVisible();
  // Bob starts a reply and opens the delivery details, so the composer's reply line is checked too.
  await line(bob, 'photos from Saturday').getByRole('button', { name: /^Reply/ }).click();
  await expectAccessible(bob, 'room with messages and files (receiver, replying)');

  // Alice turns notifications and typing on, writes privately to Bob, is asked to confirm a deletion, and sees Bob typing.
  await alice.getByRole('button', { name: 'Turn on notifications' }).click();
  await expect(alice.getByLabel(/Show names and message text/)).toBeVisible();
  await alice.getByRole('button', { name: /Message .* privately/ }).click();
  await line(alice, 'photos from Saturday').getByRole('button', { name: 'Delete for everyone' }).click();
  for (const page of [alice, bob]) await page.getByLabel(/Show when I am typing/).check();
  await bob.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('Wait');
  await expect(alice.getByText(/is typing…/)).toBeVisible();
  await expectAccessible(alice, 'room with messages and files (sender), Members panel, settings, typing and a deletion asked');

  await bob.getByRole('button', { name: 'View saturday.png larger' }).click();
  await expect(bob.getByRole('dialog', { name: 'saturday.png' })).toBeVisible();
  await expectAccessible(bob, 'image viewer');
  await bob.keyboard.press('Escape');
  await expect(bob.getByRole('dialog', { name: 'saturday.png' })).toHaveCount(0);

  // A file on its way (progress, speed and Cancel; the same file line a receiver sees, with "Sending" for
  // "Receiving"): the receiver holds what arrives after its first 2 MiB, so the transfer is still running while the
  // sender's screen is checked, and its Cancel button is still there after the check.
  await holdInboundAfter(bob, 2 * 1024 * 1024);
  await attachGenerated(alice, 'archive.bin', 48 * 1024 * 1024);
  await expect(fileItem(bob, 'archive.bin').getByRole('button', { name: 'Cancel' })).toBeVisible();
  await expectAccessible(alice, 'a file leaving');
  await expect(fileItem(alice, 'archive.bin').getByRole('button', { name: 'Cancel' })).toBeVisible();
});

test('with profiles: the Members panel with safety numbers, the contacts panel and the unlock gate have no accessibility violations', async ({
  browser,
  newPerson,
  parley,
}) => {
  test.setTimeout(240_000);
  let bobContext: BrowserContext | undefined;
  try {
    const pair = await profilesInRoom(browser, newPerson, parley.url);
    bobContext = pair.bobContext;
    const { alice, link } = pair;
    await sendMessage(alice, 'Hello Bob');
    await alice.getByText('Compare safety numbers').click();
    await expectAccessible(alice, 'room with profiles, Members panel with safety number');

    await toLanding(alice);
    const contacts = alice.getByRole('list', { name: 'Contacts' });
    await expect(contacts).toBeVisible();
    await contacts.getByText('Safety number').click();
    await alice.getByText('Passphrase and deletion').click();
    await expectAccessible(alice, 'front page with an unlocked profile, conversations and contacts');

    await alice.goto(link);
    await alice.reload();
    await expect(alice.getByRole('heading', { name: 'Unlock to keep this conversation' })).toBeVisible();
    await expectAccessible(alice, 'unlock gate');

    await alice.goto(parley.url);
    await expect(alice.getByRole('heading', { name: 'Your profile is locked' })).toBeVisible();
    await expectAccessible(alice, 'front page with a locked profile');
  } finally {
    await bobContext?.close();
  }
});
