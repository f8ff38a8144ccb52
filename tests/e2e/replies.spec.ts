/**
 * Replies and delete-for-everyone (spec §12.5), in real browsers over the real server and WebRTC: a reply quotes
 * the line it answers and its quote scrolls there (also from the kept history after a reload); the author deletes
 * a message and everyone's screen and history show "This message was deleted"; a member whose app is modified to
 * delete someone else's message deletes nothing but its own.
 */
import type { Page } from '@playwright/test';
import { expect, expectSecure, messages, sendMessage, test, threeGuests } from './fixtures.ts';
import { createProfile, createRoomHere, unlock } from './profiles.ts';
import { dumpIndexedDb } from './indexedDbDump.ts';

function line(page: Page, text: string | RegExp) {
  return messages(page).filter({ has: page.locator('p.text', { hasText: text }) });
}

/** Lines that say "This message was deleted" in place of a message (not quotes of one). */
function deletedLines(page: Page) {
  return messages(page).filter({ has: page.locator('p.text', { hasText: 'This message was deleted' }) });
}

async function reply(page: Page, to: string, text: string): Promise<void> {
  await line(page, to).getByRole('button', { name: /^Reply/ }).click();
  await expect(page.getByText(`Replying to`).first()).toBeVisible();
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

async function deleteForEveryone(page: Page, text: string): Promise<void> {
  const own = line(page, text);
  await own.getByRole('button', { name: 'Delete for everyone' }).click();
  await expect(own.getByText('someone using a modified app could keep a copy')).toBeVisible();
  await own.getByRole('button', { name: 'Delete for everyone' }).click();
}

test('a reply quotes the line it answers, and the quote scrolls to it; the author deletes a message for everyone', async ({ newPerson, parley }) => {
  const [alice, bob, carol] = await threeGuests(newPerson, parley.url);
  await sendMessage(alice, 'lunch at noon?');
  await expect(line(bob, 'lunch at noon?')).toBeVisible();
  await reply(bob, 'lunch at noon?', 'yes, at the usual place');
  for (const page of [alice, bob, carol]) {
    const answer = line(page, 'yes, at the usual place');
    await expect(answer.getByRole('button', { name: /Replying to .*lunch at noon\?/ })).toBeVisible();
  }
  // Clicking the quote brings the answered message into view and focus.
  await line(carol, 'yes, at the usual place').getByRole('button', { name: /Replying to/ }).click();
  await expect(line(carol, 'lunch at noon?')).toBeFocused();

  await deleteForEveryone(alice, 'lunch at noon?');
  for (const page of [alice, bob, carol]) {
    await expect(deletedLines(page)).toHaveCount(1);
    await expect(page.getByText('lunch at noon?')).toHaveCount(0);
    await expect(line(page, 'yes, at the usual place').getByRole('button', { name: /Replying to .*this message was deleted/ })).toBeVisible();
  }
  // Only the author is offered to delete: Bob's reply has no delete button on Alice's screen.
  await expect(line(alice, 'yes, at the usual place').getByRole('button', { name: 'Delete for everyone' })).toHaveCount(0);
});

test('a member whose app is modified to delete someone else’s message deletes only its own', async ({ newPerson, parley }) => {
  const [mallory, bob, carol] = await threeGuests(newPerson, parley.url);
  // Mallory's app keeps every plaintext it opens, so it learns the wire id of Bob's message …
  await mallory.evaluate(() => {
    const opened: Uint8Array[] = [];
    const decrypt = crypto.subtle.decrypt.bind(crypto.subtle);
    crypto.subtle.decrypt = async (...args: Parameters<SubtleCrypto['decrypt']>) => {
      const plain = await decrypt(...args);
      opened.push(new Uint8Array(plain.slice(0)));
      return plain;
    };
    const random = crypto.getRandomValues.bind(crypto);
    const state: { forced: Uint8Array | null } = { forced: null };
    // … and gives its own next message that very id, so its deletion names Bob's message.
    crypto.getRandomValues = ((array: Uint8Array<ArrayBuffer>) => {
      if (state.forced !== null && array.length === 16) {
        array.set(state.forced);
        state.forced = null;
        return array;
      }
      return random(array);
    }) as typeof crypto.getRandomValues;
    Object.assign(window, {
      __copyIdOf: (text: string) => {
        const needle = new TextEncoder().encode(text);
        const found = opened.find((plain) => plain.length > needle.length && needle.every((byte, i) => plain[plain.length - needle.length + i] === byte));
        if (found === undefined) throw new Error('Bob’s message was not seen');
        state.forced = found.slice(0, 16);
      },
    });
  });
  await sendMessage(bob, 'Bob says this stays');
  await expect(line(mallory, 'Bob says this stays')).toBeVisible();
  await expect(line(carol, 'Bob says this stays')).toBeVisible();
  await mallory.evaluate(() => (window as unknown as { __copyIdOf(text: string): void }).__copyIdOf('Bob says this stays'));
  await sendMessage(mallory, 'Mallory’s line with Bob’s id');
  await expect(line(carol, 'Mallory’s line with Bob’s id')).toBeVisible();
  await deleteForEveryone(mallory, 'Mallory’s line with Bob’s id');
  // Carol's app erases Mallory's line, which carried the id, and keeps Bob's, which had it first.
  await expect(deletedLines(carol)).toHaveCount(1);
  await expect(line(carol, 'Mallory’s line with Bob’s id')).toHaveCount(0);
  await expect(line(carol, 'Bob says this stays')).toBeVisible();
  await expect(line(bob, 'Bob says this stays')).toBeVisible();
});

test('with a profile, replies and deletions are in the history: after a reload the quote still scrolls, and the deleted words are gone', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  const bob = await newPerson();
  await createProfile(alice, parley.url, 'Alice');
  const link = await createRoomHere(alice);
  await bob.goto(link);
  await expectSecure(alice, bob);
  await sendMessage(bob, 'the first question');
  await sendMessage(bob, 'a word I regret');
  await expect(line(alice, 'a word I regret')).toBeVisible();
  await reply(alice, 'the first question', 'the answer to it');
  await expect(line(bob, 'the answer to it')).toBeVisible();
  await deleteForEveryone(bob, 'a word I regret');
  await expect(deletedLines(alice)).toHaveCount(1);
  await expect(line(alice, 'a word I regret')).toHaveCount(0);

  await alice.reload();
  await unlock(alice);
  await expect(line(alice, 'the answer to it')).toBeVisible();
  await expect(deletedLines(alice)).toHaveCount(1);
  await expect(alice.getByText('a word I regret')).toHaveCount(0);
  await line(alice, 'the answer to it').getByRole('button', { name: /Replying to .*the first question/ }).click();
  await expect(line(alice, 'the first question')).toBeFocused();
  // The history holds three sealed messages: the question, the deleted one (its place), and the answer.
  const dump = await dumpIndexedDb(alice);
  expect(dump.counts['parley-vault']?.['messages']).toBe(3);
});
