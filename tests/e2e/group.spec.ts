/**
 * Rooms for a group, in real browsers over the real server and real WebRTC: everyone meets everyone, private
 * messages reach only their addressee, a member whose network vanishes gets everything exactly once when back,
 * the server can restart under a conversation, the ninth is refused, read receipts can be turned off, and a
 * member who shows different text to different people is flagged.
 */
import type { Page } from '@playwright/test';
import { deriveRoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { parseRoomFragment } from '../../src/core/crypto/roomSecret.ts';
import { parseConfig } from '../../signaling/config.ts';
import { startServer } from '../../signaling/server.ts';
import { TestClient, wsUrl } from '../fixtures/signalingClient.ts';
import { createRoom, cutNetwork, DELIVERED, expect, expectSecure, members, messageFrames, messages, roomEvents, sendMessage, socketsOpened, statusOf, tapped, test } from './fixtures.ts';
import { expectAccessible } from './axe.ts';
import { createProfile } from './profiles.ts';

/** `count` guests in one room, each joining once the previous one is in; all end connected to all. */
async function guestRoom(newPerson: () => Promise<Page>, baseUrl: string, count: number): Promise<{ pages: Page[]; link: string }> {
  const first = await tapped(newPerson);
  const link = await createRoom(first, baseUrl);
  const pages = [first];
  for (let i = 1; i < count; i++) {
    const page = await tapped(newPerson);
    await page.goto(link);
    pages.push(page);
    await expect(statusOf(page)).toContainText('Secure');
  }
  for (const page of pages) {
    await expect(members(page).filter({ hasText: 'Connected' })).toHaveCount(count - 1);
  }
  return { pages, link };
}

test('four people with profiles: each accepts the newcomers once, then sees the other three with matching safety numbers', async ({ newPerson, parley }) => {
  test.slow();
  const names = ['Ada', 'Ben', 'Cy', 'Di'];
  const pages: Page[] = [];
  for (const name of names) {
    const page = await newPerson();
    await createProfile(page, parley.url, name);
    pages.push(page);
  }
  const [ada] = pages as [Page];
  await ada.getByRole('button', { name: 'Create room' }).click();
  const link = await ada.getByLabel('Room link').inputValue();
  for (const [index, page] of pages.entries()) {
    if (index === 0) continue;
    // Only the fragment changes: the page stays, and so does its unlocked profile.
    await page.goto(link);
    // From the third on, everyone already here remembers people in this room, so each of them is asked about the
    // newcomer once. The newcomer remembered nobody here, so it takes those already in the room as they are.
    if (index >= 2) {
      for (const earlier of pages.slice(0, index)) {
        const held = members(earlier).filter({ hasText: names[index] ?? '' });
        await expect(held).toContainText('is new in this room');
        if (index === 2 && earlier === ada) await expectAccessible(ada, 'a member held for a decision');
        await held.getByRole('button', { name: /^Accept/ }).click();
      }
    }
    await expect(statusOf(page)).toContainText('Secure');
  }
  for (const [index, page] of pages.entries()) {
    await expect(members(page).filter({ hasText: 'Connected' })).toHaveCount(3);
    for (const [other, name] of names.entries()) {
      if (other === index) continue;
      await expect(members(page).filter({ hasText: name })).toHaveCount(1);
    }
  }
  // The number Ada sees for Ben is the one Ben sees for Ada, for every pair.
  for (const [i, page] of pages.entries()) {
    for (const [j, other] of pages.entries()) {
      if (j <= i) continue;
      const seenByI = members(page).filter({ hasText: names[j] ?? '' });
      const seenByJ = members(other).filter({ hasText: names[i] ?? '' });
      await seenByI.getByText('Compare safety numbers').click();
      await seenByJ.getByText('Compare safety numbers').click();
      const number = await seenByI.getByLabel('Safety number').innerText();
      expect(number).toMatch(/^(\d{5} ){11}\d{5}$/);
      expect(await seenByJ.getByLabel('Safety number').innerText()).toBe(number);
    }
  }
  await sendMessage(ada, 'hello all');
  for (const page of pages.slice(1)) await expect(messages(page).filter({ hasText: 'hello all' })).toBeVisible();
  await expect(messages(ada).filter({ hasText: 'hello all' })).toContainText(/(Delivered to|Read by) 3 of 3/);
});

test('a private message reaches only its addressee: the third member receives no message frame at all', async ({ newPerson, parley }) => {
  const { pages } = await guestRoom(newPerson, parley.url, 3);
  const [alice, bob, carol] = pages as [Page, Page, Page];
  await sendMessage(alice, 'to everyone first');
  await expect(messages(carol).filter({ hasText: 'to everyone first' })).toBeVisible();
  await expect(messages(bob).filter({ hasText: 'to everyone first' })).toBeVisible();
  const carolFramesBefore = await messageFrames(carol);

  // Alice picks Bob in the Members panel; Bob is "Guest 1" to her (the first guest she met).
  await members(alice).filter({ hasText: 'Guest 1' }).getByRole('button', { name: /privately/ }).click();
  await expect(alice.getByText('Privately to Guest 1')).toBeVisible();
  await sendMessage(alice, 'just for you, Bob');
  const atBob = messages(bob).filter({ hasText: 'just for you, Bob' });
  await expect(atBob).toBeVisible();
  await expect(atBob).toContainText('privately from');
  await expect(messages(alice).filter({ hasText: 'just for you, Bob' })).toContainText('privately to Guest 1');
  // Let anything that might still be in flight arrive, then look at Carol's wire and screen.
  await sendMessage(bob, 'a public line after it');
  await expect(messages(carol).filter({ hasText: 'a public line after it' })).toBeVisible();
  expect(await messageFrames(carol)).toBe(carolFramesBefore + 1);
  await expect(messages(carol).filter({ hasText: 'just for you' })).toHaveCount(0);
});

test('a member whose network vanishes for 20 s gets everything written meanwhile, once each and in order, and the senders see it delivered', async ({ newPerson, parley }) => {
  test.slow();
  const { pages } = await guestRoom(newPerson, parley.url, 3);
  const [alice, bob, carol] = pages as [Page, Page, Page];
  await cutNetwork(carol, true);
  const written: { page: Page; text: string }[] = [];
  for (let i = 1; i <= 4; i++) {
    for (const [name, page] of [['alice', alice], ['bob', bob]] as const) {
      const text = `${name} while Carol is away ${i}`;
      await sendMessage(page, text);
      written.push({ page, text });
    }
  }
  await expect(messages(bob).filter({ hasText: 'alice while Carol is away 4' })).toBeVisible();
  await alice.waitForTimeout(20_000);
  await cutNetwork(carol, false);
  for (const { text } of written) await expect(messages(carol).filter({ hasText: text })).toHaveCount(1, { timeout: 60_000 });
  // Per sender, in the order written.
  const shown = await carol.getByRole('list', { name: 'Conversation' }).locator('li.message .text').allTextContents();
  for (const name of ['alice', 'bob']) {
    expect(shown.filter((text) => text.startsWith(name))).toEqual([1, 2, 3, 4].map((i) => `${name} while Carol is away ${i}`));
  }
  for (const { page, text } of written) await expect(messages(page).filter({ hasText: text })).toContainText(/(Delivered to|Read by) 2 of 2/);
});

test('a member whose network, signaling socket included, goes silent for 20 s finds its socket dead, opens another and is back with everyone; nobody sees it leave', async ({ newPerson, parley }) => {
  test.slow();
  const { pages } = await guestRoom(newPerson, parley.url, 3);
  const [alice, bob, carol] = pages as [Page, Page, Page];
  expect(await socketsOpened(carol)).toBe(1);
  await cutNetwork(carol, true, { signaling: true });
  await sendMessage(alice, 'written while Carol is away');
  await alice.waitForTimeout(20_000);
  await cutNetwork(carol, false);
  // Her old socket never errs (the server goes on answering it): only her probe can tell it carries nothing.
  for (const page of pages) await expect(members(page).filter({ hasText: 'Connected' })).toHaveCount(2, { timeout: 30_000 });
  expect(await socketsOpened(carol)).toBeGreaterThanOrEqual(2);
  await expect(messages(carol).filter({ hasText: 'written while Carol is away' })).toHaveCount(1);
  await sendMessage(carol, 'back');
  for (const page of [alice, bob]) await expect(messages(page).filter({ hasText: 'back' })).toBeVisible();
  for (const page of pages) await expect(roomEvents(page).filter({ hasText: 'left' })).toHaveCount(0);
});

test('the signaling server restarts mid-conversation: the conversation goes on, and new joins work once it is back', async ({ newPerson }) => {
  test.slow();
  const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG: 'silent' });
  if (!parsed.ok) throw new Error(parsed.message);
  let server = await startServer(parsed.config);
  const port = server.port;
  try {
    const alice = await newPerson();
    const bob = await newPerson();
    const link = await createRoom(alice, server.url);
    await bob.goto(link);
    await expectSecure(alice, bob);
    await server.close();
    await sendMessage(alice, 'the server is gone, we are not');
    await expect(messages(bob).filter({ hasText: 'the server is gone, we are not' })).toBeVisible();
    const restarted = parseConfig({ PORT: String(port), HOST: '127.0.0.1', LOG: 'silent' });
    if (!restarted.ok) throw new Error(restarted.message);
    server = await startServer(restarted.config);
    await sendMessage(bob, 'and back');
    await expect(messages(alice).filter({ hasText: 'and back' })).toBeVisible();
    const carol = await newPerson();
    await carol.goto(link);
    await expect(members(carol).filter({ hasText: 'Connected' })).toHaveCount(2, { timeout: 45_000 });
    await sendMessage(carol, 'I got in after the restart');
    await expect(messages(alice).filter({ hasText: 'I got in after the restart' })).toBeVisible();
    await expect(messages(bob).filter({ hasText: 'I got in after the restart' })).toBeVisible();
    // Alice and Bob were never apart: no leave line between them.
    await expect(roomEvents(alice).filter({ hasText: 'left' })).toHaveCount(0);
  } finally {
    await server.close();
  }
});

