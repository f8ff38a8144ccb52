import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes } from '../../src/core/encoding.ts';
import { messageText } from '../../src/core/protocol/groupMessages.ts';
import { BACKUP_MAGIC, MAX_BACKUP_BYTES, readBackupPreamble } from '../../src/core/vault/backup.ts';
import type { ByteSource } from '../../src/core/vault/blobParts.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import { parseMessageRow, parseOutboxRow, parseSealedRow } from '../../src/core/vault/storePort.ts';
import { FILE_PART_BYTES, openConversationRecord, sealConversation, sealMessage, sealOutboxEntry, type ConversationRecord, type StoredFileInfo } from '../../src/core/vault/vaultRecords.ts';
import type { ImportResult, UnlockedVault } from '../../src/core/vault/vaultService.ts';
import { GUEST_ID, groupMessage, selfIdOf, storeFor } from './support/groupVaultFakes.ts';
import {
  dataKeyOf,
  idFor,
  PASSPHRASE,
  randomBlob,
  roomSecret,
  snapshotWithout,
  unlockedFixture,
  valueOf,
  vaultFixture,
  type VaultFixture,
} from './support/vaultFakes.ts';

/**
 * A vault with two conversations: in "Work", contact Bob and a guest, a message to both that the guest acknowledged
 * (Bob's entry still waits in the outbox, the guest's waits to be read), one from the guest, and a file (1.5 MiB
 * unless given); in the other, one message from the guest.
 */
async function populated(
  fileBytes = FILE_PART_BYTES + FILE_PART_BYTES / 2,
): Promise<VaultFixture & { readonly unlocked: UnlockedVault; readonly file: StoredFileInfo; readonly fileBytes: Uint8Array }> {
  const fixture = await unlockedFixture();
  const { unlocked } = fixture;
  const one = valueOf(await unlocked.openConversation(roomSecret(1), 'Work'));
  const two = valueOf(await unlocked.openConversation(roomSecret(2)));
  const bobKey = (await generateIdentity()).publicKeySpki;
  valueOf(await unlocked.observePeer(one.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: bobKey }));
  const work = await storeFor(unlocked, one.id);
  work.nameGuest(GUEST_ID, 'Guest 1');
  await work.load();
  await work.recordOutgoing(groupMessage(1, await selfIdOf(unlocked), { text: 'hello' }), [await memberIdOf(bobKey), GUEST_ID]);
  await work.recordShown(groupMessage(2, GUEST_ID, { text: 'hi there' }));
  await work.recordReceipts(GUEST_ID, 1, 0);
  await (await storeFor(unlocked, two.id)).recordShown(groupMessage(3, GUEST_ID, { text: 'other room' }));
  const { blob, bytes } = randomBlob(fileBytes, 'image/png');
  const draft = { messageId: idFor(4), author: { type: 'guest', label: 'Guest 1', memberId: GUEST_ID }, stream: { type: 'group' }, name: 'photo.png', mimeType: 'image/png' } as const;
  const saved = valueOf(await unlocked.saveFile(one.id, draft, blob));
  if (saved.content.type !== 'file') throw new Error('not a file');
  // An optional settings record travels too.
  valueOf(await unlocked.savePreferences({ autoLockMinutes: 5, receivedFilesBudgetBytes: 0 }));
  return { ...fixture, file: saved.content.file, fileBytes: bytes };
}

/** Rewrites the record of the conversation of `secret` with `change` applied, sealed as the vault would. */
async function rewriteConversation(fixture: VaultFixture & { readonly unlocked: UnlockedVault }, secret: Uint8Array, change: (record: ConversationRecord) => ConversationRecord): Promise<void> {
  const { id } = valueOf(await fixture.unlocked.openConversation(secret));
  const dataKey = await dataKeyOf(fixture);
  const row = parseSealedRow(await fixture.store.readRow('conversations', id));
  const record = row === null ? null : await openConversationRecord(dataKey, id, row.sealed);
  if (record === null) throw new Error('no conversation record');
  await fixture.store.write([{ type: 'put-row', store: 'conversations', row: { id, sealed: await sealConversation(dataKey, id, change(record), systemRandom) } }]);
}

