/**
 * The profile and its vault, in real browsers with real IndexedDB: history that survives a reload, a wrong
 * passphrase that changes nothing, nothing readable at rest, passphrase change, deletion, contacts whose key
 * changes, locking, and a backup restored in another browser.
 */
import { readFile } from 'node:fs/promises';
import type { Page } from '@playwright/test';
import { makePng } from '../fixtures/images.ts';
import { dumpContains, dumpIndexedDb, recordCount } from './indexedDbDump.ts';
import { expect, expectSecure, messages, newContext, sendMessage, statusOf, test, DELIVERED, members } from './fixtures.ts';
import { createProfile, createRoomHere, PASSPHRASE, profilesInRoom, toLanding, unlock } from './profiles.ts';

const VAULT_DB = 'parley-vault';





/** Stored message rows, counted straight from IndexedDB (their content is sealed; only the count is visible). */
async function storedMessages(page: Page): Promise<number> {
  const dump = await dumpIndexedDb(page);
  return dump.counts[VAULT_DB]?.['messages'] ?? 0;
}

/** Waits until the vault holds `count` messages: writes never hold up the chat, so they may trail it a little. */
async function untilStored(page: Page, count: number): Promise<void> {
  await expect.poll(() => storedMessages(page), { timeout: 15_000 }).toBeGreaterThanOrEqual(count);
}

async function attachPng(page: Page, name: string, png: Buffer): Promise<void> {
  await page.getByLabel('Attach file').setInputFiles({ name, mimeType: 'image/png', buffer: png });
}

/** Alice with a profile, Bob as a guest, in one room, both secure. */
async function profileAndGuest(newPerson: () => Promise<Page>, baseUrl: string): Promise<{ alice: Page; bob: Page; link: string }> {
  const alice = await newPerson();
  const bob = await newPerson();
  await createProfile(alice, baseUrl, 'Alice');
  const link = await createRoomHere(alice);
  await bob.goto(link);
  await expectSecure(alice, bob);
  return { alice, bob, link };
}

test('a profile keeps the conversation: after a reload and unlock, its text and image are there', async ({ newPerson, parley }) => {
  const { alice, bob } = await profileAndGuest(newPerson, parley.url);
  const png = makePng(40, 30);
  await sendMessage(alice, 'kept: the first line');
  await expect(messages(bob).filter({ hasText: 'kept: the first line' })).toBeVisible();
  await sendMessage(bob, 'kept: the reply');
  await expect(messages(alice).filter({ hasText: 'kept: the reply' })).toBeVisible();
  await attachPng(bob, 'kept-photo.png', png);
  await expect(alice.getByRole('img', { name: 'kept-photo.png' })).toBeVisible();
  await untilStored(alice, 3);

  await alice.reload();
  await expect(alice.getByRole('heading', { name: 'Unlock to keep this conversation' })).toBeVisible();
  // Nothing of the conversation shows while locked.
  await expect(alice.getByText('kept: the first line')).toHaveCount(0);
  await unlock(alice);
  await expect(messages(alice).filter({ hasText: 'kept: the first line' })).toBeVisible();
  await expect(messages(alice).filter({ hasText: 'kept: the reply' })).toBeVisible();
  const image = alice.getByRole('img', { name: 'kept-photo.png' });
  await expect(image).toBeVisible();
  expect(await image.evaluate((canvas: HTMLCanvasElement) => [canvas.width, canvas.height])).toEqual([40, 30]);
  // The kept image's bytes are the bytes Bob sent.
  const [download] = await Promise.all([alice.waitForEvent('download'), messages(alice).filter({ hasText: 'kept-photo.png' }).getByRole('link', { name: 'Save' }).click()]);
  expect(Buffer.compare(await readFile(await download.path()), png)).toBe(0);
});