test('the ninth person is told politely that the room is full; those inside are undisturbed', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  const link = await createRoom(alice, parley.url);
  const secret = parseRoomFragment(new URL(link).hash);
  if (secret.kind !== 'room') throw new Error('the link has no room');
  const { roomId } = await deriveRoomKeys(secret.secret);
  // Seven more members hold their places on the server (signaling clients: only the count matters to the ninth).
  const holders = await Promise.all(Array.from({ length: 7 }, () => TestClient.connect(wsUrl(parley.url))));
  try {
    for (const holder of holders) await holder.join(roomId);
    const ninth = await newPerson();
    await ninth.goto(link);
    await expect(statusOf(ninth)).toContainText('This room is full');
    await expect(ninth.getByRole('button', { name: 'Send' })).toBeDisabled();
    await expect(ninth.getByRole('button', { name: 'Create a new room' })).toBeVisible();
    await expect(statusOf(alice)).not.toContainText('full');
  } finally {
    for (const holder of holders) holder.socket.close();
  }
});

test('read receipts off: the other side sees Delivered, never Read, and this side sees no Read either', async ({ newPerson, parley }) => {
  const { pages } = await guestRoom(newPerson, parley.url, 2);
  const [alice, bob] = pages as [Page, Page];
  await sendMessage(alice, 'will you read this?');
  await expect(messages(alice).filter({ hasText: 'will you read this?' })).toContainText('Read');
  await bob.getByLabel(/Send read receipts/).uncheck();
  await sendMessage(alice, 'and this one?');
  const line = messages(alice).filter({ hasText: 'and this one?' });
  await expect(line).toContainText(DELIVERED);
  await alice.waitForTimeout(1_500);
  await expect(line).toContainText('Delivered');
  await expect(line).not.toContainText('Read');
  // Bob, with receipts off, does not see Alice's reads of his messages.
  await sendMessage(bob, 'my own line');
  await expect(messages(alice).filter({ hasText: 'my own line' })).toBeVisible();
  await bob.waitForTimeout(1_500);
  await expect(messages(bob).filter({ hasText: 'my own line' })).toContainText('Delivered');
  await expect(messages(bob).filter({ hasText: 'my own line' })).not.toContainText('Read');
});

