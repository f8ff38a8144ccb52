/** Two people, two browser contexts, the real server and the built site: the conversation itself. */
import { createRoom, expect, expectSecure, messages, securePair, sendMessage, statusOf, tapped, test, DELIVERED } from './fixtures.ts';

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
  await expect(messages(alice).last()).toContainText(DELIVERED);
  await sendMessage(bob, 'Hi Alice');
  await expect(messages(alice).last()).toContainText('Hi Alice');
  await expect(messages(alice)).toHaveCount(2);
  await expect(messages(bob)).toHaveCount(2);
});

test('a newcomer whose channel loses what arrives before its first word still reaches Secure: the member answers, never speaks first', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  const link = await createRoom(alice, parley.url);
  // Bob dials (he joined last); his first frame leaves 400 ms late and anything arriving before it is lost.
  const bob = await tapped(newPerson, { lateSpeaker: true });
  await bob.goto(link);
  await expectSecure(alice, bob);
  await sendMessage(alice, 'heard you');
  await expect(messages(bob).last()).toContainText('heard you');
});

test('a message that looks like HTML is shown as text and never rendered', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  const hostile = '<img src=x onerror="window.__pwned = 1"><b>bold</b><script>window.__pwned = 2</script>';
  await sendMessage(alice, hostile);
  const received = messages(bob).last();
  await expect(received.locator('.text')).toHaveText(hostile);
  await expect(received.locator('img, b, script')).toHaveCount(0);
  expect(await bob.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
});

test('a 60 KiB message arrives whole; one over 64 KiB is refused before sending', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  const big = 'parley-'.repeat(Math.ceil((60 * 1024) / 7)).slice(0, 60 * 1024);
  await sendMessage(alice, big);
  await expect(messages(bob)).toHaveCount(1);
  expect(await messages(bob).last().locator('.text').textContent()).toBe(big);
  const tooBig = 'x'.repeat(64 * 1024 + 1);
  await sendMessage(alice, tooBig);
  await expect(alice.getByRole('alert')).toContainText('up to 64 KiB');
  // The refused text stays in the composer so nothing is lost, and the peer sees nothing new.
  await expect(alice.getByRole('textbox', { name: 'Message', exact: true })).toHaveValue(tooBig);
  await sendMessage(alice, 'after');
  await expect(messages(bob)).toHaveCount(2);
  await expect(messages(bob).last()).toContainText('after');
});

test('Enter sends and Shift+Enter starts a new line', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  const composer = alice.getByRole('textbox', { name: 'Message', exact: true });
  await composer.click();
  await alice.keyboard.type('first line');
  await alice.keyboard.press('Shift+Enter');
  await alice.keyboard.type('second line');
  await expect(messages(bob)).toHaveCount(0);
  await alice.keyboard.press('Enter');
  await expect(messages(bob)).toHaveCount(1);
  expect(await messages(bob).last().locator('.text').textContent()).toBe('first line\nsecond line');
  await expect(composer).toHaveValue('');
});

test('the other side sees a peer leave, and both are secure again when they return', async ({ newPerson, parley }) => {
  const { alice, bob, link } = await securePair(newPerson, parley.url);
  await sendMessage(alice, 'before you left');
  await expect(messages(bob)).toHaveCount(1);
  await bob.close();
  await expect(statusOf(alice)).toContainText('The other person left');
  await expect(alice.getByRole('button', { name: 'Send' })).toBeDisabled();
  const bobAgain = await newPerson();
  await bobAgain.goto(link);
  await expectSecure(alice, bobAgain);
  await sendMessage(bobAgain, 'I am back');
  await expect(messages(alice).last()).toContainText('I am back');
  // Alice's earlier conversation is still on her screen.
  await expect(messages(alice).first()).toContainText('before you left');
});

test('a malformed link is explained and offers a new room', async ({ newPerson, parley }) => {
  const page = await newPerson();
  for (const fragment of ['#tooShort', '#' + 'A'.repeat(42) + '!', '#' + 'A'.repeat(44)]) {
    await page.goto(`${parley.url}/${fragment}`);
    await expect(page.getByRole('alert')).toContainText('This room link does not work');
    await expect(page.getByRole('status')).toHaveCount(0);
  }
  await page.getByRole('button', { name: 'Create room' }).click();
  await expect(page.getByLabel('Room link')).toHaveValue(/#[A-Za-z0-9_-]{43}$/);
});