test('received files past the history budget are kept only when the person says so, and work on the page either way', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  const bob = await newPerson();
  await createProfile(alice, parley.url, 'Alice');
  await alice.getByLabel('Keep received files in each conversation’s history up to').selectOption({ label: 'nothing: ask for every file' });
  const link = await createRoomHere(alice);
  await bob.goto(link);
  await expectSecure(alice, bob);
  await sendMessage(bob, 'two files for you');
  const asked = Buffer.alloc(3000, 0x41);
  await bob.getByLabel('Attach file').setInputFiles({ name: 'asked.txt', mimeType: 'text/plain', buffer: asked });
  await bob.getByLabel('Attach file').setInputFiles({ name: 'passed.txt', mimeType: 'text/plain', buffer: Buffer.alloc(2000, 0x42) });

  for (const name of ['asked.txt', 'passed.txt']) {
    const line = messages(alice).filter({ hasText: name });
    await expect(line).toContainText('Received');
    await expect(line).toContainText(/Keep this .* file in your history\?/);
    await expect(line.getByRole('button', { name: 'Keep in history' })).toBeVisible();
  }
  // Not kept, yet it works on this page: it can be saved.
  const [download] = await Promise.all([alice.waitForEvent('download'), messages(alice).filter({ hasText: 'asked.txt' }).getByRole('link', { name: 'Save' }).click()]);
  expect(Buffer.compare(await readFile(await download.path()), asked)).toBe(0);
  await messages(alice).filter({ hasText: 'asked.txt' }).getByRole('button', { name: 'Keep in history' }).click();
  await expect(messages(alice).filter({ hasText: 'asked.txt' })).toContainText('Kept in your history.');
  // The text and the one file asked for: nothing of the other.
  await untilStored(alice, 2);

  await alice.reload();
  await unlock(alice);
  await expect(messages(alice).filter({ hasText: 'two files for you' })).toBeVisible();
  const kept = messages(alice).filter({ hasText: 'asked.txt' });
  await expect(kept.getByRole('link', { name: 'Save' })).toBeVisible();
  const [again] = await Promise.all([alice.waitForEvent('download'), kept.getByRole('link', { name: 'Save' }).click()]);
  expect(Buffer.compare(await readFile(await again.path()), asked)).toBe(0);
  await expect(messages(alice).filter({ hasText: 'passed.txt' })).toHaveCount(0);
  expect(await storedMessages(alice)).toBe(2);
});

test('a wrong passphrase says so, changes nothing, and makes the next try wait', async ({ newPerson, parley }) => {
  const { alice } = await profileAndGuest(newPerson, parley.url);
  await sendMessage(alice, 'still here after a wrong passphrase');
  await untilStored(alice, 1);
  // A reload forgets every key: the profile is locked again.
  await alice.goto(parley.url);
  await expect(alice.getByRole('heading', { name: 'Your profile is locked' })).toBeVisible();
  const before = await dumpIndexedDb(alice);

  await unlock(alice, 'not the passphrase');
  await expect(alice.getByRole('alert')).toContainText('That passphrase is not right. Nothing was changed.');
  await expect(alice.getByRole('button', { name: 'Unlock', exact: true })).toBeDisabled();
  const after = await dumpIndexedDb(alice);
  // Every sealed record is byte for byte what it was; only the clear count of failed tries moved.
  expect(after.binariesHex).toEqual(before.binariesHex);
  expect(recordCount(after, VAULT_DB)).toBe(recordCount(before, VAULT_DB));

  await expect(alice.getByRole('button', { name: 'Unlock', exact: true })).toBeEnabled({ timeout: 20_000 });
  await unlock(alice);
  await expect(alice.getByRole('list', { name: 'Conversations' })).toContainText('still here after a wrong passphrase');
});

