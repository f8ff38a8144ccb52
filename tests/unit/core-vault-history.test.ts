import { describe, expect, it } from 'vitest';
import type { MemoryVaultStore } from '../../src/adapters/storage/memoryVaultStore.ts';
import { bytesEqual } from '../../src/core/encoding.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { ConversationStoreError } from '../../src/core/vault/groupHistory.ts';
import { filePartRecordId, MAX_SEQ, messageRecordId } from '../../src/core/vault/recordIds.ts';
import { parseFilePartRow, parseMessageRow, parseSealedRow, type MessageRow, type VaultWrite } from '../../src/core/vault/storePort.ts';
import { sealJsonRecord } from '../../src/core/vault/records.ts';
import {
  FILE_PART_BYTES,
  openConversationRecord,
  sealConversation,
  sealMessage,
  type ConversationRecord,
  type MessageRecord,
  type Party,
} from '../../src/core/vault/vaultRecords.ts';
import type { ConversationSummary, HistoryEntry, NewFileMessage } from '../../src/core/vault/history.ts';
import type { UnlockedVault } from '../../src/core/vault/vaultService.ts';
import { GUEST_ID, groupMessage, say, selfIdOf, storeFor } from './support/groupVaultFakes.ts';
import { dataKeyOf, idFor, PASSPHRASE, randomBlob, roomSecret, storeHolds, unlockedFixture, valueOf } from './support/vaultFakes.ts';

const GUEST: Party = { type: 'guest', label: 'Guest', memberId: GUEST_ID };

async function conversationIn(unlocked: UnlockedVault, seed = 1, title = ''): Promise<ConversationSummary> {
  return valueOf(await unlocked.openConversation(roomSecret(seed), title));
}

/** A file from the guest (or this person's own), to everyone. */
function fileDraft(n: number, name = `file-${n}`, mimeType = '', from: 'guest' | 'me' = 'guest'): NewFileMessage {
  return { messageId: idFor(n), author: from === 'me' ? { type: 'me' } : GUEST, stream: { type: 'group' }, name, mimeType };
}

/** A text message record as the store would seal it. */
function textRecord(text: string, atMs: number): MessageRecord {
  return { author: GUEST, stream: { type: 'group' }, authorSeq: null, writtenAtMs: atMs, atMs, content: { type: 'text', text }, delivery: [] };
}

function seqsOf(entries: readonly HistoryEntry[]): (number | null)[] {
  return entries.map((entry) => entry.seq);
}

function textsOf(entries: readonly HistoryEntry[]): string[] {
  return entries.map((entry) => (entry.kind === 'message' && entry.content.type === 'text' ? entry.content.text : `<${entry.kind}>`));
}

async function messageRows(store: MemoryVaultStore, conversationId: string): Promise<MessageRow[]> {
  const rows = await store.readMessages(conversationId, { direction: 'forward', afterSeq: 0 }, 1000);
  return rows.map((raw) => {
    const row = parseMessageRow(raw);
    if (row === null) throw new Error('malformed row');
    return row;
  });
}

async function put(store: MemoryVaultStore, writes: VaultWrite[]): Promise<void> {
  const written = await store.write(writes);
  if (!written.ok) throw new Error(written.reason);
}

/** The vault failure a store call was refused with. */
async function refusal(call: Promise<void>): Promise<unknown> {
  const error: unknown = await call.then(() => null, (caught: unknown) => caught);
  if (!(error instanceof ConversationStoreError)) throw new Error(`expected a ConversationStoreError, got ${String(error)}`);
  return error.failure;
}

describe('record ids', () => {
  it('bind a message to its conversation, seq and message id, and a file part to its conversation, file and index', () => {
    expect(messageRecordId(idFor(1), 7, idFor(2))).toBe(`${idFor(1)}/7/${idFor(2)}`);
    expect(filePartRecordId(idFor(1), idFor(3), 0)).toBe(`${idFor(1)}/${idFor(3)}/0`);
    expect(() => messageRecordId('a/b', 1, idFor(2))).toThrow(/not a vault id/);
    expect(() => messageRecordId(idFor(1), 0, idFor(2))).toThrow(/seq/);
    expect(() => messageRecordId(idFor(1), MAX_SEQ + 1, idFor(2))).toThrow(/seq/);
    expect(() => filePartRecordId(idFor(1), idFor(3), -1)).toThrow(/index/);
  });
});

