/**
 * Reactive state of the open room for the Svelte views: the room's headline and its members, the conversation
 * (messages to everyone or private, with their delivery per member, joins and leaves, warnings) and its files,
 * and (with an unlocked profile) the kept history, paged in as the person scrolls back. The mesh, the messaging
 * engine and the transfers are core's; this class wires them together and turns their events into lines.
 */
import type { RelayControl } from './relayControl.ts';
import { RoomSession, type RoomEvent } from '../core/room/roomSession.ts';
import { chatEndpoint } from '../core/group/chatEndpoint.ts';
import type { LocalIdentity } from '../core/crypto/identityProof.ts';
import type { RoomKeys } from '../core/crypto/roomSecret.ts';
import { memberIdOf } from '../core/crypto/memberId.ts';
import { makeGuestSelf, type RoomHeadStart, type RoomSelf } from '../core/room/roomHeadStart.ts';
import type { KeyPairSource } from '../core/room/keyPairPool.ts';
import type { RoomPlatform } from '../core/room/roomPorts.ts';
import { isTerminal, type MemberView, type RoomStatus } from '../core/room/roomStatus.ts';
import { GroupChat, type SendRefusal } from '../core/group/groupChat.ts';
import type { GroupEvent } from '../core/group/groupEvents.ts';
import { MemoryConversationStore } from '../core/group/memoryConversationStore.ts';
import type { GroupMessage } from '../core/protocol/groupMessages.ts';
import { assertNever } from '../core/assertNever.ts';
import type { FileSource, TransferPlatform, TransferView } from '../core/transfer/transferManager.ts';
import { isFinal } from '../core/transfer/transferState.ts';
import { DeferredTransfers } from '../core/transfer/deferredTransfers.ts';
import type { ImageVerdict } from '../core/transfer/imageSniff.ts';
import type { StoredFileInfo } from '../core/vault/vaultRecords.ts';
import type { ProfilePlatform } from './profileState.svelte.ts';
import type { FileRecorded, HistoryOther, RoomHistory, RoomHistoryEntry } from './roomHistory.ts';
import { failureText } from './vaultText.ts';
import { RateMeter } from './rateMeter.ts';
import { Members } from './members.svelte.ts';
import { loadFailureText, transferEngine } from './lazyParts.ts';
import type { DeliveryState } from './memberText.ts';
import type { Attention } from './attention.svelte.ts';
import type { AppUpdate } from './appUpdate.svelte.ts';
import type { Arrival } from '../core/notify/notificationContent.ts';

/** Everything the room view needs from the platform, assembled in main.ts. */
export interface AppPlatform {
  readonly room: RoomPlatform;
  /** The page's RSA key pairs, made while it loads so that joining a room never waits for one. */
  readonly keyPairs: KeyPairSource;
  /** What was begun for the room link the page opened with, while config.json loaded; null for any other room. */
  readonly roomHeadStart: (secret: Uint8Array) => RoomHeadStart | null;
  readonly transfers: TransferPlatform<Blob>;
  readonly fileSource: (file: File) => FileSource;
  readonly checkImage: (file: Blob) => Promise<ImageVerdict<ImageBitmap>>;
  readonly profile: ProfilePlatform;
  /** The tab title's unread count and the notifications, shared by every room of the page. */
  readonly attention: Attention;
  /** A new version of the app waiting for the person's "Reload to update". */
  readonly update: AppUpdate;
  /** The "Always relay" setting and whether the site has a relay server (RelaySetting.svelte). */
  readonly relay: RelayControl;
}

/**
 * Who wrote a line: this person, or a member (by member id; the Members panel names it). A line from the history
 * also carries the name it was kept under, for someone no longer here (or whose id is unknown, from older records).
 */
export type Author = { readonly kind: 'me' } | { readonly kind: 'member'; readonly memberId: string; readonly keptName?: string };
/** To whom: everyone, or privately between this person and one member. */
export type Privacy = { readonly kind: 'everyone' } | { readonly kind: 'private'; readonly memberId: string; readonly keptName?: string };