test('nothing readable is stored: no message text, image byte, passphrase, room secret or key in IndexedDB', async ({ newPerson, parley }) => {
  const { alice, bob, link } = await profileAndGuest(newPerson, parley.url);
  const secretText = 'the unmistakable plaintext 7f3c9e';
  const png = makePng(64, 64);
  await sendMessage(alice, secretText);
  await sendMessage(bob, 'a reply that must stay sealed 51aa');
  await attachPng(alice, 'sealed.png', png);
  await expect(bob.getByRole('img', { name: 'sealed.png' })).toBeVisible();
  await untilStored(alice, 3);

  const dump = await dumpIndexedDb(alice);
  expect(recordCount(dump, VAULT_DB)).toBeGreaterThan(0);
  expect(dumpContains(dump, secretText)).toBe(false);
  expect(dumpContains(dump, 'a reply that must stay sealed 51aa')).toBe(false);
  expect(dumpContains(dump, PASSPHRASE)).toBe(false);
  expect(dumpContains(dump, 'Alice')).toBe(false);
  expect(dumpContains(dump, 'sealed.png')).toBe(false);
  // 64 bytes from the middle of the image's pixel data, and the room secret as text and as bytes.
  expect(dumpContains(dump, new Uint8Array(png.subarray(png.length / 2, png.length / 2 + 64)))).toBe(false);
  const secret = new URL(link).hash.slice(1);
  expect(dumpContains(dump, secret)).toBe(false);
  expect(dumpContains(dump, new Uint8Array(Buffer.from(secret, 'base64url')))).toBe(false);
  expect(dump.cryptoKeys).toBe(0);
});

test('after a passphrase change only the new passphrase unlocks', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  await createProfile(alice, parley.url, 'Alice');
  const next = 'copper meadow lantern quietly';
  await alice.getByText('Passphrase and deletion').click();
  await alice.getByLabel('Current passphrase').fill(PASSPHRASE);
  await alice.getByLabel('New passphrase', { exact: true }).fill(next);
  await alice.getByLabel('Confirm new passphrase').fill(next);
  await alice.getByRole('button', { name: 'Change passphrase' }).click();
  await expect(alice.getByText('Passphrase changed.')).toBeVisible();
  await alice.reload();
  await unlock(alice);
  await expect(alice.getByRole('alert')).toContainText('That passphrase is not right');
  await expect(alice.getByRole('button', { name: 'Unlock', exact: true })).toBeEnabled({ timeout: 20_000 });
  await unlock(alice, next);
  await expect(alice.getByRole('heading', { name: 'Your profile: Alice' })).toBeVisible();
});

test('delete history, then delete profile, leave no Parley data in IndexedDB', async ({ newPerson, parley }) => {
  const { alice } = await profileAndGuest(newPerson, parley.url);
  await sendMessage(alice, 'to be deleted');
  await untilStored(alice, 1);
  await alice.getByRole('button', { name: 'Delete history', exact: true }).click();
  await alice.getByRole('button', { name: 'Yes, delete this history' }).click();
  await expect.poll(() => storedMessages(alice)).toBe(0);
  await expect(messages(alice).filter({ hasText: 'to be deleted' })).toHaveCount(0);

  await toLanding(alice);
  await expect(alice.getByRole('list', { name: 'Conversations' })).toHaveCount(0);
  await alice.getByText('Passphrase and deletion').click();
  await alice.getByRole('button', { name: 'Delete profile', exact: true }).click();
  await alice.getByRole('button', { name: 'Yes, delete everything' }).click();
  await expect(alice.getByRole('button', { name: 'Create profile' })).toBeVisible();
  const dump = await dumpIndexedDb(alice);
  expect(Object.keys(dump.counts).filter((name) => name.startsWith('parley-vault'))).toEqual([]);
  await alice.reload();
  await expect(alice.getByRole('button', { name: 'Create profile' })).toBeVisible();
});

