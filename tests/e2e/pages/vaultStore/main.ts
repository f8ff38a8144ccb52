/**
 * The vault over the app's own IndexedDB adapter, in a real browser, without the app's UI: a database written by the
 * two-person version (version 1, from tests/fixtures/twoPersonVault.json) upgraded and read, and the group engine's
 * store kept across reloads. Puts its one entry point on `window` for tests/e2e/vaultStore.spec.ts.
 */
import { IdbVaultStore, VAULT_DB_NAME } from '../../../../src/adapters/storage/idbVaultStore.ts';
import { hashWasmArgon2id } from '../../../../src/adapters/vault/hashWasmArgon2id.ts';
import { memberIdOf } from '../../../../src/core/crypto/memberId.ts';
import { messageText, textBody } from '../../../../src/core/protocol/groupMessages.ts';
import { systemClock, systemRandom } from '../../../../src/core/ports.ts';
import { Vault, type UnlockedVault } from '../../../../src/core/vault/vaultService.ts';

type Json = { readonly [key: string]: unknown };

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function bytesOf(value: unknown): Uint8Array {
  if (typeof value !== 'object' || value === null || !('bytes' in value) || typeof value.bytes !== 'string') throw new Error('not bytes');
  return Uint8Array.from(atob(value.bytes), (char) => char.charCodeAt(0));
}

function rows(snapshot: Json, store: string): Json[] {
  const list = snapshot[store];
  if (!Array.isArray(list)) throw new Error(`no ${store} in the fixture`);
  return list.map((row: Json) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, key === 'sealed' ? bytesOf(value) : value])));
}

/** The database exactly as the two-person version made and filled it: its version-1 schema, the fixture's rows. */
async function seedVersion1(snapshot: Json): Promise<void> {
  const open = indexedDB.open(VAULT_DB_NAME, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore('meta');
    db.createObjectStore('settings', { keyPath: 'id' });
    db.createObjectStore('conversations', { keyPath: 'id' });
    db.createObjectStore('contacts', { keyPath: 'id' });
    db.createObjectStore('messages', { keyPath: ['conversationId', 'seq'] }).createIndex('byMessageId', ['conversationId', 'messageId']);
    db.createObjectStore('fileParts', { keyPath: ['conversationId', 'fileId', 'index'] });
    db.createObjectStore('pendingFiles', { keyPath: ['conversationId', 'fileId'] });
  };
  const db = await request(open);
  const transaction = db.transaction(['meta', 'settings', 'conversations', 'contacts', 'messages', 'fileParts'], 'readwrite');
  transaction.objectStore('meta').put(snapshot['header'], 'header');
  transaction.objectStore('meta').put(snapshot['failedUnlocks'], 'failedUnlocks');
  for (const store of ['settings', 'conversations', 'contacts', 'messages', 'fileParts']) for (const row of rows(snapshot, store)) transaction.objectStore(store).put(row);
  await new Promise((resolve, reject) => {
    transaction.oncomplete = resolve;
    transaction.onerror = () => reject(transaction.error);
  });
  db.close();
}

/** What is on disk, read without the vault: the version, the stores, how many rows each holds, and every sealed row as hex. */
async function onDisk(): Promise<{ version: number; counts: Record<string, number>; sealed: string[] }> {
  const db = await request(indexedDB.open(VAULT_DB_NAME));
  const counts: Record<string, number> = {};
  const sealed: string[] = [];
  for (const name of Array.from(db.objectStoreNames)) {
    const all = await request(db.transaction(name).objectStore(name).getAll());
    counts[name] = all.length;
    for (const row of all) {
      const bytes: unknown = typeof row === 'object' && row !== null && 'sealed' in row ? row.sealed : null;
      if (bytes instanceof Uint8Array) sealed.push(Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(''));
    }
  }
  const version = db.version;
  db.close();
  return { version, counts, sealed: sealed.sort() };
}

async function unlock(passphrase: string): Promise<UnlockedVault> {
  const vault = await Vault.open(new IdbVaultStore(), { argon2: hashWasmArgon2id, random: systemRandom, clock: systemClock });
  const unlocked = await vault.unlock(passphrase);
  if (!unlocked.ok) throw new Error(`unlock failed: ${unlocked.reason}`);
  return unlocked.vault;
}

/** Every message of a conversation as the spec compares it. */
async function history(vault: UnlockedVault, conversationId: string): Promise<unknown[]> {
  return (await vault.latestMessages(conversationId, 500)).map((entry) =>
    entry.kind === 'unreadable'
      ? { kind: 'unreadable' }
      : { seq: entry.seq, author: entry.author, content: entry.content.type === 'text' ? entry.content.text : entry.content.type === 'file' ? entry.content.file.name : entry.content.type, delivery: entry.delivery.map(({ state }) => state) },
  );
}

async function run(fixtureJson: string): Promise<Json> {
  const fixture: Json = JSON.parse(fixtureJson);
  const snapshot = fixture['snapshot'] as Json;
  const conversations = fixture['conversations'] as { withBob: string; withGuest: string };
  const bob = fixture['contacts'] as { bob: { publicKeySpki: string } };
  const passphrase = String(fixture['passphrase']);

  await seedVersion1(snapshot);
  const before = await onDisk();
  const vault = await unlock(passphrase);
  const upgraded = await onDisk();
  const read = { conversations: (await vault.conversations()).map((entry) => (entry.kind === 'conversation' ? entry.title : 'unreadable')).sort(), withBob: await history(vault, conversations.withBob), withGuest: await history(vault, conversations.withGuest) };

  // The group engine's store on IndexedDB: a message to Bob kept with its outbox entry, still waiting after a reload.
  const bobId = await memberIdOf(Uint8Array.from(atob(bob.bob.publicKeySpki), (char) => char.charCodeAt(0)));
  const store = await vault.conversationStore(conversations.withBob);
  await store.load();
  const self = await memberIdOf(vault.profile.identity.publicKeySpki);
  await store.recordOutgoing({ id: 'AAAAAAAAAAAAAAAAAAAAAA', author: self, seq: 1, writtenAtMs: Date.now(), stream: 'group', body: textBody('in the group now') }, [bobId]);
  vault.lock();
  const reloaded = await unlock(passphrase);
  const again = await reloaded.conversationStore(conversations.withBob);
  const waiting = (await again.load()).outbox.map((entry) => ({ to: entry.addressee === bobId ? 'bob' : entry.addressee, text: messageText(entry.message) }));
  const outboxRowsWhileWaiting = (await onDisk()).counts['outbox'];
  await again.recordReceipts(bobId, 1, 1);
  const afterRead = { outboxRows: (await onDisk()).counts['outbox'], last: (await history(reloaded, conversations.withBob)).at(-1) };
  await again.recordOutgoing({ id: 'AAAAAAAAAAAAAAAAAAAAAQ', author: self, seq: 2, writtenAtMs: Date.now(), stream: 'group', body: textBody('again') }, [bobId]);
  const deleted = await reloaded.deleteConversation(conversations.withBob);
  const afterDelete = (await onDisk()).counts;
  return { before, upgraded, read, waiting, outboxRowsWhileWaiting, afterRead, deleted: deleted.ok, afterDelete };
}

declare global {
  interface Window {
    vaultStoreTest?: { run(fixtureJson: string): Promise<Json> };
  }
}

window.vaultStoreTest = { run };
