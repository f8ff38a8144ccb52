/**
 * The user's vault as the UI sees it: `Vault` before unlocking (create, unlock, import, delete) and
 * `UnlockedVault` after (history, files, contacts, passphrase, backup), over a storage port.
 */
import { assertNever } from '../assertNever.ts';
import { memberIdOf } from '../crypto/memberId.ts';
import type { Clock, Random } from '../ports.ts';
import { blobByteSource } from './blobParts.ts';
import { readBackupPreamble, restoreBackup, walkBackup, writeBackup } from './backup.ts';
import {
  acknowledgeKeyChange,
  getContact,
  listContacts,
  markVerified,
  observePeer,
  renameContact,
  type Contact,
  type ObservedPeer,
  type PeerObservation,
} from './contacts.ts';
import { listPendingOutbox, VaultConversationStore, type PendingOutbox } from './groupHistory.ts';
import {
  appendFileMessage,
  deleteAllHistory,
  deleteConversation,
  discardFile,
  getConversation,
  listConversations,
  markRead,
  openRoomConversation,
  readFile,
  readMessagePage,
  receivedFileBudget,
  renameConversation,
  sweepPendingFiles,
  writeFileParts,
  type ConversationEntry,
  type ConversationSummary,
  type FileBudget,
  type HistoryEntry,
  type NewFileMessage,
  type StoredMessage,
} from './history.ts';
import type { Identity } from './identity.ts';
import { generateIdentityForStorage, IDENTITY_RECORD_ID, unwrapIdentity } from './identityStorage.ts';
import { DEFAULT_ARGON2ID, type Argon2idParams, type Argon2idPort } from './kdf.ts';
import { MAX_SEQ } from './recordIds.ts';
import { safetyNumber } from './safetyNumber.ts';
import { parseSealedRow, type VaultStorePort } from './storePort.ts';
import { PassphraseThrottle } from './unlockThrottle.ts';
import { timestampNow, VaultLockedError, type StoreResult, type VaultContext } from './vaultContext.ts';
import { changePassphrase, createVault, encodeVaultHeader, parseVaultHeader, unlockVault, type VaultHeader } from './vaultHeader.ts';
import {
  cleanName,
  DEFAULT_PREFERENCES,
  MAX_DISPLAY_NAME_CHARS,
  openPreferences,
  openProfile,
  parsePreferences,
  PREFERENCES_RECORD_ID,
  PROFILE_RECORD_ID,
  sealPreferences,
  sealProfile,
  type Preferences,
  type StoredFileInfo,
} from './vaultRecords.ts';

export interface VaultPorts {
  readonly argon2: Argon2idPort;
  readonly random: Random;
  readonly clock: Clock;
  /** For new vaults and changed passphrases; DEFAULT_ARGON2ID unless a test or a later version says otherwise. */
  readonly argon2Params?: Argon2idParams;
}

export type VaultPresence =
  | { readonly kind: 'none' }
  /** The display name is sealed, so the lock screen cannot show it. */
  | { readonly kind: 'locked'; readonly failedUnlocks: number; readonly retryAfterMs: number }
  /** A header is stored but cannot be read: only deleting the profile (or importing elsewhere) helps. */
  | { readonly kind: 'damaged'; readonly detail: string };

export interface Profile {
  readonly displayName: string;
  readonly identity: Identity;
}

export type CreateResult =
  | { readonly ok: true; readonly vault: UnlockedVault }
  | { readonly ok: false; readonly reason: 'profile-exists' | 'quota-exceeded' | 'empty-passphrase' }
  | { readonly ok: false; readonly reason: 'invalid-display-name'; readonly detail: string };

export type UnlockOutcome =
  | { readonly ok: true; readonly vault: UnlockedVault }
  /** Wrong; the next try is possible after `retryAfterMs`. */
  | { readonly ok: false; readonly reason: 'wrong-passphrase'; readonly retryAfterMs: number }
  /** Not tried: an earlier wrong try's wait has `retryAfterMs` to go. */
  | { readonly ok: false; readonly reason: 'wait'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'no-profile' }
  | { readonly ok: false; readonly reason: 'damaged'; readonly detail: string };

