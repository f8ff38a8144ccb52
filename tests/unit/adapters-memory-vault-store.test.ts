import { describe, expect, it } from 'vitest';
import { MemoryVaultStore } from '../../src/adapters/storage/memoryVaultStore.ts';
import type { MessageRow } from '../../src/core/vault/storePort.ts';
import { idFor } from './support/vaultFakes.ts';

/** The in-memory store stands in for IndexedDB in every vault test, so the semantics those tests rely on are pinned here. */

function message(conversation: number, seq: number, sealedBytes = 40): MessageRow {
  return { conversationId: idFor(conversation), seq, messageId: idFor(1000 + seq), sealed: new Uint8Array(sealedBytes).fill(seq) };
}

describe('MemoryVaultStore', () => {
  it('applies a batch all or nothing: a conflict late in the batch undoes what came before it', async () => {
    const store = new MemoryVaultStore();
    expect(await store.write([{ type: 'add-message', row: message(1, 1) }])).toEqual({ ok: true });
    const before = store.snapshot();
    expect(
      await store.write([
        { type: 'put-row', store: 'contacts', row: { id: idFor(5), sealed: new Uint8Array(30) } },
        { type: 'put-failed-unlocks', count: 4 },
        { type: 'delete-conversation', conversationId: idFor(1) },
        { type: 'add-message', row: message(2, 1) },
        { type: 'add-header', header: { any: 'thing' } },
        { type: 'add-header', header: { second: 'header' } },
      ]),
    ).toEqual({ ok: false, reason: 'conflict' });
    expect(store.snapshot()).toEqual(before);
  });

  it('refuses an existing message key with add, replaces it with put, and guards against an existing header', async () => {
    const store = new MemoryVaultStore();
    await store.write([{ type: 'add-message', row: message(1, 1) }]);
    expect(await store.write([{ type: 'add-message', row: message(1, 1, 50) }])).toEqual({ ok: false, reason: 'conflict' });
    expect(await store.write([{ type: 'put-message', row: message(1, 1, 50) }])).toEqual({ ok: true });
    expect(await store.write([{ type: 'require-no-header' }])).toEqual({ ok: true });
    await store.write([{ type: 'put-header', header: { h: 1 } }]);
    expect(await store.write([{ type: 'require-no-header' }, { type: 'clear-rows' }])).toEqual({ ok: false, reason: 'conflict' });
    expect(store.counts().messages).toBe(1);
  });

  it('fails a write that would exceed the quota, leaving everything as it was; shrinking writes still pass', async () => {
    const store = new MemoryVaultStore({ quotaBytes: 100 });
    await store.write([{ type: 'add-message', row: message(1, 1, 60) }]);
    const before = store.snapshot();
    expect(await store.write([{ type: 'add-message', row: message(1, 2, 10) }, { type: 'add-message', row: message(1, 3, 40) }])).toEqual({
      ok: false,
      reason: 'quota-exceeded',
    });
    expect(store.snapshot()).toEqual(before);
    expect(await store.estimate()).toEqual({ usageBytes: 60, quotaBytes: 100 });
    expect(await store.write([{ type: 'delete-conversation', conversationId: idFor(1) }])).toEqual({ ok: true });
    expect(await store.estimate()).toEqual({ usageBytes: 0, quotaBytes: 100 });
  });

  it('reads message ranges in key order, counting only the rows it returns', async () => {
    const store = new MemoryVaultStore();
    // Written out of order and in two conversations.
    for (const seq of [5, 1, 3, 2, 4]) await store.write([{ type: 'add-message', row: message(1, seq) }, { type: 'add-message', row: message(2, seq) }]);
    const seqs = (rows: readonly unknown[]): unknown[] => rows.map((row) => (typeof row === 'object' && row !== null ? Reflect.get(row, 'seq') : null));
    store.rowsRead = 0;
    expect(seqs(await store.readMessages(idFor(1), { direction: 'backward', beforeSeq: null }, 2))).toEqual([5, 4]);
    expect(seqs(await store.readMessages(idFor(1), { direction: 'backward', beforeSeq: 4 }, 10))).toEqual([3, 2, 1]);
    expect(seqs(await store.readMessages(idFor(1), { direction: 'forward', afterSeq: 2 }, 2))).toEqual([3, 4]);
    expect(store.rowsRead).toBe(7);
    expect(seqs(await store.readMessagesById(idFor(1), idFor(1003)))).toEqual([3]);
  });

  it('hands out copies, so changing what was read changes nothing stored', async () => {
    const store = new MemoryVaultStore();
    await store.write([{ type: 'put-row', store: 'settings', row: { id: 'profile', sealed: new Uint8Array(30).fill(1) } }]);
    const row = await store.readRow('settings', 'profile');
    const sealed: unknown = typeof row === 'object' && row !== null ? Reflect.get(row, 'sealed') : null;
    if (!(sealed instanceof Uint8Array)) throw new Error('no bytes');
    sealed.fill(9);
    expect(await store.readRow('settings', 'profile')).toEqual({ id: 'profile', sealed: new Uint8Array(30).fill(1) });
  });

  it('keeps outbox rows by [conversation, entry], reads one conversation’s in key order, and deletes them with it', async () => {
    const store = new MemoryVaultStore();
    const entry = (conversation: number, entry: number) => ({ conversationId: idFor(conversation), entryId: idFor(entry), sealed: new Uint8Array(30).fill(entry) });
    await store.write([
      { type: 'put-outbox', row: entry(1, 9) },
      { type: 'put-outbox', row: entry(1, 3) },
      { type: 'put-outbox', row: entry(2, 5) },
    ]);
    const ids = (rows: readonly unknown[]) => rows.map((row) => (row !== null && typeof row === 'object' && 'entryId' in row ? row.entryId : null));
    expect(ids(await store.readOutbox(idFor(1)))).toEqual([idFor(3), idFor(9)]);
    await store.write([{ type: 'delete-outbox', conversationId: idFor(1), entryId: idFor(3) }]);
    expect(ids(await store.readOutbox(idFor(1)))).toEqual([idFor(9)]);
    await store.write([{ type: 'delete-conversation', conversationId: idFor(1) }]);
    expect(await store.readOutbox(idFor(1))).toEqual([]);
    expect(store.counts().outbox).toBe(1);
    await store.write([{ type: 'clear-history' }]);
    expect(store.counts().outbox).toBe(0);
  });

  it('holds nothing after destroy', async () => {
    const store = new MemoryVaultStore();
    await store.write([
      { type: 'put-header', header: { h: 1 } },
      { type: 'put-failed-unlocks', count: 2 },
      { type: 'add-message', row: message(1, 1) },
      { type: 'put-pending-file', row: { conversationId: idFor(1), fileId: idFor(2) } },
      { type: 'put-outbox', row: { conversationId: idFor(1), entryId: idFor(3), sealed: new Uint8Array(30) } },
    ]);
    expect(store.isEmpty()).toBe(false);
    await store.destroy();
    expect(store.isEmpty()).toBe(true);
  });
});