describe('conversations', () => {
  it('keeps one conversation per room, found again by its sealed room secret', async () => {
    const { store, unlocked } = await unlockedFixture();
    const first = await conversationIn(unlocked, 1, 'Lunch');
    const again = await conversationIn(unlocked, 1, 'ignored the second time');
    const other = await conversationIn(unlocked, 2);
    expect(again.id).toBe(first.id);
    expect(again.title).toBe('Lunch');
    expect(again.roomSecret).toEqual(roomSecret(1));
    expect(other.id).not.toBe(first.id);
    expect(store.counts().conversations).toBe(2);
    expect(valueOf(await unlocked.renameConversation(first.id, ' Dinner ')).title).toBe('Dinner');
    expect(valueOf(await unlocked.conversation(first.id)).title).toBe('Dinner');
  });

  it('refuses a room secret of the wrong size and a title with control characters', async () => {
    const { unlocked } = await unlockedFixture();
    expect(await unlocked.openConversation(new Uint8Array(31))).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await unlocked.openConversation(roomSecret(1), 'a\u0007b')).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('lists conversations by latest activity, with unread counts and the last message', async () => {
    const { clock, unlocked } = await unlockedFixture();
    const a = await conversationIn(unlocked, 1);
    clock.advance(10);
    const b = await conversationIn(unlocked, 2);
    clock.advance(10);
    await say(unlocked, a.id, 1);
    await say(unlocked, a.id, 2);
    await say(unlocked, a.id, 3, 'outgoing');
    const listed = await unlocked.conversations();
    expect(listed.map((entry) => entry.id)).toEqual([a.id, b.id]);
    expect(listed[0]).toMatchObject({
      kind: 'conversation',
      messageCount: 3,
      unreadCount: 2,
      lastMessage: { seq: 3, author: { type: 'me' }, atMs: expect.any(Number), preview: { type: 'text', text: 'message 3' } },
    });
    expect(listed[1]).toMatchObject({ unreadCount: 0, messageCount: 0, lastMessage: null });
    expect(valueOf(await unlocked.markRead(a.id)).unreadCount).toBe(0);
    expect(await unlocked.conversations()).toMatchObject([{ unreadCount: 0 }, { unreadCount: 0 }]);
  });

  it('keeps only the first 120 characters of a long message as the preview', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    await say(unlocked, conversation.id, 1, 'incoming', '😀'.repeat(500));
    const listed = valueOf(await unlocked.conversation(conversation.id));
    expect(listed.lastMessage?.preview).toEqual({ type: 'text', text: '😀'.repeat(120) });
  });
});

