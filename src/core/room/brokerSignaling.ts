/**
 * The signaling port over a PeerJS broker instead of a Parley server (spec §3.8): the room speaks the same frames
 * (join, joined, peer-joined, peer-left, signal) and never knows which one runs. Members meet under slot ids derived
 * from the room id; who is in the room is learned from each other (hello, welcome, here, leave) and from the broker's
 * "nobody holds that id"; sealed signals travel through the broker as they would through a Parley server.
 */
import { assertNever } from '../assertNever.ts';
import { brokerSlotIds, BROKER_SLOTS } from '../crypto/brokerSlots.ts';
import { bytesToBase64url } from '../encoding.ts';
import type { Clock, Random } from '../ports.ts';
import { encodeBrokerFrame, parseBrokerFrame, type BrokerFrame } from '../protocol/brokerFrames.ts';
import { encodeFrame, parseClientFrame, type ServerFrame } from '../protocol/signaling.ts';
import type { RoomPlatform, SignalingHandlers, SignalingSocket } from './roomPorts.ts';

/** Why a broker connection ended before it was of use: nothing answered, or the broker answered with a refusal. */
export type BrokerProblem = 'unreachable' | 'refused';

/** Called asynchronously, never from inside `connect`, and not at all after `close`. */
export interface BrokerHandlers {
  /** The broker gave this connection the id. */
  onOpen(): void;
  /** Someone else holds the id; this connection is over. */
  onTaken(): void;
  /** A message another id sent; `from` is the id the broker says sent it. */
  onMessage(from: string, payload: unknown): void;
  /** The broker kept messages for an id that nobody took in time, and dropped them. */
  onUndeliverable(id: string): void;
  /** The connection ended: with a problem if it never opened, null if it opened and then dropped. */
  onClose(problem: BrokerProblem | null): void;
}

export interface BrokerConnection {
  send(to: string, payload: string): void;
  close(): void;
}

export interface BrokerPort {
  /** The broker as config.json names it, for the person to check. */
  readonly endpoint: string;
  connect(id: string, handlers: BrokerHandlers): BrokerConnection;
}

export interface BrokerSignalingOptions {
  readonly broker: BrokerPort;
  readonly clock: Clock;
  readonly random: Random;
}

/** A broker that neither gives an id nor refuses it within this time counts as unreachable. */
export const CLAIM_TIMEOUT_MS = 10_000;
/** Every member tells every other one it is still here this often… */
export const PRESENCE_INTERVAL_MS = 10_000;
/** …and one not heard from for this long has left (a Parley server notices a dead socket in 30–60 s). */
export const PRESENCE_TIMEOUT_MS = 35_000;
const PEER_ID_BYTES = 16;

export function brokerSignaling(options: BrokerSignalingOptions): RoomPlatform['connectSignaling'] {
  return (handlers) => new BrokerSignalingSocket(options, handlers);
}

interface Member {
  readonly peer: string;
  readonly nonce: string;
  /** Whether this side makes the offer: it answered our hello (it was here first), or won a tie. */
  weDial: boolean;
  lastHeardMs: number;
}

type State = 'idle' | 'claiming' | 'in-room' | 'closed';

/** One connection of one room session, as a WebSocket to a Parley server would be. */
class BrokerSignalingSocket implements SignalingSocket {
  private state: State = 'idle';
  private connection: BrokerConnection | null = null;
  /** Identifies the current claim, so the handlers of an earlier one fall silent. */
  private claimToken: object = {};
  private slotIds: readonly string[] = [];
  private selfSlot = -1;
  /** Our peer id for this connection, as a Parley server would assign one: random, new each connection. */
  private readonly selfPeer: string;
  private selfNonce = '';
  private readonly members = new Map<number, Member>();
  private cancelTimer: () => void = () => {};

  constructor(
    private readonly options: BrokerSignalingOptions,
    private readonly handlers: SignalingHandlers,
  ) {
    this.selfPeer = bytesToBase64url(options.random.bytes(PEER_ID_BYTES));
    // Like a WebSocket's, our "open" comes once the room holds this socket; only then can it send its join.
    this.cancelTimer = options.clock.setTimer(0, () => {
      if (this.state === 'idle') handlers.onOpen();
    });
  }

