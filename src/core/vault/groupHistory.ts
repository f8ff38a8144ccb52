/**
 * A group room's history in the vault (spec §12.7, §12.9): `VaultConversationStore`, the group engine's
 * ConversationStore over one conversation (own counter, last seq shown per member, durable outbox, delivery
 * states), and the summary of every conversation's waiting outbox.
 */
import { assertNever } from '../assertNever.ts';
import { memberIdOf } from '../crypto/memberId.ts';
import type { ConversationStore, ExpiredEntry, OutboxEntry, StoredConversation } from '../group/conversationStore.ts';
import { MAX_UNREAD_TRACKED } from '../group/groupLimits.ts';
import type { GroupMessage } from '../protocol/groupMessages.ts';
import { listContacts } from './contacts.ts';
import { appendWrites, listConversations, loadConversation, openMessageRow, putConversation, type StoredMessage } from './history.ts';
import { isVaultId, newVaultId } from './recordIds.ts';
import { parseMessageRow, parseOutboxRow, parseSealedRow, type VaultWrite } from './storePort.ts';
import { timestampNow, type VaultContext, type VaultFailure } from './vaultContext.ts';
import {
  cleanName,
  isAuthorSeq,
  isMessageText,
  MAX_ADDRESSEES,
  MAX_DISPLAY_NAME_CHARS,
  MAX_ROOM_CONTACTS,
  ME,
  openContactRecord,
  openOutboxEntry,
  pairPeerOf,
  partyKey,
  sealMessage,
  sealOutboxEntry,
  type ConversationRecord,
  type Delivery,
  type LastShown,
  type MessageStream,
  type OtherParty,
  type OutboxCount,
} from './vaultRecords.ts';

/** What a guest is called when the app never named it (it always should: "Guest 2"). */
export const UNNAMED_GUEST_LABEL = 'Guest';
/** Members other than the room's contacts whose last shown seq is kept: the guests of the latest room sessions. */
const MAX_OTHER_LAST_SHOWN = MAX_ADDRESSEES - MAX_ROOM_CONTACTS;

/** A vault write the store could not make, with the vault's failure; its message is in plain words. */
export class ConversationStoreError extends Error {
  constructor(
    readonly failure: VaultFailure,
    what: string,
  ) {
    super(`${what}: ${describeFailure(failure)}`);
    this.name = 'ConversationStoreError';
  }
}

function describeFailure(failure: VaultFailure): string {
  switch (failure.reason) {
    case 'quota-exceeded':
      return 'this browser has no more room for your history';
    case 'conflict':
      return 'another tab wrote to your history at the same moment';
    case 'no-conversation':
      return 'this conversation is no longer kept';
    case 'no-contact':
      return 'a contact of this room is no longer kept';
    case 'unreadable':
      return `part of your history cannot be read (${failure.detail})`;
    case 'invalid':
      return failure.detail;
    case 'key-mismatch':
      return 'a contact’s key changed meanwhile';
    case 'over-budget':
      return 'over the history budget';
    default:
      return assertNever(failure, 'vault failure');
  }
}

/** How the store runs its read-then-write work: after every vault write queued before it, before any after it. */
export type ExclusiveRunner = <T>(operation: string, task: (ctx: VaultContext) => Promise<T>) => Promise<T>;

/** One of our messages that one addressee has not acknowledged, or not yet reported read: one outbox row. */
interface Tracked {
  readonly authorSeq: number;
  /** Its position in the conversation. */
  readonly seq: number;
  readonly messageId: string;
  /** The addressee as the message's delivery list names it. */
  readonly to: OtherParty;
  readonly entryId: string;
  /** Acknowledged, waiting only to be reported read. */
  readonly delivered: boolean;
}

/** What happens to one tracked entry: its message's delivery moves on (or not), and its row goes or is marked delivered. */
interface Change {
  readonly entry: Tracked;
  readonly delivery: Delivery | null;
  readonly row: 'delete' | 'mark-delivered';
}

