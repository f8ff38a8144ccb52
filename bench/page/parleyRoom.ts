/**
 * A real Parley room in the bench page, composed exactly as the app's RoomState composes it (RoomSession over the
 * app's adapters with the page-wide key pairs, GroupChat over the history's conversation store or a
 * MemoryConversationStore, MemberTransfers), minus the Svelte UI. It notes when the room's headline and member
 * counts change, when each message is shown, and it times message → `delivered` round trips.
 */
import { assertNever } from '../../src/core/assertNever.ts';
import { webRtcPeerFactory } from '../../src/adapters/webrtc/webRtcPeer.ts';
import { webSocketSignaling } from '../../src/adapters/webrtc/signalingSocket.ts';
import { generateGuestIdentity, type LocalIdentity } from '../../src/core/crypto/identityProof.ts';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import { GroupChat } from '../../src/core/group/groupChat.ts';
import type { GroupEvent } from '../../src/core/group/groupEvents.ts';
import { MemoryConversationStore } from '../../src/core/group/memoryConversationStore.ts';
import { resolveSignalingUrls } from '../../src/core/protocol/appConfig.ts';
import { systemClock, systemRandom } from '../../src/core/ports.ts';
import type { KeyPairSource } from '../../src/core/room/keyPairPool.ts';
import { RoomSession, type RoomEvent } from '../../src/core/room/roomSession.ts';
import { chatEndpoint } from '../../src/core/group/chatEndpoint.ts';
import type { MemberState, MemberView, RoomStatus } from '../../src/core/room/roomStatus.ts';
import type { RoomHistory } from '../../src/ui/roomHistory.ts';
import type { RoomPlatform } from '../../src/core/room/roomPorts.ts';
import type { RoomMark, RoundTrip, SentMark, SignalingMark } from './benchApi.ts';
import type { BenchTransfers } from './benchTransfers.ts';
import { epochNowMs } from './epoch.ts';

/** Member states in which the direct connection is open (the handshake may still be running). */
const CHANNEL_OPEN: ReadonlySet<MemberState> = new Set(['verifying', 'held', 'connected']);

interface DeliveryWait {
  readonly addressees: ReadonlySet<string>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

function describe(status: RoomStatus): string {
  // The whole failure, whatever its kind carries: this text only ever reaches the bench's error messages.
  return status.kind === 'failed' || status.kind === 'member-failed' ? `${status.kind}: ${JSON.stringify(status.failure)}` : status.kind;
}

/** The `type` of a server frame, for the log only (the room parses the frame itself); null if it has none. */
function frameType(data: unknown): string | null {
  if (typeof data !== 'string') return null;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string' ? value.type : null;
  } catch {
    return null;
  }
}

/**
 * The app's WebSocket signaling, with every open, close and server frame noted (signals only counted), so a
 * reconnect can be told apart step by step. What the room sees is untouched.
 */