describe('messages', () => {
  it('numbers messages 1, 2, 3 … and returns the latest oldest-first', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    for (let n = 1; n <= 5; n++) expect((await say(unlocked, conversation.id, n)).seq).toBe(n);
    const latest = await unlocked.latestMessages(conversation.id, 3);
    expect(seqsOf(latest)).toEqual([3, 4, 5]);
    expect(latest[2]).toEqual({
      kind: 'message',
      conversationId: conversation.id,
      seq: 5,
      messageId: idFor(5),
      author: GUEST,
      stream: { type: 'group' },
      authorSeq: 5,
      writtenAtMs: 1005,
      atMs: 1_000_000,
      content: { type: 'text', text: 'message 5' },
      delivery: [],
    });
  });

  it('gives concurrent appends distinct consecutive seqs', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    const store = await storeFor(unlocked, conversation.id);
    await Promise.all(Array.from({ length: 20 }, (_, n) => store.recordShown(groupMessage(n + 1, GUEST_ID))));
    expect(seqsOf(await unlocked.latestMessages(conversation.id, 50))).toEqual(Array.from({ length: 20 }, (_, n) => n + 1));
    expect(valueOf(await unlocked.conversation(conversation.id)).messageCount).toBe(20);
  });

  it('pages backwards with messagesBefore without gaps or repeats', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    for (let n = 1; n <= 23; n++) await say(unlocked, conversation.id, n);
    const seen: (number | null)[] = [];
    let page = await unlocked.latestMessages(conversation.id, 10);
    while (page.length > 0) {
      seen.unshift(...seqsOf(page));
      const oldest = page[0]?.seq ?? 1;
      page = await unlocked.messagesBefore(conversation.id, oldest, 10);
    }
    expect(seen).toEqual(Array.from({ length: 23 }, (_, n) => n + 1));
    expect(seqsOf(await unlocked.messagesBefore(conversation.id, 3, 10))).toEqual([1, 2]);
    expect(await unlocked.messagesBefore(conversation.id, 1, 10)).toEqual([]);
  });

  it('refuses unknown conversations, bad ids, empty or oversized text, and page sizes out of range, writing nothing', async () => {
    const { store: vaultStore, unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    const store = await storeFor(unlocked, conversation.id);
    const before = vaultStore.snapshot();
    expect(await refusal((await unlocked.conversationStore(idFor(99))).recordShown(groupMessage(1, GUEST_ID)))).toEqual({ ok: false, reason: 'no-conversation' });
    for (const bad of [{ id: 'short' }, { text: '' }, { text: 'x'.repeat(65_537) }, { text: '\uD800' }, { seq: 0 }, { writtenAtMs: 1.5 }, { author: 'not a member' }]) {
      await expect(store.recordShown(groupMessage(1, GUEST_ID, bad)), JSON.stringify(bad)).rejects.toThrow('malformed');
    }
    await expect(store.recordOutgoing(groupMessage(1, GUEST_ID), [GUEST_ID]), 'someone else’s message as ours').rejects.toThrow('another author');
    const self = await selfIdOf(unlocked);
    await expect(store.recordOutgoing(groupMessage(1, self), [])).rejects.toThrow('1 to');
    await expect(store.recordOutgoing(groupMessage(1, self), [GUEST_ID, GUEST_ID])).rejects.toThrow('different people');
    await expect(store.recordOutgoing(groupMessage(1, self, { stream: 'private' }), [GUEST_ID, idFor(3)])).rejects.toThrow('one person');
    expect(vaultStore.snapshot()).toEqual(before);
    await store.recordShown(groupMessage(1, GUEST_ID, { text: 'x'.repeat(65_536) }));
    await expect(unlocked.latestMessages(conversation.id, 0)).rejects.toThrow(RangeError);
    await expect(unlocked.latestMessages(conversation.id, 501)).rejects.toThrow(RangeError);
  });

  it('keeps each addressee’s delivery state apart, moved on only by that member’s receipts, never by a message reusing our id', async () => {
    const { clock, unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    const store = await storeFor(unlocked, conversation.id);
    const self = await selfIdOf(unlocked);
    const carol = idFor(300);
    store.nameGuest(GUEST_ID, 'Guest 1');
    store.nameGuest(carol, 'Guest 2');
    await store.load();
    await store.recordOutgoing(groupMessage(1, self), [GUEST_ID, carol]);
    // A member picks its own message ids, and may pick ours.
    await store.recordShown(groupMessage(1, carol));
    clock.advance(100);
    await store.recordReceipts(GUEST_ID, 1, 0);
    clock.advance(100);
    await store.recordReceipts(GUEST_ID, 1, 1);
    const guest1 = { type: 'guest', label: 'Guest 1', memberId: GUEST_ID };
    const guest2 = { type: 'guest', label: 'Guest 2', memberId: carol };
    expect(await unlocked.latestMessages(conversation.id, 10)).toMatchObject([
      {
        seq: 1,
        author: { type: 'me' },
        delivery: [
          { to: guest1, state: 'read', atMs: 1_000_200 },
          { to: guest2, state: 'sending', atMs: 1_000_000 },
        ],
      },
      { seq: 2, author: guest2, delivery: [] },
    ]);
    // Receipts for what was never addressed to that member change nothing.
    const before = await unlocked.latestMessages(conversation.id, 10);
    await store.recordReceipts(idFor(400), 5, 5);
    expect(await unlocked.latestMessages(conversation.id, 10)).toEqual(before);
  });

  it('refuses to take a seq another tab already wrote, writing nothing', async () => {
    const fixture = await unlockedFixture();
    const { store, unlocked } = fixture;
    const conversation = await conversationIn(unlocked);
    await say(unlocked, conversation.id, 1);
    const dataKey = await dataKeyOf(fixture);
    const sealed = await sealMessage(dataKey, { conversationId: conversation.id, seq: 2, messageId: idFor(50) }, textRecord('from the other tab', 1), systemRandom);
    await put(store, [{ type: 'add-message', row: { conversationId: conversation.id, seq: 2, messageId: idFor(50), sealed } }]);
    const before = store.snapshot();
    expect(await refusal((await storeFor(unlocked, conversation.id)).recordShown(groupMessage(2, GUEST_ID)))).toEqual({ ok: false, reason: 'conflict' });
    expect(store.snapshot()).toEqual(before);
  });
});