test('a contact who comes back with a different identity key is held, with a warning, until accepted', async ({ browser, newPerson, parley }) => {
  const { alice, bob, bobContext: firstContext, link } = await profilesInRoom(browser, newPerson, parley.url);
  await expect(members(alice)).toHaveCount(1);
  await expect(members(alice)).toContainText('Bob');

  // Both see the same safety number, grouped in fives; Alice marks Bob as verified.
  await alice.getByText('Compare safety numbers').click();
  await bob.getByText('Compare safety numbers').click();
  const aliceNumber = await alice.getByLabel('Safety number').innerText();
  expect(aliceNumber).toMatch(/^(\d{5} ){11}\d{5}$/);
  expect(await bob.getByLabel('Safety number').innerText()).toBe(aliceNumber);
  await alice.getByRole('button', { name: 'Mark as verified' }).click();
  await expect(members(alice)).toContainText('Verified');
  await firstContext.close();

  // Someone else with the link, calling themselves Bob, with a new key.
  const impostor = await newPerson();
  await createProfile(impostor, parley.url, 'Bob');
  await impostor.goto(link);
  await expect(alice.getByRole('alert')).toContainText('Bob’s identity key has changed');
  await expect(statusOf(alice)).toContainText('needs your confirmation');
  // Alice can still write: what she writes waits for the Bob she knows, and never goes to the newcomer.
  await sendMessage(alice, 'for the Bob I verified');
  // What the newcomer sends is not shown while held.
  await expect(statusOf(impostor)).toContainText('Secure');
  await sendMessage(impostor, 'trust me, it is Bob');
  await expect(messages(alice).filter({ hasText: 'trust me, it is Bob' })).toHaveCount(0);
  // Not shown, so not delivered: the newcomer's message went out, but no receipt comes back while it is held.
  const pending = messages(impostor).filter({ hasText: 'trust me, it is Bob' });
  await expect(pending).toContainText('Sent');
  // The newcomer is listed apart from the Bob who left (who may still be listed as Left), with its own number.
  const held = members(alice).filter({ hasText: 'Waiting for you to accept' });
  await expect(held).toContainText('Not verified');
  await expect(held.getByLabel('Safety number')).not.toHaveText(aliceNumber);

  await alice.getByRole('button', { name: 'Accept the new key and continue' }).click();
  await expect(statusOf(alice)).toContainText('Secure');
  await expect(messages(alice).filter({ hasText: 'trust me, it is Bob' })).toBeVisible();
  await expect(pending).toContainText(DELIVERED);
  // Accepting the new key lets in what is written from now on; what waited for the verified key stays waiting.
  await expect(messages(impostor).filter({ hasText: 'for the Bob I verified' })).toHaveCount(0);
  await sendMessage(alice, 'after accepting');
  await expect(messages(impostor).filter({ hasText: 'after accepting' })).toBeVisible();
  await expect(messages(impostor).filter({ hasText: 'for the Bob I verified' })).toHaveCount(0);

  // The newcomer's panel is folded, so read the text itself.
  const impostorNumber = await impostor.getByLabel('Safety number').textContent();

  // The room is listed under the name of the first person met in it, with the newest message.
  await toLanding(alice);
  const listed = alice.getByRole('list', { name: 'Conversations' }).getByRole('listitem');
  await expect(listed).toHaveCount(1);
  await expect(listed.getByRole('link', { name: 'Bob' })).toBeVisible();
  await expect(listed).toContainText('after accepting');

  // The contacts list keeps the room's contact with the new key: not verified, and its number is the new one.
  const contact = alice.getByRole('list', { name: 'Contacts' }).getByRole('listitem');
  await expect(contact).toHaveCount(1);
  await expect(contact).toContainText('Not verified');
  await contact.getByText('Safety number').click();
  const newNumber = await contact.getByLabel('Safety number').innerText();
  expect(newNumber).toMatch(/^(\d{5} ){11}\d{5}$/);
  expect(newNumber).not.toBe(aliceNumber);
  // The same number on the newcomer's side, read while Alice was still in the room.
  expect(impostorNumber).toBe(newNumber);
  await contact.getByRole('button', { name: 'Mark as verified' }).click();
  await expect(contact).toContainText('Verified');
  await expect(contact).not.toContainText('Not verified');
});

