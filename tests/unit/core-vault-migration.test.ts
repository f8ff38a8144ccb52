/**
 * A vault written before groups (two-person conversations, one contact per room, directions and receipt times),
 * opened by this version: every conversation, message, receipt and file reads as a group history with nothing lost,
 * the group engine starts from it, the first new write turns its records into the group format, and its backups
 * still import.
 */
import { describe, expect, it } from 'vitest';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import { messageText } from '../../src/core/protocol/groupMessages.ts';
import { openJsonRecord } from '../../src/core/vault/records.ts';
import { parseSealedRow } from '../../src/core/vault/storePort.ts';
import { Vault, type UnlockedVault } from '../../src/core/vault/vaultService.ts';
import type { HistoryEntry } from '../../src/core/vault/history.ts';
import { groupMessage, realArgon2Fixture, selfIdOf, storeFor, twoPersonVault } from './support/groupVaultFakes.ts';
import { valueOf } from './support/vaultFakes.ts';
import { parseVaultHeader, unlockVault } from '../../src/core/vault/vaultHeader.ts';
import { hashWasmArgon2id } from '../../src/adapters/vault/hashWasmArgon2id.ts';

async function unlockOld(): Promise<Awaited<ReturnType<typeof twoPersonVault>> & { readonly unlocked: UnlockedVault }> {
  const old = await twoPersonVault();
  const unlocked = await (await old.reopen()).unlock(old.data.passphrase);
  if (!unlocked.ok) throw new Error(`the old vault does not unlock: ${unlocked.reason}`);
  return { ...old, unlocked: unlocked.vault };
}

/** The whole history of a conversation as plain values, oldest first. */
async function historyOf(unlocked: UnlockedVault, conversationId: string): Promise<HistoryEntry[]> {
  return unlocked.latestMessages(conversationId, 500);
}

/** The "v" of a conversation's stored record: which format is on disk. */
async function storedFormat(fixture: Awaited<ReturnType<typeof twoPersonVault>>, id: string): Promise<unknown> {
  const row = parseSealedRow(await fixture.store.readRow('conversations', id));
  if (row === null) throw new Error('no row');
  const header = parseVaultHeader(await fixture.store.readHeader());
  const unlocked = header === null ? null : await unlockVault(header, fixture.data.passphrase, hashWasmArgon2id);
  if (unlocked === null || !unlocked.ok) throw new Error('the old vault does not unlock');
  const opened = await openJsonRecord(unlocked.dataKey, 'conversation', id, row.sealed);
  return opened.ok && typeof opened.value === 'object' && opened.value !== null ? Reflect.get(opened.value, 'v') : null;
}

