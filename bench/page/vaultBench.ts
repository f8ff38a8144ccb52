/**
 * The vault in the bench page, composed as src/main.ts composes it (IndexedDB store, argon2id in a worker, default
 * parameters): a profile made fresh, a conversation of 100,000 messages written in bulk, and the three things the
 * person waits for: unlocking, the latest 50 messages on screen, and storing while chatting.
 */
import { IdbVaultStore } from '../../src/adapters/storage/idbVaultStore.ts';
import { workerArgon2id } from '../../src/adapters/vault/workerArgon2id.ts';
import { systemClock, systemRandom } from '../../src/core/ports.ts';
import { generateRoomSecret } from '../../src/core/crypto/roomSecret.ts';
import { loadConversation, putConversation } from '../../src/core/vault/history.ts';
import { newVaultId } from '../../src/core/vault/recordIds.ts';
import type { VaultWrite } from '../../src/core/vault/storePort.ts';
import type { VaultContext } from '../../src/core/vault/vaultContext.ts';
import { parseVaultHeader, unlockVault } from '../../src/core/vault/vaultHeader.ts';
import { previewOf, sealMessage, type MessageRecord } from '../../src/core/vault/vaultRecords.ts';
import { Vault, type UnlockedVault } from '../../src/core/vault/vaultService.ts';
import { RoomHistory } from '../../src/ui/roomHistory.ts';
import type { LatestShown } from './benchApi.ts';

const ports = { argon2: workerArgon2id(), random: systemRandom, clock: systemClock };
/** Messages sealed and written per transaction while filling: large enough to be quick, small enough to stay light. */
const FILL_BATCH = 2000;

let unlocked: UnlockedVault | null = null;

function vaultNow(): UnlockedVault {
  if (unlocked === null || unlocked.locked) throw new Error('the bench vault is not unlocked');
  return unlocked;
}

/** Deletes whatever vault this page's origin holds and makes a new profile; returns the ms creation took. */
export async function vaultCreate(passphrase: string): Promise<number> {
  unlocked?.lock();
  const store = new IdbVaultStore();
  await store.destroy();
  const vault = await Vault.open(store, ports);
  const startedAt = performance.now();
  const created = await vault.create('Bench', passphrase);
  if (!created.ok) throw new Error(`creating the bench profile failed: ${created.reason}`);
  unlocked = created.vault;
  return performance.now() - startedAt;
}

/**
 * Fills a new conversation with `count` text messages, alternating direction, written in bulk through the same
 * store port, record sealing and conversation summary the app's appends use (one append per transaction would
 * take minutes). Returns the conversation id and the ms it took.
 */
export async function vaultFill(passphrase: string, count: number, text: string): Promise<{ conversationId: string; fillMs: number }> {
  const opened = await vaultNow().openConversation(generateRoomSecret(systemRandom), 'Long conversation');
  if (!opened.ok) throw new Error(`opening the bench conversation failed: ${opened.reason}`);
  const conversationId = opened.value.id;
  const startedAt = performance.now();
  const store = new IdbVaultStore();
  const header = parseVaultHeader(await store.readHeader());
  if (header === null) throw new Error('the bench vault has no readable header');
  const key = await unlockVault(header, passphrase, ports.argon2);
  if (!key.ok) throw new Error('the bench passphrase did not unlock the bench vault');
  const ctx: VaultContext = { store, random: systemRandom, clock: systemClock, dataKey: () => key.dataKey };
  const loaded = await loadConversation(ctx, conversationId);
  if (!loaded.ok) throw new Error(`the bench conversation does not load: ${loaded.reason}`);
  const firstAtMs = Date.now() - count * 1000;
  let last: MessageRecord | null = null;
  for (let start = 1; start <= count; start += FILL_BATCH) {
    const writes: VaultWrite[] = [];
    for (let seq = start; seq < Math.min(start + FILL_BATCH, count + 1); seq++) {
      const messageId = newVaultId(systemRandom);
      const record: MessageRecord = {
        direction: seq % 2 === 0 ? 'incoming' : 'outgoing',
        atMs: firstAtMs + seq * 1000,
        content: { type: 'text', text: `${text} #${seq}` },
        deliveredAtMs: seq % 2 === 0 ? null : firstAtMs + seq * 1000 + 5,
      };
      writes.push({ type: 'add-message', row: { conversationId, seq, messageId, sealed: await sealMessage(key.dataKey, { conversationId, seq, messageId }, record, systemRandom) } });
      last = record;
    }
    const written = await store.write(writes);
    if (!written.ok) throw new Error(`filling the bench conversation failed: ${written.reason}`);
  }
  if (last === null) throw new Error('nothing to fill');
  const summary = {
    ...loaded.record,
    lastSeq: count,
    updatedAtMs: last.atMs,
    lastMessage: { seq: count, direction: last.direction, atMs: last.atMs, preview: previewOf(last.content) },
  };
  const written = await store.write([await putConversation(ctx, conversationId, summary)]);
  if (!written.ok) throw new Error(`writing the bench conversation summary failed: ${written.reason}`);
  return { conversationId, fillMs: performance.now() - startedAt };
}

