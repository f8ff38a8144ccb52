/**
 * One room's kept conversation in an unlocked vault, as the room uses it: opens (or makes) it, knows the room's
 * contacts before anyone arrives (admission answers at once), hands the group engine its vault-backed store (spec
 * §12.7, §12.9), remembers admitted people, pages the kept messages with who wrote them and where each of ours
 * stands with each addressee, and keeps files and "seen".
 *
 * What the engine hands its store is written at once, one transaction per call, off the send path for received
 * messages (they are shown first) and before the first send of our own (it must survive a reload). "Seen" is
 * gathered for a moment (FLUSH_DELAY_MS) and kept in one write. A failed write is reported in words while the chat
 * goes on.
 */
import type { PeerIdentity } from '../core/crypto/identityProof.ts';
import { memberIdOf } from '../core/crypto/memberId.ts';
import type { ConversationStore, ExpiryReason } from '../core/group/conversationStore.ts';
import type { DeliveryState } from '../core/group/groupEvents.ts';
import type { RoomKnowledge } from '../core/room/admission.ts';
import { assertNever } from '../core/assertNever.ts';
import type { Clock } from '../core/ports.ts';
import type { Contact, PeerObservation } from '../core/vault/contacts.ts';
import { UNNAMED_GUEST_LABEL, type VaultConversationStore } from '../core/vault/groupHistory.ts';
import type { ConversationSummary, HistoryEntry } from '../core/vault/history.ts';
import type { Identity } from '../core/vault/identity.ts';
import { VaultLockedError, type StoreResult } from '../core/vault/vaultContext.ts';
import type { MessageContent, MessageStream, OtherParty, Party, StoredFileInfo } from '../core/vault/vaultRecords.ts';
import type { UnlockedVault } from '../core/vault/vaultService.ts';
import { failureText } from './vaultText.ts';

/** How many stored messages a page of history holds: what the room shows at once, and each step back. */
export const HISTORY_PAGE_MESSAGES = 50;
/** How long "seen" is gathered before it is kept in one write. */
export const FLUSH_DELAY_MS = 200;

/** Anyone in the room but this person, as a kept message names them. */
export type HistoryOther =
  /** A contact as known now (a rename shows on old messages too); null if its record cannot be read. */
  | { readonly kind: 'contact'; readonly contactId: string; readonly contact: Contact | null; readonly memberId: string | null }
  /** A guest under the label it had when the message was kept ("Guest 2"); its member id then, if known. */
  | { readonly kind: 'guest'; readonly label: string; readonly memberId: string | null };

export type HistoryPerson = { readonly kind: 'me' } | HistoryOther;

/** To everyone in the room, or private between this person and `with`. */
export type HistoryStream = { readonly kind: 'group' } | { readonly kind: 'private'; readonly with: HistoryOther };

/** Where one of our messages stands with one addressee, since `atMs`. */
export interface HistoryDelivery {
  readonly to: HistoryOther;
  readonly state: DeliveryState;
  readonly atMs: number;
  /** Why the outbox gave up, for `expired`; null otherwise. */
  readonly reason: ExpiryReason | null;
}

/** A kept message, as the room shows it. */
export type RoomHistoryEntry =
  | {
      readonly kind: 'message';
      /** Its position in this conversation: the first entry's seq is what `before` takes for the page before. */
      readonly seq: number;
      readonly messageId: string;
      readonly author: HistoryPerson;
      readonly stream: HistoryStream;
      /** The author's sequence number (§12.5); null for files, and for messages kept before groups. */
      readonly authorSeq: number | null;
      /** The author's clock when written: its claim (a message from an outbox may arrive days later). */
      readonly writtenAtMs: number;
      /** When this side showed it (received) or wrote it (own). */
      readonly atMs: number;
      readonly content: MessageContent;
      /** Our own text messages: one per addressee. Empty for everyone else's, and for files. */
      readonly delivery: readonly HistoryDelivery[];
    }
  /** A kept message that does not open (damaged or altered storage); seq null when even its row is malformed. */
  | { readonly kind: 'unreadable'; readonly seq: number | null };

/** Who a file came from or went to, for `recordFile`. */
export interface FileRecorded {
  readonly messageId: string;
  readonly author: { readonly kind: 'me' } | { readonly kind: 'member'; readonly memberId: string };
  readonly stream: { readonly kind: 'group' } | { readonly kind: 'private'; readonly with: string };
  readonly atMs: number;
}

export type FileKeeping = 'kept' | 'over-budget' | 'not-kept';

export class RoomHistory {
  private writes: Promise<unknown> = Promise.resolve();
  /** Every contact, read when the room opens and kept current by this room's own writes (one room per tab). */
  private allContacts: Contact[];
  /** Ids of the contacts this room remembers. */
  private readonly roomContactIds: Set<string>;
  /** Contact id → member id of its current key, for every contact. */
  private readonly memberIds: Map<string, string>;
  /** Member id → the label the room shows a guest under. */
  private readonly guestLabels = new Map<string, string>();
  private seen = false;
  private cancelFlush: (() => void) | null = null;
  private titled: boolean;