test('a member whose app sends different text to two people is flagged on both of their screens, naming that member', async ({ newPerson, parley }) => {
  const { pages } = await guestRoom(newPerson, parley.url, 3);
  const [mallory, bob, carol] = pages as [Page, Page, Page];
  // Mallory's app is modified: each time it encodes this text for a recipient, it alternates the wording.
  await mallory.evaluate(() => {
    const encode = TextEncoder.prototype.encode;
    let calls = 0;
    TextEncoder.prototype.encode = function (this: TextEncoder, input?: string) {
      if (input === 'the meeting is at noon') return encode.call(this, calls++ % 2 === 0 ? input : 'the meeting is at nine');
      return encode.call(this, input);
    };
  });
  await sendMessage(mallory, 'the meeting is at noon');
  await expect(messages(bob).filter({ hasText: /the meeting is at (noon|nine)/ })).toBeVisible();
  await expect(messages(carol).filter({ hasText: /the meeting is at (noon|nine)/ })).toBeVisible();
  const bobSaw = await messages(bob).filter({ hasText: /the meeting is at/ }).locator('.text').innerText();
  const carolSaw = await messages(carol).filter({ hasText: /the meeting is at/ }).locator('.text').innerText();
  expect(bobSaw).not.toBe(carolSaw);
  for (const page of [bob, carol]) {
    await expect(roomEvents(page).filter({ hasText: 'different versions of a message from' })).toBeVisible();
    // Guests are numbered in the order each page admits them, and Carol dials Mallory and Bob at once, so Mallory's
    // number differs from run to run: the warning must name her as her message does on that page.
    const mallorysLabel = await messages(page).filter({ hasText: /the meeting is at/ }).locator('.author').innerText();
    await expect(roomEvents(page).filter({ hasText: `different versions of a message from ${mallorysLabel}:` })).toHaveCount(1);
  }
});

