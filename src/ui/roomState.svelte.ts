/**
 * Reactive state of the open room for the Svelte views: its status, the conversation and its files, who the
 * other person is, and (with an unlocked profile) the kept history, paged in as the person scrolls back.
 */
import { RoomSession, type RoomEvent } from '../core/room/roomSession.ts';
import type { LocalIdentity, PeerIdentity } from '../core/crypto/identityProof.ts';
import type { Admission } from '../core/room/admission.ts';
import type { StoreResult } from '../core/vault/vaultContext.ts';
import type { Contact } from '../core/vault/contacts.ts';
import type { HistoryEntry } from '../core/vault/history.ts';
import type { StoredFileInfo } from '../core/vault/vaultRecords.ts';
import type { ProfilePlatform } from './profileState.svelte.ts';
import type { RoomHistory } from './roomHistory.ts';
import { failureText } from './vaultText.ts';
import type { RoomPlatform } from '../core/room/roomPorts.ts';
import { isTerminal, type RoomStatus } from '../core/room/roomStatus.ts';
import { MAX_MESSAGE_TEXT_BYTES } from '../core/protocol/messages.ts';
import { assertNever } from '../core/assertNever.ts';
import { isFinal, TransferManager, type FileSource, type TransferPlatform, type TransferView } from '../core/transfer/transferManager.ts';
import type { ImageVerdict } from '../core/transfer/imageSniff.ts';
import { RateMeter } from './transferText.ts';

/** Everything the room view needs from the platform, assembled in main.ts. */
export interface AppPlatform {
  readonly room: RoomPlatform;
  readonly transfers: TransferPlatform<Blob>;
  readonly fileSource: (file: File) => FileSource;
  readonly checkImage: (file: Blob) => Promise<ImageVerdict<Blob>>;
  readonly profile: ProfilePlatform;
}

export interface TextLine {
  readonly kind: 'text';
  /** Local, unique key for rendering; `id` comes from the wire and a hostile peer may repeat one. */
  readonly key: number;
  readonly id: string;
  readonly author: 'me' | 'peer';
  readonly text: string;
  readonly atMs: number;
  delivered: boolean;
}

export interface FileLine {
  readonly kind: 'file';
  readonly key: number;
  readonly author: 'me' | 'peer';
  readonly atMs: number;
  view: TransferView<Blob>;
  bytesPerSecond: number;
  /** An object URL of a display-sized render of the verified raster image (never the file itself); null for anything else. */
  previewUrl: string | null;
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

/** A file kept in the history: its bytes are read from the vault only when the line is shown. */
export interface StoredFileLine {
  readonly kind: 'stored-file';
  readonly key: number;
  readonly author: 'me' | 'peer';
  readonly atMs: number;
  readonly file: StoredFileInfo;
}

/** A stored message that does not open: damaged or tampered storage. Shown as such, never guessed at. */
export interface UnreadableLine {
  readonly kind: 'unreadable';
  readonly key: number;
}

export type ChatLine = TextLine | FileLine | StoredFileLine | UnreadableLine;

/** What is known about the other person in this session. */
export type PeerPanel =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'peer';
      readonly peer: PeerIdentity;
      /** Why the policy admitted or held them; for a held peer the person accepted, why it was held. */
      readonly admission: Admission;
      /** Waiting for the person to accept: nothing is sent to them and nothing they sent is shown. */
      readonly held: boolean;
      /** The remembered contact, once admitted and written (null for guests, without a profile here, or until the vault answers). */
      readonly contact: Contact | null;
      /** For a profile, with a profile here; null otherwise or until computed. */
      readonly safetyNumber: string | null;
    };

export class RoomState {
  status = $state<RoomStatus>({ kind: 'preparing' });
  lines = $state<ChatLine[]>([]);
  readonly isSecure = $derived(this.status.kind === 'secure');
  readonly isTerminal = $derived(isTerminal(this.status));
  // Raw: always replaced whole, and compared by identity to tell whether someone else arrived meanwhile.
  peer = $state.raw<PeerPanel>({ kind: 'none' });
  /** A problem with keeping the history, in words (the chat itself goes on). */
  historyProblem = $state<string | null>(null);
  /** Whether older stored messages may exist before the first line shown. */
  hasOlder = $state(false);
  loadingOlder = $state(false);
  private oldestSeq: number | null = null;
  private session: RoomSession;
  private nextKey = 0;
  private readonly transfers: TransferManager<Blob>;
  private readonly meters = new Map<string, RateMeter>();
  private readonly sentFiles = new Map<string, File>();
  private readonly objectUrls: string[] = [];

  constructor(
    private readonly secret: Uint8Array,
    private readonly platform: AppPlatform,
    /** Null for a guest: nothing is kept. */
    readonly history: RoomHistory | null = null,
  ) {
    this.transfers = new TransferManager(platform.transfers, (view) => this.onTransfer(view));
    this.session = this.open();
  }

