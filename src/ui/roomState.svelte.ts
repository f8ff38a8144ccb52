/** Reactive state of the open room for the Svelte views: its status and the conversation so far. */
import { RoomSession, type RoomEvent } from '../core/room/roomSession.ts';
import type { RoomPlatform } from '../core/room/roomPorts.ts';
import { isTerminal, type RoomStatus } from '../core/room/roomStatus.ts';
import { MAX_MESSAGE_TEXT_BYTES } from '../core/protocol/messages.ts';
import { assertNever } from '../core/assertNever.ts';

export interface ChatLine {
  /** Local, unique key for rendering; `id` comes from the wire and a hostile peer may repeat one. */
  readonly key: number;
  readonly id: string;
  readonly author: 'me' | 'peer';
  readonly text: string;
  readonly atMs: number;
  delivered: boolean;
}

export class RoomState {
  status = $state<RoomStatus>({ kind: 'preparing' });
  lines = $state<ChatLine[]>([]);
  readonly isSecure = $derived(this.status.kind === 'secure');
  readonly isTerminal = $derived(isTerminal(this.status));
  private session: RoomSession;
  private nextKey = 0;

  constructor(
    private readonly secret: Uint8Array,
    private readonly platform: RoomPlatform,
  ) {
    this.session = this.open();
  }

  /** Sends `text`; returns null when sent, or the reason in words when it was not. */
  send(text: string): string | null {
    const result = this.session.send(text);
    if (!result.ok) {
      switch (result.reason) {
        case 'not-secure':
          return 'Not sent: the conversation is not secure yet.';
        case 'empty':
          return 'Type a message first.';
        case 'too-long':
          return `Not sent: a message can hold up to ${MAX_MESSAGE_TEXT_BYTES / 1024} KiB of text.`;
        default:
          return assertNever(result.reason, 'send refusal');
      }
    }
    this.lines.push({ key: this.nextKey++, id: result.id, author: 'me', text, atMs: result.sentAtMs, delivered: false });
    return null;
  }

  /** Starts the room again after a failure; the conversation so far stays on screen. */
  retry(): void {
    this.session.stop();
    this.status = { kind: 'preparing' };
    this.session = this.open();
  }

  stop(): void {
    this.session.stop();
  }

  private open(): RoomSession {
    const session = new RoomSession({ secret: this.secret, platform: this.platform, onEvent: (event) => this.apply(event) });
    void session.start();
    return session;
  }

  private apply(event: RoomEvent): void {
    switch (event.type) {
      case 'status':
        this.status = event.status;
        return;
      case 'chat':
        this.lines.push({ key: this.nextKey++, id: event.id, author: 'peer', text: event.text, atMs: event.receivedAtMs, delivered: true });
        return;
      case 'receipt': {
        const line = this.lines.findLast((candidate) => candidate.id === event.id && candidate.author === 'me');
        if (line !== undefined) line.delivered = true;
        return;
      }
      default:
        assertNever(event, 'room event');
    }
  }
}
