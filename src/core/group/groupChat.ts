/**
 * The messaging engine of a group room (spec §12.5–§12.8), on top of the mesh of pair sessions: addresses
 * and fans out our messages through per-addressee outboxes, shows each member's messages once and in its
 * order, exchanges receipts and consistency digests, and tells the mesh when a member's session broke a rule.
 * Pure logic: sessions, storage, time and randomness come in as ports.
 */
import { assertNever } from '../assertNever.ts';
import { bytesToBase64url } from '../encoding.ts';
import type { Clock, Random } from '../ports.ts';
import { MAX_MESSAGE_TEXT_BYTES, MESSAGE_ID_BYTES, textBody, textSizeBytes, type DigestEntry, type GroupFrame, type GroupMessage, type MessageBody, type Stream } from '../protocol/groupMessages.ts';
import { ConsistencyLedger } from './consistencyLedger.ts';
import type { ConversationStore, StoredConversation } from './conversationStore.ts';
import { DeliveryLedger, type DeliveryChange, type Expiry } from './deliveryLedger.ts';
import type { GroupEvent } from './groupEvents.ts';
import { DIGESTS_INTERVAL_MS, INBOUND_CONTROL_BURST, INBOUND_CONTROL_PER_SECOND, INBOUND_MESSAGE_BURST, INBOUND_MESSAGES_PER_SECOND, OUTBOX_MAX_AGE_MS } from './groupLimits.ts';
import { MemberLink, type GroupChannel, type Receipts } from './memberLink.ts';
import { messageDigest } from './messageDigest.ts';
import { Throttle } from './throttle.ts';
import { OthersTyping, OwnTyping, type MessageAudience } from './typing.ts';

export type { GroupChannel } from './memberLink.ts';
export type { MessageAudience } from './typing.ts';

export interface GroupChatOptions {
  /** Our own member id (§12.2). */
  readonly self: string;
  readonly store: ConversationStore;
  readonly clock: Clock;
  readonly random: Random;
  /** Member ids of the people the room remembers (a profile's contacts in it): addressed whether here or not. */
  readonly rememberedContacts: readonly string[];
  /** Whether the person has read receipts on; asked each time it matters, so a change applies at once. */
  readonly readReceipts: () => boolean;
  /** Whether the person shares (and sees) typing; off, nothing is sent and what arrives is not shown. */
  readonly shareTyping: () => boolean;
  readonly onEvent: (event: GroupEvent) => void;
}

/** The frames of a pair session that the engine handles; ping, pong and bye are the mesh's. */
export type GroupChatFrame = Extract<GroupFrame, { readonly type: 'message' | 'receipts' | 'digests' | 'typing' }>;

/** A rule the member's session broke; the mesh ends that session, showing `detail`. */
export interface GroupViolation {
  readonly reason: 'frame-rejected' | 'flooded';
  readonly detail: string;
}

export type SendRefusal =
  | { readonly kind: 'empty' }
  | { readonly kind: 'too-long'; readonly sizeBytes: number; readonly maxBytes: number }
  /** Nobody is in the room or remembered by it: the message would reach no one. */
  | { readonly kind: 'no-addressees' }
  | { readonly kind: 'unknown-member'; readonly member: string }
  /** A guest that said goodbye: it cannot come back. */
  | { readonly kind: 'member-left'; readonly member: string }
  /** The store could not keep the message, so it was not sent. */
  | { readonly kind: 'not-stored'; readonly detail: string };

export type SendOutcome =
  | { readonly ok: true; readonly message: GroupMessage; readonly addressees: readonly string[] }
  | { readonly ok: false; readonly refusal: SendRefusal };

