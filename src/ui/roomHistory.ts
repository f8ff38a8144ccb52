/**
 * One room's kept conversation in an unlocked vault: opens (or makes) it, pages its stored messages, and records
 * what is said as it happens. Recording never holds up the chat: texts, receipts and "seen" are gathered for a
 * moment (FLUSH_DELAY_MS) and kept in one write, writes queue behind each other off the send path, and a failed
 * write (storage full, say) is reported in words while the chat goes on. The price: if the tab dies within that
 * moment, its last fraction of a second of chat is not kept.
 */
import type { PeerIdentity } from '../core/crypto/identityProof.ts';
import type { RoomKnowledge } from '../core/room/admission.ts';
import type { ConversationStore } from '../core/group/conversationStore.ts';
import { MemoryConversationStore } from '../core/group/memoryConversationStore.ts';
import type { Contact, PeerObservation } from '../core/vault/contacts.ts';
import type { ConversationSummary, HistoryEntry, NewTextMessage } from '../core/vault/history.ts';
import type { Clock } from '../core/ports.ts';
import { VaultLockedError, type StoreResult } from '../core/vault/vaultContext.ts';
import type { Identity } from '../core/vault/identity.ts';
import type { StoredFileInfo } from '../core/vault/vaultRecords.ts';
import type { UnlockedVault } from '../core/vault/vaultService.ts';
import { failureText } from './vaultText.ts';

/** How many stored messages a page of history holds: what the room shows at once, and each step back. */
export const HISTORY_PAGE_MESSAGES = 50;
/** How long chat is gathered before it is kept in one write. */
export const FLUSH_DELAY_MS = 200;
/** Kept at once however soon, so one write never grows large. */
const FLUSH_AT_TEXTS = 200;

export type Recorded = { readonly direction: 'outgoing' | 'incoming'; readonly messageId: string; readonly atMs: number };

export type FileKeeping = 'kept' | 'over-budget' | 'not-kept';

export class RoomHistory {
  private writes: Promise<unknown> = Promise.resolve();
  private contactNow: Contact | null;
  /** Every contact, read when the room opens and kept current by this room's own writes (one room per tab). */
  private allContacts: Contact[];
  private texts: NewTextMessage[] = [];
  private receipts: { messageId: string; atMs: number }[] = [];
  private seen = false;
  private cancelFlush: (() => void) | null = null;
  private titled: boolean;

  private constructor(
    private readonly vault: UnlockedVault,
    private readonly clock: Clock,
    readonly conversation: ConversationSummary,
    contact: Contact | null,
    allContacts: Contact[],
    private readonly onProblem: (text: string) => void,
  ) {
    this.contactNow = contact;
    this.allContacts = allContacts;
    this.titled = conversation.title !== '';
  }

  /** The room's conversation (made on first visit) and the contact last seen in it. */
  static async open(vault: UnlockedVault, clock: Clock, secret: Uint8Array, onProblem: (text: string) => void): Promise<StoreResult<RoomHistory>> {
    const opened = await vault.openConversation(secret);
    if (!opened.ok) return opened;
    let contact: Contact | null = null;
    if (opened.value.contactId !== null) {
      const found = await vault.contact(opened.value.contactId);
      if (found.ok) contact = found.value;
    }
    return { ok: true, value: new RoomHistory(vault, clock, opened.value, contact, await vault.contacts(), onProblem) };
  }

  get contact(): Contact | null {
    return this.contactNow;
  }

  get displayName(): string {
    return this.vault.profile.displayName;
  }

  /** The profile's long-term identity, which signs every session's transcript. */
  get identity(): Identity {
    return this.vault.profile.identity;
  }

  /**
   * What the admission policy judges a newcomer against. Read before anything flows, so it must not wait on
   * storage: it comes from what this room already loaded.
   */
  knowledge(): RoomKnowledge {
    return { roomContacts: this.contactNow === null ? [] : [this.contactNow], allContacts: this.allContacts };
  }

  /** Member ids of the room's remembered contacts: addressed while away. (Group history: pending.) */
  rememberedMemberIds(): readonly string[] {
    return [];
  }

  /** Where the group conversation keeps its counters and outbox. (Group history: pending; in memory for now.) */
  conversationStore(): ConversationStore {
    return (this.store ??= new MemoryConversationStore());
  }

  private store: ConversationStore | null = null;

  /** Remembers (or checks) an admitted peer; the outcome tells the view what to show. Never called for a held one. */
  async observe(peer: PeerIdentity): Promise<StoreResult<PeerObservation>> {
    const observed = await this.vault.observePeer(
      this.conversation.id,
      peer.kind === 'guest' ? { kind: 'guest' } : { kind: 'profile', displayName: peer.displayName, publicKeySpki: peer.publicKeySpki },
    );
    if (observed.ok && observed.value.kind !== 'guest') {
      const contact = observed.value.contact;
      this.remember(contact);
      // An untitled room is listed under the name of the first person met in it; later arrivals never rename it.
      if (!this.titled) void this.queue(() => this.vault.renameConversation(this.conversation.id, contact.displayName));
      this.titled = true;
    }
    return observed;
  }