export interface TextLine {
  readonly kind: 'text';
  /** Local, unique key for rendering; `id` comes from the wire and a hostile member may repeat one. */
  readonly key: number;
  readonly id: string;
  readonly author: Author;
  readonly privacy: Privacy;
  readonly text: string;
  /** The wire id of the message it answers; its words are quoted from this page's own lines, never from the wire. */
  readonly replyTo: string | null;
  readonly atMs: number;
  /** For own messages: how far it got with each addressee (member id, or a kept name's key → state). */
  deliveries: Record<string, DeliveryState>;
  /** Names kept in the history for addressees that are not members here now (key → name). */
  readonly keptNames?: Readonly<Record<string, string>>;
}

export interface FileLine {
  readonly kind: 'file';
  readonly key: number;
  readonly author: Author;
  readonly privacy: Privacy;
  /** The member the transfer runs with (the recipient of an own file, the sender of a received one). */
  readonly memberId: string;
  readonly atMs: number;
  view: TransferView<Blob>;
  bytesPerSecond: number;
  /** A display-sized render of the verified raster image (never the file itself); null for anything else. */
  preview: ImageBitmap | null;
  /** Whether the finished file was checked for a preview (whatever the answer). */
  imageChecked: boolean;
  /** An object URL typed application/octet-stream, so the browser can only save it, never render it here. */
  downloadUrl: string | null;
  /**
   * Keeping it in the history: 'auto' while nothing needs the person (kept, being kept, or no history here); 'ask'
   * when a received file would go past this conversation's budget (PROTOCOL.md §11.4); then 'keeping' and 'kept'.
   */
  keep: 'auto' | 'ask' | 'keeping' | 'kept';
}

/** A message its author deleted for everyone (spec §12.5): its place stays, its words are gone. */
export interface DeletedLine {
  readonly kind: 'deleted';
  readonly key: number;
  readonly id: string;
  readonly author: Author;
  readonly atMs: number;
}

/** A file kept in the history: its bytes are read from the vault only when the line is shown. */
export interface StoredFileLine {
  readonly kind: 'stored-file';
  readonly key: number;
  readonly author: Author;
  readonly atMs: number;
  readonly file: StoredFileInfo;
}

/** Something that happened in the room rather than something said: joins, leaves, warnings. */
export interface EventLine {
  readonly kind: 'event';
  readonly key: number;
  readonly atMs: number;
  readonly text: string;
  readonly tone: 'info' | 'warning';
}

/** A stored message that does not open: damaged or tampered storage. Shown as such, never guessed at. */
export interface UnreadableLine {
  readonly kind: 'unreadable';
  readonly key: number;
}

export type ChatLine = TextLine | DeletedLine | FileLine | StoredFileLine | EventLine | UnreadableLine;

/** The line a reply quotes: the newest text (or deleted) line with that wire id, if this page holds it. */
export function quotedLine(lines: readonly ChatLine[], id: string): TextLine | DeletedLine | undefined {
  return lines.findLast((line): line is TextLine | DeletedLine => (line.kind === 'text' || line.kind === 'deleted') && line.id === id);
}

/** A member as the history kept it: its id when known (else a key made from the kept name), and that name. */
async function profileSelf(history: RoomHistory): Promise<RoomSelf> {
  const identity: LocalIdentity = { kind: 'profile', displayName: history.displayName, ...history.identity };
  return { identity, memberId: await memberIdOf(identity.publicKeySpki) };
}

function keptMember(other: HistoryOther): { readonly memberId: string; readonly keptName?: string } {
  const keptName = other.kind === 'contact' ? (other.contact?.displayName ?? undefined) : other.label;
  const memberId = other.memberId ?? (other.kind === 'contact' ? `contact:${other.contactId}` : `guest:${other.label}`);
  return keptName === undefined ? { memberId } : { memberId, keptName };
}