  private constructor(
    private readonly vault: UnlockedVault,
    private readonly clock: Clock,
    readonly conversation: ConversationSummary,
    allContacts: Contact[],
    memberIds: Map<string, string>,
    private readonly store: VaultConversationStore,
    private readonly onProblem: (text: string) => void,
  ) {
    this.allContacts = allContacts;
    this.roomContactIds = new Set(conversation.contactIds);
    this.memberIds = memberIds;
    this.titled = conversation.title !== '';
  }

  /** The room's conversation (made on first visit), every contact and the member ids of their keys, read up front. */
  static async open(vault: UnlockedVault, clock: Clock, secret: Uint8Array, onProblem: (text: string) => void): Promise<StoreResult<RoomHistory>> {
    const opened = await vault.openConversation(secret);
    if (!opened.ok) return opened;
    const contacts = await vault.contacts();
    const memberIds = new Map(await Promise.all(contacts.map(async (contact) => [contact.id, await memberIdOf(contact.publicKeySpki)] as const)));
    const store = await vault.conversationStore(opened.value.id);
    return { ok: true, value: new RoomHistory(vault, clock, opened.value, contacts, memberIds, store, onProblem) };
  }

  get displayName(): string {
    return this.vault.profile.displayName;
  }

  /** The profile's long-term identity, which signs every session's transcript. */
  get identity(): Identity {
    return this.vault.profile.identity;
  }

  private roomContacts(): Contact[] {
    return this.allContacts.filter((contact) => this.roomContactIds.has(contact.id));
  }

  /**
   * What the admission policy judges a newcomer against. Read before anything flows, so it must not wait on
   * storage: it comes from what this room already loaded.
   */
  knowledge(): RoomKnowledge {
    return { roomContacts: this.roomContacts(), allContacts: this.allContacts };
  }

  /** Member ids of the room's contacts under their current keys: the engine addresses them whether here or not. */
  rememberedMemberIds(): readonly string[] {
    return this.roomContacts().flatMap((contact) => this.memberIds.get(contact.id) ?? []);
  }

  /** The group engine's store for this conversation: what it writes survives a reload. */
  conversationStore(): ConversationStore {
    return this.store;
  }

  /** The label the room shows a guest under ("Guest 2"); the guest's messages are kept under it. */
  nameGuest(memberId: string, label: string): void {
    this.guestLabels.set(memberId, label);
    this.store.nameGuest(memberId, label);
  }

  /** The contact a member is, by the key it proved (any contact, of this room or not); null for a guest or a stranger. */
  contactFor(memberId: string): Contact | null {
    return this.allContacts.find((contact) => this.memberIds.get(contact.id) === memberId) ?? null;
  }

  /**
   * Remembers (or checks) an admitted member; the outcome tells the view what to show. Never called for a held one:
   * a held member leaves no trace.
   */
  async observe(peer: PeerIdentity): Promise<StoreResult<PeerObservation>> {
    const observed = await this.vault.observePeer(
      this.conversation.id,
      peer.kind === 'guest' ? { kind: 'guest' } : { kind: 'profile', displayName: peer.displayName, publicKeySpki: peer.publicKeySpki },
    );
    if (observed.ok && observed.value.kind !== 'guest') {
      const contact = observed.value.contact;
      this.roomContactIds.add(contact.id);
      this.store.knowContact(await this.remember(contact), contact.id);
      // An untitled room is listed under the name of the first person met in it; later arrivals never rename it.
      if (!this.titled) void this.queue(() => this.vault.renameConversation(this.conversation.id, contact.displayName));
      this.titled = true;
    }
    return observed;
  }

  async markVerified(contact: Contact): Promise<StoreResult<Contact>> {
    const marked = await this.vault.markVerified(contact);
    if (marked.ok) await this.remember(marked.value);
    return marked;
  }

  async acknowledgeKeyChange(contact: Contact): Promise<StoreResult<Contact>> {
    const acknowledged = await this.vault.acknowledgeKeyChange(contact.id);
    if (acknowledged.ok) await this.remember(acknowledged.value);
    return acknowledged;
  }

  /** The person calls the contact by another name (the one it announces now). */
  async renameContact(contact: Contact, displayName: string): Promise<StoreResult<Contact>> {
    const renamed = await this.vault.renameContact(contact.id, displayName);
    if (renamed.ok) await this.remember(renamed.value);
    return renamed;
  }

  /** The 60-digit number both people compare: of a member (its verified key) or of a contact. */
  safetyNumber(peerOrContact: { readonly publicKeySpki: Uint8Array }): Promise<string> {
    return this.vault.safetyNumberFor(peerOrContact);
  }

