/**
 * The outbox with profiles (spec §12.8): what is written to a known contact who is away waits sealed in the
 * vault, survives the sender's reload, and leaves when the contact is back — from a room joined in the background
 * when the sender is looking at something else — arriving once each and in order.
 */
import type { Page } from '@playwright/test';
import { expect, expectSecure, messages, roomEvents, sendMessage, test, DELIVERED } from './fixtures.ts';
import { profilesInRoom, toLanding, unlock } from './profiles.ts';

/** The texts of the conversation's messages, top to bottom. */
function shownTexts(page: Page): Promise<string[]> {
  return page.getByRole('list', { name: 'Conversation' }).locator('li.message .text').allTextContents();
}

test('a contact who closes the tab and opens the link again gets what was written meanwhile, once each and in order', async ({ browser, newPerson, parley }) => {
  const { alice, bob, bobContext, link } = await profilesInRoom(browser, newPerson, parley.url);
  await sendMessage(alice, 'before you go');
  await expect(messages(bob).filter({ hasText: 'before you go' })).toBeVisible();

  await bob.close();
  await expect(roomEvents(alice).filter({ hasText: 'Bob left' })).toBeVisible();
  const written = [1, 2, 3].map((i) => `while you were away ${i}`);
  for (const text of written) await sendMessage(alice, text);
  for (const text of written) {
    const line = messages(alice).filter({ hasText: text });
    await expect(line).toBeVisible();
    await expect(line).not.toContainText(DELIVERED);
  }

  // Bob opens the link again in the same browser, where his profile is kept.
  const again = await bobContext.newPage();
  await again.goto(link);
  await unlock(again);
  await expectSecure(again);
  for (const text of written) await expect(messages(again).filter({ hasText: text })).toHaveCount(1);
  // Once each, in the order written, after what he had already (from his history).
  expect(await shownTexts(again)).toEqual(['before you go', ...written]);
  for (const text of written) await expect(messages(alice).filter({ hasText: text })).toContainText(DELIVERED);
});

test('the outbox survives the sender reloading, and leaves from the background while the sender is elsewhere in the app', async ({ browser, newPerson, parley }) => {
  test.slow();
  const { alice, bob, bobContext, link } = await profilesInRoom(browser, newPerson, parley.url);
  await bob.close();
  await expect(roomEvents(alice).filter({ hasText: 'Bob left' })).toBeVisible();

  const written = ['kept for Bob 1', 'kept for Bob 2'];
  for (const text of written) await sendMessage(alice, text);
  for (const text of written) await expect(messages(alice).filter({ hasText: text })).toBeVisible();

  // A reload locks the profile; unlocking shows the room again, with what still waits.
  await alice.reload();
  await unlock(alice);
  for (const text of written) {
    const line = messages(alice).filter({ hasText: text });
    await expect(line).toHaveCount(1);
    await expect(line).not.toContainText(DELIVERED);
  }
  // Alice moves on to the conversations list; the room stays joined behind it, for what waits.
  await toLanding(alice);
  const listed = alice.getByRole('list', { name: 'Conversations' }).getByRole('listitem');
  await expect(listed).toContainText('waiting for Bob: 2 messages');

  const again = await bobContext.newPage();
  await again.goto(link);
  await unlock(again);
  // Not waiting to see "Secure": Alice's background room leaves as soon as what waited is delivered, so on a quick
  // machine that state can come and go between two looks. The messages arriving are the proof.
  for (const text of written) await expect(messages(again).filter({ hasText: text })).toHaveCount(1);
  expect(await shownTexts(again)).toEqual(written);
  // Delivered: nothing waits any more, and Alice's background room has left (Bob sees her go).
  await expect(listed).not.toContainText('waiting for');
  await expect(roomEvents(again).filter({ hasText: 'Alice left' })).toBeVisible();
});