export type ImportResult =
  | { readonly ok: true; readonly vault: UnlockedVault }
  /** This browser has a profile already: delete it first (after exporting it, if it matters). */
  | { readonly ok: false; readonly reason: 'profile-exists' | 'wrong-passphrase' | 'quota-exceeded' }
  | { readonly ok: false; readonly reason: 'invalid-backup'; readonly detail: string };

export type ChangePassphraseOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'wrong-passphrase' | 'wait'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'empty-passphrase' | 'quota-exceeded' }
  | { readonly ok: false; readonly reason: 'unreadable'; readonly detail: string };

export type ExportResult = { readonly ok: true; readonly blob: Blob } | { readonly ok: false; readonly reason: 'unreadable'; readonly detail: string };

export interface StorageStatus {
  /** Whether the browser promised not to evict the vault under storage pressure. */
  readonly persisted: boolean;
  readonly usageBytes: number | null;
  readonly quotaBytes: number | null;
}

type HeaderState = { readonly kind: 'none' } | { readonly kind: 'damaged'; readonly detail: string } | { readonly kind: 'ok'; readonly header: VaultHeader };

async function readHeaderState(store: VaultStorePort): Promise<HeaderState> {
  const raw = await store.readHeader();
  if (raw === undefined) return { kind: 'none' };
  const header = parseVaultHeader(raw);
  return header === null ? { kind: 'damaged', detail: 'the stored vault header is malformed' } : { kind: 'ok', header };
}

/** The person's saved choices; the defaults when none were saved, or when the record does not open. */
async function readPreferences(ctx: VaultContext): Promise<Preferences> {
  const row = parseSealedRow(await ctx.store.readRow('settings', PREFERENCES_RECORD_ID));
  return (row === null ? null : await openPreferences(ctx.dataKey(), row.sealed)) ?? DEFAULT_PREFERENCES;
}