test('a guest arriving where a verified contact was is held: nothing reaches it until accepted', async ({ browser, newPerson, parley }) => {
  const { alice, bob, bobContext, link } = await profilesInRoom(browser, newPerson, parley.url);
  await alice.getByText('Compare safety numbers').click();
  await alice.getByRole('button', { name: 'Mark as verified' }).click();
  await expect(members(alice)).toContainText('Verified');
  await sendMessage(alice, 'before: for Bob');
  await expect(messages(bob).filter({ hasText: 'before: for Bob' })).toBeVisible();
  await bobContext.close();
  await expect(statusOf(alice)).toContainText('left');

  // Someone with the link, without a profile.
  const guest = await newPerson();
  await guest.goto(link);
  await expect(alice.getByRole('alert')).toContainText('Bob used a verified profile here before; this person arrived without one');
  await expect(statusOf(alice)).toContainText('needs your confirmation');
  await expect(statusOf(guest)).toContainText('Secure');
  // What Alice writes now is for Bob, the contact she knows: it waits for him and never goes to the guest.
  await sendMessage(alice, 'after: meant for Bob');
  await expect(messages(alice).filter({ hasText: 'after: meant for Bob' })).toContainText('Sending');
  await attachPng(alice, 'for-bob.png', makePng(20, 20));
  await sendMessage(guest, 'hi, it is Bob, honest');
  await expect(messages(alice).filter({ hasText: 'hi, it is Bob, honest' })).toHaveCount(0);
  // It went out, but no receipt comes back while the guest is held.
  await expect(messages(guest).filter({ hasText: 'hi, it is Bob, honest' })).toContainText('Sent');
  await expect(messages(guest)).toHaveCount(1);

  await alice.getByRole('button', { name: /^Accept/ }).click();
  await expect(statusOf(alice)).toContainText('Secure');
  await expect(messages(alice).filter({ hasText: 'hi, it is Bob, honest' })).toBeVisible();
  await expect(messages(guest).filter({ hasText: 'hi, it is Bob, honest' })).toContainText(DELIVERED);
  // Accepted, the guest talks with Alice from now on; what waits for Bob stays Bob's.
  await sendMessage(alice, 'now you are in');
  await expect(messages(guest).filter({ hasText: 'now you are in' })).toBeVisible();
  await alice.getByLabel('Attach file').setInputFiles({ name: 'for-the-guest.png', mimeType: 'image/png', buffer: makePng(10, 10) });
  await expect(guest.getByRole('img', { name: 'for-the-guest.png' })).toBeVisible();
  for (const meantForBob of ['before: for Bob', 'after: meant for Bob', 'for-bob.png']) {
    expect(await messages(guest).filter({ hasText: meantForBob }).count()).toBe(0);
  }
  await expect(messages(alice).filter({ hasText: 'after: meant for Bob' })).toContainText('Sending');

  await toLanding(alice);
  const contact = alice.getByRole('list', { name: 'Contacts' }).getByRole('listitem');
  await expect(contact).toHaveCount(1);
  await expect(contact).toContainText('Bob');
  await expect(contact).toContainText('Verified');
});

test('Lock hides the conversations; the idle lock does it by itself', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  await alice.clock.install();
  await createProfile(alice, parley.url, 'Alice');
  await alice.getByRole('button', { name: 'Lock', exact: true }).click();
  await expect(alice.getByRole('heading', { name: 'Your profile is locked' })).toBeVisible();
  await expect(alice.getByRole('list', { name: 'Conversations' })).toHaveCount(0);

  await unlock(alice);
  await expect(alice.getByRole('heading', { name: 'Your profile: Alice' })).toBeVisible();
  await alice.getByLabel('Lock automatically after').selectOption({ label: '1 min without activity' });
  await alice.clock.fastForward('01:05');
  await expect(alice.getByRole('heading', { name: 'Your profile is locked' })).toBeVisible();
  await expect(alice.getByRole('status').filter({ hasText: 'Locked after 1 minute without activity' })).toBeVisible();
});