describe('a vault written before groups', () => {
  it('lists its conversations with their one contact as the room’s contacts, and who wrote the last message', async () => {
    const { unlocked, data } = await unlockOld();
    const listed = (await unlocked.conversations()).sort((a, b) => (a.kind === 'conversation' && b.kind === 'conversation' ? a.title.localeCompare(b.title) : 0));
    expect(listed).toEqual([
      {
        kind: 'conversation',
        id: data.conversations.withGuest,
        roomSecret: expect.any(Uint8Array),
        title: '',
        contactIds: [],
        createdAtMs: expect.any(Number),
        updatedAtMs: expect.any(Number),
        messageCount: 2,
        unreadCount: 0,
        lastMessage: { seq: 2, author: { type: 'me' }, atMs: 1_700_000_007_000, preview: { type: 'text', text: 'hi guest' } },
        outbox: [],
      },
      {
        kind: 'conversation',
        id: data.conversations.withBob,
        roomSecret: expect.any(Uint8Array),
        title: 'Lunch with Bob',
        contactIds: [data.contacts.bob.id],
        createdAtMs: expect.any(Number),
        updatedAtMs: expect.any(Number),
        messageCount: 5,
        unreadCount: 2,
        lastMessage: { seq: 5, author: { type: 'me' }, atMs: 1_700_000_005_000, preview: { type: 'file', name: 'map.txt', mimeType: 'text/plain' } },
        outbox: [],
      },
    ]);
  });

  it('reads every message with its author, its one stream, its time and the receipt it had, and every file', async () => {
    const { unlocked, data } = await unlockOld();
    const bob = { type: 'contact', contactId: data.contacts.bob.id } as const;
    const text = (seq: number, messageNumber: number, author: object, words: string, delivery: object[]) => ({
      kind: 'message',
      conversationId: data.conversations.withBob,
      seq,
      messageId: expect.any(String),
      author,
      stream: { type: 'group' },
      authorSeq: null,
      writtenAtMs: 1_700_000_000_000 + messageNumber * 1000,
      atMs: 1_700_000_000_000 + messageNumber * 1000,
      content: { type: 'text', text: words },
      delivery,
    });
    const history = await historyOf(unlocked, data.conversations.withBob);
    expect(history.slice(0, 3)).toEqual([
      text(1, 1, bob, 'hello Ada', []),
      text(2, 2, { type: 'me' }, 'hi Bob', [{ to: bob, state: 'delivered', atMs: 1_700_000_002_500 }]),
      // Sent, never acknowledged: the old history could only say "not delivered".
      text(3, 3, { type: 'me' }, 'are you there?', [{ to: bob, state: 'sent', atMs: 1_700_000_003_000 }]),
    ]);
    expect(history.slice(3)).toMatchObject([
      { seq: 4, author: bob, stream: { type: 'group' }, delivery: [], content: { type: 'file', file: { name: 'menu.txt', mimeType: 'text/plain', sizeBytes: 11 } } },
      { seq: 5, author: { type: 'me' }, delivery: [], content: { type: 'file', file: { name: 'map.txt', sizeBytes: 16 } } },
    ]);
    const texts: string[] = [];
    for (const entry of history.slice(3)) {
      if (entry.kind !== 'message' || entry.content.type !== 'file') throw new Error('not a file');
      texts.push(await valueOf(await unlocked.readFile(data.conversations.withBob, entry.content.file)).text());
    }
    expect(texts).toEqual(['soup, bread', 'left, then right']);

    // A peer without a profile was never remembered: the history names it as the guest it was.
    const guest = { type: 'guest', label: 'Guest', memberId: null };
    expect(await historyOf(unlocked, data.conversations.withGuest)).toMatchObject([
      { seq: 1, author: guest, content: { text: 'a guest says hi' }, delivery: [] },
      { seq: 2, author: { type: 'me' }, content: { text: 'hi guest' }, delivery: [{ to: guest, state: 'sent' }] },
    ]);
  });

  it('starts the group engine from nothing sent or shown yet, and keeps reading the old messages after the first new write', async () => {
    const old = await unlockOld();
    const { unlocked, data } = old;
    const before = await historyOf(unlocked, data.conversations.withBob);
    const store = await storeFor(unlocked, data.conversations.withBob);
    expect(await store.load()).toEqual({ lastOwnSeq: 0, lastShown: new Map(), outbox: [] });
    expect(await storedFormat(old, data.conversations.withBob)).toBe(1);

    const bobId = await memberIdOf(data.contacts.bob.publicKeySpki);
    await store.recordShown(groupMessage(1, bobId, { text: 'now in a group' }));
    await store.recordOutgoing(groupMessage(1, await selfIdOf(unlocked), { text: 'welcome' }), [bobId]);
    expect(await storedFormat(old, data.conversations.withBob)).toBe(2);

    const after = await historyOf(unlocked, data.conversations.withBob);
    expect(after.slice(0, 5)).toEqual(before);
    const bob = { type: 'contact', contactId: data.contacts.bob.id };
    expect(after.slice(5)).toMatchObject([
      { seq: 6, author: bob, authorSeq: 1, content: { text: 'now in a group' } },
      { seq: 7, author: { type: 'me' }, authorSeq: 1, content: { text: 'welcome' }, delivery: [{ to: bob, state: 'sending' }] },
    ]);
    // Bob is the room's contact by the key he had: his messages are his, and he is addressed.
    const reloaded = await (await old.reopen()).unlock(data.passphrase);
    if (!reloaded.ok) throw new Error('unlock');
    const again = await reloaded.vault.conversationStore(data.conversations.withBob);
    const loaded = await again.load();
    expect(loaded.lastOwnSeq).toBe(1);
    expect(loaded.lastShown).toEqual(new Map([[bobId, 1]]));
    expect(loaded.outbox.map((entry) => [entry.addressee, messageText(entry.message)])).toEqual([[bobId, 'welcome']]);
    expect(valueOf(await reloaded.vault.conversation(data.conversations.withBob))).toMatchObject({
      contactIds: [data.contacts.bob.id],
      messageCount: 7,
      outbox: [{ to: bob, count: 1 }],
    });
  });

  it('imports from a backup it made, and reads exactly as the vault itself', async () => {
    const { unlocked, data } = await unlockOld();
    const target = realArgon2Fixture();
    const imported = await (await target.reopen()).importBackup(new Blob([new Uint8Array(data.backup)]), data.passphrase);
    if (!imported.ok) throw new Error(`import failed: ${JSON.stringify(imported)}`);
    expect(await imported.vault.conversations()).toEqual(await unlocked.conversations());
    for (const id of [data.conversations.withBob, data.conversations.withGuest]) {
      expect(await historyOf(imported.vault, id)).toEqual(await historyOf(unlocked, id));
    }
    expect(await imported.vault.contacts()).toEqual(await unlocked.contacts());
  });

  it('exports, once migrated in part, a backup that restores the mix of old and new records', async () => {
    const { unlocked, data } = await unlockOld();
    const store = await storeFor(unlocked, data.conversations.withBob);
    await store.load();
    await store.recordOutgoing(groupMessage(1, await selfIdOf(unlocked), { text: 'still waiting' }), [await memberIdOf(data.contacts.bob.publicKeySpki)]);
    const exported = await unlocked.exportBackup();
    if (!exported.ok) throw new Error(exported.detail);
    const target = realArgon2Fixture();
    const imported = await (await target.reopen()).importBackup(exported.blob, data.passphrase);
    if (!imported.ok) throw new Error(`import failed: ${JSON.stringify(imported)}`);
    for (const id of [data.conversations.withBob, data.conversations.withGuest]) {
      expect(await historyOf(imported.vault, id)).toEqual(await historyOf(unlocked, id));
    }
    expect(target.store.counts().outbox).toBe(1);
    expect(await imported.vault.pendingOutbox()).toMatchObject([{ conversationId: data.conversations.withBob, waiting: [{ name: 'Bob', count: 1 }] }]);
  });

  it('is opened by Vault as any vault is: nothing about it is special to the caller', async () => {
    const old = await twoPersonVault();
    const vault = await Vault.open(old.store, old.ports);
    expect(await vault.presence()).toMatchObject({ kind: 'locked' });
  });
});