/** What the engine hands over is checked as anything stored is: a bad value is a bug, never a half-kept message. */
function isWellFormed(message: GroupMessage): boolean {
  return (
    isVaultId(message.id) &&
    isMessageText(message.text) &&
    isAuthorSeq(message.seq) &&
    Number.isSafeInteger(message.writtenAtMs) &&
    message.writtenAtMs >= 0 &&
    (message.stream === 'group' || message.stream === 'private')
  );
}

function addCounts(counts: readonly OutboxCount[], parties: readonly OtherParty[], delta: 1 | -1): OutboxCount[] {
  const byKey = new Map(counts.map((count) => [partyKey(count.to), count]));
  for (const to of parties) {
    const key = partyKey(to);
    const count = (byKey.get(key)?.count ?? 0) + delta;
    if (count > 0) byKey.set(key, { to, count });
    else byKey.delete(key);
  }
  return [...byKey.values()];
}

/** The delivery list with `to`'s entry moved on (never back: a read message stays read). */
function advanced(delivery: readonly Delivery[], to: OtherParty, next: Delivery): Delivery[] {
  const rank = { sending: 0, sent: 1, delivered: 2, read: 3, expired: 4 } as const;
  const key = partyKey(to);
  return delivery.map((entry) => (partyKey(entry.to) === key && rank[next.state] > rank[entry.state] ? next : entry));
}