export function vaultLock(): void {
  unlocked?.lock();
  unlocked = null;
}

/**
 * As after a page load: a fresh Vault over IndexedDB, unlocked with the passphrase (argon2id in its worker, then
 * the profile and identity opened), then the conversation's latest page read and put on screen as list items,
 * timed to the second animation frame after (when the browser has painted them).
 */
export async function vaultUnlockAndShowLatest(passphrase: string, conversationId: string, pageSize: number): Promise<LatestShown> {
  vaultLock();
  const vault = await Vault.open(new IdbVaultStore(), ports);
  const startedAt = performance.now();
  const result = await vault.unlock(passphrase);
  if (!result.ok) throw new Error(`unlocking the bench vault failed: ${result.reason}`);
  const unlockedAt = performance.now();
  unlocked = result.vault;
  const entries = await result.vault.latestMessages(conversationId, pageSize);
  const readAt = performance.now();
  const list = document.createElement('ol');
  // Oldest first, as the room's list shows them.
  for (const entry of entries) {
    const item = document.createElement('li');
    item.textContent = entry.kind === 'message' && entry.content.type === 'text' ? entry.content.text : '(unreadable)';
    list.append(item);
  }
  document.getElementById('bench-history')?.replaceChildren(list);
  await new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())));
  const shownAt = performance.now();
  return { unlockMs: unlockedAt - startedAt, readMs: readAt - unlockedAt, shownMs: shownAt - unlockedAt, messages: entries.length };
}

/** Appends `count` text messages one after another into a new conversation, as a chat stores them; messages per second. */
export async function vaultStoreRate(count: number, text: string): Promise<number> {
  const vault = vaultNow();
  const opened = await vault.openConversation(generateRoomSecret(systemRandom), 'Store rate');
  if (!opened.ok) throw new Error(`opening the store-rate conversation failed: ${opened.reason}`);
  const startedAt = performance.now();
  for (let i = 0; i < count; i++) {
    const stored = await vault.appendMessage(opened.value.id, { messageId: newVaultId(systemRandom), direction: i % 2 === 0 ? 'outgoing' : 'incoming', text });
    if (!stored.ok) throw new Error(`storing message ${i} failed: ${stored.reason}`);
  }
  return (count * 1000) / (performance.now() - startedAt);
}

/** What the room history reported as not kept; the section fails if anything is here (a bench must not hide it). */
export const historyProblems: string[] = [];

/** The kept history of the bench room, as the app's RoomState opens it. */
export async function openRoomHistory(secret: Uint8Array): Promise<RoomHistory> {
  const opened = await RoomHistory.open(vaultNow(), systemClock, secret, (problem) => historyProblems.push(problem));
  if (!opened.ok) throw new Error(`opening the bench room's history failed: ${opened.reason}`);
  return opened.value;
}
