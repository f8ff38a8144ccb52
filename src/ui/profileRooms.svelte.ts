/**
 * The rooms an unlocked profile has open: the one on screen, and those joined in the background because their
 * outbox still holds messages (spec §12.8), so a message leaves when its addressee opens the room even if the sender
 * is looking at something else. One RoomState per room: the view takes over a background room rather than joining
 * it a second time (two sessions of one profile would be two members with one identity).
 */
import { roomFragment } from '../core/crypto/roomSecret.ts';
import type { PendingOutbox } from '../core/vault/groupHistory.ts';
import type { UnlockedVault } from '../core/vault/vaultService.ts';
import { followVault } from './followVault.ts';
import type { ProfileState } from './profileState.svelte.ts';
import { RoomHistory } from './roomHistory.ts';
import { RoomState, type AppPlatform } from './roomState.svelte.ts';
import { failureText } from './vaultText.ts';

export interface OpenedRoom {
  readonly room: RoomState;
  /** Set when the room runs but is not kept (its history could not be opened), in words. */
  readonly problem: string | null;
}

interface Entry {
  readonly opened: Promise<OpenedRoom>;
  /** The view has it on screen. */
  inView: boolean;
  /** Its outbox holds messages for someone. */
  waiting: boolean;
  /** Called when the room stops: no more waiting on it before a lock. */
  readonly release: () => void;
}

export class ProfileRooms {
  /** Problems with the background rooms themselves, in words, for the page to show. */
  problem = $state<string | null>(null);
  private readonly rooms = new Map<string, Entry>();
  private readonly stopFollowing: () => void;
  private closed = false;

  constructor(
    private readonly platform: AppPlatform,
    private readonly vault: UnlockedVault,
    private readonly profile: ProfileState,
  ) {
    // What waits changes only with a write; the list comes from the conversation records alone, so it is cheap.
    this.stopFollowing = followVault(
      vault,
      () => vault.pendingOutbox(),
      (pending) => this.follow(pending),
      (error) => (this.problem = `Messages waiting to be sent could not be looked up: ${String(error)}`),
    );
  }

  /** The room of `secret` for the view, running already if it was open in the background. */
  show(secret: Uint8Array): Promise<OpenedRoom> {
    const entry = this.entry(secret);
    entry.inView = true;
    void entry.opened.then(({ room }) => room.setInView(entry.inView));
    return entry.opened;
  }

  /** The view no longer shows the room of `secret`: it keeps running only while its outbox holds messages. */
  hide(secret: Uint8Array): void {
    const key = roomFragment(secret);
    const entry = this.rooms.get(key);
    if (entry === undefined) return;
    entry.inView = false;
    void entry.opened.then(({ room }) => room.setInView(false));
    if (!entry.waiting) this.stop(key, entry);
  }

  /** Stops every room: the profile is locking or the page is going away. */
  close(): void {
    this.closed = true;
    this.stopFollowing();
    for (const [key, entry] of this.rooms) this.stop(key, entry);
  }

  private follow(pending: readonly PendingOutbox[]): void {
    if (this.closed) return;
    const waiting = new Set(pending.map((outbox) => roomFragment(outbox.roomSecret)));
    for (const outbox of pending) this.entry(outbox.roomSecret).waiting = true;
    for (const [key, entry] of this.rooms) {
      if (waiting.has(key)) continue;
      entry.waiting = false;
      if (!entry.inView) this.stop(key, entry);
    }
  }

  /** The room's entry, opening the room (and joining it) when it has none. */
  private entry(secret: Uint8Array): Entry {
    const key = roomFragment(secret);
    const existing = this.rooms.get(key);
    if (existing !== undefined) return existing;
    let release: () => void = () => {};
    const opened = this.open(secret, (unhook) => (release = unhook));
    const entry: Entry = { opened, inView: false, waiting: false, release: () => release() };
    this.rooms.set(key, entry);
    return entry;
  }

  private async open(secret: Uint8Array, onLockHook: (unhook: () => void) => void): Promise<OpenedRoom> {
    let room: RoomState | null = null;
    const history = await RoomHistory.open(this.vault, this.platform.room.clock, secret, (text) => {
      if (room !== null) room.historyProblem = text;
    });
    // The chat still works when its history cannot be opened; it is only not kept, and the person is told so.
    const problem = history.ok ? null : `This conversation is not being kept: ${failureText(history)}`;
    room = new RoomState(secret, this.platform, history.ok ? history.value : null);
    // Locking waits (briefly) for the chat this room is still gathering, so the last words are kept too.
    if (history.ok) onLockHook(this.profile.onBeforeLock(() => history.value.settled()));
    const started = room;
    started.start().catch((error: unknown) => (started.historyProblem = `This conversation could not be opened: ${String(error)}`));
    return { room: started, problem };
  }

  private stop(key: string, entry: Entry): void {
    this.rooms.delete(key);
    // After the room is open: its lock hook is in place by then, so it is the one removed.
    void entry.opened.then(({ room }) => {
      entry.release();
      room.stop();
    });
  }
}