export class VaultConversationStore implements ConversationStore {
  /** Member id → contact id, for the room's contacts under their current keys. */
  private readonly contactOfMember = new Map<string, string>();
  /** Contact id → member id. */
  private readonly memberOfContact = new Map<string, string>();
  /** Member id → the label the app shows a guest under. */
  private readonly guestLabels = new Map<string, string>();
  /** Per addressee member id, in seq order. */
  private readonly tracked = new Map<string, Tracked[]>();
  /** The store's writes, so whoever waits for the history can wait for them too. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly exclusive: ExclusiveRunner,
    readonly conversationId: string,
    /** Our own member id: the author of every message we write. */
    private readonly self: string,
  ) {}

  /** Names a guest as the app shows it ("Guest 2"); its messages and outbox entries are kept under that label. */
  nameGuest(memberId: string, label: string): void {
    const clean = cleanName(label, MAX_DISPLAY_NAME_CHARS);
    if (clean === null || this.contactOfMember.has(memberId)) return;
    this.guestLabels.set(memberId, clean);
  }

  /** The room remembers `contactId` under `memberId` (its current key): what observing it just wrote. */
  knowContact(memberId: string, contactId: string): void {
    const previous = this.memberOfContact.get(contactId);
    if (previous !== undefined) this.contactOfMember.delete(previous);
    this.memberOfContact.set(contactId, memberId);
    this.contactOfMember.set(memberId, contactId);
    this.guestLabels.delete(memberId);
  }

  /** Resolves once every write this store started has finished. */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.last;
      await seen.catch(() => undefined);
    } while (seen !== this.last);
  }

  private run<T>(what: string, task: (ctx: VaultContext) => Promise<T>): Promise<T> {
    const done = this.exclusive(what, task);
    this.last = done.catch(() => undefined);
    return done;
  }

  private async conversation(ctx: VaultContext, what: string): Promise<ConversationRecord> {
    const loaded = await loadConversation(ctx, this.conversationId);
    if (!loaded.ok) throw new ConversationStoreError(loaded, what);
    return loaded.record;
  }

  private async write(ctx: VaultContext, writes: readonly VaultWrite[], what: string): Promise<void> {
    const written = await ctx.store.write(writes);
    if (!written.ok) throw new ConversationStoreError(written, what);
  }

  /** Maps the room's contacts to their member ids, from their current keys. A contact that does not open is left out. */
  private async learnContacts(ctx: VaultContext, record: ConversationRecord): Promise<void> {
    for (const contactId of record.contactIds) {
      const row = parseSealedRow(await ctx.store.readRow('contacts', contactId));
      const contact = row === null || row.id !== contactId ? null : await openContactRecord(ctx.dataKey(), contactId, row.sealed);
      if (contact !== null) this.knowContact(await memberIdOf(contact.publicKeySpki), contactId);
    }
  }

  /**
   * How the history names a member: one of the room's contacts, or a guest under its label. A member not known yet
   * may have become a contact a moment ago: the room's contacts are read again once before calling it a guest.
   */
  private async partyOf(ctx: VaultContext, record: ConversationRecord, memberId: string): Promise<OtherParty> {
    if (!this.contactOfMember.has(memberId) && !this.guestLabels.has(memberId)) await this.learnContacts(ctx, record);
    const contactId = this.contactOfMember.get(memberId);
    if (contactId !== undefined) return { type: 'contact', contactId };
    const label = this.guestLabels.get(memberId) ?? UNNAMED_GUEST_LABEL;
    this.guestLabels.set(memberId, label);
    return { type: 'guest', label, memberId };
  }

  private memberOf(party: OtherParty): string | null {
    switch (party.type) {
      case 'contact':
        return this.memberOfContact.get(party.contactId) ?? null;
      case 'guest':
        return party.memberId;
      default:
        return assertNever(party, 'party');
    }
  }

  // ---- ConversationStore --------------------------------------------------------------------------

  load(): Promise<StoredConversation> {
    return this.run('open the conversation', async (ctx) => {
      const record = await this.conversation(ctx, 'Opening the conversation');
      await this.learnContacts(ctx, record);
      this.tracked.clear();
      const pairPeer = pairPeerOf(record.pairContactId);
      const messages = new Map<number, StoredMessage | null>();
      const outbox: OutboxEntry[] = [];
      for (const raw of await ctx.store.readOutbox(this.conversationId)) {
        const row = parseOutboxRow(raw);
        if (row === null || row.conversationId !== this.conversationId) continue;
        const entry = await openOutboxEntry(ctx.dataKey(), row, row.sealed);
        if (entry === null) continue;
        if (!messages.has(row.seq)) messages.set(row.seq, await this.ownMessageAt(ctx, row.seq, pairPeer));
        const message = messages.get(row.seq) ?? null;
        const addressee = this.memberOf(entry.to);
        // An entry that does not match its message, or whose addressee cannot be told, cannot be sent: it stays
        // stored as it is (counted as waiting), never guessed at.
        if (message === null || message.messageId !== entry.messageId || message.authorSeq === null || message.content.type !== 'text' || addressee === null) continue;
        if (!entry.delivered) {
          outbox.push({
            addressee,
            message: {
              id: message.messageId,
              author: this.self,
              seq: message.authorSeq,
              writtenAtMs: message.writtenAtMs,
              stream: message.stream.type,
              text: message.content.text,
            },
          });
        }
        this.track(addressee, { authorSeq: message.authorSeq, seq: row.seq, messageId: message.messageId, to: entry.to, entryId: row.entryId, delivered: entry.delivered });
      }
      return { lastOwnSeq: record.lastOwnSeq, lastShown: new Map(record.lastShown.map(({ memberId, seq }) => [memberId, seq])), outbox };
    });
  }

  private async ownMessageAt(ctx: VaultContext, seq: number, pairPeer: OtherParty): Promise<StoredMessage | null> {
    const [raw] = await ctx.store.readMessages(this.conversationId, { direction: 'forward', afterSeq: seq - 1 }, 1);
    if (raw === undefined) return null;
    const entry = await openMessageRow(ctx, this.conversationId, raw, pairPeer);
    return entry.kind === 'message' && entry.seq === seq && entry.author.type === 'me' ? entry : null;
  }

  recordOutgoing(message: GroupMessage, addressees: readonly string[]): Promise<void> {
    return this.run('keep your message', async (ctx) => {
      const what = 'Your message was not kept';
      if (message.author !== this.self) throw new Error(`${what}: it names another author`);
      if (!isWellFormed(message)) throw new Error(`${what}: it is malformed`);
      if (addressees.length === 0 || addressees.length > MAX_ADDRESSEES || new Set(addressees).size !== addressees.length) {
        throw new Error(`${what}: it must go to 1 to ${MAX_ADDRESSEES} different people`);
      }
      if (message.stream === 'private' && addressees.length !== 1) throw new Error(`${what}: a private message goes to one person`);
      const record = await this.conversation(ctx, what);
      const parties: OtherParty[] = [];
      for (const member of addressees) parties.push(await this.partyOf(ctx, record, member));
      const nowMs = timestampNow(ctx.clock);
      const [first] = parties;
      const stream: MessageStream = message.stream === 'private' && first !== undefined ? { type: 'private', with: first } : { type: 'group' };
      const appended = await appendWrites(
        ctx,
        this.conversationId,
        record,
        {
          messageId: message.id,
          author: ME,
          stream,
          authorSeq: message.seq,
          writtenAtMs: message.writtenAtMs,
          atMs: nowMs,
          content: { type: 'text', text: message.text },
          delivery: parties.map((to): Delivery => ({ to, state: 'sending', atMs: nowMs })),
        },
        (updated) => ({ ...updated, lastOwnSeq: Math.max(updated.lastOwnSeq, message.seq), outbox: addCounts(updated.outbox, parties, 1) }),
      );
      if (!appended.ok) throw new ConversationStoreError(appended, what);
      const { seq } = appended.value.message;
      const entries = parties.map((to) => ({ to, entryId: newVaultId(ctx.random) }));
      const outboxWrites: VaultWrite[] = [];
      for (const { to, entryId } of entries) {
        const sealed = await sealOutboxEntry(ctx.dataKey(), { conversationId: this.conversationId, seq, entryId }, { messageId: message.id, to, delivered: false }, ctx.random);
        outboxWrites.push({ type: 'put-outbox', row: { conversationId: this.conversationId, seq, entryId, sealed } });
      }
      await this.write(ctx, [...appended.value.writes, ...outboxWrites], what);
      entries.forEach(({ to, entryId }, index) => {
        const addressee = addressees[index];
        if (addressee !== undefined) this.track(addressee, { authorSeq: message.seq, seq, messageId: message.id, to, entryId, delivered: false });
      });
    });
  }

  recordShown(message: GroupMessage): Promise<void> {
    return this.run('keep a message you received', async (ctx) => {
      const what = 'A message you received was not kept';
      if (message.author === this.self || !isVaultId(message.author) || !isWellFormed(message)) throw new Error(`${what}: it is malformed`);
      const record = await this.conversation(ctx, what);
      const author = await this.partyOf(ctx, record, message.author);
      const appended = await appendWrites(
        ctx,
        this.conversationId,
        record,
        {
          messageId: message.id,
          author,
          stream: message.stream === 'private' ? { type: 'private', with: author } : { type: 'group' },
          authorSeq: message.seq,
          writtenAtMs: message.writtenAtMs,
          atMs: timestampNow(ctx.clock),
          content: { type: 'text', text: message.text },
          delivery: [],
        },
        (updated) => ({ ...updated, lastShown: this.withLastShown(updated.lastShown, message.author, message.seq) }),
      );
      if (!appended.ok) throw new ConversationStoreError(appended, what);
      await this.write(ctx, appended.value.writes, what);
    });
  }

  /**
   * `member`'s entry moved to the end (the newest), its seq never lowered. Contacts' entries are kept; of everyone
   * else's (guests, and contacts' old keys), only the newest MAX_OTHER_LAST_SHOWN.
   */
  private withLastShown(lastShown: readonly LastShown[], memberId: string, seq: number): LastShown[] {
    const before = lastShown.find((entry) => entry.memberId === memberId)?.seq ?? 0;
    const entries = [...lastShown.filter((entry) => entry.memberId !== memberId), { memberId, seq: Math.max(before, seq) }];
    let others = entries.filter((entry) => !this.contactOfMember.has(entry.memberId)).length;
    return entries.filter((entry) => {
      if (this.contactOfMember.has(entry.memberId) || others <= MAX_OTHER_LAST_SHOWN) return true;
      others -= 1;
      return false;
    });
  }

  recordReceipts(member: string, deliveredSeq: number, readSeq: number): Promise<void> {
    return this.run('keep receipts', async (ctx) => {
      const entries = this.tracked.get(member) ?? [];
      const nowMs = timestampNow(ctx.clock);
      const changes = new Map<Tracked, Change>();
      for (const entry of entries) {
        if (entry.authorSeq <= readSeq) changes.set(entry, { entry, delivery: { to: entry.to, state: 'read', atMs: nowMs }, row: 'delete' });
        else if (entry.authorSeq <= deliveredSeq && !entry.delivered) changes.set(entry, { entry, delivery: { to: entry.to, state: 'delivered', atMs: nowMs }, row: 'mark-delivered' });
      }
      // Delivered messages are followed until read only up to a bound, as the engine does (§12.7): the oldest rows go.
      const unread = entries.filter((entry) => changes.get(entry)?.row !== 'delete' && (entry.delivered || changes.has(entry)));
      for (const entry of unread.slice(0, Math.max(0, unread.length - MAX_UNREAD_TRACKED))) changes.set(entry, { entry, delivery: changes.get(entry)?.delivery ?? null, row: 'delete' });
      if (changes.size === 0) return;
      await this.moveOn(ctx, [...changes.values()], 'Receipts were not kept');
      this.settle(member, [...changes.values()]);
    });
  }

  recordExpired(expired: readonly ExpiredEntry[]): Promise<void> {
    return this.run('keep what could not be delivered', async (ctx) => {
      const nowMs = timestampNow(ctx.clock);
      const changes: (Change & { readonly member: string })[] = [];
      for (const { messageId, addressee, reason } of expired) {
        const entry = this.tracked.get(addressee)?.find((candidate) => candidate.messageId === messageId && !candidate.delivered);
        if (entry !== undefined) changes.push({ entry, member: addressee, delivery: { to: entry.to, state: 'expired', atMs: nowMs, reason }, row: 'delete' });
      }
      if (changes.length === 0) return;
      await this.moveOn(ctx, changes, 'Messages that could not be delivered were not marked');
      for (const change of changes) this.settle(change.member, [change]);
    });
  }

  /**
   * One write: each changed message's delivery list moved on, each entry's outbox row deleted or marked delivered,
   * and the conversation's counts of undelivered entries with them.
   */
  private async moveOn(ctx: VaultContext, changes: readonly Change[], what: string): Promise<void> {
    const record = await this.conversation(ctx, what);
    const pairPeer = pairPeerOf(record.pairContactId);
    const writes: VaultWrite[] = [];
    const nowDelivered: OtherParty[] = [];
    const bySeq = new Map<number, Delivery[]>();
    for (const { entry, delivery, row } of changes) {
      if (delivery !== null) bySeq.set(entry.seq, [...(bySeq.get(entry.seq) ?? []), delivery]);
      if (!entry.delivered) nowDelivered.push(entry.to);
      const key = { conversationId: this.conversationId, seq: entry.seq, entryId: entry.entryId };
      if (row === 'delete') {
        writes.push({ type: 'delete-outbox', ...key });
      } else {
        const sealed = await sealOutboxEntry(ctx.dataKey(), key, { messageId: entry.messageId, to: entry.to, delivered: true }, ctx.random);
        writes.push({ type: 'put-outbox', row: { ...key, sealed } });
      }
    }
    for (const [seq, deliveries] of bySeq) {
      const [raw] = await ctx.store.readMessages(this.conversationId, { direction: 'forward', afterSeq: seq - 1 }, 1);
      const row = raw === undefined ? null : parseMessageRow(raw);
      const message = raw === undefined ? null : await openMessageRow(ctx, this.conversationId, raw, pairPeer);
      // A message that is gone or does not open keeps nothing of it; its outbox rows still change.
      if (row === null || message?.kind !== 'message' || message.seq !== seq) continue;
      const { kind: _kind, conversationId: _conversationId, seq: _seq, messageId: _messageId, ...stored } = message;
      const delivery = deliveries.reduce<readonly Delivery[]>((list, next) => advanced(list, next.to, next), stored.delivery);
      const sealed = await sealMessage(ctx.dataKey(), row, { ...stored, delivery }, ctx.random);
      writes.push({ type: 'put-message', row: { ...row, sealed } });
    }
    if (nowDelivered.length > 0) writes.push(await putConversation(ctx, this.conversationId, { ...record, outbox: addCounts(record.outbox, nowDelivered, -1) }));
    await this.write(ctx, writes, what);
  }

  /** The tracker after `changes` were written for `member`: deleted rows forgotten, marked ones delivered. */
  private settle(member: string, changes: readonly Change[]): void {
    const byEntry = new Map(changes.map((change) => [change.entry, change.row]));
    const kept = (this.tracked.get(member) ?? []).flatMap((entry) => {
      const row = byEntry.get(entry);
      if (row === 'delete') return [];
      return row === 'mark-delivered' ? [{ ...entry, delivered: true }] : [entry];
    });
    this.setTracked(member, kept);
  }

  private track(member: string, entry: Tracked): void {
    const entries = this.tracked.get(member) ?? [];
    if (entries.some((candidate) => candidate.messageId === entry.messageId)) return;
    this.setTracked(member, [...entries, entry].sort((a, b) => a.authorSeq - b.authorSeq));
  }

  private setTracked(member: string, entries: Tracked[]): void {
    if (entries.length === 0) this.tracked.delete(member);
    else this.tracked.set(member, entries);
  }
}