describe('a conversation of 100 000 messages', () => {
  it('serves the latest 50, and each page before them, reading only the rows it returns and its conversation', { timeout: 120_000 }, async () => {
    const fixture = await unlockedFixture();
    const { store, unlocked } = fixture;
    const conversation = await conversationIn(unlocked);
    const dataKey = await dataKeyOf(fixture);
    const total = 100_000;
    const batchSize = 2_000;
    for (let first = 1; first <= total; first += batchSize) {
      const rows = await Promise.all(
        Array.from({ length: batchSize }, async (_, offset): Promise<VaultWrite> => {
          const seq = first + offset;
          const key = { conversationId: conversation.id, seq, messageId: idFor(seq) };
          return { type: 'add-message', row: { ...key, sealed: await sealMessage(dataKey, key, textRecord(`message ${seq}`, seq), systemRandom) } };
        }),
      );
      await put(store, rows);
    }
    const summary: ConversationRecord = {
      roomSecret: roomSecret(1),
      title: '',
      contactIds: [],
      pairContactId: null,
      createdAtMs: 0,
      updatedAtMs: total,
      lastSeq: total,
      unreadCount: total,
      lastMessage: { seq: total, author: GUEST, atMs: total, preview: { type: 'text', text: `message ${total}` } },
      receivedFileBytes: 0,
      lastOwnSeq: 0,
      lastShown: [],
      outbox: [],
    };
    const sealedSummary = await sealConversation(dataKey, conversation.id, summary, systemRandom);
    await put(store, [{ type: 'put-row', store: 'conversations', row: { id: conversation.id, sealed: sealedSummary } }]);
    expect(store.counts().messages).toBe(total);

    // Each page reads its rows and the conversation's record (which names the other person of messages kept before groups).
    store.rowsRead = 0;
    const latest = await unlocked.latestMessages(conversation.id, 50);
    expect(store.rowsRead).toBe(51);
    expect(seqsOf(latest)).toEqual(Array.from({ length: 50 }, (_, n) => total - 49 + n));
    expect(textsOf(latest).at(-1)).toBe(`message ${total}`);

    store.rowsRead = 0;
    const middle = await unlocked.messagesBefore(conversation.id, 50_001, 50);
    expect(store.rowsRead).toBe(51);
    expect(seqsOf(middle)).toEqual(Array.from({ length: 50 }, (_, n) => 49_951 + n));

    store.rowsRead = 0;
    const oldest = await unlocked.messagesBefore(conversation.id, 3, 50);
    expect(store.rowsRead).toBe(3);
    expect(textsOf(oldest)).toEqual(['message 1', 'message 2']);

    // The list reads the conversation records only, never a message.
    store.rowsRead = 0;
    expect(await unlocked.conversations()).toMatchObject([{ messageCount: total, unreadCount: total }]);
    expect(store.rowsRead).toBe(1);

    // Keeping a message reads the conversation record, not the history.
    const groupStore = await storeFor(unlocked, conversation.id);
    groupStore.nameGuest(GUEST_ID, 'Guest');
    store.rowsRead = 0;
    await groupStore.recordShown(groupMessage(1, GUEST_ID));
    expect(store.rowsRead).toBe(1);
    expect(seqsOf(await unlocked.latestMessages(conversation.id, 1))).toEqual([total + 1]);
  });
});