test('an exported backup restores the conversations in another browser', async ({ newPerson, parley }) => {
  const { alice } = await profileAndGuest(newPerson, parley.url);
  await sendMessage(alice, 'carried over in the backup');
  await untilStored(alice, 1);
  await toLanding(alice);
  const [download] = await Promise.all([alice.waitForEvent('download'), alice.getByRole('button', { name: 'Export backup' }).click()]);
  const backupPath = await download.path();

  const carol = await newPerson();
  await carol.goto(parley.url);
  await carol.getByText('Restore a backup').click();
  await carol.getByLabel('Backup file').setInputFiles(backupPath);
  await carol.getByLabel('Backup passphrase').fill('wrong words entirely');
  await carol.getByRole('button', { name: 'Import backup' }).click();
  await expect(carol.getByRole('alert')).toContainText('passphrase');
  expect(recordCount(await dumpIndexedDb(carol), VAULT_DB)).toBe(0);

  await carol.getByLabel('Backup passphrase').fill(PASSPHRASE);
  await carol.getByRole('button', { name: 'Import backup' }).click();
  await expect(carol.getByRole('heading', { name: 'Your profile: Alice' })).toBeVisible();
  await expect(carol.getByRole('list', { name: 'Conversations' })).toContainText('carried over in the backup');
});

test('a long conversation opens at its latest messages, loads older ones on scrolling back, and stays there when a message arrives', async ({ newPerson, parley }) => {
  // Seventy messages typed one by one through the page take most of a minute on a busy two-core machine.
  test.slow();
  const { alice, bob } = await profileAndGuest(newPerson, parley.url);
  const total = 70;
  const label = (n: number): string => `line ${String(n).padStart(3, '0')}`;
  for (let n = 1; n <= total; n++) await sendMessage(alice, label(n));
  await expect(messages(bob).filter({ hasText: label(total) })).toBeVisible();
  await untilStored(alice, total);

  await alice.reload();
  await unlock(alice);
  await expect(messages(alice).filter({ hasText: label(total) })).toBeVisible();
  // One page (50) is read at first: the oldest twenty are not even in the page yet.
  await expect(messages(alice).filter({ hasText: label(total - 49) })).toHaveCount(1);
  await expect(messages(alice).filter({ hasText: label(total - 50) })).toHaveCount(0);
  await expect(messages(alice).filter({ hasText: label(1) })).toHaveCount(0);

  await alice.getByRole('list', { name: 'Conversation' }).evaluate((list) => {
    list.scrollTop = 0;
  });
  await expect(messages(alice).filter({ hasText: label(1) })).toHaveCount(1);
  // Every line once, in order (textContent: lines scrolled out of view are not rendered, by design).
  const texts = await alice.getByRole('list', { name: 'Conversation' }).locator('.text').allTextContents();
  expect(texts).toEqual(Array.from({ length: total }, (_, index) => label(index + 1)));

  // Someone reading back is not pulled down to the end by what arrives meanwhile.
  const conversation = alice.getByRole('list', { name: 'Conversation' });
  const readingAt = await conversation.evaluate((list) => list.scrollTop);
  await expectSecure(alice, bob);
  await sendMessage(bob, 'written while Alice reads back');
  await expect(messages(alice).filter({ hasText: 'written while Alice reads back' })).toHaveCount(1);
  await alice.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  expect(await conversation.evaluate((list) => list.scrollTop)).toBe(readingAt);
});