/** Runs tasks one after another; a failed task does not stop the ones after it. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => {});
    return result;
  }
}

export class Vault {
  private readonly throttle: PassphraseThrottle;
  private readonly queue = new SerialQueue();
  private session: UnlockedVault | null = null;

  private constructor(
    private readonly store: VaultStorePort,
    private readonly ports: VaultPorts,
  ) {
    this.throttle = new PassphraseThrottle(store, ports.clock);
  }

  /** Nothing is read yet; the unlock delay after earlier failures counts from now. */
  static async open(store: VaultStorePort, ports: VaultPorts): Promise<Vault> {
    return new Vault(store, ports);
  }

  async presence(): Promise<VaultPresence> {
    const state = await readHeaderState(this.store);
    switch (state.kind) {
      case 'none':
        return { kind: 'none' };
      case 'damaged':
        return { kind: 'damaged', detail: state.detail };
      case 'ok':
        return { kind: 'locked', ...(await this.throttle.status()) };
      default:
        return assertNever(state, 'vault header state');
    }
  }

  /** Makes the profile: header, data key, identity and sealed profile in one write; then asks for persistent storage. */
  create(displayName: string, passphrase: string): Promise<CreateResult> {
    return this.queue.run(async () => {
      const name = cleanName(displayName, MAX_DISPLAY_NAME_CHARS);
      if (name === null) {
        return { ok: false, reason: 'invalid-display-name', detail: `a name is 1 to ${MAX_DISPLAY_NAME_CHARS} characters without control characters` };
      }
      if (passphrase === '') return { ok: false, reason: 'empty-passphrase' };
      if ((await this.store.readHeader()) !== undefined) return { ok: false, reason: 'profile-exists' };
      const { argon2, random, clock } = this.ports;
      const { header, dataKey } = await createVault(passphrase, argon2, random, this.ports.argon2Params ?? DEFAULT_ARGON2ID);
      const identity = await generateIdentityForStorage(dataKey, random);
      const profile = { displayName: name, publicKeySpki: identity.publicKeySpki, createdAtMs: timestampNow(clock) };
      const written = await this.store.write([
        { type: 'add-header', header: encodeVaultHeader(header) },
        // Whatever an interrupted import left behind belongs to no vault.
        { type: 'clear-rows' },
        { type: 'put-failed-unlocks', count: 0 },
        { type: 'put-row', store: 'settings', row: { id: PROFILE_RECORD_ID, sealed: await sealProfile(dataKey, profile, random) } },
        { type: 'put-row', store: 'settings', row: { id: IDENTITY_RECORD_ID, sealed: identity.wrappedPrivateKey } },
      ]);
      if (!written.ok) return { ok: false, reason: written.reason === 'conflict' ? 'profile-exists' : 'quota-exceeded' };
      await this.askForPersistence();
      const vault = this.startSession(dataKey, { displayName: name, identity: { publicKeySpki: identity.publicKeySpki, privateKey: identity.privateKey } });
      return { ok: true, vault };
    });
  }

  unlock(passphrase: string): Promise<UnlockOutcome> {
    return this.queue.run(async (): Promise<UnlockOutcome> => {
      const state = await readHeaderState(this.store);
      if (state.kind === 'none') return { ok: false, reason: 'no-profile' };
      if (state.kind === 'damaged') return { ok: false, reason: 'damaged', detail: state.detail };
      const attempt = await this.throttle.begin();
      if (!attempt.ok) return { ok: false, reason: 'wait', retryAfterMs: attempt.retryAfterMs };
      const unlocked = await unlockVault(state.header, passphrase, this.ports.argon2);
      if (!unlocked.ok) return { ok: false, reason: 'wrong-passphrase', retryAfterMs: this.throttle.failed(attempt.failedBefore) };
      await this.throttle.succeeded();
      const profile = await this.readProfile(unlocked.dataKey);
      if (profile === null) return { ok: false, reason: 'damaged', detail: 'the profile or identity record does not open' };
      const vault = this.startSession(unlocked.dataKey, profile);
      await vault.finishInterruptedWrites();
      return { ok: true, vault };
    });
  }

  /** Locks any unlocked session, then removes every trace of the vault from storage, the failure count included. */
  deleteProfile(): Promise<void> {
    return this.queue.run(async () => {
      this.session?.lock();
      this.session = null;
      await this.store.destroy();
    });
  }

  /**
   * Restores a backup into this browser, which must have no profile. Every record is checked before anything
   * is written; the wrong passphrase, or any damage to the file, leaves storage as it was.
   */
  importBackup(file: Blob, passphrase: string): Promise<ImportResult> {
    return this.queue.run(async (): Promise<ImportResult> => {
      if ((await this.store.readHeader()) !== undefined) return { ok: false, reason: 'profile-exists' };
      const source = blobByteSource(file);
      const preamble = await readBackupPreamble(source);
      if (!preamble.ok) return { ok: false, reason: 'invalid-backup', detail: preamble.detail };
      // No wait between tries: whoever holds the file can guess offline anyway.
      const unlocked = await unlockVault(preamble.value.header, passphrase, this.ports.argon2);
      if (!unlocked.ok) return { ok: false, reason: 'wrong-passphrase' };
      const restored = await restoreBackup(this.store, source, preamble.value, unlocked.dataKey);
      if (!restored.ok) return restored;
      const profile = await this.readProfile(unlocked.dataKey);
      if (profile === null) throw new Error('a backup that passed every check has no readable profile');
      await this.askForPersistence();
      return { ok: true, vault: this.startSession(unlocked.dataKey, profile) };
    });
  }

  private async readProfile(dataKey: CryptoKey): Promise<Profile | null> {
    const profileRow = parseSealedRow(await this.store.readRow('settings', PROFILE_RECORD_ID));
    const identityRow = parseSealedRow(await this.store.readRow('settings', IDENTITY_RECORD_ID));
    if (profileRow === null || identityRow === null) return null;
    const profile = await openProfile(dataKey, profileRow.sealed);
    const privateKey = await unwrapIdentity(dataKey, identityRow.sealed);
    if (profile === null || privateKey === null) return null;
    return { displayName: profile.displayName, identity: { publicKeySpki: profile.publicKeySpki, privateKey } };
  }

  private startSession(dataKey: CryptoKey, profile: Profile): UnlockedVault {
    this.session?.lock();
    const vault = new UnlockedVault(dataKey, profile, this.store, this.ports, this.throttle);
    this.session = vault;
    return vault;
  }

  /** Best effort: a browser may say no, or not know; the vault works either way, with eviction possible. */
  private async askForPersistence(): Promise<void> {
    await this.store.requestPersistence().catch(() => false);
  }
}