  async markVerified(contact: Contact): Promise<StoreResult<Contact>> {
    const marked = await this.vault.markVerified(contact);
    if (marked.ok) this.remember(marked.value);
    return marked;
  }

  async acknowledgeKeyChange(contact: Contact): Promise<StoreResult<Contact>> {
    const acknowledged = await this.vault.acknowledgeKeyChange(contact.id);
    if (acknowledged.ok) this.remember(acknowledged.value);
    return acknowledged;
  }

  /** The person calls the contact by another name (the one it announces now). */
  async renameContact(contact: Contact, displayName: string): Promise<StoreResult<Contact>> {
    const renamed = await this.vault.renameContact(contact.id, displayName);
    if (renamed.ok) this.remember(renamed.value);
    return renamed;
  }

  safetyNumber(peer: { readonly publicKeySpki: Uint8Array }): Promise<string> {
    return this.vault.safetyNumberFor(peer);
  }

  /** Keeps this room's view of a contact the vault just wrote: it is the room's contact now, and one of all. */
  private remember(contact: Contact): void {
    this.contactNow = contact;
    this.allContacts = [...this.allContacts.filter((known) => known.id !== contact.id), contact];
  }

  /** The newest page, oldest first. */
  latest(): Promise<HistoryEntry[]> {
    return this.vault.latestMessages(this.conversation.id, HISTORY_PAGE_MESSAGES);
  }

  /** The page just before `seq`, oldest first; empty at the beginning of the conversation. */
  before(seq: number): Promise<HistoryEntry[]> {
    return this.vault.messagesBefore(this.conversation.id, seq, HISTORY_PAGE_MESSAGES);
  }

  readFile(file: StoredFileInfo): Promise<StoreResult<Blob>> {
    return this.vault.readFile(this.conversation.id, file);
  }

  recordText(message: Recorded, text: string): void {
    this.texts.push({ ...message, text });
    this.gathered();
  }

  recordDelivered(messageId: string, atMs: number): void {
    this.receipts.push({ messageId, atMs });
    this.gathered();
  }

  /** The person has the conversation in front of them: what arrived is read. */
  markRead(): void {
    this.seen = true;
    this.gathered();
  }

  /**
   * A file is kept after the chat gathered before it, so the order of the conversation is the order it happened.
   * 'over-budget': a received file past the person's budget for this conversation, not kept; keeping it is the
   * person's call (then `beyondBudget`). Other failures are reported as problems, and answer 'not-kept'.
   */
  async recordFile(message: Recorded, name: string, mimeType: string, file: Blob, options: { readonly beyondBudget?: boolean } = {}): Promise<FileKeeping> {
    this.flush();
    const outcome: { value: FileKeeping } = { value: 'not-kept' };
    await this.queue(async () => {
      const saved = await this.vault.saveFile(this.conversation.id, { ...message, name, mimeType }, file, options);
      if (saved.ok) outcome.value = 'kept';
      // Not a problem to report: the file's line asks the question instead.
      else if (saved.reason === 'over-budget') outcome.value = 'over-budget';
      return saved.ok || saved.reason === 'over-budget' ? { ok: true, value: null } : saved;
    });
    return outcome.value;
  }

  /** Keeps what was gathered now instead of after the delay. */
  flush(): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
    if (this.texts.length === 0 && this.receipts.length === 0 && !this.seen) return;
    const batch = { texts: this.texts, receipts: this.receipts, read: this.seen };
    this.texts = [];
    this.receipts = [];
    this.seen = false;
    void this.queue(() => this.vault.recordChat(this.conversation.id, batch));
  }

  /** Deletes this conversation's kept history; what is on screen stays until the room is left. */
  async deleteHistory(): Promise<StoreResult<null>> {
    this.flush();
    await this.writes;
    return this.vault.deleteConversation(this.conversation.id);
  }

  /** Keeps what was gathered, then resolves when every write so far has finished. */
  settled(): Promise<void> {
    this.flush();
    return this.writes.then(() => undefined);
  }

  private gathered(): void {
    if (this.texts.length >= FLUSH_AT_TEXTS) this.flush();
    else this.cancelFlush ??= this.clock.setTimer(FLUSH_DELAY_MS, () => this.flush());
  }

  private queue(write: () => Promise<StoreResult<unknown>>): Promise<void> {
    const done = this.writes.then(write).then(
      (result) => {
        if (!result.ok) this.onProblem(`Not kept in your history: ${failureText(result)}`);
      },
      (error: unknown) => {
        // A locked vault refuses every write: the room is closing then, and there is nobody to tell.
        if (!(error instanceof VaultLockedError)) this.onProblem(`Not kept in your history: ${String(error)}`);
      },
    );
    this.writes = done;
    return done;
  }
}