test('a stored message altered on disk is shown as unreadable, never as text, and the rest still opens', async ({ newPerson, parley }) => {
  const { alice } = await profileAndGuest(newPerson, parley.url);
  await sendMessage(alice, 'this one will be altered');
  await sendMessage(alice, 'this one stays intact');
  await untilStored(alice, 2);
  await alice.reload();
  await expect(alice.getByRole('heading', { name: 'Unlock to keep this conversation' })).toBeVisible();
  // Someone with the disk flips one bit of the first message's ciphertext.
  await alice.evaluate(async (dbName) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const store = db.transaction('messages', 'readwrite').objectStore('messages');
    await new Promise<void>((resolve, reject) => {
      const cursor = store.openCursor();
      cursor.onsuccess = () => {
        const row = cursor.result;
        if (row === null) return reject(new Error('no message row'));
        const value = row.value as { sealed: Uint8Array };
        const at = value.sealed.length - 5;
        value.sealed[at] = (value.sealed[at] ?? 0) ^ 0x01;
        row.update(value).onsuccess = () => resolve();
      };
      cursor.onerror = () => reject(cursor.error);
    });
    db.close();
  }, VAULT_DB);
  await unlock(alice);
  await expect(messages(alice).filter({ hasText: 'this one stays intact' })).toBeVisible();
  await expect(messages(alice).filter({ hasText: 'cannot be read' })).toHaveCount(1);
  await expect(alice.getByText('this one will be altered')).toHaveCount(0);
});

test('a damaged or truncated backup is refused in plain words and nothing is imported', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  await createProfile(alice, parley.url, 'Alice');
  const [download] = await Promise.all([alice.waitForEvent('download'), alice.getByRole('button', { name: 'Export backup' }).click()]);
  const backup = await readFile(await download.path());
  const flipped = Buffer.from(backup);
  const middle = Math.floor(flipped.length / 2);
  flipped[middle] = (flipped[middle] ?? 0) ^ 0x01;
  const carol = await newPerson();
  await carol.goto(parley.url);
  await carol.getByText('Restore a backup').click();
  for (const [name, bytes] of [
    ['flipped.parley', flipped],
    ['truncated.parley', backup.subarray(0, backup.length - 10)],
    ['not-a-backup.parley', Buffer.from('hello, this is not a backup')],
  ] as const) {
    await carol.getByLabel('Backup file').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: bytes });
    await carol.getByLabel('Backup passphrase').fill(PASSPHRASE);
    await carol.getByRole('button', { name: 'Import backup' }).click();
    await expect(carol.getByRole('alert')).toContainText('Nothing was imported');
    expect(recordCount(await dumpIndexedDb(carol), VAULT_DB), name).toBe(0);
  }
  await expect(carol.getByRole('button', { name: 'Create profile' })).toBeVisible();
});

test('what was said just before locking is kept', async ({ newPerson, parley }) => {
  const { alice, bob } = await profileAndGuest(newPerson, parley.url);
  await sendMessage(bob, 'said a moment before the lock');
  await expect(messages(alice).filter({ hasText: 'said a moment before the lock' })).toBeVisible();
  // At once: the chat is still being gathered for its batched write when the keys are asked to go.
  await alice.getByRole('button', { name: 'Lock', exact: true }).click();
  await expect(alice.getByRole('heading', { name: 'Unlock to keep this conversation' })).toBeVisible();
  await unlock(alice);
  await expect(messages(alice).filter({ hasText: 'said a moment before the lock' })).toHaveCount(1);
});

test('unlocking in a second tab locks the first: one tab writes the vault at a time', async ({ newPerson, parley }) => {
  const first = await newPerson();
  await createProfile(first, parley.url, 'Alice');
  const second = await first.context().newPage();
  await second.goto(parley.url);
  await unlock(second);
  await expect(second.getByRole('heading', { name: 'Your profile: Alice' })).toBeVisible();
  await expect(first.getByRole('heading', { name: 'Your profile is locked' })).toBeVisible();
  await expect(first.getByRole('status').filter({ hasText: 'unlocked in another tab' })).toBeVisible();
  // And back: the first tab takes it again, the second locks.
  await unlock(first);
  await expect(first.getByRole('heading', { name: 'Your profile: Alice' })).toBeVisible();
  await expect(second.getByRole('heading', { name: 'Your profile is locked' })).toBeVisible();
});