function loggedSignaling(urls: readonly string[], log: SignalingMark[]): RoomPlatform['connectSignaling'] {
  const { connect } = webSocketSignaling(urls, location.href);
  const note = (event: string): void => {
    log.push({ atEpochMs: epochNowMs(), event });
  };
  return (handlers) =>
    connect({
      onOpen: () => {
        note('open');
        handlers.onOpen();
      },
      onMessage: (data) => {
        const type = frameType(data) ?? 'unreadable';
        // Signals come in dozens per connection: only the first after anything else is noted.
        if (type !== 'signal' || log.at(-1)?.event !== 'signal') note(type);
        handlers.onMessage(data);
      },
      onClose: () => {
        note('close');
        handlers.onClose();
      },
    });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** The app's peer adapter, with every message the data channel delivers shown to `onFrame` first (for the hop marks). */
function deliveryTimed(createPeer: RoomPlatform['createPeer'], onFrame: (bytes: Uint8Array) => void): RoomPlatform['createPeer'] {
  return (initiator, handlers) =>
    createPeer(initiator, {
      ...handlers,
      onData: (bytes) => {
        onFrame(bytes);
        handlers.onData(bytes);
      },
    });
}

export class BenchRoom {
  private session: RoomSession | null = null;
  private chat: GroupChat | null = null;
  private selfId: string | null = null;
  private status: RoomStatus = { kind: 'preparing' };
  private members: readonly MemberView[] = [];
  private readonly startedAtEpochMs = epochNowMs();
  private secureAtEpochMs: number | null = null;
  /** Every change of the headline or of the member counts, in order. */
  private readonly marks: RoomMark[] = [];
  /** Per message id, when it was shown here; taken (and emptied) by the driver. */
  private readonly shown = new Map<string, number>();
  /** Per own message id, the members that acknowledged it as delivered so far. */
  private readonly delivered = new Map<string, Set<string>>();
  private readonly waits = new Map<string, DeliveryWait>();
  /**
   * When GroupChat handed each of our messages to each addressee's session ('sent'), until sendToEveryone takes
   * them (it does as soon as the message is on its way; a paced message's later ones stay here).
   */
  private readonly handed = new Map<string, Record<string, number>>();
  /** What went wrong in the group engine, in words; empty in a healthy room. */
  readonly problems: string[] = [];
  /** The signaling socket's opens, closes and server frames. */
  readonly signaling: SignalingMark[] = [];
  /**
   * RoomState marks what arrives as read when the page is visible (the person has the conversation in view). The
   * bench can say the conversation is out of view, to tell the read receipt's cost apart.
   */
  private inView = true;

  private constructor(
    private readonly history: RoomHistory | null,
    readonly transfers: BenchTransfers,
  ) {}

  /** As RoomState.start: identity (the profile's, or a fresh guest key), the conversation, then the room. */
  static async open(secret: Uint8Array, keyPairs: KeyPairSource, transfers: BenchTransfers, history: RoomHistory | null): Promise<BenchRoom> {
    const room = new BenchRoom(history, transfers);
    const identity: LocalIdentity = history === null ? await generateGuestIdentity() : { kind: 'profile', displayName: history.displayName, ...history.identity };
    const memberId = await memberIdOf(identity.publicKeySpki);
    room.selfId = memberId;
    room.chat = await GroupChat.open({
      self: memberId,
      store: history?.conversationStore() ?? new MemoryConversationStore(),
      clock: systemClock,
      random: systemRandom,
      rememberedContacts: history?.rememberedMemberIds() ?? [],
      readReceipts: () => true,
      shareTyping: () => false,
      onEvent: (event) => room.onGroupEvent(event),
    });
    room.session = new RoomSession({
      secret,
      // The same composition as src/main.ts, minus config.json: the bench never uses ICE servers.
      platform: {
        connectSignaling: loggedSignaling(resolveSignalingUrls({ mode: 'parley', urls: [] }, location.href), room.signaling),
        createPeer: deliveryTimed(webRtcPeerFactory(() => ({ iceServers: [], relayOnly: false })), (bytes) => transfers.frameDelivered(bytes)),
        clock: systemClock,
        random: systemRandom,
        relayRoute: () => ({ relayServer: false, relayOnly: false }),
      },
      keyPairs,
      identity,
      transfers: transfers.endpoint,
      group: chatEndpoint(() => room.chat, (memberId) => room.history?.rememberedMemberIds().includes(memberId) ?? false),
      onEvent: (event) => room.onRoomEvent(event),
      ...(history === null ? {} : { knowledge: () => history.knowledge() }),
    });
    void room.session.start();
    return room;
  }

  get secureAfterMs(): number | null {
    return this.secureAtEpochMs === null ? null : this.secureAtEpochMs - this.startedAtEpochMs;
  }

  get startedAt(): number {
    return this.startedAtEpochMs;
  }

  describeStatus(): string {
    return describe(this.status);
  }

  /** This page's member id in the room (spec §12.2); null until its identity is made. */
  get memberId(): string | null {
    return this.selfId;
  }

  connectedMembers(): string[] {
    return this.members.filter((member) => member.state === 'connected' && member.memberId !== null).map((member) => member.memberId ?? '');
  }

  setInView(inView: boolean): void {
    this.inView = inView;
  }

  /** Resolves once every write the history has queued is done. */
  async historySettled(): Promise<void> {
    await this.chat?.whenIdle();
    await this.history?.settled();
  }

  timeline(): RoomMark[] {
    return [...this.marks];
  }

  /** When each message was shown here since the last call. */
  takeShown(): Record<string, number> {
    const taken = Object.fromEntries(this.shown);
    this.shown.clear();
    return taken;
  }

  /** Writes `text` to everyone, as RoomState.send does; resolves once GroupChat has stored it and sent it on its way. */
  async sendToEveryone(text: string): Promise<SentMark & { readonly addressees: readonly string[] }> {
    const chat = this.chat;
    if (chat === null || this.status.kind !== 'secure') throw new Error(`not secure: the room is ${this.describeStatus()}`);
    const sentAtEpochMs = epochNowMs();
    const outcome = await chat.sendToEveryone(text);
    if (!outcome.ok) throw new Error(`GroupChat refused to send: ${JSON.stringify(outcome.refusal)}`);
    const handedAtEpochMs = this.handed.get(outcome.message.id) ?? {};
    this.handed.delete(outcome.message.id);
    return { key: outcome.message.id, sentAtEpochMs, handedAtEpochMs, addressees: outcome.addressees };
  }

  /**
   * `count` messages to everyone, each timed from the send until every addressee's `delivered` receipt arrived.
   * Sends start at least `spacingMs` apart, as a person's would: GroupChat paces a pair at 10 messages per second
   * after a burst of 25, and a faster series would measure that pacing instead of the path.
   */
  async roundTrips(count: number, text: string, spacingMs: number): Promise<RoundTrip[]> {
    const trips: RoundTrip[] = [];
    let nextAt = performance.now();
    for (let i = 0; i < count; i++) {
      await sleep(nextAt - performance.now());
      const startedAt = performance.now();
      nextAt = startedAt + spacingMs;
      const sent = await this.sendToEveryone(text);
      await this.deliveredToAll(sent.key, sent.addressees);
      const ms = performance.now() - startedAt;
      const handed = Object.values(sent.handedAtEpochMs ?? {});
      trips.push({ key: sent.key, ms, startedAtEpochMs: sent.sentAtEpochMs, handedAtEpochMs: handed.length === 0 ? null : Math.max(...handed), deliveredAtEpochMs: sent.sentAtEpochMs + ms });
    }
    return trips;
  }

  stop(): void {
    this.session?.stop();
    this.chat?.close();
  }

  private deliveredToAll(id: string, addressees: readonly string[]): Promise<void> {
    const wanted = new Set(addressees);
    const done = (): boolean => [...wanted].every((member) => this.delivered.get(id)?.has(member) === true);
    if (done()) {
      this.delivered.delete(id);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.waits.set(id, {
        addressees: wanted,
        resolve: () => {
          this.waits.delete(id);
          this.delivered.delete(id);
          resolve();
        },
        reject,
      });
    });
  }


  private note(): void {
    const open = this.members.filter((member) => CHANNEL_OPEN.has(member.state)).length;
    const connected = this.members.filter((member) => member.state === 'connected').length;
    const last = this.marks.at(-1);
    if (last !== undefined && last.headline === this.status.kind && last.open === open && last.connected === connected) return;
    this.marks.push({ atEpochMs: epochNowMs(), headline: this.status.kind, open, connected, members: this.members.length });
  }

  private onRoomEvent(event: RoomEvent): void {
    switch (event.type) {
      case 'status':
        this.status = event.status;
        if (event.status.kind === 'secure') this.secureAtEpochMs ??= epochNowMs();
        if (event.status.kind === 'failed' || event.status.kind === 'room-full') {
          // A room that fails mid-measurement would otherwise leave a waiting round trip hanging until Node's timeout.
          for (const wait of this.waits.values()) wait.reject(new Error(`room went ${describe(event.status)}`));
          this.waits.clear();
        }
        this.note();
        return;
      case 'members':
        this.members = event.members;
        this.note();
        return;
      case 'member-joined': {
        // As Members.met: a profile's history remembers the person it met (a vault write), a guest nothing.
        const peer = event.member.peer;
        if (peer !== null && peer.kind === 'profile') void this.history?.observe(peer);
        return;
      }
      case 'member-left': {
        const memberId = event.member.memberId;
        if (memberId !== null) this.chat?.left(memberId, { saidBye: event.saidBye });
        return;
      }
      default:
        assertNever(event, 'room event');
    }
  }

  private onGroupEvent(event: GroupEvent): void {
    switch (event.type) {
      case 'shown':
        this.shown.set(event.message.id, epochNowMs());
        // As RoomState.showMessage: with the conversation in view, what arrived counts as read at once.
        if (this.inView && document.visibilityState === 'visible') {
          this.chat?.markRead();
          this.history?.markRead();
        }
        return;
      case 'delivery': {
        if (event.state === 'sent') this.handed.set(event.messageId, { ...this.handed.get(event.messageId), [event.member]: epochNowMs() });
        if (event.state !== 'delivered') return;
        const members = this.delivered.get(event.messageId) ?? new Set<string>();
        members.add(event.member);
        this.delivered.set(event.messageId, members);
        const wait = this.waits.get(event.messageId);
        if (wait !== undefined && [...wait.addressees].every((member) => members.has(member))) wait.resolve();
        return;
      }
      case 'typing':
        // The bench never shares typing.
        return;
      case 'expired':
      case 'inconsistent':
      case 'failed': {
        // Each one means the measurement is not of a healthy room: the driver fails the section rather than measure on.
        const problem = `the group engine reported ${JSON.stringify(event)}`;
        this.problems.push(problem);
        for (const wait of this.waits.values()) wait.reject(new Error(problem));
        this.waits.clear();
        return;
      }
      default:
        assertNever(event, 'group event');
    }
  }
}
