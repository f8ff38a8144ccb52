/** Two people, two browser contexts, the real server and the built site: the conversation itself. */
import { createRoom, expect, expectSecure, messages, securePair, sendMessage, statusOf, test } from './fixtures.ts';

test('creating a room shows its link, copies it, and waits for the other person', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  const link = await createRoom(alice, parley.url);
  expect(new URL(link).hash).toHaveLength(44);
  await expect(statusOf(alice)).toContainText('Waiting for the other person');
  await alice.getByRole('button', { name: 'Copy link' }).click();
  await expect(alice.getByText('Link copied.')).toBeVisible();
  expect(await alice.evaluate(() => navigator.clipboard.readText())).toBe(link);
  // The secret lives only in the fragment: the address the browser requested carries none of it.
  await expect(alice.getByRole('button', { name: 'Send' })).toBeDisabled();
});

test('two people reach Secure and talk both ways', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  await sendMessage(alice, 'Hello Bob 👋 — ça va? مرحبا');
  await expect(messages(bob).last()).toContainText('Hello Bob 👋 — ça va? مرحبا');
  await expect(messages(alice).last()).toContainText('Delivered');
  await sendMessage(bob, 'Hi Alice');
  await expect(messages(alice).last()).toContainText('Hi Alice');
  await expect(messages(alice)).toHaveCount(2);
  await expect(messages(bob)).toHaveCount(2);
});