function refusalText(refusal: SendRefusal, nameOf: (memberId: string) => string, notDone = 'Not sent'): string {
  switch (refusal.kind) {
    case 'empty':
      return 'Type a message first.';
    case 'too-long':
      return `${notDone}: a message can hold up to ${refusal.maxBytes / 1024} KiB of text.`;
    case 'no-addressees':
      return `${notDone}: nobody else is in this room yet.`;
    case 'unknown-member':
      return `${notDone}: that person is not in this room.`;
    case 'member-left':
      return `${notDone}: ${nameOf(refusal.member)} left the room.`;
    case 'not-stored':
      return `${notDone}: it could not be kept for delivery (${refusal.detail}).`;
    default:
      return assertNever(refusal, 'send refusal');
  }
}

export class RoomState {
  status = $state<RoomStatus>({ kind: 'preparing' });
  lines = $state<ChatLine[]>([]);
  readonly isSecure = $derived(this.status.kind === 'secure');
  /** Set once the messaging engine is open. */
  private chatReady = $state(false);
  /**
   * Whether a message can be written now: someone is connected, or (with a profile) the room remembers people,
   * for whom it waits in the outbox until they are back.
   */
  get canWrite(): boolean {
    return this.chatReady && !isTerminal(this.status) && (this.status.kind === 'secure' || this.rememberedCount > 0);
  }
  /** How many people this room remembers (a reactive copy of the history's count, which is plain data). */
  private rememberedCount = $state(0);
  readonly isTerminal = $derived(isTerminal(this.status));
  readonly members: Members;
  /** The member the next message goes to privately; null: to everyone. */
  privateTo = $state<string | null>(null);
  /** Send read receipts (and see others'); off means neither. */
  readReceipts = $state(true);
  /** Say when this person is writing (and see when others are); off by default, as private messengers do. */
  shareTyping = $state(false);
  /** Members writing to this person now (member ids). */
  typing = $state<string[]>([]);
  /** A problem with keeping the history, in words (the chat itself goes on). */
  historyProblem = $state<string | null>(null);
  /** Whether older stored messages may exist before the first line shown. */
  hasOlder = $state(false);
  loadingOlder = $state(false);
  private oldestSeq: number | null = null;
  private session: RoomSession | null = null;
  private chat: GroupChat | null = null;
  private self: RoomSelf | null = null;
  /** The room's keys if their derivation was begun with the page (the same for every session of this room). */
  private keys: Promise<RoomKeys> | null = null;
  private nextKey = 0;
  private stopped = false;
  /** The transfer engine is not in the first load: it comes when the first pair is secure (or the page is idle). */
  private readonly transfers: DeferredTransfers;
  private readonly meters = new Map<string, RateMeter>();
  private readonly sentFiles = new Map<string, File>();
  /** Whether each own transfer was one of a file for everyone, or a private one. */
  private readonly filePrivacy = new Map<string, Privacy>();
  private readonly objectUrls: string[] = [];
  /** The engine's events about a message can come before its line exists (the send is still settling). */
  private inView = false;
  private readonly earlyDeliveries = new Map<string, Record<string, DeliveryState>>();

  constructor(
    private readonly secret: Uint8Array,
    private readonly platform: AppPlatform,
    /** Null for a guest: nothing is kept. */
    readonly history: RoomHistory | null = null,
  ) {
    this.members = new Members(
      history,
      (problem) => (this.historyProblem = problem),
      (memberId) => {
        this.chat?.admitted(memberId, { durable: true });
        this.rememberedCount = history?.rememberedMemberIds().length ?? 0;
      },
    );
    this.rememberedCount = history?.rememberedMemberIds().length ?? 0;
    this.transfers = new DeferredTransfers(
      async () => {
        const module = await transferEngine();
        return new module.MemberTransfers(platform.transfers, ({ memberId, view }) => this.onTransfer(memberId, view));
      },
      (error) => this.event(`Files cannot be sent or received: ${loadFailureText(error)}`, 'warning'),
    );
  }