  /** Shows the newest kept page; call once, right after construction. */
  async loadLatest(): Promise<void> {
    const history = this.history;
    if (history === null) return;
    this.showPage(await history.latest(), 'end');
    history.markRead();
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

  /** The person accepts the held peer (a guest where a profile was, a new key, someone else) after reading the warning. */
  admitPeer(): void {
    if (this.status.kind === 'held') this.session.admitPeer(this.status.peer);
  }

  async markVerified(): Promise<void> {
    await this.updateContact((history, contact) => history.markVerified(contact));
  }

  /** The person calls the contact by the name it announces now. */
  async adoptAnnouncedName(): Promise<void> {
    const panel = this.peer;
    if (panel.kind !== 'peer' || panel.peer.kind !== 'profile') return;
    const announced = panel.peer.displayName;
    await this.updateContact((history, contact) => history.renameContact(contact, announced));
  }

  private async updateContact(write: (history: RoomHistory, contact: Contact) => Promise<StoreResult<Contact>>): Promise<void> {
    const panel = this.peer;
    if (panel.kind !== 'peer' || panel.contact === null || this.history === null) return;
    const written = await write(this.history, panel.contact);
    if (!written.ok) {
      this.historyProblem = failureText(written);
      return;
    }
    if (this.peer === panel) this.peer = { ...panel, contact: written.value };
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

  private showPage(entries: readonly HistoryEntry[], where: 'start' | 'end'): void {
    const lines = entries.map((entry) => this.lineOf(entry));
    const first = entries[0];
    if (first !== undefined && first.seq !== null) this.oldestSeq = first.seq;
    this.hasOlder = (this.oldestSeq ?? 1) > 1 && entries.length > 0;
    this.lines = where === 'start' ? [...lines, ...this.lines] : [...this.lines, ...lines];
  }

  private lineOf(entry: HistoryEntry): ChatLine {
    const key = this.nextKey++;
    if (entry.kind === 'unreadable') return { kind: 'unreadable', key };
    const author = entry.direction === 'outgoing' ? 'me' : 'peer';
    switch (entry.content.type) {
      case 'text':
        return { kind: 'text', key, id: entry.messageId, author, text: entry.content.text, atMs: entry.atMs, delivered: author === 'peer' || entry.deliveredAtMs !== null };
      case 'file':
        return { kind: 'stored-file', key, author, atMs: entry.atMs, file: entry.content.file };
      default:
        return assertNever(entry.content, 'stored message content');
    }
  }

  get maxFileBytes(): number {
    return this.platform.transfers.maxFileBytes;
  }

  /** Sends `text`; returns null when sent, or the reason in words when it was not. */
  send(text: string): string | null {
    const result = this.session.send(text);
    if (!result.ok) {
      switch (result.reason) {
        case 'not-secure':
          return 'Not sent: the conversation is not secure yet.';
        case 'held':
          return 'Not sent: accept the other person first.';
        case 'empty':
          return 'Type a message first.';
        case 'too-long':
          return `Not sent: a message can hold up to ${MAX_MESSAGE_TEXT_BYTES / 1024} KiB of text.`;
        default:
          return assertNever(result.reason, 'send refusal');
      }
    }
    this.lines.push({ kind: 'text', key: this.nextKey++, id: result.id, author: 'me', text, atMs: result.sentAtMs, delivered: false });
    this.history?.recordText({ direction: 'outgoing', messageId: result.id, atMs: result.sentAtMs }, text);
    return null;
  }

  /** Queues files to send; they go one after another, as soon as the conversation is secure. */
  sendFiles(files: Iterable<File>): void {
    for (const file of files) this.sentFiles.set(this.transfers.send(this.platform.fileSource(file)), file);
  }

  cancelTransfer(id: string): void {
    this.transfers.cancel(id);
  }

  /** Starts the room again after a failure; the conversation and unfinished transfers stay. */
  retry(): void {
    this.session.stop();
    this.status = { kind: 'preparing' };
    this.session = this.open();
  }

  stop(): void {
    // Whatever chat was still being gathered is kept now (unless the profile just locked: then it cannot be).
    this.history?.flush();
    this.session.stop();
    this.objectUrls.forEach((url) => URL.revokeObjectURL(url));
  }

  private open(): RoomSession {
    const history = this.history;
    const identity: LocalIdentity | null =
      history === null ? null : { displayName: history.displayName, ...history.identity };
    const session = new RoomSession({
      secret: this.secret,
      platform: this.platform.room,
      transfers: this.transfers,
      onEvent: (event) => this.apply(event),
      ...(identity === null || history === null ? {} : { identity, knowledge: () => history.knowledge() }),
    });
    void session.start();
    return session;
  }

  private apply(event: RoomEvent): void {
    switch (event.type) {
      case 'status': {
        const status = event.status;
        this.status = status;
        if (status.kind === 'held') void this.showHeld(status.peer, status.admission);
        else if (status.kind === 'secure') void this.meet(status.peer, status.admission);
        return;
      }
      case 'chat':
        this.lines.push({ kind: 'text', key: this.nextKey++, id: event.id, author: 'peer', text: event.text, atMs: event.receivedAtMs, delivered: true });
        this.history?.recordText({ direction: 'incoming', messageId: event.id, atMs: event.receivedAtMs }, event.text);
        if (document.visibilityState === 'visible') this.history?.markRead();
        return;
      case 'receipt': {
        const line = this.lines.findLast((candidate): candidate is TextLine => candidate.kind === 'text' && candidate.id === event.id && candidate.author === 'me');
        if (line !== undefined) {
          line.delivered = true;
          this.history?.recordDelivered(event.id, this.platform.room.clock.nowMs());
        }
        return;
      }
      default:
        assertNever(event, 'room event');
    }
  }

  /**
   * A held peer is shown, with its safety number to compare, but nothing about it is written to the vault:
   * someone the person has not accepted leaves no trace.
   */
  private async showHeld(peer: PeerIdentity, admission: Admission): Promise<void> {
    const panel: PeerPanel = { kind: 'peer', peer, admission, held: true, contact: null, safetyNumber: null };
    this.peer = panel;
    if (peer.kind !== 'profile' || this.history === null) return;
    const safetyNumber = await this.history.safetyNumber(peer);
    if (this.peer === panel) this.peer = { ...panel, safetyNumber };
  }

  /** Shows who the admitted peer is; with a profile here, remembers them (a key change the person accepted included). */
  private async meet(peer: PeerIdentity, admission: Admission): Promise<void> {
    const panel: PeerPanel = { kind: 'peer', peer, admission, held: false, contact: null, safetyNumber: null };
    this.peer = panel;
    const history = this.history;
    if (peer.kind !== 'profile' || history === null) return;
    const observed = await history.observe(peer);
    if (!observed.ok) {
      this.historyProblem = failureText(observed);
      return;
    }
    const outcome = observed.value;
    if (outcome.kind === 'guest') return;
    let contact = outcome.contact;
    if (outcome.kind === 'key-changed' && admission.decision === 'hold') {
      // The person already read the warning and accepted this key; only verifying it is left to do.
      const acknowledged = await history.acknowledgeKeyChange(contact);
      if (acknowledged.ok) contact = acknowledged.value;
    }
    const safetyNumber = await history.safetyNumber(contact);
    // Someone else may have arrived meanwhile.
    if (this.peer === panel) this.peer = { ...panel, contact, safetyNumber };
  }

  private onTransfer(view: TransferView<Blob>): void {
    const nowMs = this.platform.transfers.clock.nowMs();
    const meter = this.meters.get(view.id) ?? new RateMeter();
    this.meters.set(view.id, meter);
    meter.sample(view.transferredBytes, nowMs);
    let line = this.lines.find((candidate): candidate is FileLine => candidate.kind === 'file' && candidate.view.id === view.id);
    if (line === undefined) {
      this.lines.push({
        kind: 'file',
        key: this.nextKey++,
        author: view.direction === 'outgoing' ? 'me' : 'peer',
        atMs: nowMs,
        view,
        bytesPerSecond: 0,
        previewUrl: null,
        imageChecked: false,
        downloadUrl: null,
        keep: 'auto',
      });
      line = this.lines.at(-1) as FileLine;
    }
    line.view = view;
    line.bytesPerSecond = meter.bytesPerSecond;
    if (view.state.kind === 'done' && line.previewUrl === null && line.downloadUrl === null) {
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
    const message = { direction: view.direction, messageId: view.id, atMs: this.platform.transfers.clock.nowMs() };
    void this.history.recordFile(message, view.name, view.mimeType, file).then((outcome) => {
      if (outcome === 'over-budget') line.keep = 'ask';
    });
  }

  /** The person answered "Keep in history" for a received file past the budget. */
  async keepInHistory(line: FileLine): Promise<void> {
    const view = line.view;
    const file = this.fileOf(view);
    if (line.keep !== 'ask' || file === null || this.history === null) return;
    line.keep = 'keeping';
    const message = { direction: view.direction, messageId: view.id, atMs: this.platform.transfers.clock.nowMs() };
    const outcome = await this.history.recordFile(message, view.name, view.mimeType, file, { beyondBudget: true });
    // Not kept after all (storage full, say): the problem is shown, and the question stays.
    line.keep = outcome === 'kept' ? 'kept' : 'ask';
  }

  /** A finished file becomes a preview (a render of a verified raster image only) and, for received files, a download. */
  private async present(line: FileLine, view: TransferView<Blob>): Promise<void> {
    const file = this.fileOf(view);
    if (file === null) return;
    if (view.direction === 'incoming') line.downloadUrl = this.objectUrl(new Blob([file], { type: 'application/octet-stream' }));
    const verdict = await this.platform.checkImage(file);
    if (verdict.kind === 'image') line.previewUrl = this.objectUrl(verdict.render);
    line.imageChecked = true;
  }

  private objectUrl(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    this.objectUrls.push(url);
    return url;
  }
}
