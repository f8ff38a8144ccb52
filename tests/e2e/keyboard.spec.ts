/**
 * Keyboard alone: a person who cannot use a mouse creates a room, sends a message, attaches a file through the file
 * chooser, opens the image viewer and closes it with Escape (focus back on the image that opened it), and replies
 * to a message, with Tab, Shift+Tab, Enter, Space and Escape only: no click and no programmatic focus once the page
 * is open. Every control reached shows a visible focus ring.
 */
import type { Locator, Page } from '@playwright/test';
import { expect, expectSecure, messages, sendMessage, test } from './fixtures.ts';
import { makePng } from '../fixtures/images.ts';

/** Presses Tab (or Shift+Tab) until `target` has the focus, as a person looking at the screen would; fails after `limit` presses. */
async function tabTo(page: Page, target: Locator, { backwards = false, limit = 40 } = {}): Promise<void> {
  for (let presses = 0; presses < limit; presses++) {
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    if (await target.evaluate((element) => element === document.activeElement).catch(() => false)) {
      await expectFocusRing(page);
      return;
    }
  }
  throw new Error(`${String(target)} was not reached with ${limit} presses of ${backwards ? 'Shift+Tab' : 'Tab'}`);
}

/** The focused element shows a ring a person can see: an outline at least 2 px wide, in a colour that is not transparent. */
async function expectFocusRing(page: Page): Promise<void> {
  const ring = await page.evaluate(() => {
    const element = document.activeElement;
    if (element === null || element === document.body) return 'nothing focused';
    const style = getComputedStyle(element);
    const width = Number.parseFloat(style.outlineWidth);
    return style.outlineStyle !== 'none' && width >= 2 && style.outlineColor !== 'rgba(0, 0, 0, 0)' ? 'visible' : `${element.outerHTML.slice(0, 80)}: outline ${style.outline}`;
  });
  expect(ring).toBe('visible');
}

function line(page: Page, text: string) {
  return messages(page).filter({ has: page.locator('p.text', { hasText: text }) });
}

test('with the keyboard alone: create a room, send a message, attach a file, open and close the image viewer, reply', async ({ newPerson, parley }) => {
  test.setTimeout(120_000);
  const alice = await newPerson();
  await alice.goto(parley.url);

  // Create a room.
  await tabTo(alice, alice.getByRole('button', { name: 'Create room' }));
  await alice.keyboard.press('Enter');
  const link = await alice.getByLabel('Room link').inputValue();
  expect(link).toMatch(/#[A-Za-z0-9_-]{43}$/);

  const bob = await newPerson();
  await bob.goto(link);
  await expectSecure(alice, bob);

  // Send a message.
  const composer = alice.getByRole('textbox', { name: 'Message', exact: true });
  await tabTo(alice, composer);
  await alice.keyboard.type('Hello from the keyboard');
  await alice.keyboard.press('Enter');
  await expect(line(bob, 'Hello from the keyboard')).toBeVisible();

  // Attach a file: the chooser opens from the keyboard, and the file chosen there is sent.
  await tabTo(alice, alice.getByRole('button', { name: 'Attach' }));
  const [chooser] = await Promise.all([alice.waitForEvent('filechooser'), alice.keyboard.press('Enter')]);
  await chooser.setFiles({ name: 'keys.png', mimeType: 'image/png', buffer: makePng(40, 30) });
  await expect(bob.getByRole('img', { name: 'keys.png' })).toBeVisible();

  // Open the image viewer and close it with Escape: the focus returns to the preview that opened it.
  const preview = alice.getByRole('button', { name: 'View keys.png larger' });
  await expect(preview).toBeVisible();
  await tabTo(alice, preview, { backwards: true });
  await alice.keyboard.press('Enter');
  const viewer = alice.getByRole('dialog', { name: 'keys.png' });
  await expect(viewer.getByRole('img', { name: 'keys.png' })).toBeVisible();
  // The focus is inside the dialog and stays there, however far the person tabs.
  await expect(viewer.getByRole('button', { name: 'Close' })).toBeFocused();
  for (let presses = 0; presses < 4; presses++) {
    await alice.keyboard.press(presses % 2 === 0 ? 'Tab' : 'Shift+Tab');
    expect(await viewer.evaluate((dialog) => dialog.contains(document.activeElement))).toBe(true);
    await expectFocusRing(alice);
  }
  await alice.keyboard.press('Escape');
  await expect(viewer).toBeHidden();
  await expect(preview).toBeFocused();
  // Space opens it too; Close (Enter on it) also gives the focus back.
  await alice.keyboard.press('Space');
  await expect(viewer).toBeVisible();
  await expect(viewer.getByRole('button', { name: 'Close' })).toBeFocused();
  await alice.keyboard.press('Enter');
  await expect(viewer).toBeHidden();
  await expect(preview).toBeFocused();

  // Reply to Bob's message: Reply moves the focus to the message box, Enter sends the answer.
  await sendMessage(bob, 'Are you there?');
  await expect(line(alice, 'Are you there?')).toBeVisible();
  await tabTo(alice, line(alice, 'Are you there?').getByRole('button', { name: /^Reply/ }));
  await alice.keyboard.press('Enter');
  await expect(composer).toBeFocused();
  await expect(alice.getByText('Replying to')).toBeVisible();
  await alice.keyboard.type('Yes, here');
  await alice.keyboard.press('Enter');
  await expect(line(bob, 'Yes, here').getByRole('button', { name: /Replying to .*Are you there\?/ })).toBeVisible();
});
