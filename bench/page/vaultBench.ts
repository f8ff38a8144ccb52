/**
 * The vault in the bench page, composed as src/main.ts composes it (IndexedDB store, argon2id in a worker, default
 * parameters): a profile made fresh, a conversation of 100,000 messages written in bulk, and the things the person
 * waits for: unlocking, the latest 50 messages on screen, and keeping a group conversation while chatting.
 */
import { IdbVaultStore } from '../../src/adapters/storage/idbVaultStore.ts';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import { textBody } from '../../src/core/protocol/groupMessages.ts';
import type { ConversationStore } from '../../src/core/group/conversationStore.ts';
import { GroupChat } from '../../src/core/group/groupChat.ts';
import { MemoryConversationStore } from '../../src/core/group/memoryConversationStore.ts';
import { workerArgon2id } from '../../src/adapters/vault/workerArgon2id.ts';
import { systemClock, systemRandom } from '../../src/core/ports.ts';
import { generateRoomSecret } from '../../src/core/crypto/roomSecret.ts';
import { loadConversation, putConversation } from '../../src/core/vault/history.ts';
import { newVaultId } from '../../src/core/vault/recordIds.ts';
import type { VaultWrite } from '../../src/core/vault/storePort.ts';
import type { VaultContext } from '../../src/core/vault/vaultContext.ts';
import { parseVaultHeader, unlockVault } from '../../src/core/vault/vaultHeader.ts';
import { previewOf, sealMessage, type MessageRecord, type OtherParty } from '../../src/core/vault/vaultRecords.ts';
import { Vault, type UnlockedVault } from '../../src/core/vault/vaultService.ts';
import { RoomHistory } from '../../src/ui/roomHistory.ts';
import type { GroupCosts, LatestShown } from './benchApi.ts';

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
  const peer: OtherParty = { type: 'guest', label: 'Guest 1', memberId: newVaultId(systemRandom) };
  let last: MessageRecord | null = null;
  for (let start = 1; start <= count; start += FILL_BATCH) {
    const writes: VaultWrite[] = [];
    for (let seq = start; seq < Math.min(start + FILL_BATCH, count + 1); seq++) {
      const messageId = newVaultId(systemRandom);
      const atMs = firstAtMs + seq * 1000;
      const ours = seq % 2 === 1;
      const record: MessageRecord = {
        author: ours ? { type: 'me' } : peer,
        stream: { type: 'group' },
        authorSeq: Math.ceil(seq / 2),
        writtenAtMs: atMs,
        atMs,
        content: { type: 'text', text: `${text} #${seq}` },
        delivery: ours ? [{ to: peer, state: 'read', atMs: atMs + 5 }] : [],
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
    lastMessage: { seq: count, author: last.author, atMs: last.atMs, preview: previewOf(last.content) },
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

/** Addressees of every group message in the group measurements: a full room of 8 has 7. */
const GROUP_ADDRESSEES = 7;
/** Sends of each store per block; the variants take turns block by block, so the machine's load hits both alike. */
const SEND_BLOCK = 20;

/** A GroupChat as a room runs one: `self` writes to every remembered member, none of whom is connected. */
function groupChatOver(store: ConversationStore, self: string, addressees: readonly string[]): Promise<GroupChat> {
  return GroupChat.open({ self, store, clock: systemClock, random: systemRandom, rememberedContacts: addressees, readReceipts: () => true,
      shareTyping: () => false, onEvent: () => {} });
}

/**
 * What keeping a group conversation costs the chat, in this page's IndexedDB: the time a send takes to resolve (the
 * engine keeps the message and its outbox entry before sending it) with the vault's store and with the guest's
 * memory store, and one bare IndexedDB transaction adding a row of a message's size (the floor of any durable
 * write), the three taking turns block by block; then how many received messages per second the vault keeps, each in
 * its own transaction, as the engine hands them over (one at a time, waiting for each).
 */
export async function vaultGroupCosts(sends: number, received: number, text: string): Promise<GroupCosts> {
  const vault = vaultNow();
  const opened = await vault.openConversation(generateRoomSecret(systemRandom), 'Group costs');
  if (!opened.ok) throw new Error(`opening the group conversation failed: ${opened.reason}`);
  const self = await memberIdOf(vault.profile.identity.publicKeySpki);
  const addressees = Array.from({ length: GROUP_ADDRESSEES }, () => newVaultId(systemRandom));
  const vaultStore = await vault.conversationStore(opened.value.id);
  addressees.forEach((member, index) => vaultStore.nameGuest(member, `Guest ${index + 1}`));
  const chats = { vault: await groupChatOver(vaultStore, self, addressees), memory: await groupChatOver(new MemoryConversationStore(), self, addressees) };
  const idb = new IdbVaultStore();
  const floorConversation = newVaultId(systemRandom);
  const floorRow = systemRandom.bytes(28 + new TextEncoder().encode(text).length + 300);
  let floorSeq = 0;
  const steps: Record<'vault' | 'memory' | 'bare', () => Promise<void>> = {
    vault: async () => {
      if (!(await chats.vault.sendToEveryone(text)).ok) throw new Error('a send with the vault was refused');
    },
    memory: async () => {
      if (!(await chats.memory.sendToEveryone(text)).ok) throw new Error('a send with the memory store was refused');
    },
    bare: async () => {
      floorSeq += 1;
      const written = await idb.write([{ type: 'add-message', row: { conversationId: floorConversation, seq: floorSeq, messageId: newVaultId(systemRandom), sealed: floorRow } }]);
      if (!written.ok) throw new Error(`the bare write failed: ${written.reason}`);
    },
  };
  const samples: Record<'vault' | 'memory' | 'bare', number[]> = { vault: [], memory: [], bare: [] };
  const orders = [['vault', 'memory', 'bare'], ['bare', 'vault', 'memory'], ['memory', 'bare', 'vault']] as const;
  for (let block = 0; samples.vault.length < sends; block++) {
    for (const variant of orders[block % orders.length] ?? orders[0]) {
      for (let i = 0; i < SEND_BLOCK; i++) {
        const startedAt = performance.now();
        await steps[variant]();
        samples[variant].push(performance.now() - startedAt);
      }
    }
  }
  chats.vault.close();
  chats.memory.close();

  const startedAt = performance.now();
  for (let n = 1; n <= received; n++) {
    const author = addressees[n % GROUP_ADDRESSEES] ?? self;
    await vaultStore.recordShown({ id: newVaultId(systemRandom), author, seq: n, writtenAtMs: Date.now(), stream: 'group', body: textBody(text) });
  }
  const shownPerSecond = (received * 1000) / (performance.now() - startedAt);
  return { sendVaultMs: samples.vault, sendMemoryMs: samples.memory, bareWriteMs: samples.bare, shownPerSecond };
}

/** What the room history reported as not kept; the section fails if anything is here (a bench must not hide it). */
export const historyProblems: string[] = [];

/** The kept history of the bench room, as the app's RoomState opens it. */
export async function openRoomHistory(secret: Uint8Array): Promise<RoomHistory> {
  const opened = await RoomHistory.open(vaultNow(), systemClock, secret, (problem) => historyProblems.push(problem));
  if (!opened.ok) throw new Error(`opening the bench room's history failed: ${opened.reason}`);
  return opened.value;
}