async function exported(unlocked: UnlockedVault): Promise<Uint8Array> {
  const result = await unlocked.exportBackup();
  if (!result.ok) throw new Error(result.detail);
  return new Uint8Array(await result.blob.arrayBuffer());
}

/** The backup split at its documented frame boundaries: preamble, each record, and the manifest record. */
function splitBackup(bytes: Uint8Array): { preamble: Uint8Array; records: Uint8Array[]; manifest: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 12 + view.getUint32(12) + 4;
  const preamble = bytes.subarray(0, offset);
  const records: Uint8Array[] = [];
  const skipId = (): void => {
    offset += 1 + view.getUint8(offset);
  };
  for (;;) {
    const start = offset;
    const tag = view.getUint8(offset);
    offset += 1;
    if (tag === 0xff) {
      offset += 4 + view.getUint32(offset);
      return { preamble, records, manifest: bytes.subarray(start, offset) };
    }
    if (tag <= 0x03) skipId();
    else if (tag === 0x06) {
      skipId();
      skipId();
    } else if (tag === 0x04) {
      skipId();
      offset += 4;
      skipId();
    } else if (tag === 0x05) {
      skipId();
      skipId();
      offset += 4;
    } else throw new Error(`unknown tag ${tag}`);
    offset += 4 + view.getUint32(offset);
    records.push(bytes.subarray(start, offset));
  }
}

async function importInto(fixture: VaultFixture, bytes: Uint8Array, passphrase = PASSPHRASE): Promise<ImportResult> {
  return (await fixture.reopen()).importBackup(new Blob([new Uint8Array(bytes)]), passphrase);
}

describe('export and import', () => {
  it('restores every conversation, message, delivery state, outbox entry, file and contact, byte for byte, in another browser', async () => {
    const source = await populated();
    const backup = await exported(source.unlocked);
    expect(bytesEqual(backup.subarray(0, 8), BACKUP_MAGIC)).toBe(true);

    const target = vaultFixture();
    const imported = await importInto(target, backup);
    if (!imported.ok) throw new Error(JSON.stringify(imported));
    const restored = imported.vault;
    expect(restored.profile.displayName).toBe('Ada');
    expect(restored.profile.identity.publicKeySpki).toEqual(source.unlocked.profile.identity.publicKeySpki);
    expect(await restored.conversations()).toEqual(await source.unlocked.conversations());
    for (const conversation of await source.unlocked.conversations()) {
      expect(await restored.latestMessages(conversation.id, 50)).toEqual(await source.unlocked.latestMessages(conversation.id, 50));
    }
    const conversationId = (await restored.conversations()).find((entry) => entry.kind === 'conversation' && entry.title === 'Work')?.id ?? '';
    const file = valueOf(await restored.readFile(conversationId, source.file));
    expect(bytesEqual(new Uint8Array(await file.arrayBuffer()), source.fileBytes)).toBe(true);
    expect(await restored.contacts()).toEqual(await source.unlocked.contacts());
    // The count of received-file bytes travels in the conversation record: the restored history knows what it keeps.
    expect(await restored.preferences()).toEqual({ autoLockMinutes: 5, receivedFilesBudgetBytes: 0 });
    const draft = { messageId: idFor(5), author: { type: 'guest', label: 'Guest 1', memberId: GUEST_ID }, stream: { type: 'group' }, name: 'more.bin', mimeType: '' } as const;
    expect(await restored.saveFile(conversationId, draft, randomBlob(10).blob)).toEqual({ ok: false, reason: 'over-budget', keptBytes: source.fileBytes.length, budgetBytes: 0 });
    // The outbox travels: what waited for Bob still does (and the guest's reading of it is still awaited).
    expect(target.store.counts().outbox).toBe(1);
    expect(await restored.pendingOutbox()).toMatchObject([{ conversationId, waiting: [{ name: 'Bob', count: 1 }] }]);
    const restoredStore = await restored.conversationStore(conversationId);
    expect((await restoredStore.load()).outbox.map((entry) => messageText(entry.message))).toEqual(['hello']);

    // The rows are the same sealed bytes, and the header the same header.
    expect(snapshotWithout(target.store, 'failedUnlocks')).toEqual(snapshotWithout(source.store, 'failedUnlocks'));
    expect(await target.store.readFailedUnlocks()).toBe(0);
    expect(await target.store.persisted()).toBe(true);

    // And it unlocks there with the passphrase, like any vault.
    restored.lock();
    expect((await (await target.reopen()).unlock(PASSPHRASE)).ok).toBe(true);
  });

  it('leaves out the parts of a file whose save never finished', async () => {
    const { store, unlocked } = await populated();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    await store.write([
      { type: 'put-pending-file', row: { conversationId: conversation.id, fileId: idFor(40) } },
      { type: 'put-file-part', row: { conversationId: conversation.id, fileId: idFor(40), index: 0, sealed: new Uint8Array(64) } },
    ]);
    const backup = await exported(unlocked);
    const target = vaultFixture();
    expect((await importInto(target, backup)).ok).toBe(true);
    expect(target.store.counts().fileParts).toBe(2);
  });

  it('refuses a wrong passphrase, writing nothing', async () => {
    const backup = await exported((await populated()).unlocked);
    const target = vaultFixture();
    expect(await importInto(target, backup, 'not the passphrase')).toEqual({ ok: false, reason: 'wrong-passphrase' });
    expect(target.store.writeCalls).toBe(0);
  });

  it('refuses to import over an existing profile, changing nothing', async () => {
    const backup = await exported((await populated()).unlocked);
    const target = await unlockedFixture();
    const before = target.store.snapshot();
    expect(await target.vault.importBackup(new Blob([new Uint8Array(backup)]), PASSPHRASE)).toEqual({ ok: false, reason: 'profile-exists' });
    expect(target.store.snapshot()).toEqual(before);
  });

  it('clears what an interrupted import left behind', async () => {
    const backup = await exported((await populated()).unlocked);
    const target = vaultFixture();
    // Rows without a header: what a tab closed during an import leaves.
    await target.store.write([{ type: 'put-row', store: 'contacts', row: { id: idFor(1), sealed: new Uint8Array(40) } }]);
    expect((await importInto(target, backup)).ok).toBe(true);
    expect(await target.store.readRow('contacts', idFor(1))).toBeUndefined();
  });
});

