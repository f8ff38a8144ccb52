/** Reactive state of the open room for the Svelte views: its status, the conversation and its files. */
import { RoomSession, type RoomEvent } from '../core/room/roomSession.ts';
import type { RoomPlatform } from '../core/room/roomPorts.ts';
import { isTerminal, type RoomStatus } from '../core/room/roomStatus.ts';
import { MAX_MESSAGE_TEXT_BYTES } from '../core/protocol/messages.ts';
import { assertNever } from '../core/assertNever.ts';
import { TransferManager, type FileSource, type TransferPlatform, type TransferView } from '../core/transfer/transferManager.ts';
import type { ImageVerdict } from '../core/transfer/imageSniff.ts';
import { RateMeter } from './transferText.ts';

/** Everything the room view needs from the platform, assembled in main.ts. */
export interface AppPlatform {
  readonly room: RoomPlatform;
  readonly transfers: TransferPlatform<Blob>;
  readonly fileSource: (file: File) => FileSource;
  readonly checkImage: (file: Blob) => Promise<ImageVerdict>;
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
  /** An object URL of the verified raster image, typed by its real format; null for anything else. */
  previewUrl: string | null;
  /** An object URL typed application/octet-stream, so the browser can only save it, never render it here. */
  downloadUrl: string | null;
}

export type ChatLine = TextLine | FileLine;

export class RoomState {
  status = $state<RoomStatus>({ kind: 'preparing' });
  lines = $state<ChatLine[]>([]);
  readonly isSecure = $derived(this.status.kind === 'secure');
  readonly isTerminal = $derived(isTerminal(this.status));
  private session: RoomSession;
  private nextKey = 0;
  private readonly transfers: TransferManager<Blob>;
  private readonly meters = new Map<string, RateMeter>();
  private readonly sentFiles = new Map<string, File>();
  private readonly objectUrls: string[] = [];

  constructor(
    private readonly secret: Uint8Array,
    private readonly platform: AppPlatform,
  ) {
    this.transfers = new TransferManager(platform.transfers, (view) => this.onTransfer(view));
    this.session = this.open();
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
    this.session.stop();
    this.objectUrls.forEach((url) => URL.revokeObjectURL(url));
  }

  private open(): RoomSession {
    const session = new RoomSession({
      secret: this.secret,
      platform: this.platform.room,
      transfers: this.transfers,
      onEvent: (event) => this.apply(event),
    });
    void session.start();
    return session;
  }

  private apply(event: RoomEvent): void {
    switch (event.type) {
      case 'status':
        this.status = event.status;
        return;
      case 'chat':
        this.lines.push({ kind: 'text', key: this.nextKey++, id: event.id, author: 'peer', text: event.text, atMs: event.receivedAtMs, delivered: true });
        return;
      case 'receipt': {
        const line = this.lines.findLast((candidate): candidate is TextLine => candidate.kind === 'text' && candidate.id === event.id && candidate.author === 'me');
        if (line !== undefined) line.delivered = true;
        return;
      }
      default:
        assertNever(event, 'room event');
    }
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
        downloadUrl: null,
      });
      line = this.lines.at(-1) as FileLine;
    }
    line.view = view;
    line.bytesPerSecond = meter.bytesPerSecond;
    if (view.state.kind === 'done' && line.previewUrl === null && line.downloadUrl === null) void this.present(line, view);
  }

  /** A finished file becomes a preview (verified raster images only) and, for received files, a download. */
  private async present(line: FileLine, view: TransferView<Blob>): Promise<void> {
    const file = view.direction === 'outgoing' ? this.sentFiles.get(view.id) : view.file;
    if (file === undefined || file === null) return;
    if (view.direction === 'incoming') line.downloadUrl = this.objectUrl(new Blob([file], { type: 'application/octet-stream' }));
    const verdict = await this.platform.checkImage(file);
    if (verdict.kind === 'image') line.previewUrl = this.objectUrl(new Blob([file], { type: verdict.mimeType }));
  }

  private objectUrl(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    this.objectUrls.push(url);
    return url;
  }
}
