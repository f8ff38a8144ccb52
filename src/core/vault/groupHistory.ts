/**
 * A group room's history in the vault (spec §12.7, §12.9): `VaultConversationStore`, the group engine's
 * ConversationStore over one conversation (own counter, last seq shown per member, durable outbox, delivery
 * states), and the summary of every conversation's waiting outbox.
 */
import { assertNever } from '../assertNever.ts';
import { memberIdOf } from '../crypto/memberId.ts';
import type { ConversationStore, ExpiredEntry, OutboxEntry, StoredConversation } from '../group/conversationStore.ts';
import { MAX_UNREAD_TRACKED } from '../group/groupLimits.ts';
import { textBody, type GroupMessage, type MessageBody } from '../protocol/groupMessages.ts';
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
  type MessageContent,
  type MessageStream,
  type Party,
  type OtherParty,
  type OutboxCount,
} from './vaultRecords.ts';

/** What a guest is called when the app never named it (it always should: "Guest 2"). */
export const UNNAMED_GUEST_LABEL = 'Guest';
/** Members other than the room's contacts whose last shown seq is kept: the guests of the latest room sessions. */
const MAX_OTHER_LAST_SHOWN = MAX_ADDRESSEES - MAX_ROOM_CONTACTS;

/**
 * A vault write the store could not make, with the vault's failure; its message says why in plain words (the engine
 * says what was not kept).
 */