  /** Opens the conversation and joins the room; call once, right after construction. */
  async start(): Promise<void> {
    const history = this.history;
    const headStart = this.platform.roomHeadStart(this.secret);
    this.keys = headStart?.keys ?? null;
    const self = history === null ? await (headStart?.guest ?? makeGuestSelf()) : await profileSelf(history);
    this.self = self;
    if (history !== null) await this.loadLatest(history);
    this.chat = await GroupChat.open({
      self: self.memberId,
      store: history?.conversationStore() ?? new MemoryConversationStore(),
      clock: this.platform.room.clock,
      random: this.platform.room.random,
      rememberedContacts: history?.rememberedMemberIds() ?? [],
      readReceipts: () => this.readReceipts,
      shareTyping: () => this.shareTyping,
      onEvent: (event) => this.onGroupEvent(event),
    });
    this.chatReady = true;
    this.markReadIfSeen();
    if (!this.stopped) this.session = this.open();
  }

  /**
   * Whether the person has this room on screen; a room joined in the background for its outbox is not, and what
   * arrives there stays unread (and unreceipted) until it is.
   */
  setInView(inView: boolean): void {
    this.inView = inView;
    this.markReadIfSeen();
  }

  private get seen(): boolean {
    return this.inView && document.visibilityState === 'visible';
  }

  private markReadIfSeen(): void {
    if (this.seen) this.markRead();
  }

  /** Something arrived: unless the person is looking at this room, it counts as unread (and may notify). */
  private arrived(arrival: Arrival): void {
    if (!this.seen) this.platform.attention.arrived(this, arrival);
  }

  /** Shows the newest kept page. */
  private async loadLatest(history: RoomHistory): Promise<void> {
    this.showPage(await history.latest(), 'end');
  }

