/**
 * A phone's screen, 360 × 640 CSS pixels: in a room with long messages, a word longer than the screen, a file with a
 * long name and an image, nothing makes the page scroll sideways, every message stays inside the screen's width, and
 * the message box and Send button are on the screen, at the newest message and scrolled back to the top. Sizes are measured, not pixels.
 */
import type { Page } from '@playwright/test';
import { attach, expect, expectSecure, fileItem, messages, sendMessage, test } from './fixtures.ts';
import { makePng } from '../fixtures/images.ts';

const PHONE = { width: 360, height: 640 };

const LONG_MESSAGE = 'We could meet at the station first, then walk along the river to the old market, have lunch there and take the late train back. '.repeat(4);
const LONG_WORD = `https://example.org/${'unbroken'.repeat(30)}`;
const LONG_FILE_NAME = `minutes-of-the-meeting-about-the-${'very-'.repeat(12)}long-agenda.txt`;

async function expectFitsThePhone(page: Page, when: string): Promise<void> {
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  expect(widths.scroll, `${when}: the page scrolls sideways`).toBeLessThanOrEqual(widths.client);
  for (const box of await messages(page).evaluateAll((items) => items.map((item) => item.getBoundingClientRect().toJSON() as DOMRect))) {
    expect(box.left, `${when}: a message starts left of the screen`).toBeGreaterThanOrEqual(0);
    expect(box.right, `${when}: a message ends right of the screen`).toBeLessThanOrEqual(PHONE.width);
  }
  await expectComposerOnScreen(page, `${when}, at the newest message`);
  // Scrolled back up to the room link and the members, the person can still write.
  await page.evaluate(() => window.scrollTo(0, 0));
  await expectComposerOnScreen(page, `${when}, scrolled to the top`);
}

async function expectComposerOnScreen(page: Page, when: string): Promise<void> {
  for (const control of [page.getByRole('textbox', { name: 'Message', exact: true }), page.getByRole('button', { name: 'Send' })]) {
    const box = await control.boundingBox();
    expect(box, `${when}: ${String(control)} is not shown`).not.toBeNull();
    if (box === null) continue;
    expect(box.x, `${when}: ${String(control)} left of the screen`).toBeGreaterThanOrEqual(0);
    expect(box.y, `${when}: ${String(control)} above the screen`).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width, `${when}: ${String(control)} right of the screen`).toBeLessThanOrEqual(PHONE.width);
    expect(box.y + box.height, `${when}: ${String(control)} below the screen`).toBeLessThanOrEqual(PHONE.height);
  }
}

test('at 360×640 nothing overflows sideways and the message box and Send button stay on the screen', async ({ newPerson, parley }) => {
  test.setTimeout(90_000);
  const phone = await newPerson();
  await phone.setViewportSize(PHONE);
  await phone.goto(parley.url);
  await phone.getByRole('button', { name: 'Create room' }).click();
  const link = await phone.getByLabel('Room link').inputValue();
  await expectFitsThePhone(phone, 'waiting for someone');

  const friend = await newPerson();
  await friend.goto(link);
  await expectSecure(phone, friend);
  await sendMessage(friend, LONG_MESSAGE);
  await sendMessage(friend, LONG_WORD);
  await sendMessage(phone, LONG_MESSAGE);
  await attach(friend, LONG_FILE_NAME, 'text/plain', Buffer.from('Agenda.\n'));
  await attach(friend, 'wide-photo.png', 'image/png', makePng(1280, 400));
  await expect(fileItem(phone, LONG_FILE_NAME).getByRole('link', { name: 'Save' })).toBeVisible();
  await expect(phone.getByRole('img', { name: 'wide-photo.png' })).toBeVisible();
  await expect(messages(phone)).toHaveCount(5);
  await expectFitsThePhone(phone, 'with long messages, a long word, a file and an image');

  // Answering one of them adds the reply line above the box; the box and Send still fit.
  await messages(phone).nth(1).getByRole('button', { name: /^Reply/ }).click();
  await expectFitsThePhone(phone, 'while replying');
});