/**
 * An unlocked vault. `lock()` drops the data key, the identity and the profile; every call after it (and any
 * call still running, at its next seal or open) rejects with VaultLockedError. Writes that read before they
 * write (appending, receipts, contacts) run one at a time.
 */
export class UnlockedVault {
  private dataKey: CryptoKey | null;
  private currentProfile: Profile | null;
  private readonly queue = new SerialQueue();
  private readonly ctx: VaultContext;
  private readonly changed = new Set<() => void>();

  /** Made by Vault.create, Vault.unlock and Vault.importBackup. */
  constructor(
    dataKey: CryptoKey,
    profile: Profile,
    private readonly store: VaultStorePort,
    private readonly ports: VaultPorts,
    private readonly throttle: PassphraseThrottle,
  ) {
    this.dataKey = dataKey;
    this.currentProfile = profile;
    this.ctx = {
      store,
      random: ports.random,
      clock: ports.clock,
      dataKey: () => {
        if (this.dataKey === null) throw new VaultLockedError('continue');
        return this.dataKey;
      },
    };
  }

  get locked(): boolean {
    return this.dataKey === null;
  }

  get profile(): Profile {
    if (this.currentProfile === null) throw new VaultLockedError('see the profile');
    return this.currentProfile;
  }

  lock(): void {
    this.dataKey = null;
    this.currentProfile = null;
  }

  /** Deletes the parts of file saves a closed or crashed page never finished. Best effort; done at every unlock. */
  async finishInterruptedWrites(): Promise<void> {
    await this.read('tidy up', sweepPendingFiles).catch(() => {});
  }

  private context(operation: string): VaultContext {
    if (this.dataKey === null) throw new VaultLockedError(operation);
    return this.ctx;
  }

