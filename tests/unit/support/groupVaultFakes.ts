/**
 * Fixtures for the vault's group history: messages kept the way a room keeps them (through the group engine's
 * store), and a vault written by Parley before groups (tests/fixtures/twoPersonVault.json) loaded into a store.
 */
import { readFileSync } from 'node:fs';
import { memberIdOf } from '../../../src/core/crypto/memberId.ts';
import { textBody, type GroupMessage } from '../../../src/core/protocol/groupMessages.ts';
import type { VaultConversationStore } from '../../../src/core/vault/groupHistory.ts';
import type { StoredMessage } from '../../../src/core/vault/history.ts';
import type { VaultWrite } from '../../../src/core/vault/storePort.ts';
import type { UnlockedVault } from '../../../src/core/vault/vaultService.ts';
import { MemoryVaultStore } from '../../../src/adapters/storage/memoryVaultStore.ts';
import { hashWasmArgon2id } from '../../../src/adapters/vault/hashWasmArgon2id.ts';
import { systemRandom } from '../../../src/core/ports.ts';
import { Vault, type VaultPorts } from '../../../src/core/vault/vaultService.ts';
import { memberIdOfName } from './groupFakes.ts';
import { FakeClock } from './roomFakes.ts';
import { idFor } from './vaultFakes.ts';

/** The member id of the guest the helpers below talk with. */
export const GUEST_ID = memberIdOfName('a guest');

export function selfIdOf(unlocked: UnlockedVault): Promise<string> {
  return memberIdOf(unlocked.profile.identity.publicKeySpki);
}

const stores = new WeakMap<UnlockedVault, Map<string, VaultConversationStore>>();

/** One store per vault session and conversation, as one room holds one. */
export async function storeFor(unlocked: UnlockedVault, conversationId: string): Promise<VaultConversationStore> {
  const byConversation = stores.get(unlocked) ?? new Map<string, VaultConversationStore>();
  stores.set(unlocked, byConversation);
  const known = byConversation.get(conversationId);
  if (known !== undefined) return known;
  const store = await unlocked.conversationStore(conversationId);
  byConversation.set(conversationId, store);
  return store;
}

/** Message n of `author`: id idFor(n), seq n, written at 1000 + n, "message n" (or `text`) to everyone. */
export function groupMessage(n: number, author: string, { text, ...overrides }: Partial<GroupMessage> & { readonly text?: string } = {}): GroupMessage {
  return { id: idFor(n), author, seq: n, writtenAtMs: 1_000 + n, stream: 'group', body: textBody(text ?? `message ${n}`), ...overrides };
}

/**
 * Keeps message n as a room does: shown from the guest, or written by this person to the guest. Returns it as
 * the history now holds it.
 */
export async function say(unlocked: UnlockedVault, conversationId: string, n: number, direction: 'incoming' | 'outgoing' = 'incoming', text?: string): Promise<StoredMessage> {
  const store = await storeFor(unlocked, conversationId);
  const overrides = text === undefined ? {} : { text };
  if (direction === 'incoming') await store.recordShown(groupMessage(n, GUEST_ID, overrides));
  else await store.recordOutgoing(groupMessage(n, await selfIdOf(unlocked), overrides), [GUEST_ID]);
  const [last] = await unlocked.latestMessages(conversationId, 1);
  if (last?.kind !== 'message') throw new Error('the message just kept does not read back');
  return last;
}

// ---- the vault written before groups ---------------------------------------------------------------

/** A store and the ports of a page with the real Argon2id (hash-wasm), as the vault written before groups needs. */
export interface RealArgon2Fixture {
  readonly store: MemoryVaultStore;
  readonly ports: VaultPorts;
  /** A fresh Vault over the same store: what a reload of the page gets. */
  reopen(): Promise<Vault>;
}

export function realArgon2Fixture(): RealArgon2Fixture {
  const store = new MemoryVaultStore();
  const ports: VaultPorts = { argon2: hashWasmArgon2id, random: systemRandom, clock: new FakeClock().for('vault') };
  return { store, ports, reopen: () => Vault.open(store, ports) };
}

interface TwoPersonData {
  readonly passphrase: string;
  readonly contacts: { readonly bob: { readonly id: string; readonly publicKeySpki: Uint8Array } };
  readonly conversations: { readonly withBob: string; readonly withGuest: string };
  readonly snapshot: {
    readonly header: unknown;
    readonly failedUnlocks: number;
    readonly settings: readonly { id: string; sealed: Uint8Array }[];
    readonly conversations: readonly { id: string; sealed: Uint8Array }[];
    readonly contacts: readonly { id: string; sealed: Uint8Array }[];
    readonly messages: readonly { conversationId: string; seq: number; messageId: string; sealed: Uint8Array }[];
    readonly fileParts: readonly { conversationId: string; fileId: string; index: number; sealed: Uint8Array }[];
  };
  readonly backup: Uint8Array;
}

/** Bytes were written as {bytes: base64}, or as plain base64 at the top level. */
function revive(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && 'bytes' in value && typeof value.bytes === 'string') {
    return new Uint8Array(Buffer.from(value.bytes, 'base64'));
  }
  return value;
}

/**
 * The data of tests/fixtures/twoPersonVault.json. What it holds (written by the code of commit af64cd9, under
 * Argon2id at the least parameters, so it unlocks quickly with the real one): profile Ada;
 * contact Bob; "Lunch with Bob" with seqs 1 'hello Ada' (from Bob), 2 'hi Bob' (ours, delivered at
 * 1_700_000_002_500), 3 'are you there?' (ours, no receipt), 4 menu.txt (from Bob, 11 bytes), 5 map.txt (ours); and
 * an untitled room with a guest: 6 'a guest says hi' (from the guest) and 7 'hi guest' (ours), all read.
 */
export function twoPersonData(): TwoPersonData {
  const raw: unknown = JSON.parse(readFileSync(new URL('../../fixtures/twoPersonVault.json', import.meta.url), 'utf8'), revive);
  const data = raw as TwoPersonData & { backup: string; contacts: { bob: { id: string; publicKeySpki: string } } };
  return {
    ...data,
    contacts: { bob: { id: data.contacts.bob.id, publicKeySpki: new Uint8Array(Buffer.from(data.contacts.bob.publicKeySpki, 'base64')) } },
    backup: new Uint8Array(Buffer.from(data.backup, 'base64')),
  };
}

/** A store holding the vault written before groups, row for row as that version stored it. */
export async function twoPersonVault(): Promise<RealArgon2Fixture & { readonly data: TwoPersonData }> {
  const data = twoPersonData();
  const fixture = realArgon2Fixture();
  const { snapshot } = data;
  const writes: VaultWrite[] = [
    { type: 'put-header', header: snapshot.header },
    { type: 'put-failed-unlocks', count: snapshot.failedUnlocks },
    ...snapshot.settings.map((row): VaultWrite => ({ type: 'put-row', store: 'settings', row })),
    ...snapshot.conversations.map((row): VaultWrite => ({ type: 'put-row', store: 'conversations', row })),
    ...snapshot.contacts.map((row): VaultWrite => ({ type: 'put-row', store: 'contacts', row })),
    ...snapshot.messages.map((row): VaultWrite => ({ type: 'add-message', row })),
    ...snapshot.fileParts.map((row): VaultWrite => ({ type: 'put-file-part', row })),
  ];
  const written = await fixture.store.write(writes);
  if (!written.ok) throw new Error(`loading the two-person vault failed: ${written.reason}`);
  return { ...fixture, data };
}