describe('files', () => {
  it('stores a file in 1 MiB sealed parts and reads back the same bytes, with its type', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    const { blob, bytes } = randomBlob(2 * FILE_PART_BYTES + 12_345, 'image/png');
    const message = valueOf(
      await unlocked.saveFile(conversation.id, fileDraft(1, 'cat.png', 'image/png'), blob),
    );
    expect(message.content).toEqual({
      type: 'file',
      file: { fileId: expect.any(String), name: 'cat.png', mimeType: 'image/png', sizeBytes: bytes.length, partCount: 3 },
    });
    expect(store.counts()).toMatchObject({ messages: 1, fileParts: 3, pendingFiles: 0 });
    if (message.content.type !== 'file') throw new Error('not a file');
    const read = valueOf(await unlocked.readFile(conversation.id, message.content.file));
    expect(read.type).toBe('image/png');
    // bytesEqual rather than toEqual: a deep comparison of megabytes takes the matcher seconds.
    expect(bytesEqual(new Uint8Array(await read.arrayBuffer()), bytes)).toBe(true);
    expect(valueOf(await unlocked.conversation(conversation.id)).lastMessage?.preview).toEqual({ type: 'file', name: 'cat.png', mimeType: 'image/png' });
    // No part of the plaintext reached the store.
    expect(storeHolds(store, bytes.subarray(FILE_PART_BYTES, FILE_PART_BYTES + 16))).toBe(false);
  });

  it('stores an empty file with no parts, and an unknown type as application/octet-stream', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    const message = valueOf(await unlocked.saveFile(conversation.id, fileDraft(1, 'empty', '', 'me'), new Blob([])));
    if (message.content.type !== 'file') throw new Error('not a file');
    expect(message.content.file).toMatchObject({ sizeBytes: 0, partCount: 0, mimeType: 'application/octet-stream' });
    expect((await valueOf(await unlocked.readFile(conversation.id, message.content.file)).arrayBuffer()).byteLength).toBe(0);
  });

  it('refuses a name with control characters and an unknown conversation, writing nothing', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    const before = store.snapshot();
    const draft = fileDraft(1, 'a\nb', 'text/plain');
    expect(await unlocked.saveFile(conversation.id, draft, new Blob(['x']))).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await unlocked.saveFile(idFor(9), { ...draft, name: 'ok.txt' }, new Blob(['x']))).toEqual({ ok: false, reason: 'no-conversation' });
    expect(store.snapshot()).toEqual(before);
  });

  it('reads a file whose part is missing, altered, or swapped in from another file, index or conversation as unreadable', async () => {
    const { store, unlocked } = await unlockedFixture();
    const one = await conversationIn(unlocked, 1);
    const two = await conversationIn(unlocked, 2);
    const save = async (conversationId: string, n: number): Promise<{ fileId: string; name: string; mimeType: string; sizeBytes: number; partCount: number }> => {
      const stored = valueOf(
        await unlocked.saveFile(conversationId, fileDraft(n, `f${n}`), randomBlob(2 * FILE_PART_BYTES + 10).blob),
      );
      if (stored.content.type !== 'file') throw new Error('not a file');
      return stored.content.file;
    };
    const file = await save(one.id, 1);
    const sibling = await save(one.id, 2);
    const elsewhere = await save(two.id, 3);
    const partOf = async (conversationId: string, fileId: string, index: number): Promise<Uint8Array> => {
      const row = parseFilePartRow(await store.readFilePart(conversationId, fileId, index));
      if (row === null) throw new Error('no part');
      return row.sealed;
    };
    const original = await partOf(one.id, file.fileId, 0);
    const replacements: [string, Uint8Array][] = [
      // Parts 0 and 1 are both full-size, so only the binding of the index can tell them apart.
      ['the other index of the same file', await partOf(one.id, file.fileId, 1)],
      ['the same index of another file', await partOf(one.id, sibling.fileId, 0)],
      ['the same index of a file in another conversation', await partOf(two.id, elsewhere.fileId, 0)],
      ['a flipped bit', Uint8Array.from(original, (byte, index) => (index === 40 ? byte ^ 1 : byte))],
    ];
    for (const [what, sealed] of replacements) {
      await put(store, [{ type: 'put-file-part', row: { conversationId: one.id, fileId: file.fileId, index: 0, sealed } }]);
      expect(await unlocked.readFile(one.id, file), what).toMatchObject({ ok: false, reason: 'unreadable' });
    }
    await put(store, [{ type: 'put-file-part', row: { conversationId: one.id, fileId: file.fileId, index: 0, sealed: original } }]);
    expect((await unlocked.readFile(one.id, file)).ok).toBe(true);
    // The whole file, every part under its own file id and index, copied into another conversation.
    const copies: VaultWrite[] = [];
    for (let index = 0; index < file.partCount; index++) {
      copies.push({ type: 'put-file-part', row: { conversationId: two.id, fileId: file.fileId, index, sealed: await partOf(one.id, file.fileId, index) } });
    }
    await put(store, copies);
    expect(await unlocked.readFile(two.id, file)).toMatchObject({ ok: false, reason: 'unreadable' });
    await put(store, [{ type: 'delete-file', conversationId: one.id, fileId: file.fileId }]);
    expect(await unlocked.readFile(one.id, file)).toMatchObject({ ok: false, reason: 'unreadable' });
  });

  it('deletes at the next unlock the parts of a save that never finished', async () => {
    const { store, unlocked, vault } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    const sealed = new Uint8Array(100).fill(7);
    // What a page closed halfway through a save leaves: a pending marker and some parts.
    await put(store, [
      { type: 'put-pending-file', row: { conversationId: conversation.id, fileId: idFor(5) } },
      { type: 'put-file-part', row: { conversationId: conversation.id, fileId: idFor(5), index: 0, sealed } },
    ]);
    unlocked.lock();
    const again = await vault.unlock(PASSPHRASE);
    expect(again.ok).toBe(true);
    expect(store.counts()).toMatchObject({ fileParts: 0, pendingFiles: 0, conversations: 1 });
  });
});