  send(text: string): void {
    const parsed = parseClientFrame(text);
    if (!parsed.ok) return;
    const frame = parsed.value;
    switch (frame.type) {
      case 'join':
        if (this.state === 'idle') void this.join(frame.room, frame.nonce);
        return;
      case 'signal': {
        const slot = this.slotOf(frame.to);
        // To someone no longer here: a Parley server would answer unknown-peer, which the room ignores anyway.
        if (this.state === 'in-room' && slot !== null) this.sendTo(slot, { v: 1, type: 'signal', peer: this.selfPeer, to: frame.to, blob: frame.blob });
        return;
      }
      case 'ping':
        // The broker answers nothing of its own, but it relays to any id, ours included: the echo is the pong.
        if (this.state === 'in-room') this.sendTo(this.selfSlot, { v: 1, type: 'echo', peer: this.selfPeer, token: frame.token });
        return;
      default:
        assertNever(frame, 'client frame');
    }
  }

  /** Leaving: the others hear it at once instead of after PRESENCE_TIMEOUT_MS. */
  close(): void {
    if (this.state === 'closed') return;
    if (this.state === 'in-room') {
      for (const [slot, member] of this.members) this.sendTo(slot, { v: 1, type: 'leave', peer: this.selfPeer, to: member.peer });
    }
    this.finish();
  }

  private finish(): void {
    this.state = 'closed';
    this.cancelTimer();
    this.claimToken = {};
    this.connection?.close();
    this.connection = null;
    this.members.clear();
  }

  /** The connection is gone: the room hears it as a closed socket, with the problem if it never got into the room. */
  private lost(problem: BrokerProblem | null): void {
    if (this.state === 'closed') return;
    this.finish();
    this.handlers.onClose(problem === null ? undefined : { kind: problem, endpoint: this.options.broker.endpoint });
  }

  private emit(frame: ServerFrame): void {
    if (this.state !== 'closed') this.handlers.onMessage(encodeFrame(frame));
  }

  private sendTo(slot: number, frame: BrokerFrame): void {
    const id = this.slotIds[slot];
    if (id !== undefined) this.connection?.send(id, encodeBrokerFrame(frame));
  }

  private slotOf(peer: string): number | null {
    for (const [slot, member] of this.members) if (member.peer === peer) return slot;
    return null;
  }

  private async join(roomId: string, nonce: string): Promise<void> {
    this.state = 'claiming';
    this.selfNonce = nonce;
    this.slotIds = await brokerSlotIds(roomId, BROKER_SLOTS);
    if (this.state === 'claiming') this.claim(0);
  }

  /** Takes the first free slot from `slot` on; an id the broker says is taken (by a member, or a stale one) is skipped. */
  private claim(slot: number): void {
    const id = this.slotIds[slot];
    if (id === undefined) {
      this.connection = null;
      this.emit({ v: 1, type: 'error', code: 'room-full', message: 'every slot of this room is taken at the broker' });
      return;
    }
    const token = {};
    this.claimToken = token;
    const current = (): boolean => this.claimToken === token;
    this.connection = this.options.broker.connect(id, {
      onOpen: () => {
        if (!current() || this.state !== 'claiming') return;
        this.cancelTimer();
        this.entered(slot);
      },
      onTaken: () => {
        if (!current() || this.state !== 'claiming') return;
        this.cancelTimer();
        this.claim(slot + 1);
      },
      onMessage: (from, payload) => {
        if (current() && this.state === 'in-room') this.onBrokerMessage(from, payload);
      },
      onUndeliverable: (undelivered) => {
        const gone = this.slotIds.indexOf(undelivered);
        if (current() && this.state === 'in-room' && this.members.has(gone)) this.departed(gone);
      },
      onClose: (problem) => {
        if (current()) this.lost(this.state === 'in-room' ? null : (problem ?? 'unreachable'));
      },
    });
    this.cancelTimer = this.options.clock.setTimer(CLAIM_TIMEOUT_MS, () => {
      if (current() && this.state === 'claiming') this.lost('unreachable');
    });
  }