const NO_RECEIPTS: Receipts = { deliveredSeq: 0, readSeq: 0 };

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class GroupChat {
  private readonly self: string;
  private ownSeq: number;
  /** Per author, the highest seq shown in this page: what decides duplicates. */
  private readonly lastShown: Map<string, number>;
  /** Per author, the highest seq the store holds: what we acknowledge. */
  private readonly storedShown: Map<string, number>;
  /** Per author, up to where the person had the conversation in view. */
  private readonly readUpTo = new Map<string, number>();
  /** Per member, the highest receipts it sent for our messages. */
  private readonly receiptsFrom = new Map<string, Receipts>();
  /** Everyone our messages to everyone are addressed to, and whether the room remembers them. */
  private readonly roster = new Map<string, { readonly durable: boolean }>();
  /** Guests that said goodbye. */
  private readonly departed = new Set<string>();
  private readonly links = new Map<string, MemberLink>();
  /** Sessions that broke a rule: their frames are refused until the member connects again. */
  private readonly refusals = new Map<string, GroupViolation>();
  private readonly deliveries = new DeliveryLedger();
  /** Digests of the group messages shown or sent since this page loaded. */
  private readonly consistency: ConsistencyLedger;
  private readonly digestThrottle: Throttle;
  private expiryTimer: { readonly dueAtMs: number; readonly cancel: () => void } | null = null;
  private readonly ownTyping: OwnTyping;
  private readonly othersTyping: OthersTyping;
  /** Store writes and digest work, one after another in the order things happened. */
  private work: Promise<void> = Promise.resolve();
  private closed = false;

  /** Loads the conversation from the store and starts the engine; no member is connected yet. */
  static async open(options: GroupChatOptions): Promise<GroupChat> {
    return new GroupChat(options, await options.store.load());
  }

  private constructor(
    private readonly options: GroupChatOptions,
    stored: StoredConversation,
  ) {
    this.self = options.self;
    this.ownSeq = stored.lastOwnSeq;
    this.lastShown = new Map(stored.lastShown);
    this.storedShown = new Map(stored.lastShown);
    this.consistency = new ConsistencyLedger(options.self);
    this.digestThrottle = new Throttle(options.clock, DIGESTS_INTERVAL_MS, () => this.sendDigests());
    this.ownTyping = new OwnTyping(options.clock, (to, typing) => this.sendTyping(to, typing));
    this.othersTyping = new OthersTyping(options.clock, (member, typing) => options.onEvent({ type: 'typing', member, typing }));
    for (const member of options.rememberedContacts) if (member !== this.self) this.roster.set(member, { durable: true });
    for (const { message, addressee } of stored.outbox) this.giveUp(this.deliveries.add(addressee, message));
    this.sweepOutbox();
  }

  // ---- sending -----------------------------------------------------------------------------------

  /**
   * Writes a message to everyone on the roster (§12.6), answering the message `replyTo` if given; resolves once it
   * is stored and on its way.
   */
  async sendToEveryone(text: string, replyTo: string | null = null): Promise<SendOutcome> {
    const refusal = this.checkText(text);
    return refusal !== null ? { ok: false, refusal } : this.sendBody({ kind: 'everyone' }, textBody(text, replyTo));
  }

  /** Writes a message to one roster member only; no other member receives any frame of it. */
  async sendPrivately(member: string, text: string, replyTo: string | null = null): Promise<SendOutcome> {
    const refusal = this.checkText(text);
    return refusal !== null ? { ok: false, refusal } : this.sendBody({ kind: 'private', member }, textBody(text, replyTo));
  }

  /**
   * Takes back one of our own messages (§12.5): a deletion goes, like any message and through the outbox, to
   * everyone (a message to everyone) or to the one member (a private one). Each receiver removes the message only
   * if we wrote it; a modified app can of course keep it.
   */
  async deleteForEveryone(target: string, to: MessageAudience): Promise<SendOutcome> {
    return this.sendBody(to, { type: 'deletion', target });
  }

  /**
   * The person's draft for `to` changed: non-empty tells them it is being written (within the limits of §12.5),
   * empty (or sent) tells them it stopped. Nothing goes when the person does not share typing.
   */
  draftChanged(to: MessageAudience, empty: boolean): void {
    if (empty || !this.options.shareTyping()) this.ownTyping.stopped();
    else this.ownTyping.typed(to);
  }

  private sendTyping(to: MessageAudience, typing: boolean): void {
    // Only to whom the message is for: a private draft is never announced to anyone else.
    const links = to.kind === 'everyone' ? [...this.links.values()] : [this.links.get(to.member)].flatMap((link) => link ?? []);
    for (const link of links) link.sendFrame({ type: 'typing', typing });
  }

  private sendBody(to: MessageAudience, body: MessageBody): Promise<SendOutcome> {
    switch (to.kind) {
      case 'everyone': {
        const addressees = [...this.roster.keys()];
        if (addressees.length === 0) return Promise.resolve({ ok: false, refusal: { kind: 'no-addressees' } });
        return this.send('group', body, addressees);
      }
      case 'private':
        if (!this.roster.has(to.member)) {
          return Promise.resolve({ ok: false, refusal: { kind: this.departed.has(to.member) ? 'member-left' : 'unknown-member', member: to.member } });
        }
        return this.send('private', body, [to.member]);
      default:
        return assertNever(to, 'audience');
    }
  }

  private checkText(text: string): SendRefusal | null {
    if (text.trim().length === 0) return { kind: 'empty' };
    const sizeBytes = textSizeBytes(text);
    return sizeBytes > MAX_MESSAGE_TEXT_BYTES ? { kind: 'too-long', sizeBytes, maxBytes: MAX_MESSAGE_TEXT_BYTES } : null;
  }

  private async send(stream: Stream, body: MessageBody, addressees: readonly string[]): Promise<SendOutcome> {
    // Taken now, so concurrent sends never share a seq; one lost to a failed write only leaves a gap.
    this.ownSeq += 1;
    const message: GroupMessage = {
      id: bytesToBase64url(this.options.random.bytes(MESSAGE_ID_BYTES)),
      author: this.self,
      seq: this.ownSeq,
      writtenAtMs: this.options.clock.nowMs(),
      stream,
      body,
    };
    let failure: string | null = null;
    await this.queue(async () => {
      try {
        await this.options.store.recordOutgoing(message, addressees);
      } catch (error) {
        failure = describe(error);
        return;
      }
      this.dispatch(message, addressees);
      if (stream === 'group') this.consistency.hold(this.self, message.seq, await messageDigest(message));
    });
    return failure === null ? { ok: true, message, addressees } : { ok: false, refusal: { kind: 'not-stored', detail: failure } };
  }

  /** Puts a stored message in each addressee's outbox and on its way to those connected. */
  private dispatch(message: GroupMessage, addressees: readonly string[]): void {
    for (const member of addressees) {
      this.giveUp(this.deliveries.add(member, message));
      this.links.get(member)?.enqueue(message);
    }
    this.scheduleExpiry();
  }

  // ---- members and their sessions ----------------------------------------------------------------

  /** The member was admitted in this room session; `durable` if the room remembers it (a contact). */
  admitted(member: string, { durable }: { readonly durable: boolean }): void {
    if (member === this.self) return;
    this.roster.set(member, { durable: durable || (this.roster.get(member)?.durable ?? false) });
    this.departed.delete(member);
  }

  /**
   * The member left. If it said goodbye and the room does not remember it (a guest), it cannot come back:
   * it is no longer addressed and its outbox is given up. Anyone else stays addressed and is caught up
   * from its outbox when it returns.
   */
  left(member: string, { saidBye }: { readonly saidBye: boolean }): void {
    this.disconnected(member);
    if (!saidBye || this.roster.get(member)?.durable === true) return;
    this.roster.delete(member);
    this.departed.add(member);
    this.giveUp(this.deliveries.giveUp(member));
  }

  /** A pair session became secure and admitted: resend the member's outbox in order, then our receipts. */
  connected(channel: GroupChannel): void {
    if (this.closed) return;
    const member = channel.memberId;
    this.links.get(member)?.close();
    this.refusals.delete(member);
    const link = new MemberLink(channel, this.options.clock, {
      currentReceipts: () => this.receiptsFor(member),
      stillPending: (message) => this.deliveries.isPending(member, message),
      sent: (message) => this.reportDelivery(this.deliveries.markSent(member, message)),
    });
    this.links.set(member, link);
    this.sweepOutbox();
    for (const message of this.deliveries.outbox(member)) link.enqueue(message);
    link.sendReceiptsNow();
  }

  /** The member's session ended; its outbox waits for the next one. */
  disconnected(member: string): void {
    this.othersTyping.set(member, false);
    this.links.get(member)?.close();
    this.links.delete(member);
  }

  // ---- receiving ---------------------------------------------------------------------------------

  /** A frame from `member`'s session; a violation means the mesh must end that session. */
  receive(member: string, frame: GroupChatFrame): GroupViolation | null {
    if (this.closed) return null;
    const refused = this.refusals.get(member);
    if (refused !== undefined) return refused;
    const link = this.linkOf(member);
    switch (frame.type) {
      case 'message':
        if (!link.admitMessage()) return this.refuse(member, 'flooded', `it sent more than ${INBOUND_MESSAGE_BURST} messages at once, or more than ${INBOUND_MESSAGES_PER_SECOND} a second`);
        return this.receiveMessage(member, link, frame.message);
      case 'receipts':
        if (!link.admitControl()) return this.refuseControlFlood(member);
        this.receiveReceipts(member, frame.deliveredSeq, frame.readSeq);
        return null;
      case 'digests':
        if (!link.admitControl()) return this.refuseControlFlood(member);
        this.receiveDigests(member, frame.entries);
        return null;
      case 'typing':
        if (!link.admitControl()) return this.refuseControlFlood(member);
        if (this.options.shareTyping()) this.othersTyping.set(member, frame.typing);
        return null;
      default:
        return assertNever(frame, 'group frame');
    }
  }

  private refuseControlFlood(member: string): GroupViolation {
    return this.refuse(member, 'flooded', `it sent more than ${INBOUND_CONTROL_BURST} receipts, digests and typing notices at once, or more than ${INBOUND_CONTROL_PER_SECOND} a second`);
  }

  private refuse(member: string, reason: GroupViolation['reason'], detail: string): GroupViolation {
    const violation: GroupViolation = { reason, detail };
    this.refusals.set(member, violation);
    this.disconnected(member);
    return violation;
  }

  /** A link for a session the mesh has not (yet) reported connected still counts limits and owes receipts. */
  private linkOf(member: string): MemberLink {
    let link = this.links.get(member);
    if (link === undefined) {
      link = new MemberLink(null, this.options.clock, { currentReceipts: () => NO_RECEIPTS, stillPending: () => false, sent: () => undefined });
      this.links.set(member, link);
    }
    return link;
  }

  private receiveMessage(member: string, link: MemberLink, message: GroupMessage): GroupViolation | null {
    if (message.author !== member) return this.refuse(member, 'frame-rejected', 'a frame naming another author is refused');
    if (message.seq <= (this.lastShown.get(member) ?? 0)) {
      // A resend after our receipt was lost: tell the author again what we hold.
      link.receiptsDue(true);
      return null;
    }
    this.lastShown.set(member, message.seq);
    this.othersTyping.set(member, false);
    this.options.onEvent({ type: 'shown', message, receivedAtMs: this.options.clock.nowMs() });
    this.background('saving a message you received', async () => {
      await this.options.store.recordShown(message);
      this.storedShown.set(member, Math.max(this.storedShown.get(member) ?? 0, message.seq));
      this.links.get(member)?.receiptsDue(false);
    });
    if (message.stream === 'group') {
      this.background('checking a message you received', async () => {
        this.consistency.hold(member, message.seq, await messageDigest(message));
        this.digestThrottle.request();
      });
    }
    return null;
  }

  private receiveReceipts(member: string, deliveredSeq: number, readSeq: number): void {
    const before = this.receiptsFrom.get(member) ?? NO_RECEIPTS;
    // Cumulative: lower values are ignored; nobody can acknowledge what we have not written yet.
    const delivered = Math.max(before.deliveredSeq, Math.min(deliveredSeq, this.ownSeq));
    const read = this.options.readReceipts() ? Math.max(before.readSeq, Math.min(readSeq, delivered)) : before.readSeq;
    if (delivered === before.deliveredSeq && read === before.readSeq) return;
    this.receiptsFrom.set(member, { deliveredSeq: delivered, readSeq: read });
    for (const change of this.deliveries.acknowledge(member, delivered, read)) this.reportDelivery(change);
    this.background('saving receipts', () => this.options.store.recordReceipts(member, delivered, read));
  }

  private receiveDigests(member: string, entries: readonly DigestEntry[]): void {
    // Queued behind the digests of messages shown before, so those are compared too.
    this.background('comparing what others saw', () => {
      for (const { author, seq, members } of this.consistency.compare(member, entries)) this.options.onEvent({ type: 'inconsistent', author, seq, members });
      return Promise.resolve();
    });
  }

  /** Our receipts for `author`'s messages: only what the store holds counts as delivered. */
  private receiptsFor(author: string): Receipts {
    const deliveredSeq = this.storedShown.get(author) ?? 0;
    const readSeq = this.options.readReceipts() ? Math.min(this.readUpTo.get(author) ?? 0, deliveredSeq) : 0;
    return { deliveredSeq, readSeq };
  }

  // ---- reading, digests, outbox bounds -----------------------------------------------------------

  /** The person has the conversation in view: everything shown so far counts as read. */
  markRead(): void {
    for (const [author, seq] of this.lastShown) {
      if ((this.readUpTo.get(author) ?? 0) >= seq) continue;
      this.readUpTo.set(author, seq);
      this.links.get(author)?.receiptsDue(false);
    }
  }

  private sendDigests(): void {
    this.background('sending digests', () => {
      const entries = this.consistency.report();
      if (entries.length > 0) for (const link of this.links.values()) link.sendFrame({ type: 'digests', entries });
      return Promise.resolve();
    });
  }

  private sweepOutbox(): void {
    this.giveUp(this.deliveries.expireWrittenBefore(this.options.clock.nowMs() - OUTBOX_MAX_AGE_MS));
    this.scheduleExpiry();
  }

  /** One timer, for when the oldest outbox entry turns too old. */
  private scheduleExpiry(): void {
    const oldest = this.deliveries.oldestPendingWrittenAtMs();
    const dueAtMs = oldest === null || this.closed ? null : oldest + OUTBOX_MAX_AGE_MS + 1;
    if (this.expiryTimer?.dueAtMs === dueAtMs) return;
    this.expiryTimer?.cancel();
    this.expiryTimer = null;
    if (dueAtMs === null) return;
    const cancel = this.options.clock.setTimer(Math.max(0, dueAtMs - this.options.clock.nowMs()), () => {
      this.expiryTimer = null;
      this.sweepOutbox();
    });
    this.expiryTimer = { dueAtMs, cancel };
  }

  private giveUp(expiries: readonly Expiry[]): void {
    if (expiries.length === 0) return;
    for (const { message, member, reason } of expiries) this.options.onEvent({ type: 'expired', messageId: message.id, seq: message.seq, member, reason });
    const entries = expiries.map(({ message, member, reason }) => ({ messageId: message.id, seq: message.seq, addressee: member, reason }));
    this.background('recording messages that could not be delivered', () => this.options.store.recordExpired(entries));
  }

  private reportDelivery(change: DeliveryChange | null): void {
    if (change === null) return;
    this.options.onEvent({ type: 'delivery', messageId: change.message.id, seq: change.message.seq, member: change.member, state: change.state });
  }

  // ---- background work ---------------------------------------------------------------------------

  private queue(task: () => Promise<void>): Promise<void> {
    const done = this.work.then(task);
    this.work = done.catch(() => undefined);
    return done;
  }

  /** Queues work whose failure the person is told about (as `failed`), without stopping what comes after. */
  private background(what: string, task: () => Promise<void>): void {
    this.queue(task).catch((error: unknown) => this.options.onEvent({ type: 'failed', detail: `${what}: ${describe(error)}` }));
  }

  /** Resolves once every write and digest queued so far (and any they queued) is done. */
  async whenIdle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.work;
      await seen;
    } while (seen !== this.work);
  }

  /** Stops every timer and sends nothing more; the store keeps what was written. */
  close(): void {
    this.closed = true;
    for (const member of [...this.links.keys()]) this.disconnected(member);
    this.digestThrottle.cancel();
    this.ownTyping.stopped();
    this.othersTyping.clear();
    this.scheduleExpiry();
  }
}