describe('the budget for received files', () => {
  const MIB = 1024 * 1024;
  const incoming = (n: number, name = `in-${n}.bin`): NewFileMessage => fileDraft(n, name);
  const outgoing = (n: number): NewFileMessage => fileDraft(n, `out-${n}.bin`, '', 'me');

  /** Rewrites the conversation's record with `change` applied, as storage would hold it. */
  async function rewriteRecord(fixture: Awaited<ReturnType<typeof unlockedFixture>>, id: string, change: (record: ConversationRecord) => unknown): Promise<void> {
    const dataKey = await dataKeyOf(fixture);
    const row = parseSealedRow(await fixture.store.readRow('conversations', id));
    const record = row === null ? null : await openConversationRecord(dataKey, id, row.sealed);
    if (record === null) throw new Error('no record');
    const changed = change(record);
    const sealed = await sealJsonRecord(dataKey, 'conversation', id, changed, systemRandom);
    await put(fixture.store, [{ type: 'put-row', store: 'conversations', row: { id, sealed } }]);
  }

  it('keeps received files up to the budget; the one that would go over is refused before anything is written', async () => {
    const fixture = await unlockedFixture();
    const { store, unlocked } = fixture;
    valueOf(await unlocked.savePreferences({ receivedFilesBudgetBytes: 256 * MIB }));
    const conversation = await conversationIn(unlocked);
    // As if 256 MiB less 15 bytes were kept already (writing that much in a unit test would take long).
    await rewriteRecord(fixture, conversation.id, (record) => ({ v: 2, ...record, roomSecret: Buffer.from(record.roomSecret).toString('base64url'), receivedFileBytes: 256 * MIB - 15 }));
    valueOf(await unlocked.saveFile(conversation.id, incoming(1), randomBlob(10).blob));
    const before = store.snapshot();
    expect(await unlocked.saveFile(conversation.id, incoming(2), randomBlob(6).blob)).toEqual({ ok: false, reason: 'over-budget', keptBytes: 256 * MIB - 5, budgetBytes: 256 * MIB });
    expect(store.snapshot()).toEqual(before);
    // Exactly up to the budget is within it.
    valueOf(await unlocked.saveFile(conversation.id, incoming(3), randomBlob(5).blob));
    expect(store.counts()).toMatchObject({ messages: 2, fileParts: 2, pendingFiles: 0 });
  });

  it('counts received files only: the person’s own files are kept whatever the budget, and asked-for ones count', async () => {
    const { store, unlocked } = await unlockedFixture();
    valueOf(await unlocked.savePreferences({ receivedFilesBudgetBytes: 0 }));
    const conversation = await conversationIn(unlocked);
    valueOf(await unlocked.saveFile(conversation.id, outgoing(1), randomBlob(100).blob));
    expect(await unlocked.saveFile(conversation.id, incoming(2), randomBlob(10).blob)).toEqual({ ok: false, reason: 'over-budget', keptBytes: 0, budgetBytes: 0 });
    // The person said "Keep in history".
    valueOf(await unlocked.saveFile(conversation.id, incoming(3), randomBlob(10).blob, { beyondBudget: true }));
    valueOf(await unlocked.saveFile(conversation.id, incoming(4), randomBlob(20).blob, { beyondBudget: true }));
    expect(await unlocked.saveFile(conversation.id, incoming(5), randomBlob(1).blob)).toEqual({ ok: false, reason: 'over-budget', keptBytes: 30, budgetBytes: 0 });
    expect(store.counts()).toMatchObject({ messages: 3, pendingFiles: 0 });
    // Per conversation: another room starts from nothing.
    const other = await conversationIn(unlocked, 2);
    expect(await unlocked.saveFile(other.id, incoming(6), randomBlob(1).blob)).toEqual({ ok: false, reason: 'over-budget', keptBytes: 0, budgetBytes: 0 });
  });

  it('files finishing together cannot slip under the budget together', async () => {
    const fixture = await unlockedFixture();
    const { unlocked } = fixture;
    valueOf(await unlocked.savePreferences({ receivedFilesBudgetBytes: 256 * MIB }));
    const conversation = await conversationIn(unlocked);
    await rewriteRecord(fixture, conversation.id, (record) => ({ v: 2, ...record, roomSecret: Buffer.from(record.roomSecret).toString('base64url'), receivedFileBytes: 256 * MIB - 10 }));
    const results = await Promise.all([1, 2, 3].map((n) => unlocked.saveFile(conversation.id, incoming(n), randomBlob(6).blob)));
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(results.filter((result) => !result.ok && result.reason === 'over-budget')).toHaveLength(2);
    expect(fixture.store.counts()).toMatchObject({ messages: 1, fileParts: 1, pendingFiles: 0 });
  });

  it('a conversation kept before the count existed is counted from its messages once, then carries the count', async () => {
    const fixture = await unlockedFixture();
    const { unlocked } = fixture;
    const conversation = await conversationIn(unlocked);
    valueOf(await unlocked.saveFile(conversation.id, incoming(1), randomBlob(10).blob));
    valueOf(await unlocked.saveFile(conversation.id, outgoing(2), randomBlob(100).blob));
    await say(unlocked, conversation.id, 3);
    valueOf(await unlocked.saveFile(conversation.id, incoming(4), randomBlob(20).blob));
    // The record as an older version wrote it: the two-person format, without the count.
    await rewriteRecord(fixture, conversation.id, (record) => ({
      v: 1,
      roomSecret: Buffer.from(record.roomSecret).toString('base64url'),
      title: record.title,
      contactId: null,
      createdAtMs: record.createdAtMs,
      updatedAtMs: record.updatedAtMs,
      lastSeq: record.lastSeq,
      unreadCount: record.unreadCount,
      lastMessage: null,
    }));
    expect(valueOf(await unlocked.conversation(conversation.id)).messageCount).toBe(4);
    valueOf(await unlocked.savePreferences({ receivedFilesBudgetBytes: 0 }));
    expect(await unlocked.saveFile(conversation.id, incoming(5), randomBlob(1).blob)).toEqual({ ok: false, reason: 'over-budget', keptBytes: 30, budgetBytes: 0 });
    valueOf(await unlocked.saveFile(conversation.id, incoming(6), randomBlob(5).blob, { beyondBudget: true }));
    const row = parseSealedRow(await fixture.store.readRow('conversations', conversation.id));
    const record = row === null ? null : await openConversationRecord(await dataKeyOf(fixture), conversation.id, row.sealed);
    expect(record?.receivedFileBytes).toBe(35);
  });
});