describe('exportBackup', () => {
  it('refuses to hand out a backup that would not restore', async () => {
    const damage: [string, (fixture: VaultFixture & { readonly unlocked: UnlockedVault; readonly file: StoredFileInfo }) => Promise<void>, RegExp][] = [
      [
        'a message that does not open',
        async ({ store, unlocked }) => {
          const conversation = valueOf(await unlocked.openConversation(roomSecret(2)));
          const [raw] = await store.readMessages(conversation.id, { direction: 'forward', afterSeq: 0 }, 1);
          const row = parseMessageRow(raw);
          if (row === null) throw new Error('no row');
          await store.write([{ type: 'put-message', row: { ...row, sealed: row.sealed.map((byte, index) => (index === 20 ? byte ^ 1 : byte)) } }]);
        },
        /a message record does not open/,
      ],
      [
        'a message beyond its conversation’s end',
        async (fixture) => {
          const conversation = valueOf(await fixture.unlocked.openConversation(roomSecret(2)));
          const key = { conversationId: conversation.id, seq: 7, messageId: idFor(70) };
          const record = { author: { type: 'me' }, stream: { type: 'group' }, authorSeq: null, writtenAtMs: 1, atMs: 1, content: { type: 'text', text: 'stray' }, delivery: [] } as const;
          const sealed = await sealMessage(await dataKeyOf(fixture), key, record, systemRandom);
          await fixture.store.write([{ type: 'add-message', row: { ...key, sealed } }]);
        },
        /beyond the end of its conversation/,
      ],
      [
        'a file without its parts',
        async ({ store, unlocked, file }) => {
          const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
          await store.write([{ type: 'delete-file', conversationId: conversation.id, fileId: file.fileId }]);
        },
        /missing parts/,
      ],
      [
        'a conversation naming a contact that is not kept',
        async (fixture) => {
          await rewriteConversation(fixture, roomSecret(1), (record) => ({ ...record, contactIds: [...record.contactIds, idFor(90)] }));
        },
        /names a contact that is not in the backup/,
      ],
      [
        'a conversation that does not count what waits for Bob',
        async (fixture) => {
          await rewriteConversation(fixture, roomSecret(1), (record) => ({ ...record, outbox: [] }));
        },
        /waits for someone its conversation does not count/,
      ],
      [
        'a conversation counting a message nobody waits for',
        async (fixture) => {
          await rewriteConversation(fixture, roomSecret(1), (record) => ({ ...record, outbox: [...record.outbox, { to: { type: 'guest', label: 'Guest 9', memberId: idFor(91) }, count: 1 }] }));
        },
        /counts waiting messages that are not in the backup/,
      ],
      [
        'an outbox entry following a message that waits on nobody',
        async (fixture) => {
          const conversation = valueOf(await fixture.unlocked.openConversation(roomSecret(1)));
          const key = { conversationId: conversation.id, entryId: idFor(80) };
          // Seq 2 is the guest's message: nobody's receipt is awaited there.
          const sealed = await sealOutboxEntry(await dataKeyOf(fixture), key, { seq: 2, messageId: idFor(2) }, systemRandom);
          await fixture.store.write([{ type: 'put-outbox', row: { ...key, sealed } }]);
        },
        /outbox entry does not match its message/,
      ],
      [
        'a message waiting for Bob without its outbox entry',
        async ({ store, unlocked }) => {
          const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
          const rows = (await store.readOutbox(conversation.id)).flatMap((raw) => parseOutboxRow(raw) ?? []);
          await store.write(rows.map((row) => ({ type: 'delete-outbox', conversationId: row.conversationId, entryId: row.entryId })));
        },
        /waits for someone but has no outbox entry/,
      ],
    ];
    for (const [what, spoil, detail] of damage) {
      const fixture = await populated(100);
      await spoil(fixture);
      expect(await fixture.unlocked.exportBackup(), what).toEqual({ ok: false, reason: 'unreadable', detail: expect.stringMatching(detail) });
    }
  });
});