// ---- what waits -----------------------------------------------------------------------------------

export interface WaitingFor {
  readonly to: OtherParty;
  /** The contact's name as the person knows it, or the guest's label. */
  readonly name: string;
  readonly count: number;
}

/** A conversation whose outbox holds messages not yet delivered (spec §12.7). */
export interface PendingOutbox {
  readonly conversationId: string;
  /** To join its room in the background while the profile is unlocked, so the messages leave when their addressee comes. */
  readonly roomSecret: Uint8Array;
  readonly title: string;
  readonly waiting: readonly WaitingFor[];
}

/** Every conversation with undelivered outbox entries, from the conversation records alone (no entry is read). */
export async function listPendingOutbox(ctx: VaultContext): Promise<PendingOutbox[]> {
  const conversations = (await listConversations(ctx)).flatMap((entry) => (entry.kind === 'conversation' && entry.outbox.length > 0 ? [entry] : []));
  if (conversations.length === 0) return [];
  const names = new Map((await listContacts(ctx)).map((contact) => [contact.id, contact.displayName]));
  const nameOf = (to: OtherParty): string => {
    switch (to.type) {
      case 'contact':
        return names.get(to.contactId) ?? 'a contact that cannot be read';
      case 'guest':
        return to.label;
      default:
        return assertNever(to, 'party');
    }
  };
  return conversations.map((conversation) => ({
    conversationId: conversation.id,
    roomSecret: conversation.roomSecret,
    title: conversation.title,
    waiting: conversation.outbox.map(({ to, count }) => ({ to, name: nameOf(to), count })),
  }));
}