describe('deleting history', () => {
  it('deletes one conversation with its messages and files, and nothing else', async () => {
    const { store, unlocked } = await unlockedFixture();
    const kept = await conversationIn(unlocked, 1);
    const gone = await conversationIn(unlocked, 2);
    await say(unlocked, kept.id, 1);
    const keptSnapshotRows = await messageRows(store, kept.id);
    await say(unlocked, gone.id, 2);
    valueOf(await unlocked.saveFile(gone.id, fileDraft(3, 'x'), randomBlob(10).blob));
    await say(unlocked, gone.id, 4, 'outgoing');
    expect(store.counts()).toMatchObject({ conversations: 2, messages: 4, outbox: 1 });
    valueOf(await unlocked.deleteConversation(gone.id));
    expect(store.counts()).toEqual({ settings: 2, conversations: 1, contacts: 0, messages: 1, outbox: 0, fileParts: 0, pendingFiles: 0 });
    expect(await messageRows(store, kept.id)).toEqual(keptSnapshotRows);
    expect(await unlocked.conversation(gone.id)).toEqual({ ok: false, reason: 'no-conversation' });
    expect(await unlocked.latestMessages(gone.id, 10)).toEqual([]);
  });

  it('deletes all history, keeping the profile and contacts', async () => {
    const { store, unlocked } = await unlockedFixture();
    for (const seed of [1, 2, 3]) {
      const conversation = await conversationIn(unlocked, seed);
      await say(unlocked, conversation.id, seed);
    }
    const conversation = await conversationIn(unlocked, 1);
    valueOf(await unlocked.saveFile(conversation.id, fileDraft(9, 'x'), randomBlob(10).blob));
    await say(unlocked, conversation.id, 10, 'outgoing');
    valueOf(
      await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: unlocked.profile.identity.publicKeySpki }),
    );
    valueOf(await unlocked.deleteAllHistory());
    expect(store.counts()).toEqual({ settings: 2, conversations: 0, contacts: 1, messages: 0, outbox: 0, fileParts: 0, pendingFiles: 0 });
    expect(await unlocked.conversations()).toEqual([]);
  });
});

describe('tampered storage', () => {
  it('does not open a message moved to another conversation, another seq, or given another message id', async () => {
    const { store, unlocked } = await unlockedFixture();
    const one = await conversationIn(unlocked, 1);
    const two = await conversationIn(unlocked, 2);
    // Message id 1 at seq 1 in both conversations, and again at seq 3 in the first (a peer may reuse ids):
    // each swap below differs from the original in exactly one bound field.
    await say(unlocked, one.id, 1);
    await say(unlocked, one.id, 2);
    await say(unlocked, one.id, 1);
    await say(unlocked, two.id, 1);
    const [first, , third] = await messageRows(store, one.id);
    const [other] = await messageRows(store, two.id);
    if (first === undefined || third === undefined || other === undefined) throw new Error('rows missing');
    const swaps: [string, MessageRow][] = [
      ['from another conversation', { ...first, sealed: other.sealed }],
      ['from another seq', { ...first, sealed: third.sealed }],
      ['with another clear message id', { ...first, messageId: idFor(77) }],
    ];
    for (const [what, row] of swaps) {
      await put(store, [{ type: 'put-message', row }]);
      const [entry] = await unlocked.messagesBefore(one.id, 2, 1);
      expect(entry, what).toEqual({ kind: 'unreadable', conversationId: one.id, seq: 1 });
    }
    // Put back, it opens again: the failures above were the swaps.
    await put(store, [{ type: 'put-message', row: first }]);
    expect(textsOf(await unlocked.messagesBefore(one.id, 2, 1))).toEqual(['message 1']);
  });

  it('lists a conversation whose record was swapped with another’s as unreadable, and refuses to append to it', async () => {
    const { store, unlocked } = await unlockedFixture();
    const one = await conversationIn(unlocked, 1);
    const two = await conversationIn(unlocked, 2);
    const sealedTwo = parseSealedRow(await store.readRow('conversations', two.id));
    if (sealedTwo === null) throw new Error('row missing');
    await put(store, [{ type: 'put-row', store: 'conversations', row: { id: one.id, sealed: sealedTwo.sealed } }]);
    expect(await unlocked.conversations()).toContainEqual({ kind: 'unreadable', id: one.id });
    expect(await refusal((await storeFor(unlocked, one.id)).recordShown(groupMessage(1, GUEST_ID)))).toMatchObject({ ok: false, reason: 'unreadable' });
    // A message record opened as a conversation record (another kind) does not open either.
    await say(unlocked, two.id, 1);
    const [message] = await messageRows(store, two.id);
    if (message === undefined) throw new Error('row missing');
    await put(store, [{ type: 'put-row', store: 'conversations', row: { id: two.id, sealed: message.sealed } }]);
    expect(await unlocked.conversation(two.id)).toMatchObject({ ok: false, reason: 'unreadable' });
  });

  it('reports a malformed message row as unreadable rather than failing the page', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked);
    await say(unlocked, conversation.id, 1);
    await say(unlocked, conversation.id, 2);
    const [first] = await messageRows(store, conversation.id);
    if (first === undefined) throw new Error('row missing');
    await put(store, [{ type: 'put-message', row: { ...first, sealed: first.sealed.subarray(0, 10) } }]);
    expect(await unlocked.latestMessages(conversation.id, 10)).toMatchObject([{ kind: 'unreadable', seq: null }, { kind: 'message', seq: 2 }]);
  });
});