  /** Prepends the page before the oldest line shown; false when there is nothing older. */
  async loadOlder(): Promise<boolean> {
    const history = this.history;
    if (history === null || this.oldestSeq === null || this.loadingOlder) return false;
    this.loadingOlder = true;
    try {
      const page = await history.before(this.oldestSeq);
      this.showPage(page, 'start');
      return page.length > 0;
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Reads a kept file's bytes back out of the vault. */
  async readStoredFile(file: StoredFileInfo): Promise<Blob | null> {
    const read = await this.history?.readFile(file);
    if (read === undefined) return null;
    if (!read.ok) {
      this.historyProblem = failureText(read);
      return null;
    }
    return read.value;
  }

  /** The person accepts a held member after reading the warning. */
  admit(key: string): void {
    const member = this.members.byKey(key);
    if (member?.view.state === 'held' && member.view.peer !== null) this.session?.admitPeer(member.view.peer);
  }

  /** The person has the conversation in front of them: what arrived is read (and, with read receipts on, said so). */
  markRead(): void {
    this.platform.attention.seen(this);
    this.chat?.markRead();
    this.history?.markRead();
  }

  async deleteHistory(): Promise<boolean> {
    const history = this.history;
    if (history === null) return false;
    const deleted = await history.deleteHistory();
    if (!deleted.ok) {
      this.historyProblem = failureText(deleted);
      return false;
    }
    // What was kept is gone; what is on screen goes too, so nothing looks kept that is not.
    this.lines = this.lines.filter((line) => line.kind === 'file' && !isFinal(line.view.state));
    this.hasOlder = false;
    this.oldestSeq = null;
    return true;
  }

  private showPage(entries: readonly RoomHistoryEntry[], where: 'start' | 'end'): void {
    const lines = entries.flatMap((entry) => this.lineOf(entry) ?? []);
    const first = entries[0];
    if (first !== undefined && first.seq !== null) this.oldestSeq = first.seq;
    this.hasOlder = (this.oldestSeq ?? 1) > 1 && entries.length > 0;
    this.lines = where === 'start' ? [...lines, ...this.lines] : [...this.lines, ...lines];
  }

  /** The line a kept entry shows as; null for our own kept deletions, which are only there to be resent. */
  private lineOf(entry: RoomHistoryEntry): ChatLine | null {
    const key = this.nextKey++;
    if (entry.kind === 'unreadable') return { kind: 'unreadable', key };
    const author: Author = entry.author.kind === 'me' ? { kind: 'me' } : { kind: 'member', ...keptMember(entry.author) };
    switch (entry.content.type) {
      case 'text': {
        const privacy: Privacy = entry.stream.kind === 'group' ? { kind: 'everyone' } : { kind: 'private', ...keptMember(entry.stream.with) };
        const deliveries: Record<string, DeliveryState> = {};
        const keptNames: Record<string, string> = {};
        for (const { to, state, reason } of entry.delivery) {
          const member = keptMember(to);
          deliveries[member.memberId] = state === 'expired' && reason === 'member-left' ? 'gone' : state;
          if (member.keptName !== undefined) keptNames[member.memberId] = member.keptName;
        }
        const { text, replyTo } = entry.content;
        return { kind: 'text', key, id: entry.messageId, author, privacy, text, replyTo: replyTo ?? null, atMs: entry.atMs, deliveries, keptNames };
      }
      case 'file':
        return { kind: 'stored-file', key, author, atMs: entry.atMs, file: entry.content.file };
      case 'deleted':
        return { kind: 'deleted', key, id: entry.messageId, author, atMs: entry.atMs };
      case 'deletion':
        return null;
      default:
        return assertNever(entry.content, 'stored message content');
    }
  }

  get maxFileBytes(): number {
    return this.platform.transfers.maxFileBytes;
  }

  /**
   * Sends `text` to everyone, or privately to `privateTo`, answering `replyTo` (a line's wire id) if given; resolves
   * to null when sent, or the reason in words.
   */
  async send(text: string, replyTo: string | null = null): Promise<string | null> {
    const chat = this.chat;
    if (chat === null || !this.canWrite) return 'Not sent: the conversation is not secure yet.';
    const privateTo = this.privateTo;
    const outcome = privateTo === null ? await chat.sendToEveryone(text, replyTo) : await chat.sendPrivately(privateTo, text, replyTo);
    if (!outcome.ok) return refusalText(outcome.refusal, (memberId) => this.members.nameOf(memberId));
    const { message, addressees } = outcome;
    const deliveries: Record<string, DeliveryState> = Object.fromEntries(addressees.map((memberId) => [memberId, 'sending' as const]));
    Object.assign(deliveries, this.earlyDeliveries.get(message.id) ?? {});
    this.earlyDeliveries.delete(message.id);
    this.lines.push({
      kind: 'text',
      key: this.nextKey++,
      id: message.id,
      author: { kind: 'me' },
      privacy: message.stream === 'private' && privateTo !== null ? { kind: 'private', memberId: privateTo } : { kind: 'everyone' },
      text,
      replyTo,
      atMs: message.writtenAtMs,
      deliveries,
    });
    return null;
  }

  /** The draft changed: with typing shared, whom it is for learn that it is being written (or that it stopped). */
  draftChanged(draft: string): void {
    const to = this.privateTo === null ? ({ kind: 'everyone' } as const) : ({ kind: 'private', member: this.privateTo } as const);
    this.chat?.draftChanged(to, draft.trim().length === 0);
  }

  /**
   * Deletes one of our own messages for everyone it went to (spec §12.5): it leaves this page and the history at
   * once, and a deletion follows it to each addressee. Resolves to null, or the reason in words.
   */
  async deleteForEveryone(line: TextLine): Promise<string | null> {
    const chat = this.chat;
    if (chat === null || line.author.kind !== 'me') return 'Only your own messages can be deleted.';
    const to = line.privacy.kind === 'everyone' ? ({ kind: 'everyone' } as const) : ({ kind: 'private', member: line.privacy.memberId } as const);
    const outcome = await chat.deleteForEveryone(line.id, to);
    if (!outcome.ok) return refusalText(outcome.refusal, (memberId) => this.members.nameOf(memberId), 'Not deleted');
    this.erase(line.id, { kind: 'me' });
    return null;
  }

  /** Replaces `author`'s lines with that id by "deleted": only the author's own, so nobody deletes another's words. */
  private erase(id: string, author: Author): void {
    const sameAuthor = (other: Author): boolean => (author.kind === 'me' ? other.kind === 'me' : other.kind === 'member' && other.memberId === author.memberId);
    this.lines = this.lines.map((line) => (line.kind === 'text' && line.id === id && sameAuthor(line.author) ? { kind: 'deleted', key: line.key, id, author: line.author, atMs: line.atMs } : line));
  }

  /**
   * Queues files for everyone in the room (or the private addressee); each goes as soon as its member is connected.
   * Returns null, or in words why nothing was queued.
   */
  async sendFiles(files: Iterable<File>): Promise<string | null> {
    const privateTo = this.privateTo;
    const recipients = privateTo === null ? this.recipients() : [privateTo];
    if (recipients.length === 0) return 'Not sent: nobody else is in this room yet. Send it once someone is connected.';
    const privacy: Privacy = privateTo === null ? { kind: 'everyone' } : { kind: 'private', memberId: privateTo };
    try {
      await this.transfers.ready();
    } catch (error) {
      return `Not sent: ${loadFailureText(error)}`;
    }
    for (const file of files) {
      const ids = await this.transfers.send(recipients, () => this.platform.fileSource(file));
      for (const transferId of ids.values()) {
        this.sentFiles.set(transferId, file);
        this.filePrivacy.set(transferId, privacy);
      }
    }
    return null;
  }

  cancelTransfer(line: FileLine): void {
    this.transfers.cancel(line.memberId, line.view.id);
  }

  /** Starts the room again after a failure; the conversation and unfinished transfers stay. */
  retry(): void {
    this.session?.stop();
    this.status = { kind: 'preparing' };
    this.session = this.open();
  }

  stop(): void {
    this.stopped = true;
    // Whatever chat was still being gathered is kept now (unless the profile just locked: then it cannot be).
    this.history?.flush();
    this.session?.stop();
    this.chat?.close();
    this.objectUrls.forEach((url) => URL.revokeObjectURL(url));
    for (const line of this.lines) if (line.kind === 'file') line.preview?.close();
    this.platform.attention.seen(this);
  }

  private open(): RoomSession {
    const history = this.history;
    const self = this.self;
    if (self === null) throw new Error('the room is opened only after its identity is ready');
    const session = new RoomSession({
      secret: this.secret,
      platform: this.platform.room,
      keyPairs: this.platform.keyPairs,
      identity: self.identity,
      transfers: this.transfers,
      group: chatEndpoint(() => this.chat, (memberId) => this.history?.rememberedMemberIds().includes(memberId) ?? false),
      onEvent: (event) => this.apply(event),
      ...(history === null ? {} : { knowledge: () => history.knowledge() }),
      ...(this.keys === null ? {} : { keys: this.keys }),
    });
    void session.start();
    return session;
  }


  private apply(event: RoomEvent): void {
    switch (event.type) {
      case 'status':
        this.status = event.status;
        return;
      case 'members':
        this.members.update(event.members);
        return;
      case 'member-joined':
        void this.members.met(event.member).then(() => this.event(`${this.members.nameOf(event.member.memberId ?? '')} joined`, 'info'));
        return;
      case 'member-left': {
        const memberId = event.member.memberId;
        if (memberId !== null) this.chat?.left(memberId, { saidBye: event.saidBye });
        if (this.privateTo === memberId) this.privateTo = null;
        this.event(`${this.members.nameOf(memberId ?? '')} left`, 'info');
        return;
      }
      default:
        assertNever(event, 'room event');
    }
  }

  private onGroupEvent(event: GroupEvent): void {
    switch (event.type) {
      case 'shown':
        this.showMessage(event.message, event.receivedAtMs);
        return;
      case 'delivery':
        this.setDelivery(event.messageId, event.member, event.state);
        return;
      case 'expired':
        this.setDelivery(event.messageId, event.member, event.reason === 'member-left' ? 'gone' : 'expired');
        return;
      case 'inconsistent': {
        const author = event.author === this.self?.memberId ? 'you' : this.members.nameOf(event.author);
        const others = event.members.map((memberId) => this.members.nameOf(memberId));
        this.event(
          `Members saw different versions of a message from ${author}: ${['you', ...others].join(', ')} do not all hold the same text. ` +
            'Either the author sent different text to different people, or someone here reports falsely; Parley cannot tell which.',
          'warning',
        );
        return;
      }
      case 'typing':
        this.typing = event.typing ? [...this.typing.filter((member) => member !== event.member), event.member] : this.typing.filter((member) => member !== event.member);
        return;
      case 'failed':
        this.historyProblem = `A message could not be kept: ${event.detail}`;
        return;
      default:
        assertNever(event, 'group event');
    }
  }

  private showMessage(message: GroupMessage, receivedAtMs: number): void {
    const { body } = message;
    switch (body.type) {
      case 'text':
        this.lines.push({
          kind: 'text',
          key: this.nextKey++,
          id: message.id,
          author: { kind: 'member', memberId: message.author },
          privacy: message.stream === 'private' ? { kind: 'private', memberId: message.author } : { kind: 'everyone' },
          text: body.text,
          replyTo: body.replyTo,
          atMs: receivedAtMs,
          deliveries: {},
        });
        this.arrived({ kind: 'text', authorName: this.members.nameOf(message.author), text: body.text });
        break;
      case 'deletion':
        // message.author is the member whose session carried it (the engine checked): only its own lines go.
        this.erase(body.target, { kind: 'member', memberId: message.author });
        break;
      default:
        assertNever(body, 'message body');
    }
    this.markReadIfSeen();
  }

  private setDelivery(messageId: string, memberId: string, state: DeliveryState): void {
    // The newest own line with that id: ids from the wire are not trusted to be unique, ours are.
    const line = this.lines.findLast((candidate): candidate is TextLine => candidate.kind === 'text' && candidate.id === messageId && candidate.author.kind === 'me');
    if (line !== undefined) {
      line.deliveries[memberId] = state;
      return;
    }
    const early = this.earlyDeliveries.get(messageId) ?? {};
    early[memberId] = state;
    this.earlyDeliveries.set(messageId, early);
  }

  private event(text: string, tone: EventLine['tone']): void {
    this.lines.push({ kind: 'event', key: this.nextKey++, atMs: this.platform.room.clock.nowMs(), text, tone });
  }

  private onTransfer(memberId: string, view: TransferView<Blob>): void {
    const nowMs = this.platform.transfers.clock.nowMs();
    const meter = this.meters.get(view.id) ?? new RateMeter();
    this.meters.set(view.id, meter);
    meter.sample(view.transferredBytes, nowMs);
    let line = this.lines.find((candidate): candidate is FileLine => candidate.kind === 'file' && candidate.view.id === view.id);
    if (line === undefined) {
      const outgoing = view.direction === 'outgoing';
      this.lines.push({
        kind: 'file',
        key: this.nextKey++,
        author: outgoing ? { kind: 'me' } : { kind: 'member', memberId },
        privacy: this.filePrivacy.get(view.id) ?? { kind: 'everyone' },
        memberId,
        atMs: nowMs,
        view,
        bytesPerSecond: 0,
        preview: null,
        imageChecked: false,
        downloadUrl: null,
        keep: 'auto',
      });
      line = this.lines.at(-1) as FileLine;
      if (!outgoing) this.arrived({ kind: 'file', authorName: this.members.nameOf(memberId), fileName: view.name });
    }
    line.view = view;
    line.bytesPerSecond = meter.bytesPerSecond;
    if (view.state.kind === 'done' && line.preview === null && line.downloadUrl === null) {
      void this.present(line, view);
      this.keep(line, view);
    }
  }

  /** The finished file itself: the very file sent, or the verified bytes received; null if there is none. */
  private fileOf(view: TransferView<Blob>): Blob | null {
    return (view.direction === 'outgoing' ? this.sentFiles.get(view.id) : view.file) ?? null;
  }

  /** A finished file joins the history, unless it is a received one past the budget: then its line asks. */
  private keep(line: FileLine, view: TransferView<Blob>): void {
    const file = this.fileOf(view);
    if (file === null || this.history === null) return;
    void this.history.recordFile(this.fileRecord(line), view.name, view.mimeType, file).then((outcome) => {
      if (outcome === 'over-budget') line.keep = 'ask';
    });
  }

  /** How a finished file is kept: who sent it, and to whom. */
  private fileRecord(line: FileLine): FileRecorded {
    const author = line.author.kind === 'me' ? ({ kind: 'me' } as const) : ({ kind: 'member', memberId: line.memberId } as const);
    const stream = line.privacy.kind === 'everyone' ? ({ kind: 'group' } as const) : ({ kind: 'private', with: line.memberId } as const);
    return { messageId: line.view.id, author, stream, atMs: this.platform.transfers.clock.nowMs() };
  }

  /** The person answered "Keep in history" for a received file past the budget. */
  async keepInHistory(line: FileLine): Promise<void> {
    const view = line.view;
    const file = this.fileOf(view);
    if (line.keep !== 'ask' || file === null || this.history === null) return;
    line.keep = 'keeping';
    const outcome = await this.history.recordFile(this.fileRecord(line), view.name, view.mimeType, file, { beyondBudget: true });
    // Not kept after all (storage full, say): the problem is shown, and the question stays.
    line.keep = outcome === 'kept' ? 'kept' : 'ask';
  }

  /** A finished file becomes a preview (a render of a verified raster image only) and, for received files, a download. */
  private async present(line: FileLine, view: TransferView<Blob>): Promise<void> {
    const file = this.fileOf(view);
    if (file === null) return;
    if (view.direction === 'incoming') line.downloadUrl = this.objectUrl(new Blob([file], { type: 'application/octet-stream' }));
    const verdict = await this.platform.checkImage(file);
    if (verdict.kind === 'image') {
      // A render that arrives after the room was left is let go at once.
      if (this.stopped) verdict.render.close();
      else line.preview = verdict.render;
    }
    line.imageChecked = true;
  }

  private objectUrl(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    this.objectUrls.push(url);
    return url;
  }

  /**
   * Who a file for everyone goes to: the members here (connected, or reconnecting after a drop) and, with a
   * profile, the room's remembered contacts who are away (theirs waits, on this page, until they are back).
   * Never a held member: it gets nothing until accepted, and then only what is written after.
   */
  private recipients(): string[] {
    const self = this.self?.memberId;
    const remembered = this.history?.rememberedMemberIds() ?? [];
    return [...new Set([...this.members.addressable(), ...remembered])].filter((memberId) => memberId !== self);
  }

  /** The memberId this page has in the room (null until the identity is ready). */
  get selfMemberId(): string | null {
    return this.self?.memberId ?? null;
  }

  /** Ids of the members one can write to privately: verified and admitted. */
  membersToWrite(): { readonly memberId: string; readonly name: string }[] {
    return this.members.addressable().map((memberId) => ({ memberId, name: this.members.nameOf(memberId) }));
  }

  /** For tests and the Members panel: the views as the mesh reports them. */
  get memberViews(): readonly MemberView[] {
    return this.members.list.map((member) => member.view);
  }
}
