/**
 * The typing indicator in real browsers (spec §12.5): off by default (nothing shows), on, the people a draft is for
 * see "… is typing…" until it is sent; a private draft is never shown to anyone else.
 */
import type { Page } from '@playwright/test';
import { expect, members, messages, test, threeGuests } from './fixtures.ts';

const composer = (page: Page) => page.getByRole('textbox', { name: 'Message', exact: true });
const typingLine = (page: Page) => page.locator('.composer .typing');
const shareTyping = (page: Page) => page.getByLabel(/Show when I am typing/);

/** From now on, everything the page's typing line ever says is recorded, so a flash that came and went counts too. */
async function watchTyping(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    const target = document.querySelector('.composer .typing');
    if (target === null) throw new Error('no typing line');
    new MutationObserver(() => seen.push(target.textContent ?? '')).observe(target, { childList: true, characterData: true, subtree: true });
    Object.assign(window, { __typingSeen: seen });
  });
}

function typingSeen(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __typingSeen: string[] }).__typingSeen.filter((text) => text !== ''));
}

/** Alice writes to everyone once more, so whatever her private draft sent Bob has surely arrived before we look. */
async function sendAfter(bob: Page, alice: Page): Promise<void> {
  await alice.getByRole('button', { name: 'Message everyone instead' }).click();
  await shareTyping(alice).uncheck();
  await composer(alice).fill('to everyone again');
  await alice.getByRole('button', { name: 'Send' }).click();
  await expect(messages(bob).filter({ hasText: 'to everyone again' })).toBeVisible();
}

test('typing shows only when shared, only to whom the draft is for, and stops when the message is sent', async ({ newPerson, parley }) => {
  const [alice, bob, carol] = await threeGuests(newPerson, parley.url);
  // Off by default: Alice types, nobody is told.
  await expect(shareTyping(alice)).not.toBeChecked();
  for (const page of [bob, carol]) await shareTyping(page).check();
  await watchTyping(bob);
  await composer(alice).pressSequentially('not shared');
  await alice.getByRole('button', { name: 'Send' }).click();
  await expect(messages(bob).filter({ hasText: 'not shared' })).toBeVisible();
  expect(await typingSeen(bob)).toEqual([]);
  await shareTyping(alice).check();
  await composer(alice).pressSequentially('hello');
  for (const page of [bob, carol]) await expect(typingLine(page)).toHaveText(/is typing…/);
  await alice.getByRole('button', { name: 'Send' }).click();
  for (const page of [bob, carol]) {
    await expect(messages(page).filter({ hasText: 'hello' })).toBeVisible();
    await expect(typingLine(page)).toHaveText('');
  }

  // A private draft to Carol: Carol sees it, Bob never does.
  await watchTyping(bob);
  await members(alice).filter({ hasText: 'Guest 2' }).getByRole('button', { name: /privately/ }).click();
  await composer(alice).pressSequentially('just for you');
  await expect(typingLine(carol)).toHaveText(/is typing…/);
  await alice.getByRole('button', { name: 'Send' }).click();
  await expect(messages(carol).filter({ hasText: 'just for you' })).toBeVisible();
  await expect(typingLine(carol)).toHaveText('');
  await sendAfter(bob, alice);
  expect(await typingSeen(bob)).toEqual([]);
});