describe('what reaches storage', () => {
  it('holds no message text, file bytes, titles, names, room secrets, times, authors or addressees in the clear', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = await conversationIn(unlocked, 1, 'Secret Project');
    const groupStore = await storeFor(unlocked, conversation.id);
    groupStore.nameGuest(GUEST_ID, 'Guest Seven');
    await groupStore.recordShown(groupMessage(1, GUEST_ID, { text: 'the eagle lands at dawn', writtenAtMs: 1_712_345_678_901 }));
    await groupStore.recordOutgoing(groupMessage(2, await selfIdOf(unlocked), { text: 'the owl flies at noon', writtenAtMs: 1_712_345_999_999 }), [GUEST_ID]);
    const { blob, bytes } = randomBlob(3000);
    valueOf(await unlocked.saveFile(conversation.id, fileDraft(3, 'plans.pdf', 'application/pdf'), blob));
    valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Mallory', publicKeySpki: unlocked.profile.identity.publicKeySpki }));
    for (const secret of ['eagle', 'owl', 'Secret Project', 'plans.pdf', 'application/pdf', 'Mallory', 'Guest Seven', GUEST_ID, '1712345678901', '1712345999999']) {
      expect(storeHolds(store, secret), secret).toBe(false);
    }
    expect(storeHolds(store, roomSecret(1))).toBe(false);
    expect(storeHolds(store, bytes.subarray(100, 132))).toBe(false);
    // The clear part of each row is exactly its key (and a message's clear message id).
    const [row] = await store.readMessages(conversation.id, { direction: 'backward', beforeSeq: null }, 1);
    expect(Object.keys(row ?? {}).sort()).toEqual(['conversationId', 'messageId', 'sealed', 'seq']);
    const [entry] = await store.readOutbox(conversation.id);
    expect(Object.keys(entry ?? {}).sort()).toEqual(['conversationId', 'entryId', 'sealed']);
  });
});

describe('a full disk', () => {
  it('refuses with quota-exceeded a message that does not fit, keeping everything saved before', async () => {
    const { store, unlocked } = await unlockedFixture({ quotaBytes: 6_000 });
    const conversation = await conversationIn(unlocked);
    const groupStore = await storeFor(unlocked, conversation.id);
    let stored = 0;
    let failure: unknown = null;
    let before: unknown = null;
    for (let n = 1; n <= 100 && failure === null; n++) {
      before = store.snapshot();
      failure = await groupStore.recordShown(groupMessage(n, GUEST_ID, { text: `message ${n} `.repeat(20) })).then(
        () => null,
        (error: unknown) => (error instanceof ConversationStoreError ? error.failure : error),
      );
      if (failure === null) stored += 1;
    }
    expect(failure).toEqual({ ok: false, reason: 'quota-exceeded' });
    expect(stored).toBeGreaterThan(2);
    expect(store.snapshot()).toEqual(before);
    expect(seqsOf(await unlocked.latestMessages(conversation.id, 100))).toEqual(Array.from({ length: stored }, (_, n) => n + 1));
  });

  it('refuses a file the estimate says will not fit before writing any of it', async () => {
    const { store, unlocked } = await unlockedFixture({ quotaBytes: 3 * FILE_PART_BYTES });
    const conversation = await conversationIn(unlocked);
    const before = store.snapshot();
    const draft = fileDraft(1, 'big.bin');
    expect(await unlocked.saveFile(conversation.id, draft, randomBlob(2 * FILE_PART_BYTES).blob)).toEqual({ ok: false, reason: 'quota-exceeded' });
    expect(store.snapshot()).toEqual(before);
  });

  it('undoes a file save that runs out of room halfway when the browser cannot estimate', async () => {
    const { store, unlocked } = await unlockedFixture({ quotaBytes: 6 * FILE_PART_BYTES, canEstimate: false });
    const conversation = await conversationIn(unlocked);
    const before = store.snapshot();
    const draft = fileDraft(1, 'big.bin');
    expect(await unlocked.saveFile(conversation.id, draft, randomBlob(9 * FILE_PART_BYTES).blob)).toEqual({ ok: false, reason: 'quota-exceeded' });
    expect(store.snapshot()).toEqual(before);
    // Smaller files still fit afterwards.
    expect((await unlocked.saveFile(conversation.id, draft, randomBlob(FILE_PART_BYTES).blob)).ok).toBe(true);
  });
});