  private entered(slot: number): void {
    this.state = 'in-room';
    this.selfSlot = slot;
    // Members are announced one by one as they answer; the room takes each `joined` as "dial these" (spec §3.2).
    this.emit({ v: 1, type: 'joined', self: this.selfPeer, peers: [] });
    for (let other = 0; other < this.slotIds.length; other++) {
      if (other !== slot) this.sendTo(other, { v: 1, type: 'hello', peer: this.selfPeer, nonce: this.selfNonce });
    }
    this.keepPresence();
  }

  private keepPresence(): void {
    const { clock } = this.options;
    this.cancelTimer = clock.setTimer(PRESENCE_INTERVAL_MS, () => {
      if (this.state !== 'in-room') return;
      const nowMs = clock.nowMs();
      for (const [slot, member] of [...this.members]) {
        if (nowMs - member.lastHeardMs >= PRESENCE_TIMEOUT_MS) this.departed(slot);
        else this.sendTo(slot, { v: 1, type: 'here', peer: this.selfPeer, to: member.peer });
      }
      this.keepPresence();
    });
  }

  private onBrokerMessage(from: string, payload: unknown): void {
    const slot = this.slotIds.indexOf(from);
    if (slot < 0) return;
    // Anyone who knows a slot id can write to it: what does not parse, or was meant for an earlier holder, is dropped.
    const frame = parseBrokerFrame(payload);
    if (slot === this.selfSlot) {
      // Only our own echo comes from our own slot.
      if (frame?.type === 'echo' && frame.peer === this.selfPeer) this.emit({ v: 1, type: 'pong', token: frame.token });
      return;
    }
    if (frame === null || frame.type === 'echo' || (frame.type !== 'hello' && frame.to !== this.selfPeer)) return;
    const member = this.members.get(slot);
    const known = member?.peer === frame.peer ? member : null;
    if (known !== null) known.lastHeardMs = this.options.clock.nowMs();
    switch (frame.type) {
      case 'hello':
        // A newcomer dials us. A hello we already answered (or whose sender answered ours) changes nothing.
        if (known !== null) return;
        this.arrived(slot, frame.peer, frame.nonce, false);
        this.sendTo(slot, { v: 1, type: 'welcome', peer: this.selfPeer, nonce: this.selfNonce, to: frame.peer });
        return;
      case 'welcome':
        if (known === null) {
          this.arrived(slot, frame.peer, frame.nonce, true);
        } else if (!known.weDial && this.selfPeer < known.peer) {
          // Our hellos crossed, so each welcomed the other and waits for an offer: the lower peer id dials, as
          // it would re-dial (spec §4); the other goes on waiting.
          known.weDial = true;
          this.emit({ v: 1, type: 'peer-left', peer: known.peer });
          this.emit({ v: 1, type: 'joined', self: this.selfPeer, peers: [{ peer: known.peer, nonce: known.nonce }] });
        }
        return;
      case 'here':
        return;
      case 'leave':
        if (known !== null) this.departed(slot);
        return;
      case 'signal':
        if (known !== null) this.emit({ v: 1, type: 'signal', from: known.peer, blob: frame.blob });
        return;
      default:
        assertNever(frame, 'broker frame');
    }
  }

  private arrived(slot: number, peer: string, nonce: string, weDial: boolean): void {
    const previous = this.members.get(slot);
    this.members.delete(slot);
    // Someone else took the slot of a member that left without a word. (The same room session back in its slot is
    // re-addressed by the room through its nonce, as after a Parley server reconnection.)
    if (previous !== undefined && previous.nonce !== nonce) this.emit({ v: 1, type: 'peer-left', peer: previous.peer });
    for (const [other, member] of [...this.members]) if (member.nonce === nonce) this.members.delete(other);
    this.members.set(slot, { peer, nonce, weDial, lastHeardMs: this.options.clock.nowMs() });
    this.emit(weDial ? { v: 1, type: 'joined', self: this.selfPeer, peers: [{ peer, nonce }] } : { v: 1, type: 'peer-joined', peer, nonce });
  }

  private departed(slot: number): void {
    const member = this.members.get(slot);
    if (member === undefined) return;
    this.members.delete(slot);
    this.emit({ v: 1, type: 'peer-left', peer: member.peer });
  }
}
