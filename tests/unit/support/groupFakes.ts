/**
 * A fake mesh for GroupChat: members joined by in-order wires (one per direction) that can be cut and
 * restored and can lose what is in flight, on a manual clock. Every frame crosses a wire as bytes, through the
 * real group codec. "Raw" members are not GroupChats: a test speaks for them, frame by frame, to play a
 * modified client.
 */
import { bytesToBase64url } from '../../../src/core/encoding.ts';
import type { ConversationStore } from '../../../src/core/group/conversationStore.ts';
import { GroupChat, type GroupChatFrame, type GroupViolation, type SendOutcome } from '../../../src/core/group/groupChat.ts';
import type { GroupEvent } from '../../../src/core/group/groupEvents.ts';
import { MemoryConversationStore } from '../../../src/core/group/memoryConversationStore.ts';
import { systemRandom } from '../../../src/core/ports.ts';
import { encodeGroupFrame, MEMBER_ID_BYTES, parseGroupFrame, type GroupFrame, type GroupFrameType, type GroupMessage } from '../../../src/core/protocol/groupMessages.ts';
import { seededRandom } from './coreFixtures.ts';
import { FakeClock } from './roomFakes.ts';

export interface ChatMember {
  readonly name: string;
  readonly id: string;
  readonly chat: GroupChat;
  readonly store: ConversationStore;
  readonly events: GroupEvent[];
}

interface Wire {
  readonly from: string;
  readonly to: string;
  up: boolean;
  readonly inFlight: { readonly type: GroupFrameType; readonly plaintext: Uint8Array }[];
  /** Every frame handed to this wire while it was up, in order (lost ones included). */
  readonly log: GroupFrame[];
  /** Frames this returns true for are lost on the way. */
  loses: (frame: GroupFrame) => boolean;
}

export interface ChatOptions {
  /** The member's id; memberIdOfName(name) unless given (a vault's store knows its profile's own id). */
  readonly id?: string;
  readonly store?: ConversationStore;
  readonly rememberedContacts?: readonly string[];
  readonly readReceipts?: () => boolean;
  readonly shareTyping?: () => boolean;
}