  /** Keeps this room's view of a contact the vault just wrote; the member id of its key. */
  private async remember(contact: Contact): Promise<string> {
    const memberId = await memberIdOf(contact.publicKeySpki);
    this.memberIds.set(contact.id, memberId);
    this.allContacts = [...this.allContacts.filter((known) => known.id !== contact.id), contact];
    return memberId;
  }

  // ---- reading ------------------------------------------------------------------------------------

  /** The newest page, oldest first. */
  async latest(): Promise<RoomHistoryEntry[]> {
    return (await this.vault.latestMessages(this.conversation.id, HISTORY_PAGE_MESSAGES)).map((entry) => this.entryOf(entry));
  }

  /** The page just before `seq`, oldest first; empty at the beginning of the conversation. */
  async before(seq: number): Promise<RoomHistoryEntry[]> {
    return (await this.vault.messagesBefore(this.conversation.id, seq, HISTORY_PAGE_MESSAGES)).map((entry) => this.entryOf(entry));
  }

  readFile(file: StoredFileInfo): Promise<StoreResult<Blob>> {
    return this.vault.readFile(this.conversation.id, file);
  }

  private entryOf(entry: HistoryEntry): RoomHistoryEntry {
    if (entry.kind === 'unreadable') return { kind: 'unreadable', seq: entry.seq };
    return {
      kind: 'message',
      seq: entry.seq,
      messageId: entry.messageId,
      author: entry.author.type === 'me' ? { kind: 'me' } : this.other(entry.author),
      stream: this.streamOf(entry.stream),
      authorSeq: entry.authorSeq,
      writtenAtMs: entry.writtenAtMs,
      atMs: entry.atMs,
      content: entry.content,
      delivery: entry.delivery.map((delivery) => ({
        to: this.other(delivery.to),
        state: delivery.state,
        atMs: delivery.atMs,
        reason: delivery.state === 'expired' ? delivery.reason : null,
      })),
    };
  }

  private streamOf(stream: MessageStream): HistoryStream {
    switch (stream.type) {
      case 'group':
        return { kind: 'group' };
      case 'private':
        return { kind: 'private', with: this.other(stream.with) };
      default:
        return assertNever(stream, 'message stream');
    }
  }

  private other(party: OtherParty): HistoryOther {
    switch (party.type) {
      case 'contact':
        return {
          kind: 'contact',
          contactId: party.contactId,
          contact: this.allContacts.find((contact) => contact.id === party.contactId) ?? null,
          memberId: this.memberIds.get(party.contactId) ?? null,
        };
      case 'guest':
        return { kind: 'guest', label: party.label, memberId: party.memberId };
      default:
        return assertNever(party, 'party');
    }
  }

  // ---- writing ------------------------------------------------------------------------------------

  /** How the history names a member: a contact of this room, or a guest under the label the room gave it. */
  private partyOf(memberId: string): OtherParty {
    const contact = this.roomContacts().find((candidate) => this.memberIds.get(candidate.id) === memberId);
    if (contact !== undefined) return { type: 'contact', contactId: contact.id };
    return { type: 'guest', label: this.guestLabels.get(memberId) ?? UNNAMED_GUEST_LABEL, memberId };
  }

  /** The person has the conversation in front of them: what arrived is read (kept a moment later, in one write). */
  markRead(): void {
    this.seen = true;
    this.cancelFlush ??= this.clock.setTimer(FLUSH_DELAY_MS, () => this.flush());
  }

  /**
   * A file is kept after the writes queued before it, so the order of the conversation is the order it happened.
   * 'over-budget': a received file past the person's budget for this conversation, not kept; keeping it is the
   * person's call (then `beyondBudget`). Other failures are reported as problems, and answer 'not-kept'.
   */
  async recordFile(message: FileRecorded, name: string, mimeType: string, file: Blob, options: { readonly beyondBudget?: boolean } = {}): Promise<FileKeeping> {
    this.flush();
    const author: Party = message.author.kind === 'me' ? { type: 'me' } : this.partyOf(message.author.memberId);
    const stream: MessageStream = message.stream.kind === 'group' ? { type: 'group' } : { type: 'private', with: this.partyOf(message.stream.with) };
    const outcome: { value: FileKeeping } = { value: 'not-kept' };
    await this.queue(async () => {
      const saved = await this.vault.saveFile(this.conversation.id, { messageId: message.messageId, author, stream, atMs: message.atMs, name, mimeType }, file, options);
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
    if (!this.seen) return;
    this.seen = false;
    void this.queue(() => this.vault.markRead(this.conversation.id));
  }

  /** Deletes this conversation's kept history; what is on screen stays until the room is left. */
  async deleteHistory(): Promise<StoreResult<null>> {
    await this.settled();
    return this.vault.deleteConversation(this.conversation.id);
  }

  /** Keeps what was gathered, then resolves when every write so far (the engine's too) has finished. */
  async settled(): Promise<void> {
    this.flush();
    await Promise.all([this.writes, this.store.idle()]);
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