  private read<T>(operation: string, task: (ctx: VaultContext) => Promise<T>): Promise<T> {
    try {
      return task(this.context(operation));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private exclusive<T>(operation: string, task: (ctx: VaultContext) => Promise<T>): Promise<T> {
    const done = this.queue.run(() => task(this.context(operation)));
    // Every write goes through here; whoever shows what is stored hears of it once the write is done.
    void done.then(() => this.changed.forEach((listener) => listener()), () => {});
    return done;
  }

  /** Calls `listener` after each write (a message kept, a conversation deleted …); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.changed.add(listener);
    return () => this.changed.delete(listener);
  }

  // ---- conversations and messages -----------------------------------------------------------------

  conversations(): Promise<ConversationEntry[]> {
    return this.read('list conversations', listConversations);
  }

  conversation(id: string): Promise<StoreResult<ConversationSummary>> {
    return this.read('open a conversation', (ctx) => getConversation(ctx, id));
  }

  /** The conversation of this room (by its link's secret), made on first use with `title`. */
  openConversation(roomSecret: Uint8Array, title = ''): Promise<StoreResult<ConversationSummary>> {
    return this.exclusive('open a conversation', (ctx) => openRoomConversation(ctx, roomSecret, title));
  }

  renameConversation(id: string, title: string): Promise<StoreResult<ConversationSummary>> {
    return this.exclusive('rename a conversation', (ctx) => renameConversation(ctx, id, title));
  }

  /**
   * The group engine's store for this conversation (spec §12.7, §12.9): its writes go in turn with every other
   * write of this vault, each in one transaction.
   */
  async conversationStore(conversationId: string): Promise<VaultConversationStore> {
    const self = await memberIdOf(this.profile.identity.publicKeySpki);
    return new VaultConversationStore((operation, task) => this.exclusive(operation, task), conversationId, self);
  }

  /** Every conversation whose outbox still holds messages, with whom they wait for: rooms to join in the background. */
  pendingOutbox(): Promise<PendingOutbox[]> {
    return this.read('list what waits to be sent', listPendingOutbox);
  }

  /** The newest `limit` messages, oldest first; reads only those. */
  latestMessages(conversationId: string, limit: number): Promise<HistoryEntry[]> {
    return this.read('read messages', (ctx) => readMessagePage(ctx, conversationId, null, limit));
  }

  /** Up to `limit` messages just before `seq`, oldest first: the next page when scrolling back. */
  messagesBefore(conversationId: string, seq: number, limit: number): Promise<HistoryEntry[]> {
    return this.read('read messages', (ctx) => readMessagePage(ctx, conversationId, Math.min(seq, MAX_SEQ + 1), limit));
  }

  markRead(conversationId: string): Promise<StoreResult<ConversationSummary>> {
    return this.exclusive('mark a conversation read', (ctx) => markRead(ctx, conversationId));
  }

  /**
   * Stores a file message and its bytes (sealed in 1 MiB parts). The parts are written first, outside the
   * queue, so a large file does not hold up text messages; the message that makes them visible comes last.
   * A received file that would take the conversation over the person's budget for received files is refused
   * with `over-budget` before anything is written, unless `beyondBudget` says the person chose to keep it.
   */
  async saveFile(conversationId: string, message: NewFileMessage, file: Blob, options: { readonly beyondBudget?: boolean } = {}): Promise<StoreResult<StoredMessage>> {
    const budget: FileBudget = options.beyondBudget === true ? null : { budgetBytes: (await this.preferences()).receivedFilesBudgetBytes };
    const fits = await this.read('store a file', (ctx) => receivedFileBudget(ctx, conversationId, message.author, file.size, budget));
    if (!fits.ok) return fits;
    const written = await this.read('store a file', (ctx) => writeFileParts(ctx, conversationId, message, blobByteSource(file)));
    if (!written.ok) return written;
    const fileId = written.value.file.fileId;
    try {
      const appended = await this.exclusive('store a file', (ctx) => appendFileMessage(ctx, written.value, message, budget));
      if (!appended.ok) await discardFile(this.ctx, conversationId, fileId);
      return appended;
    } catch (error) {
      await discardFile(this.ctx, conversationId, fileId);
      throw error;
    }
  }

  /** A stored file's bytes; `file` is the `content.file` of its message. */
  readFile(conversationId: string, file: StoredFileInfo): Promise<StoreResult<Blob>> {
    return this.read('read a file', (ctx) => readFile(ctx, conversationId, file));
  }

  deleteConversation(id: string): Promise<StoreResult<null>> {
    return this.exclusive('delete a conversation', (ctx) => deleteConversation(ctx, id));
  }

  /** Every conversation, message and stored file; the profile and contacts stay. */
  deleteAllHistory(): Promise<StoreResult<null>> {
    return this.exclusive('delete the history', deleteAllHistory);
  }

  // ---- contacts -----------------------------------------------------------------------------------

  contacts(): Promise<Contact[]> {
    return this.read('list contacts', listContacts);
  }

  contact(id: string): Promise<StoreResult<Contact>> {
    return this.read('read a contact', (ctx) => getContact(ctx, id));
  }

  /** After a completed handshake: remembers (or checks) who was in this conversation's room. */
  observePeer(conversationId: string, peer: ObservedPeer): Promise<StoreResult<PeerObservation>> {
    return this.exclusive('remember a contact', (ctx) => observePeer(ctx, conversationId, peer));
  }

  /** `shown` is the contact whose safety number the user compared; refused if its key changed since. */
  markVerified(shown: Contact): Promise<StoreResult<Contact>> {
    return this.exclusive('verify a contact', (ctx) => markVerified(ctx, shown));
  }

  acknowledgeKeyChange(contactId: string): Promise<StoreResult<Contact>> {
    return this.exclusive('acknowledge a key change', (ctx) => acknowledgeKeyChange(ctx, contactId));
  }

  /** The person adopts another name for a contact (say, the one it announces now). */
  renameContact(contactId: string, displayName: string): Promise<StoreResult<Contact>> {
    return this.exclusive('rename a contact', (ctx) => renameContact(ctx, contactId, displayName));
  }

  /** The 60-digit number both people read out to check each other's identity key (a contact's, or a newcomer's). */
  safetyNumberFor(peer: { readonly publicKeySpki: Uint8Array }): Promise<string> {
    return this.read('show a safety number', () => safetyNumber(this.profile.identity.publicKeySpki, peer.publicKeySpki));
  }

  // ---- preferences --------------------------------------------------------------------------------

  /** The person's choices; the defaults when none were saved, or when the record does not open. */
  preferences(): Promise<Preferences> {
    return this.read('read your preferences', readPreferences);
  }

  /** Changes the given choices; the others stay as saved. */
  savePreferences(change: Partial<Preferences>): Promise<StoreResult<Preferences>> {
    return this.exclusive('save your preferences', async (ctx) => {
      const saved = await readPreferences(ctx);
      const checked = parsePreferences({ v: 1, ...saved, ...change });
      if (checked === null) return { ok: false, reason: 'invalid', detail: 'that choice is not one Parley offers' };
      const sealed = await sealPreferences(ctx.dataKey(), checked, ctx.random);
      const written = await ctx.store.write([{ type: 'put-row', store: 'settings', row: { id: PREFERENCES_RECORD_ID, sealed } }]);
      return written.ok ? { ok: true, value: checked } : written;
    });
  }

  // ---- passphrase, backup, storage ------------------------------------------------------------------

  /**
   * Re-wraps the data key under the new passphrase in one write of the header; no record changes. Wrong old
   * passphrases count towards the same escalating wait as unlocking, so an unlocked, unattended screen does
   * not let anyone test guesses at the passphrase.
   */
  changePassphrase(oldPassphrase: string, newPassphrase: string): Promise<ChangePassphraseOutcome> {
    return this.exclusive('change the passphrase', async (): Promise<ChangePassphraseOutcome> => {
      if (newPassphrase === '') return { ok: false, reason: 'empty-passphrase' };
      const state = await readHeaderState(this.store);
      if (state.kind !== 'ok') return { ok: false, reason: 'unreadable', detail: 'the stored vault header cannot be read' };
      const attempt = await this.throttle.begin();
      if (!attempt.ok) return { ok: false, reason: 'wait', retryAfterMs: attempt.retryAfterMs };
      const { argon2, random } = this.ports;
      const changed = await changePassphrase(state.header, oldPassphrase, newPassphrase, argon2, random, this.ports.argon2Params ?? DEFAULT_ARGON2ID);
      if (!changed.ok) return { ok: false, reason: 'wrong-passphrase', retryAfterMs: this.throttle.failed(attempt.failedBefore) };
      await this.throttle.succeeded();
      const written = await this.store.write([{ type: 'put-header', header: encodeVaultHeader(changed.header) }]);
      return written.ok ? { ok: true } : { ok: false, reason: 'quota-exceeded' };
    });
  }

  /**
   * The whole vault as one encrypted file (see backup.ts), read back and checked before it is handed out, so
   * a backup that would not restore is never mistaken for a good one.
   */
  exportBackup(): Promise<ExportResult> {
    return this.exclusive('export a backup', async (ctx): Promise<ExportResult> => {
      const state = await readHeaderState(this.store);
      if (state.kind !== 'ok') return { ok: false, reason: 'unreadable', detail: 'the stored vault header cannot be read' };
      let blob: Blob;
      try {
        blob = await writeBackup(ctx, state.header);
      } catch (error) {
        if (error instanceof VaultLockedError) throw error;
        return { ok: false, reason: 'unreadable', detail: error instanceof Error ? error.message : String(error) };
      }
      const source = blobByteSource(blob);
      const preamble = await readBackupPreamble(source);
      if (!preamble.ok) return { ok: false, reason: 'unreadable', detail: preamble.detail };
      const checked = await walkBackup(source, preamble.value, ctx.dataKey(), async () => true);
      if (!checked.ok) return { ok: false, reason: 'unreadable', detail: 'detail' in checked ? checked.detail : 'the check stopped' };
      return { ok: true, blob };
    });
  }

  storageStatus(): Promise<StorageStatus> {
    return this.read('check storage', async () => {
      const [persisted, estimate] = await Promise.all([this.store.persisted(), this.store.estimate()]);
      return { persisted, usageBytes: estimate?.usageBytes ?? null, quotaBytes: estimate?.quotaBytes ?? null };
    });
  }
}