export class ConversationStoreError extends Error {
  constructor(readonly failure: VaultFailure) {
    super(describeFailure(failure));
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

/** Where an addressee stands with one of our messages while we still follow it. */
interface Waiting {
  /** The addressee as the message's delivery list names it. */
  readonly to: OtherParty;
  readonly state: 'sending' | 'delivered';
}

/**
 * One of our messages that some addressee has not acknowledged, or not yet reported read: one outbox row. Whom it
 * waits on is its delivery list; this is that list's open part, by member id.
 */
interface Followed {
  /** Its position in the conversation. */
  readonly seq: number;
  readonly authorSeq: number;
  readonly messageId: string;
  readonly entryId: string;
  readonly waiting: ReadonlyMap<string, Waiting>;
}

/** What a receipt or an expiry does to one followed message. */
interface Update {
  readonly followed: Followed;
  /** The delivery entries that move on. */
  readonly deliveries: readonly Delivery[];
  /** Whose entries leave `sending`: the conversation counts one fewer waiting for each. */
  readonly leaving: readonly OtherParty[];
  /** Who it still waits on afterwards; empty: it is no longer followed. */
  readonly waiting: ReadonlyMap<string, Waiting>;
}

/** What the engine hands over is checked as anything stored is: a bad value is a bug, never a half-kept message. */
function isWellFormed(message: GroupMessage): boolean {
  return (
    isVaultId(message.id) &&
    isWellFormedBody(message.body) &&
    isAuthorSeq(message.seq) &&
    Number.isSafeInteger(message.writtenAtMs) &&
    message.writtenAtMs >= 0 &&
    (message.stream === 'group' || message.stream === 'private')
  );
}

function isWellFormedBody(body: MessageBody): boolean {
  switch (body.type) {
    case 'text':
      return isMessageText(body.text) && (body.replyTo === null || isVaultId(body.replyTo));
    case 'deletion':
      return isVaultId(body.target);
    default:
      return assertNever(body, 'message body');
  }
}

/** How a message's body is kept: text (with the id it answers), or our own deletion of one of ours. */
function contentOf(body: MessageBody): MessageContent {
  switch (body.type) {
    case 'text':
      return body.replyTo === null ? { type: 'text', text: body.text } : { type: 'text', text: body.text, replyTo: body.replyTo };
    case 'deletion':
      return { type: 'deletion', target: body.target };
    default:
      return assertNever(body, 'message body');
  }
}

/** The body of one of our kept messages that can still be (re)sent; null for files and deleted ones. */
function bodyOf(content: MessageContent): MessageBody | null {
  switch (content.type) {
    case 'text':
      return textBody(content.text, content.replyTo ?? null);
    case 'deletion':
      return { type: 'deletion', target: content.target };
    case 'file':
    case 'deleted':
      return null;
    default:
      return assertNever(content, 'message content');
  }
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
  /** Our messages still followed, in author seq order. */
  private followed: Followed[] = [];
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

  private async conversation(ctx: VaultContext): Promise<ConversationRecord> {
    const loaded = await loadConversation(ctx, this.conversationId);
    if (!loaded.ok) throw new ConversationStoreError(loaded);
    return loaded.record;
  }

  private async write(ctx: VaultContext, writes: readonly VaultWrite[]): Promise<void> {
    const written = await ctx.store.write(writes);
    if (!written.ok) throw new ConversationStoreError(written);
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
      const record = await this.conversation(ctx);
      await this.learnContacts(ctx, record);
      const pairPeer = pairPeerOf(record.pairContactId);
      const followed: Followed[] = [];
      const outbox: OutboxEntry[] = [];
      for (const raw of await ctx.store.readOutbox(this.conversationId)) {
        const row = parseOutboxRow(raw);
        if (row === null || row.conversationId !== this.conversationId) continue;
        const entry = await openOutboxEntry(ctx.dataKey(), row, row.sealed);
        const message = entry === null ? null : await this.ownMessageAt(ctx, entry.seq, pairPeer);
        // An entry that does not open or does not match its message is not sent, never guessed at: it stays as it is.
        const body = message === null ? null : bodyOf(message.content);
        // A message deleted since is not sent again; its deletion follows on its own entry.
        if (entry === null || message === null || body === null || message.messageId !== entry.messageId || message.authorSeq === null) continue;
        const sent: GroupMessage = {
          id: message.messageId,
          author: this.self,
          seq: message.authorSeq,
          writtenAtMs: message.writtenAtMs,
          stream: message.stream.type,
          body,
        };
        const waiting = new Map<string, Waiting>();
        for (const { to, state } of message.delivery) {
          const member = this.memberOf(to);
          // An addressee that cannot be told (a contact whose record no longer opens) keeps its state as stored.
          if (member === null || (state !== 'sending' && state !== 'delivered')) continue;
          waiting.set(member, { to, state });
          if (state === 'sending') outbox.push({ addressee: member, message: sent });
        }
        followed.push({ seq: entry.seq, authorSeq: message.authorSeq, messageId: message.messageId, entryId: row.entryId, waiting });
      }
      this.followed = followed.sort((a, b) => a.authorSeq - b.authorSeq);
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
      if (message.author !== this.self) throw new Error('the message names another author');
      if (!isWellFormed(message)) throw new Error('the message is malformed');
      if (addressees.length === 0 || addressees.length > MAX_ADDRESSEES || new Set(addressees).size !== addressees.length) {
        throw new Error(`a message goes to 1 to ${MAX_ADDRESSEES} different people`);
      }
      if (message.stream === 'private' && addressees.length !== 1) throw new Error('a private message goes to one person');
      const record = await this.conversation(ctx);
      const waiting = new Map<string, Waiting>();
      for (const member of addressees) waiting.set(member, { to: await this.partyOf(ctx, record, member), state: 'sending' });
      const parties = [...waiting.values()].map((stands) => stands.to);
      const nowMs = timestampNow(ctx.clock);
      const [first] = parties;
      const stream: MessageStream = message.stream === 'private' && first !== undefined ? { type: 'private', with: first } : { type: 'group' };
      const entryId = newVaultId(ctx.random);
      const [appended, sealedEntry] = await Promise.all([
        appendWrites(
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
            content: contentOf(message.body),
            delivery: parties.map((to): Delivery => ({ to, state: 'sending', atMs: nowMs })),
          },
          (updated) => ({ ...updated, lastOwnSeq: Math.max(updated.lastOwnSeq, message.seq), outbox: addCounts(updated.outbox, parties, 1) }),
        ),
        // The message's seq is the record's next; sealed alongside the message, not after it.
        sealOutboxEntry(ctx.dataKey(), { conversationId: this.conversationId, entryId }, { seq: record.lastSeq + 1, messageId: message.id }, ctx.random),
      ]);
      if (!appended.ok) throw new ConversationStoreError(appended);
      const { seq } = appended.value.message;
      // Our own copy goes in the same write as the deletion that will take it from everyone else.
      const erased = message.body.type === 'deletion' ? await this.eraseWrites(ctx, appended.value.conversation, message.body.target, ME) : [];
      await this.write(ctx, [...appended.value.writes, ...erased, { type: 'put-outbox', row: { conversationId: this.conversationId, entryId, sealed: sealedEntry } }]);
      this.followed.push({ seq, authorSeq: message.seq, messageId: message.id, entryId, waiting });
    });
  }

  recordShown(message: GroupMessage): Promise<void> {
    return this.run('keep a message you received', async (ctx) => {
      if (message.author === this.self || !isVaultId(message.author) || !isWellFormed(message)) throw new Error('the message is malformed');
      const record = await this.conversation(ctx);
      const author = await this.partyOf(ctx, record, message.author);
      const withLastShown = (updated: ConversationRecord): ConversationRecord => ({ ...updated, lastShown: this.withLastShown(updated.lastShown, message.author, message.seq) });
      const { body } = message;
      switch (body.type) {
        case 'text': {
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
              content: contentOf(body),
              delivery: [],
            },
            withLastShown,
          );
          if (!appended.ok) throw new ConversationStoreError(appended);
          await this.write(ctx, appended.value.writes);
          return;
        }
        case 'deletion': {
          // Nothing of the deletion itself is kept: only its effect, and that it was shown (so it is not applied twice).
          const updated = withLastShown(record);
          const erased = await this.eraseWrites(ctx, updated, body.target, author);
          await this.write(ctx, [...erased, await putConversation(ctx, this.conversationId, this.afterErasing(updated, erased))]);
          return;
        }
        default:
          assertNever(body, 'message body');
      }
    });
  }

  /**
   * The writes that replace `author`'s kept message `target` by "deleted" (spec §12.5): only a message that author
   * wrote, so nobody can delete anyone else's. A message id a member chose may repeat: every match of that author
   * goes. Nothing matches (never received, a file, or already deleted): no writes.
   */
  private async eraseWrites(ctx: VaultContext, record: ConversationRecord, target: string, author: Party): Promise<VaultWrite[]> {
    const pairPeer = pairPeerOf(record.pairContactId);
    const writes: VaultWrite[] = [];
    for (const raw of await ctx.store.readMessagesById(this.conversationId, target)) {
      const row = parseMessageRow(raw);
      const entry = await openMessageRow(ctx, this.conversationId, raw, pairPeer);
      if (row === null || entry.kind !== 'message' || entry.content.type !== 'text' || partyKey(entry.author) !== partyKey(author)) continue;
      const { kind: _kind, conversationId: _conversationId, seq: _seq, messageId: _messageId, ...stored } = entry;
      writes.push({ type: 'put-message', row: { ...row, sealed: await sealMessage(ctx.dataKey(), row, { ...stored, content: { type: 'deleted' } }, ctx.random) } });
    }
    return writes;
  }

  /** The conversation's last message preview, if `erased` took its words. */
  private afterErasing(record: ConversationRecord, erased: readonly VaultWrite[]): ConversationRecord {
    const last = record.lastMessage;
    const erasedLast = erased.some((write) => write.type === 'put-message' && write.row.seq === last?.seq);
    return last === null || !erasedLast ? record : { ...record, lastMessage: { ...last, preview: { type: 'deleted' } } };
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
      const nowMs = timestampNow(ctx.clock);
      const updates: Update[] = [];
      for (const followed of this.followed) {
        const stands = followed.waiting.get(member);
        if (stands === undefined || followed.authorSeq > deliveredSeq) continue;
        const read = followed.authorSeq <= readSeq;
        if (!read && stands.state === 'delivered') continue;
        const waiting = new Map(followed.waiting);
        if (read) waiting.delete(member);
        else waiting.set(member, { to: stands.to, state: 'delivered' });
        const delivery: Delivery = { to: stands.to, state: read ? 'read' : 'delivered', atMs: nowMs };
        updates.push({ followed, deliveries: [delivery], leaving: stands.state === 'sending' ? [stands.to] : [], waiting });
      }
      if (updates.length > 0) await this.apply(ctx, updates);
    });
  }

  recordExpired(expired: readonly ExpiredEntry[]): Promise<void> {
    return this.run('keep what could not be delivered', async (ctx) => {
      const nowMs = timestampNow(ctx.clock);
      const updates = new Map<Followed, Update>();
      for (const { messageId, addressee, reason } of expired) {
        const followed = this.followed.find((candidate) => candidate.messageId === messageId);
        if (followed === undefined) continue;
        const update = updates.get(followed) ?? { followed, deliveries: [], leaving: [], waiting: followed.waiting };
        const stands = update.waiting.get(addressee);
        // A delivered message never expires (§12.7).
        if (stands?.state !== 'sending') continue;
        const waiting = new Map(update.waiting);
        waiting.delete(addressee);
        updates.set(followed, {
          followed,
          deliveries: [...update.deliveries, { to: stands.to, state: 'expired', atMs: nowMs, reason }],
          leaving: [...update.leaving, stands.to],
          waiting,
        });
      }
      if (updates.size > 0) await this.apply(ctx, [...updates.values()]);
    });
  }

  /**
   * One write: each updated message's delivery list moved on, the conversation's counts of who waits for how many,
   * and the outbox rows of messages no longer followed deleted: those that wait on nobody, and the oldest beyond
   * MAX_UNREAD_TRACKED of those that wait only to be reported read (as the engine bounds what it follows, §12.7).
   */
  private async apply(ctx: VaultContext, updates: readonly Update[]): Promise<void> {
    const record = await this.conversation(ctx);
    const pairPeer = pairPeerOf(record.pairContactId);
    const updated = new Map(updates.map((update) => [update.followed, update]));
    const after = this.followed.flatMap((followed): Followed[] => {
      const update = updated.get(followed);
      if (update === undefined) return [followed];
      return update.waiting.size === 0 ? [] : [{ ...followed, waiting: update.waiting }];
    });
    const onlyUnread = after.filter((followed) => ![...followed.waiting.values()].some((stands) => stands.state === 'sending'));
    const forgotten = new Set(onlyUnread.slice(0, Math.max(0, onlyUnread.length - MAX_UNREAD_TRACKED)));
    const kept = after.filter((followed) => !forgotten.has(followed));
    const keptIds = new Set(kept.map((followed) => followed.entryId));

    const writes: VaultWrite[] = this.followed
      .filter((followed) => !keptIds.has(followed.entryId))
      .map((followed): VaultWrite => ({ type: 'delete-outbox', conversationId: this.conversationId, entryId: followed.entryId }));
    for (const { followed, deliveries } of updates) {
      const [raw] = await ctx.store.readMessages(this.conversationId, { direction: 'forward', afterSeq: followed.seq - 1 }, 1);
      const row = raw === undefined ? null : parseMessageRow(raw);
      const message = raw === undefined ? null : await openMessageRow(ctx, this.conversationId, raw, pairPeer);
      // A message that is gone or no longer opens keeps nothing of it; its counts and outbox row still follow.
      if (row === null || message?.kind !== 'message' || message.seq !== followed.seq) continue;
      const { kind: _kind, conversationId: _conversationId, seq: _seq, messageId: _messageId, ...stored } = message;
      const delivery = deliveries.reduce<readonly Delivery[]>((list, next) => advanced(list, next.to, next), stored.delivery);
      writes.push({ type: 'put-message', row: { ...row, sealed: await sealMessage(ctx.dataKey(), row, { ...stored, delivery }, ctx.random) } });
    }
    const leaving = updates.flatMap((update) => update.leaving);
    if (leaving.length > 0) writes.push(await putConversation(ctx, this.conversationId, { ...record, outbox: addCounts(record.outbox, leaving, -1) }));
    await this.write(ctx, writes);
    this.followed = kept;
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