test('a file goes to everyone (one transfer each), a private file only to its addressee; joins and leaves are told', async ({ newPerson, parley }) => {
  const { pages } = await guestRoom(newPerson, parley.url, 3);
  const [alice, bob, carol] = pages as [Page, Page, Page];
  await expect(roomEvents(alice).filter({ hasText: 'Guest 2 joined' })).toHaveCount(1);
  await alice.getByLabel('Attach file').setInputFiles({ name: 'for-all.txt', mimeType: 'text/plain', buffer: Buffer.from('hello, both of you') });
  for (const page of [bob, carol]) await expect(messages(page).filter({ hasText: 'for-all.txt' })).toContainText('Received');
  // One line per recipient on the sender's side, each sent.
  await expect(messages(alice).filter({ hasText: 'for-all.txt' })).toHaveCount(2);
  await members(alice).filter({ hasText: 'Guest 2' }).getByRole('button', { name: /privately/ }).click();
  await alice.getByLabel('Attach file').setInputFiles({ name: 'only-carol.txt', mimeType: 'text/plain', buffer: Buffer.from('just you') });
  const atCarol = messages(carol).filter({ hasText: 'only-carol.txt' });
  await expect(atCarol).toContainText('Received');
  await alice.getByRole('button', { name: 'Message everyone instead' }).click();
  await sendMessage(alice, 'after the private file');
  await expect(messages(bob).filter({ hasText: 'after the private file' })).toBeVisible();
  await expect(messages(bob).filter({ hasText: 'only-carol.txt' })).toHaveCount(0);
  await carol.close();
  await expect(roomEvents(alice).filter({ hasText: 'Guest 2 left' })).toHaveCount(1);
  await expect(roomEvents(bob).filter({ hasText: ' left' })).toHaveCount(1);
});