describe('a damaged or doctored backup', () => {
  it('is refused, with nothing written, wherever a bit is flipped', async () => {
    // A small file, so that each of the many imports is quick; a file's parts are sealed like any other record.
    const backup = await exported((await populated(100)).unlocked);
    const { preamble, records } = splitBackup(backup);
    // Every byte of the preamble and the settings records, then every 7th byte to the end.
    const positions = new Set<number>();
    const dense = preamble.length + (records[0]?.length ?? 0) + (records[1]?.length ?? 0);
    for (let index = 0; index < dense; index++) positions.add(index);
    for (let index = dense; index < backup.length; index += 7) positions.add(index);
    positions.add(backup.length - 1);
    const target = vaultFixture();
    for (const position of positions) {
      const doctored = backup.slice();
      doctored[position] = (doctored[position] ?? 0) ^ 0x10;
      const result = await importInto(target, doctored);
      expect(result.ok, `bit flipped at byte ${position}`).toBe(false);
      // Not written and undone: never written, because every record is checked before the first write.
      expect(target.store.writeCalls, `bit flipped at byte ${position}`).toBe(0);
    }
  }, 120_000);

  it('is refused when cut short anywhere, or when anything follows it', async () => {
    const backup = await exported((await populated()).unlocked);
    const { preamble, records } = splitBackup(backup);
    const target = vaultFixture();
    let boundary = preamble.length;
    const cuts = [0, 7, 8, 12, preamble.length - 1, preamble.length];
    for (const record of records) {
      boundary += record.length;
      cuts.push(boundary, boundary - 1);
    }
    cuts.push(backup.length - 1);
    for (const length of cuts) {
      expect((await importInto(target, backup.subarray(0, length))).ok, `cut to ${length} bytes`).toBe(false);
    }
    expect(await importInto(target, concatBytes(backup, Uint8Array.of(0)))).toMatchObject({ ok: false, reason: 'invalid-backup' });
    expect(target.store.writeCalls).toBe(0);
  });

  it('is refused when a record is dropped, repeated, reordered, or taken from an older backup of the same vault', async () => {
    const source = await populated();
    const conversation = valueOf(await source.unlocked.openConversation(roomSecret(2)));
    const older = splitBackup(await exported(source.unlocked));
    // Reading the conversation rewrites its one record: same key, same count, another valid seal.
    valueOf(await source.unlocked.markRead(conversation.id));
    const newer = splitBackup(await exported(source.unlocked));
    const r = newer.records;
    expect(older.records).toHaveLength(r.length);
    const changed = r.flatMap((record, index) => (bytesEqual(record, older.records[index] ?? new Uint8Array(0)) ? [] : [index]));
    expect(changed).toHaveLength(1);
    const receiptIndex = changed[0] ?? -1;
    const join = (records: readonly Uint8Array[], manifest = newer.manifest): Uint8Array => concatBytes(newer.preamble, ...records, manifest);
    const doctored: [string, Uint8Array][] = [
      ['a record dropped', join(r.filter((_, index) => index !== 3))],
      ['a record repeated', join([...r.slice(0, 4), r[3] ?? new Uint8Array(0), ...r.slice(4)])],
      ['two records swapped', join([...r.slice(0, 3), r[4] ?? new Uint8Array(0), r[3] ?? new Uint8Array(0), ...r.slice(5)])],
      ['the last record dropped', join(r.slice(0, -1))],
      // Only the manifest's digest can tell these two from the real thing: every record opens and all agree.
      ['the conversation as it was before it was read', join(r.map((record, index) => (index === receiptIndex ? (older.records[index] ?? record) : record)))],
      ['the older backup’s manifest', join(r, older.manifest)],
    ];
    const target = vaultFixture();
    for (const [what, bytes] of doctored) {
      expect(await importInto(target, bytes), what).toMatchObject({ ok: false, reason: 'invalid-backup' });
      expect(target.store.writeCalls, what).toBe(0);
    }
    expect((await importInto(target, join(r))).ok).toBe(true);
  });

  it('is refused with a plain reason when it is not a backup, or from another format version', async () => {
    const backup = await exported((await populated()).unlocked);
    const target = vaultFixture();
    const version3 = backup.slice();
    version3[11] = 3;
    expect(await importInto(target, version3)).toEqual({
      ok: false,
      reason: 'invalid-backup',
      detail: 'this backup has format version 3; this version of Parley reads versions 1 and 2',
    });
    // Version 1 never had outbox entries: one there is not a record that version wrote.
    const version1 = backup.slice();
    version1[11] = 1;
    expect(await importInto(target, version1)).toMatchObject({ ok: false, reason: 'invalid-backup', detail: expect.stringMatching(/malformed/) });
    expect(await importInto(target, new TextEncoder().encode('{"hello":"world"}'))).toEqual({
      ok: false,
      reason: 'invalid-backup',
      detail: 'this is not a Parley backup',
    });
    expect(target.store.isEmpty()).toBe(true);
  });

  it('refuses a file larger than the largest backup before reading it', async () => {
    let reads = 0;
    const huge: ByteSource = {
      sizeBytes: MAX_BACKUP_BYTES + 1,
      read: async () => {
        reads += 1;
        return new Uint8Array(0);
      },
    };
    expect(await readBackupPreamble(huge)).toMatchObject({ ok: false, detail: expect.stringMatching(/larger than 16 GiB/) });
    expect(reads).toBe(0);
  });

  it('refuses a record whose declared length is beyond its kind’s bound, or a header of impossible length', async () => {
    const backup = await exported((await populated()).unlocked);
    const { preamble, records, manifest } = splitBackup(backup);
    const target = vaultFixture();
    // The first record is a settings record: tag, u8 id length, id, then its u32 sealed length.
    const first = records[0]?.slice() ?? new Uint8Array(0);
    const lengthAt = 2 + (first[1] ?? 0);
    new DataView(first.buffer).setUint32(lengthAt, 64 * 1024 + 1);
    expect(await importInto(target, concatBytes(preamble, first, ...records.slice(1), manifest))).toMatchObject({ ok: false, reason: 'invalid-backup' });
    const longHeader = backup.slice();
    new DataView(longHeader.buffer).setUint32(12, 1025);
    expect(await importInto(target, longHeader)).toEqual({ ok: false, reason: 'invalid-backup', detail: 'the vault header has an impossible length' });
    expect(target.store.isEmpty()).toBe(true);
  });
});