/** A member id (22 characters of base64url) that depends only on the name. */
export function memberIdOfName(name: string): string {
  let seed = 17;
  for (const char of name) seed = (seed * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return bytesToBase64url(seededRandom(seed).bytes(MEMBER_ID_BYTES));
}

export class GroupWorld {
  readonly clock = new FakeClock();
  /** Violations a chat reported, and whose session the fake mesh ended for it. */
  readonly violations: { readonly at: string; readonly from: string; readonly violation: GroupViolation }[] = [];
  private readonly chats = new Map<string, ChatMember>();
  private readonly raws = new Map<string, { readonly name: string; readonly id: string; readonly inbox: GroupFrame[] }>();
  private readonly wires = new Map<string, Wire>();

  async addChat(name: string, options: ChatOptions = {}): Promise<ChatMember> {
    const id = options.id ?? memberIdOfName(name);
    const events: GroupEvent[] = [];
    const store = options.store ?? new MemoryConversationStore();
    const chat = await GroupChat.open({
      self: id,
      store,
      clock: this.clock.for(name),
      random: systemRandom,
      rememberedContacts: options.rememberedContacts ?? [],
      readReceipts: options.readReceipts ?? (() => true),
      shareTyping: options.shareTyping ?? (() => true),
      onEvent: (event) => events.push(event),
    });
    const member: ChatMember = { name, id, chat, store, events };
    this.chats.set(name, member);
    return member;
  }

  /** A member the test speaks for. */
  addRaw(name: string): { readonly id: string; readonly inbox: GroupFrame[] } {
    const raw = { name, id: memberIdOfName(name), inbox: [] };
    this.raws.set(name, raw);
    return raw;
  }

  member(name: string): ChatMember {
    const member = this.chats.get(name);
    if (member === undefined) throw new Error(`no chat member ${name}`);
    return member;
  }

  idOf(name: string): string {
    return this.chats.get(name)?.id ?? this.raws.get(name)?.id ?? memberIdOfName(name);
  }

  /** Admits each to the other and connects them. */
  meet(a: string, b: string): void {
    this.chats.get(a)?.chat.admitted(this.idOf(b), { durable: false });
    this.chats.get(b)?.chat.admitted(this.idOf(a), { durable: false });
    this.connect(a, b);
  }

  /** Every pair among `names` meets. */
  meetAll(...names: string[]): void {
    names.forEach((a, index) => names.slice(index + 1).forEach((b) => this.meet(a, b)));
  }

  /** A new session between two members: fresh wires, each chat told the other is connected. */
  connect(a: string, b: string): void {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const wire = this.wire(from, to);
      wire.up = true;
      wire.inFlight.length = 0;
    }
    for (const [self, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const wire = this.wire(self, other);
      this.chats.get(self)?.chat.connected({ memberId: this.idOf(other), send: (frame) => this.transmit(wire, frame) });
    }
  }

  /** The session between two members breaks: what is in flight is lost, and both chats are told. */
  cut(a: string, b: string): void {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const wire = this.wire(from, to);
      wire.up = false;
      wire.inFlight.length = 0;
      this.chats.get(from)?.chat.disconnected(this.idOf(to));
    }
  }

  /** Loses whatever is in flight from one member to another, leaving the session up. */
  dropInFlight(from: string, to: string): number {
    const wire = this.wire(from, to);
    const dropped = wire.inFlight.length;
    wire.inFlight.length = 0;
    return dropped;
  }

  /** From now on, frames from one member to another that `loses` picks are lost on the way. */
  losing(from: string, to: string, loses: (frame: GroupFrame) => boolean): void {
    this.wire(from, to).loses = loses;
  }

  /** A raw member sends a frame on its session with `to`. */
  inject(from: string, to: string, frame: GroupChatFrame): void {
    if (!this.transmit(this.wire(from, to), frame)) throw new Error(`${from} has no session with ${to}`);
  }

  /** Frames handed to the wire from one member to another (while it was up), of one type. */
  framesSent<T extends GroupFrame['type']>(from: string, to: string, type: T): Extract<GroupFrame, { type: T }>[] {
    return this.wire(from, to).log.filter((frame): frame is Extract<GroupFrame, { type: T }> => frame.type === type);
  }

  /** Messages `name` was shown, in order. */
  shown(name: string): GroupMessage[] {
    return this.member(name).events.flatMap((event) => (event.type === 'shown' ? [event.message] : []));
  }

  /** Delivers everything in flight and waits for every chat's background work, until all is quiet. */
  async settle(): Promise<void> {
    for (;;) {
      this.deliverAll();
      await Promise.all([...this.chats.values()].map(({ chat }) => chat.whenIdle()));
      if (![...this.wires.values()].some((wire) => wire.inFlight.length > 0)) return;
    }
  }

  /** Moves the clock on in small steps, settling after each, so paced frames arrive as they would. */
  async advance(ms: number, stepMs = 20): Promise<void> {
    for (let left = ms; left > 0; left -= stepMs) {
      this.clock.advance(Math.min(stepMs, left));
      await this.settle();
    }
  }

  async send(name: string, text: string): Promise<GroupMessage> {
    return expectSent(await this.member(name).chat.sendToEveryone(text));
  }

  private wire(from: string, to: string): Wire {
    const key = `${from}>${to}`;
    let wire = this.wires.get(key);
    if (wire === undefined) {
      wire = { from, to, up: false, inFlight: [], log: [], loses: () => false };
      this.wires.set(key, wire);
    }
    return wire;
  }

  private transmit(wire: Wire, frame: GroupFrame): boolean {
    if (!wire.up) return false;
    wire.log.push(frame);
    const bytes = encodeGroupFrame(frame);
    if (!wire.loses(frame)) wire.inFlight.push(bytes);
    return true;
  }

  private deliverAll(): void {
    for (let moved = true; moved; ) {
      moved = false;
      for (const wire of this.wires.values()) {
        const bytes = wire.inFlight.shift();
        if (bytes === undefined) continue;
        moved = true;
        const parsed = parseGroupFrame(bytes.type, bytes.plaintext);
        if (!parsed.ok) throw new Error(`a frame from ${wire.from} to ${wire.to} did not parse: ${parsed.reason}`);
        this.deliver(wire, parsed.frame);
      }
    }
  }

  private deliver(wire: Wire, frame: GroupFrame): void {
    const raw = this.raws.get(wire.to);
    if (raw !== undefined) {
      raw.inbox.push(frame);
      return;
    }
    const receiver = this.member(wire.to);
    if (frame.type !== 'message' && frame.type !== 'receipts' && frame.type !== 'digests' && frame.type !== 'typing') return;
    const violation = receiver.chat.receive(this.idOf(wire.from), frame);
    if (violation === null) return;
    this.violations.push({ at: wire.to, from: wire.from, violation });
    this.cut(wire.from, wire.to);
  }
}

export function expectSent(outcome: SendOutcome): GroupMessage {
  if (!outcome.ok) throw new Error(`send was refused: ${JSON.stringify(outcome.refusal)}`);
  return outcome.message;
}

/** The delivery states `name` was told about for one of its messages, per member, latest last. */
export function deliveryStates(member: ChatMember, messageId: string): Map<string, string[]> {
  const states = new Map<string, string[]>();
  for (const event of member.events) {
    if ((event.type === 'delivery' || event.type === 'expired') && event.messageId === messageId) {
      states.set(event.member, [...(states.get(event.member) ?? []), event.type === 'delivery' ? event.state : `expired:${event.reason}`]);
    }
  }
  return states;
}
