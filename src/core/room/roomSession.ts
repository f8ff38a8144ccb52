/**
 * One person's presence in one room (spec §4, §12.3): joins through the signaling server, keeps one WebRTC
 * connection and one secure session with every other member (sealing every signal), admits or holds each
 * verified member, keeps each pair alive (ping, pong, bye) and re-dials it when it breaks, and reports the
 * room's headline and every member's state. Messages and files are not its business: it hands each admitted
 * member's session to the group and transfer endpoints. Platform pieces come in through ports.
 */
import { assertNever } from '../assertNever.ts';
import { bytesEqual, bytesToBase64url } from '../encoding.ts';
import type { Role, SessionKeyPair } from '../crypto/handshake.ts';
import { generateGuestIdentity, samePeerIdentity, type LocalIdentity, type PeerIdentity } from '../crypto/identityProof.ts';
import { memberIdOf } from '../crypto/memberId.ts';
import { deriveRoomKeys, type RoomKeys } from '../crypto/roomSecret.ts';
import { openSignal, sealSignal, type SignalRoute } from '../crypto/signalSeal.ts';
import { dtlsFingerprintFromSdp } from '../crypto/dtlsFingerprint.ts';
import type { GroupFrame } from '../protocol/groupMessages.ts';
import type { GroupChatFrame, GroupViolation } from '../group/groupChat.ts';
import { parsePeerSignal, type PeerSignal } from '../protocol/peerSignal.ts';
import { encodeFrame, NONCE_BYTES, parseServerFrame, type ErrorCode, type RoomMember, type ServerFrame } from '../protocol/signaling.ts';
import { SecureSession, type SessionEvent } from '../session/secureSession.ts';
import type { TransferChannel } from '../transfer/transferManager.ts';
import type { ChunkHeader, TransferControl } from '../transfer/transferMessages.ts';
import { admissionFor, UNDECIDED, type Admission, type RoomKnowledge } from './admission.ts';
import type { KeyPairSource } from './keyPairPool.ts';
import type { PeerHandle, RoomPlatform, SignalingProblem, SignalingSocket } from './roomPorts.ts';
import { roomHeadline, type MemberFailure, type MemberState, type MemberView, type RoomFailure, type RoomPhase, type RoomStatus } from './roomStatus.ts';
import { redialDelayMs, RedialBudget } from './redial.ts';
import { SignalingProbe } from './signalingProbe.ts';

export type RoomEvent =
  | { readonly type: 'status'; readonly status: RoomStatus }
  /** Every member's current view, after any of them changed. */
  | { readonly type: 'members'; readonly members: readonly MemberView[] }
  /** For the conversation's own lines: someone was admitted (first time, or back after leaving) or left. */
  | { readonly type: 'member-joined'; readonly member: MemberView }
  /** `saidBye`: it left on purpose (a guest that did cannot come back: its room session is over). */
  | { readonly type: 'member-left'; readonly member: MemberView; readonly saidBye: boolean };

/** A member's session, as the group messaging engine sees it. */
export interface MemberChannel {
  readonly memberId: string;
  /** Seals and sends one group frame; false if the session is gone (then nothing was sent). */
  send(frame: GroupFrame): boolean;
}

/** The group messaging engine, as the room feeds it (src/core/group). */
export interface GroupEndpoint {
  /** An admitted member's session is secure: resend what it has not acknowledged. */
  connected(channel: MemberChannel): void;
  disconnected(memberId: string): void;
  /** A message, receipts, digests or typing frame from that member; a violation ends its session with that reason. */
  receive(memberId: string, frame: GroupChatFrame): GroupViolation | null;
}

/** The room's view of file transfers, one channel per admitted member. */
export interface TransferEndpoint {
  attach(memberId: string, channel: TransferChannel): void;
  detach(memberId: string): void;
  onControl(memberId: string, message: TransferControl): void;
  onChunk(memberId: string, header: ChunkHeader, data: Uint8Array): void;
}

export interface RoomSessionOptions {
  readonly secret: Uint8Array;
  readonly platform: RoomPlatform;
  readonly onEvent: (event: RoomEvent) => void;
  /** The page's RSA key pairs (one pool for the page, made at load, so joining costs no generation). */
  readonly keyPairs: KeyPairSource;
  /** How long a pair may take from first contact to verified before the member counts as unreachable. */
  readonly connectTimeoutMs?: number;
  readonly transfers?: TransferEndpoint;
  readonly group?: GroupEndpoint;
  /** This side's profile, proven to every member; without one this side is a guest with a key for this room session. */
  readonly identity?: LocalIdentity;
  /** The room's keys, when their derivation from `secret` was begun before the room (roomHeadStart.ts). */
  readonly keys?: Promise<RoomKeys>;
  /**
   * What this person remembers (the room's contacts and every contact's key), read once per verified
   * session and judged by the admission policy. Absent: nothing is remembered. If it throws, the member is held.
   */
  readonly knowledge?: () => RoomKnowledge;
}

/** Data that arrives between the channel opening and our key pair being ready; a hello and a confirm at most. */
const MAX_EARLY_MESSAGES = 4;
const MAX_RECONNECT_DELAY_MS = 15_000;
/** A browser meshes with at most this many others, whatever a server says (spec §12.3). */
export const MAX_OTHER_MEMBERS = 15;
/**
 * What a held member may send before it is admitted (an honest one sends a few messages and offers); more
 * ends its session. Every held-back event is one frame of at most 256 KiB, so this also bounds their memory.
 */
export const MAX_HELD_BACK_EVENTS = 64;
/** Liveness (spec §12.3): ping when nothing was sent for this long… */
export const PING_IDLE_MS = 5_000;
/** …and a session that received nothing for this long is dead. */
export const DEAD_AFTER_MS = 15_000;
/** How often the liveness rules are applied. */
const LIVENESS_TICK_MS = 2_500;
/** After the server says a member with a live session left: how long it has to answer a ping. */
export const PROBE_MS = 2_000;
/** At most this many pings per second are answered; more ends the session (a flood). */
const MAX_PINGS_PER_SECOND = 2;
/** A re-dial's offer that has no answer after this long makes the signaling socket doubtful (spec §12.3). */
export const REDIAL_ANSWER_MS = 5_000;
/**
 * A socket opened to replace one that closed must have joined within this long, or it is replaced in turn; the time
 * doubles with each replacement in a row (up to MAX_REJOIN_TIMEOUT_MS), so a slow network still gets in.
 */
export const REJOIN_TIMEOUT_MS = 4_000;
export const MAX_REJOIN_TIMEOUT_MS = 16_000;

/** What a verified member sends that the room delivers to the app, or holds back while the member is held. */
type PeerEvent =
  | { readonly type: 'group'; readonly frame: GroupChatFrame }
  | { readonly type: 'transfer-control'; readonly message: TransferControl }
  | { readonly type: 'transfer-chunk'; readonly header: ChunkHeader; readonly data: Uint8Array };

interface PairAttempt {
  readonly role: Role;
  readonly handle: PeerHandle;
  localFingerprint: string | null;
  remoteFingerprint: string | null;
  session: SecureSession | null;
  /** Whether the session was handed to the transfer and group endpoints, which must then be told it ended. */
  attached: boolean;
  /** While the member is held: what it sent meanwhile, to deliver in order on admission. */
  heldBack: PeerEvent[] | null;
  readonly earlyMessages: Uint8Array[];
  readonly cancelTimeout: () => void;
  lastReceivedAtMs: number;
  lastSentAtMs: number;
  cancelLiveness: () => void;
  pingsThisSecond: { readonly startMs: number; count: number };
  pingCounter: number;
  /** The attempt's own asynchronous steps (taking a key pair, deriving the member id), in order. */
  work: Promise<void>;
}

/** One other page in the room, under its current server peer id. */
interface Link {
  peerId: string;
  /** The nonce its room session joined with: the same across its reconnections, so it is recognised under a new peer id. */
  readonly nonce: string;
  /** How the server last introduced it: through `joined` (we dial it first) or `peer-joined` (it dials us). */
  learnedVia: 'joined' | 'peer-joined';
  /**
   * Whether the next offer goes the first-contact way (the joiner dials) rather than the lower id's: until its first
   * secure session, and again when the server introduces it anew while its pair is down (spec §12.3), so that both
   * sides agree on who dials whatever each remembers of the other.
   */
  firstContactRule: boolean;
  /**
   * Whether it was already in the room when this room session first joined: judged against what this person
   * remembered before arriving, so joining a group one is new to does not ask about each member already there.
   */
  readonly wasHereFirst: boolean;
  state: MemberState;
  failure: MemberFailure | null;
  attempt: PairAttempt | null;
  peer: PeerIdentity | null;
  memberId: string | null;
  admission: Admission | null;
  /** Whether a session with it was ever admitted in this room session (re-dials then follow the id rule). */
  everSecure: boolean;
  /** Whether the person (or the policy) admitted it at least once and it has not left since: for joined/left lines. */
  announced: boolean;
  /** Listed by the server right now. */
  inRoom: boolean;
  readonly budget: RedialBudget;
  redials: number;
  cancelRedial: () => void;
  cancelProbe: () => void;
}

function linkKey(link: Link): string {
  return link.memberId ?? link.peerId;
}

export class RoomSession {
  private phase: RoomPhase = { kind: 'preparing' };
  private lastStatus: RoomStatus = { kind: 'preparing' };
  private keys: RoomKeys | null = null;
  private identity: LocalIdentity | null = null;
  private socket: SignalingSocket | null = null;
  /** Asks the server whether the current socket still carries frames (spec §3.1), when there is reason to doubt it. */
  private socketProbe: SignalingProbe | null = null;
  private cancelRejoinTimeout: () => void = () => {};
  /**
   * Sockets given up as silent, closed only once a replacement has joined: the server may still hold one, and its
   * close frame must not reach the server before the join that replaces it, or the others would hear peer-left.
   */
  private abandonedSockets: SignalingSocket[] = [];
  private selfId: string | null = null;
  /**
   * Sent in every join of this room session and bound into every sealed signal (§3.4): no signal sealed to an
   * earlier room session opens in this one. Kept across reconnections (where sequence numbers refuse replays), so
   * the others recognise this room session under a new peer id (§12.3).
   */
  private readonly selfNonce: string;
  private readonly links = new Map<string, Link>();
  /** Keys admitted in this room session: back after a drop, they are admitted again at once. */
  private readonly admittedKeys: Uint8Array[] = [];
  private outboundSignalSeq = 0;
  private readonly lastInboundSignalSeq = new Map<string, number>();
  // Signals are sealed and opened asynchronously; chaining keeps the offer ahead of its candidates.
  private outboundSignals: Promise<void> = Promise.resolve();
  private inboundSignals: Promise<void> = Promise.resolve();
  private reconnectAttempts = 0;
  private cancelReconnect: () => void = () => {};
  private someoneWasHere = false;
  private hasJoined = false;
  /**
   * Until the first connection that joined closes: the members it lists in `joined` (one frame from a Parley server,
   * one per member from a PeerJS broker, §3.8) were already here when this room session arrived.
   */
  private onFirstConnection = true;
  /** What this person remembered when the room session started, for the members already in the room then. */
  private knowledgeAtStart: RoomKnowledge | null = null;
  private stopped = false;

  private readonly connectTimeoutMs: number;

  constructor(private readonly options: RoomSessionOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.selfNonce = bytesToBase64url(options.platform.random.bytes(NONCE_BYTES));
  }

  get currentStatus(): RoomStatus {
    return this.lastStatus;
  }

  get members(): readonly MemberView[] {
    return this.memberViews();
  }

  async start(): Promise<void> {
    const [keys, identity] = await Promise.all([this.options.keys ?? deriveRoomKeys(this.options.secret), this.options.identity ?? generateGuestIdentity()]);
    this.keys = keys;
    this.identity = identity;
    try {
      this.knowledgeAtStart = this.options.knowledge?.() ?? null;
    } catch {
      // Unreadable now: each member is then judged when it arrives (and held if it still cannot be read).
      this.knowledgeAtStart = null;
    }
    if (!this.stopped) this.connect();
  }

  /**
   * The person accepts the held member shown to them. `peer` is the identity they were shown; if that member
   * is no longer the one held (its session was replaced meanwhile), nothing happens and the answer is false.
   */
  admitPeer(peer: PeerIdentity): boolean {
    const link = [...this.links.values()].find((candidate) => candidate.state === 'held' && candidate.peer !== null && samePeerIdentity(candidate.peer, peer));
    const attempt = link?.attempt;
    if (link === undefined || attempt === null || attempt === undefined || attempt.heldBack === null || link.admission === null) return false;
    const heldBack = attempt.heldBack;
    attempt.heldBack = null;
    this.admit(link, attempt);
    for (const event of heldBack) {
      // The app may stop the room, or the member may be dropped, while handling one of them.
      if (link.attempt !== attempt) break;
      this.deliver(link, attempt, event);
    }
    return true;
  }

  /** Leaves the room: says goodbye on every session (so the others see it at once), then closes everything. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelReconnect();
    this.endSocketWatch();
    this.closeAbandonedSockets();
    for (const link of this.links.values()) {
      link.cancelRedial();
      this.dropAttempt(link, { sayBye: true });
    }
    this.closeSocket();
  }

  // ---- status ----------------------------------------------------------------------------------

  private memberViews(): MemberView[] {
    const views = new Map<string, MemberView>();
    for (const link of this.links.values()) {
      const view: MemberView = { key: linkKey(link), state: link.state, peer: link.peer, memberId: link.memberId, admission: link.admission, failure: link.failure };
      // A member whose old link still lingers is shown once, by its newest state.
      views.set(view.key, view);
    }
    return [...views.values()];
  }

  private report(): void {
    if (this.stopped) return;
    // A member out of reach may be out of reach because our own socket died in silence: keep asking while one is.
    this.socketProbe?.watch(this.selfId !== null && [...this.links.values()].some((link) => link.state === 'reconnecting' || link.state === 'unreachable'));
    const members = this.memberViews();
    const status = roomHeadline(this.phase, members, this.someoneWasHere);
    this.options.onEvent({ type: 'members', members });
    if (JSON.stringify(status) !== JSON.stringify(this.lastStatus)) {
      this.lastStatus = status;
      this.options.onEvent({ type: 'status', status });
    }
  }

  private setPhase(phase: RoomPhase): void {
    if (this.phase.kind === 'failed' || this.phase.kind === 'room-full') return;
    this.phase = phase;
    this.report();
  }

  private failRoom(failure: RoomFailure): void {
    this.setPhase({ kind: 'failed', failure });
    this.stop();
  }

  private setLinkState(link: Link, state: MemberState, failure: MemberFailure | null = null, saidBye = false): void {
    const wasAnnounced = link.announced;
    link.state = state;
    link.failure = failure;
    if (state === 'left' && wasAnnounced) {
      link.announced = false;
      this.options.onEvent({ type: 'member-left', member: this.viewOf(link), saidBye });
    }
    this.report();
  }

  private viewOf(link: Link): MemberView {
    return { key: linkKey(link), state: link.state, peer: link.peer, memberId: link.memberId, admission: link.admission, failure: link.failure };
  }

  // ---- signaling -------------------------------------------------------------------------------

  private connect(): void {
    const { clock, random } = this.options.platform;
    const socket = this.options.platform.connectSignaling({
      onOpen: () => {
        if (this.socket !== socket || this.keys === null) return;
        socket.send(encodeFrame({ v: 1, type: 'join', room: this.keys.roomId, nonce: this.selfNonce }));
      },
      onMessage: (data) => {
        if (this.socket === socket) this.onServerMessage(data);
      },
      onClose: (problem) => {
        if (this.socket === socket) this.onSocketClosed(problem);
      },
    });
    this.socket = socket;
    this.socketProbe = new SignalingProbe({
      clock,
      random,
      sendPing: (token) => socket.send(encodeFrame({ v: 1, type: 'ping', token })),
      onSilent: () => {
        if (this.socket !== socket) return;
        // It joined, so the server may still hold it: closed once a replacement has joined (abandonedSockets).
        this.socket = null;
        this.abandonedSockets.push(socket);
        this.onSocketClosed();
      },
    });
    // A replacement opened while the network is still gone may hang in TCP's connect back-off: replace it in turn.
    if (this.hasJoined) {
      const timeoutMs = Math.min(MAX_REJOIN_TIMEOUT_MS, REJOIN_TIMEOUT_MS * 2 ** Math.max(0, this.reconnectAttempts - 1));
      this.cancelRejoinTimeout = clock.setTimer(timeoutMs, () => {
        // Never in the room, so closing it tells nobody anything; and a browser opens its next socket to the same
        // server only once this one stops connecting (RFC 6455 §4.1).
        if (this.socket !== socket || this.selfId !== null) return;
        this.closeSocket();
        this.onSocketClosed();
      });
    }
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = null;
    this.endSocketWatch();
    socket?.close();
  }

  private closeAbandonedSockets(): void {
    for (const socket of this.abandonedSockets.splice(0)) socket.close();
  }

  private endSocketWatch(): void {
    this.socketProbe?.end();
    this.socketProbe = null;
    this.cancelRejoinTimeout();
  }

  /** There is reason to think our signaling socket may be dead (spec §12.3): ask the server, if we are in the room. */
  private doubtSignaling(): void {
    if (this.selfId !== null) this.socketProbe?.doubt();
  }

  private onSocketClosed(problem?: SignalingProblem): void {
    this.socket = null;
    this.selfId = null;
    this.endSocketWatch();
    if (this.hasJoined) this.onFirstConnection = false;
    if (this.stopped || this.phase.kind === 'failed' || this.phase.kind === 'room-full') return;
    if (problem !== undefined && !this.hasJoined) {
      // Never in the room, and the adapter knows why: retrying in silence would be a spinner that explains nothing.
      this.failRoom(problem.kind === 'unreachable' ? { kind: 'signaling-unreachable', endpoint: problem.endpoint } : { kind: 'signaling-refused', endpoint: problem.endpoint });
      return;
    }
    // Verified sessions live on their direct connections and do not need the server; anything less does. A member we
    // were connected to and are re-dialling is kept a while: the next socket will most likely find it still here.
    for (const link of [...this.links.values()]) {
      link.inRoom = false;
      if (link.attempt?.session?.isSecure === true) continue;
      if (link.everSecure && link.state !== 'failed') this.awaitReintroduction(link);
      else this.forget(link);
    }
    this.setPhase({ kind: 'reconnecting' });
    const delayMs = Math.min(MAX_RECONNECT_DELAY_MS, 500 * 2 ** this.reconnectAttempts) * this.jitter();
    this.reconnectAttempts += 1;
    this.cancelReconnect = this.options.platform.clock.setTimer(delayMs, () => this.connect());
  }

  /** A factor in [0.5, 1.5), so that members who dropped together do not come back in lockstep. */
  private jitter(): number {
    const [byte = 0] = this.options.platform.random.bytes(1);
    return 0.5 + byte / 256;
  }

  private onServerMessage(data: unknown): void {
    const parsed = parseServerFrame(data);
    if (!parsed.ok) {
      this.failRoom({ kind: 'server-unintelligible', detail: parsed.error.detail });
      return;
    }
    this.onServerFrame(parsed.value);
  }

  private onServerFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'joined':
        this.onJoined(frame.self, frame.peers);
        return;
      case 'peer-joined':
        this.onPeerJoined({ peer: frame.peer, nonce: frame.nonce });
        return;
      case 'peer-left':
        this.onPeerLeft(frame.peer);
        return;
      case 'signal':
        this.enqueueInboundSignal(frame.from, frame.blob);
        return;
      case 'pong':
        this.socketProbe?.answered(frame.token);
        return;
      case 'error':
        this.onServerRefusal(frame.code);
        return;
      default:
        assertNever(frame, 'server frame');
    }
  }

  private onJoined(self: string, peers: readonly RoomMember[]): void {
    if (peers.length > MAX_OTHER_MEMBERS) {
      this.failRoom({ kind: 'too-many-members' });
      return;
    }
    // Back-off resets only on a real join: a server that keeps answering room-full is retried ever more slowly.
    this.reconnectAttempts = 0;
    this.cancelRejoinTimeout();
    this.closeAbandonedSockets();
    this.selfId = self;
    for (const member of peers) {
      // Our own earlier connection, listed by a server that has not yet seen it die (§12.3).
      if (member.nonce === this.selfNonce) continue;
      const known = this.recognise(member);
      // Still connected to it from before our socket (or the server) went down: keep that session.
      if (known === null) this.startAttempt(this.newLink(member, 'joined', this.onFirstConnection), 'initiator');
      else this.reintroduce(known, 'joined');
    }
    this.hasJoined = true;
    this.setPhase({ kind: 'joined' });
  }

  private onPeerJoined(member: RoomMember): void {
    if (member.nonce === this.selfNonce) return;
    const known = this.recognise(member);
    if (known !== null) {
      this.reintroduce(known, 'peer-joined');
      return;
    }
    if (this.activeLinks() >= MAX_OTHER_MEMBERS) return;
    const link = this.newLink(member, 'peer-joined', false);
    this.awaitOffer(link);
    this.report();
  }

  /**
   * A member the server lists that we already know: the same peer id, or the same room session (nonce) back under
   * a new peer id after its socket reconnected. It is re-addressed; null if it is a stranger.
   */
  private recognise(member: RoomMember): Link | null {
    const known = this.links.get(member.peer) ?? [...this.links.values()].find((link) => link.nonce === member.nonce);
    if (known === undefined || known.nonce !== member.nonce) return null;
    if (known.peerId !== member.peer) {
      this.links.delete(known.peerId);
      known.peerId = member.peer;
      this.links.set(member.peer, known);
    }
    known.inRoom = true;
    known.cancelProbe();
    return known;
  }

  /**
   * The server introduced a member we know. A live session is kept and nothing is dialled. A pair that is down starts
   * afresh under the ids of now: signals of its attempt went to an address (its old socket or ours) that is gone, and
   * the first-contact rule (the joiner dials) is one both sides agree on whatever each remembers of the other.
   */
  private reintroduce(link: Link, via: Link['learnedVia']): void {
    if (link.attempt?.session?.isSecure === true || link.state === 'failed') return;
    link.learnedVia = via;
    link.firstContactRule = true;
    link.cancelRedial();
    this.dropAttempt(link);
    if (link.everSecure) link.state = 'reconnecting';
    if (via === 'joined') this.startAttempt(link, 'initiator');
    else this.awaitOffer(link);
    this.report();
  }

  /** While we have no socket, a member whose pair is down is kept for the next one to find, but not for ever. */
  private awaitReintroduction(link: Link): void {
    this.dropAttempt(link);
    link.cancelRedial();
    link.cancelRedial = this.options.platform.clock.setTimer(this.connectTimeoutMs, () => {
      if (!link.inRoom && this.links.get(link.peerId) === link) this.forget(link);
    });
  }

  private onPeerLeft(peerId: string): void {
    const link = this.links.get(peerId);
    if (link === undefined) return;
    link.inRoom = false;
    const attempt = link.attempt;
    if (attempt?.session?.isSecure === true) {
      // It may only have lost its socket: a live session answers a ping at once. The server is the prompt
      // witness of a closed tab, so silence for PROBE_MS means it is gone.
      this.probe(link, attempt);
      return;
    }
    this.dropAttempt(link);
    this.forget(link);
  }

  private onServerRefusal(code: ErrorCode): void {
    switch (code) {
      case 'room-full':
        if (this.hasJoined) {
          // We were in this room a moment ago: the server is probably still counting our dropped
          // connection until its heartbeat notices. Keep trying instead of giving up our place.
          this.closeSocket();
          this.onSocketClosed();
        } else {
          this.setPhase({ kind: 'room-full' });
          this.stop();
        }
        return;
      case 'unavailable':
        // This server cannot place us in a room just now (it lost its room directory, or it is shutting down):
        // another server, or this one a moment later, can. Live sessions go on meanwhile.
        this.closeSocket();
        this.onSocketClosed();
        this.setPhase({ kind: 'server-unavailable' });
        return;
      case 'unknown-peer':
        // Our signal raced the member leaving; the server's peer-left follows and settles the state.
        return;
      case 'malformed':
      case 'unknown-type':
      case 'rate-limited':
      case 'not-joined':
      case 'already-joined':
      case 'idle-timeout':
      case 'server-busy':
        this.failRoom({ kind: 'server-refused', code });
        return;
      default:
        assertNever(code, 'signaling error code');
    }
  }

  private activeLinks(): number {
    return [...this.links.values()].filter((link) => link.state !== 'left').length;
  }

  private newLink(member: RoomMember, learnedVia: Link['learnedVia'], wasHereFirst: boolean): Link {
    const peerId = member.peer;
    const link: Link = {
      peerId,
      nonce: member.nonce,
      learnedVia,
      firstContactRule: true,
      wasHereFirst,
      state: 'connecting',
      failure: null,
      attempt: null,
      peer: null,
      memberId: null,
      admission: null,
      everSecure: false,
      announced: false,
      inRoom: true,
      budget: new RedialBudget(this.options.platform.clock),
      redials: 0,
      cancelRedial: () => {},
      cancelProbe: () => {},
    };
    this.links.set(peerId, link);
    return link;
  }

  /** A member that is gone for good from this room session: its entry goes (and, if it was shown, it left). */
  private forget(link: Link): void {
    link.cancelRedial();
    link.cancelProbe();
    this.dropAttempt(link);
    if (link.announced) this.setLinkState(link, 'left');
    this.links.delete(link.peerId);
    this.report();
  }

  /** Whether we make the offer for this link: a first contact goes the joiner's way, re-dials the lower id's. */
  private weDial(link: Link): boolean {
    if (link.firstContactRule) return link.learnedVia === 'joined';
    return this.selfId !== null && this.selfId < link.peerId;
  }

  private awaitOffer(link: Link): void {
    link.cancelRedial();
    // The offer should follow at once; if it never does, say so rather than wait forever.
    link.cancelRedial = this.options.platform.clock.setTimer(this.connectTimeoutMs, () => {
      if (link.attempt === null && this.links.get(link.peerId) === link) this.unreachable(link);
    });
  }

  private enqueueInboundSignal(from: string, blob: string): void {
    const keys = this.keys;
    const selfId = this.selfId;
    // The route is fixed on arrival, so a member re-addressed or gone meanwhile cannot make an earlier honest signal
    // unopenable. A signal from a peer the server never announced cannot be bound to a room session: dropped.
    const fromNonce = this.links.get(from)?.nonce;
    if (keys === null || selfId === null || fromNonce === undefined) return;
    const route: SignalRoute = { roomId: keys.roomId, fromPeerId: from, fromNonce, toPeerId: selfId, toNonce: this.selfNonce };
    this.inboundSignals = this.inboundSignals.then(() => this.onInboundSignal(keys, route, blob));
  }

  private async onInboundSignal(keys: RoomKeys, route: SignalRoute, blob: string): Promise<void> {
    if (this.stopped) return;
    const from = route.fromPeerId;
    const opened = await openSignal(keys.signalKey, route, blob);
    if (this.stopped) return;
    const link = this.links.get(from);
    if (!opened.ok) {
      // Only that member's connection is refused; the room goes on with the others.
      if (link !== undefined) this.failLink(link, { kind: 'signal-rejected' });
      return;
    }
    const lastSeq = this.lastInboundSignalSeq.get(from) ?? -1;
    if (opened.seq <= lastSeq) {
      if (link !== undefined) this.failLink(link, { kind: 'signal-rejected' });
      return;
    }
    this.lastInboundSignalSeq.set(from, opened.seq);
    if (link === undefined || link.state === 'failed') return;
    const signal = opened.signal;
    if (signal.type === 'offer') {
      // Only the member the dialing rule names may offer; an offer from it starts afresh (it gave up the old pair).
      if (this.weDial(link)) return;
      this.dropAttempt(link);
      this.startAttempt(link, 'responder');
    }
    const attempt = link.attempt;
    // Late candidates from an attempt that already ended have nowhere to go.
    if (attempt === null) return;
    if (signal.type === 'offer' || signal.type === 'answer') {
      // Renegotiation is not part of the protocol: once the handshake started, its fingerprints are fixed.
      if (attempt.session !== null || attempt.remoteFingerprint !== null) return;
      attempt.remoteFingerprint = dtlsFingerprintFromSdp(signal.sdp);
    }
    attempt.handle.signal(signal);
  }

  private sendSignal(link: Link, attempt: PairAttempt, signal: PeerSignal): void {
    const keys = this.keys;
    const selfId = this.selfId;
    if (keys === null || selfId === null) return;
    const seq = this.outboundSignalSeq++;
    const to = link.peerId;
    const route: SignalRoute = { roomId: keys.roomId, fromPeerId: selfId, fromNonce: this.selfNonce, toPeerId: to, toNonce: link.nonce };
    this.outboundSignals = this.outboundSignals.then(async () => {
      const blob = await sealSignal(keys.signalKey, route, seq, signal, this.options.platform.random);
      if (link.attempt === attempt) this.socket?.send(encodeFrame({ v: 1, type: 'signal', to, blob }));
    });
  }

  // ---- one pair's connection ----------------------------------------------------------------------

  private startAttempt(link: Link, role: Role): void {
    const { platform } = this.options;
    link.cancelRedial();
    const handle = platform.createPeer(role === 'initiator', {
      onSignal: (raw) => {
        const signal = parsePeerSignal(raw);
        if (link.attempt !== attempt || signal === null) return;
        if (signal.type === 'offer' || signal.type === 'answer') attempt.localFingerprint = dtlsFingerprintFromSdp(signal.sdp);
        this.sendSignal(link, attempt, signal);
      },
      onConnect: () => {
        if (link.attempt === attempt) this.then(attempt, () => this.startSession(link, attempt));
      },
      onData: (bytes) => {
        if (link.attempt !== attempt) return;
        attempt.lastReceivedAtMs = platform.clock.nowMs();
        if (attempt.session !== null) {
          attempt.session.receive(bytes);
        } else if (attempt.earlyMessages.length < MAX_EARLY_MESSAGES) {
          attempt.earlyMessages.push(bytes);
        } else {
          this.failLink(link, { kind: 'verification-failed', detail: 'the member sent data before the handshake could start' });
        }
      },
      onClose: () => {
        if (link.attempt === attempt) this.pairBroke(link);
      },
    });
    const nowMs = platform.clock.nowMs();
    const cancelConnectTimeout = platform.clock.setTimer(this.connectTimeoutMs, () => {
      if (link.attempt !== attempt || attempt.session?.isSecure === true) return;
      // A member we were connected to before is most likely behind a bad network again: keep trying.
      if (attempt.session === null || link.everSecure) this.unreachable(link);
      else this.failLink(link, { kind: 'verification-failed', detail: 'the handshake did not finish in time' });
    });
    // Our re-dial's offer went through the server; if no answer comes back, the server may not have it (§12.3).
    const cancelAnswerWatch =
      role === 'initiator' && link.everSecure
        ? platform.clock.setTimer(REDIAL_ANSWER_MS, () => {
            if (link.attempt === attempt && attempt.remoteFingerprint === null) this.doubtSignaling();
          })
        : () => {};
    const attempt: PairAttempt = {
      role,
      handle,
      localFingerprint: null,
      remoteFingerprint: null,
      session: null,
      attached: false,
      heldBack: null,
      earlyMessages: [],
      cancelTimeout: () => {
        cancelConnectTimeout();
        cancelAnswerWatch();
      },
      lastReceivedAtMs: nowMs,
      lastSentAtMs: nowMs,
      cancelLiveness: () => {},
      pingsThisSecond: { startMs: nowMs, count: 0 },
      pingCounter: 0,
      work: Promise.resolve(),
    };
    link.attempt = attempt;
    if (link.state !== 'reconnecting') link.state = 'connecting';
    this.report();
  }

  private async startSession(link: Link, attempt: PairAttempt): Promise<void> {
    const keys = this.keys;
    const identity = this.identity;
    const { localFingerprint, remoteFingerprint } = attempt;
    if (keys === null || identity === null) return;
    if (localFingerprint === null || remoteFingerprint === null) {
      this.failLink(link, { kind: 'verification-failed', detail: 'the connection offered no DTLS fingerprint to verify' });
      return;
    }
    // A re-dial stays "reconnecting" to the person until it is through.
    if (!link.everSecure) this.setLinkState(link, 'verifying');
    let keyPair: SessionKeyPair;
    try {
      keyPair = await this.options.keyPairs.take();
    } catch (error) {
      this.failLink(link, { kind: 'verification-failed', detail: `could not make session keys: ${String(error)}` });
      return;
    }
    if (link.attempt !== attempt) return;
    const session = new SecureSession({
      role: attempt.role,
      authKey: keys.authKey,
      keyPair,
      localFingerprint,
      remoteFingerprint,
      identity,
      send: (frame) => {
        attempt.lastSentAtMs = this.options.platform.clock.nowMs();
        attempt.handle.send(frame);
      },
      random: this.options.platform.random,
      onEvent: (event) => {
        if (link.attempt === attempt) this.onSessionEvent(link, attempt, event);
      },
    });
    attempt.session = session;
    session.start();
    attempt.earlyMessages.splice(0).forEach((bytes) => session.receive(bytes));
  }

  /** Runs `step` after the attempt's earlier asynchronous steps, so they finish in the order they began. */
  private then(attempt: PairAttempt, step: () => Promise<void>): void {
    attempt.work = attempt.work.then(step);
  }

  private onSessionEvent(link: Link, attempt: PairAttempt, event: SessionEvent): void {
    switch (event.type) {
      case 'secure':
        attempt.cancelTimeout();
        this.then(attempt, () => this.verified(link, attempt, event.peer));
        return;
      // After the identity's own step (deriving the member id), so nothing overtakes the admission decision.
      case 'group': {
        const { frame } = event;
        this.then(attempt, async () => {
          if (link.attempt === attempt) this.onGroupFrame(link, attempt, frame);
        });
        return;
      }
      case 'transfer-control':
      case 'transfer-chunk':
        this.then(attempt, async () => {
          if (link.attempt === attempt) this.fromPeer(link, attempt, event);
        });
        return;
      case 'failed':
        this.failLink(link, event.failure);
        return;
      default:
        assertNever(event, 'session event');
    }
  }

  /** Liveness frames are the room's own; the rest is the member's content, shown only if it is admitted. */
  private onGroupFrame(link: Link, attempt: PairAttempt, frame: GroupFrame): void {
    switch (frame.type) {
      case 'ping': {
        const nowMs = this.options.platform.clock.nowMs();
        const window = attempt.pingsThisSecond;
        if (nowMs - window.startMs >= 1_000) attempt.pingsThisSecond = { startMs: nowMs, count: 0 };
        attempt.pingsThisSecond.count += 1;
        if (attempt.pingsThisSecond.count > MAX_PINGS_PER_SECOND) {
          this.failLink(link, { kind: 'misbehaved', detail: 'it sent pings faster than the protocol allows' });
          return;
        }
        attempt.session?.sendGroupFrame({ type: 'pong', n: frame.n });
        return;
      }
      case 'pong':
        // Any frame proves the pair alive; onData already noted it.
        return;
      case 'bye':
        this.dropAttempt(link);
        this.setLinkState(link, 'left', null, true);
        return;
      case 'message':
      case 'receipts':
      case 'digests':
      case 'typing':
        this.fromPeer(link, attempt, { type: 'group', frame });
        return;
      default:
        assertNever(frame, 'group frame');
    }
  }

  /** The member's identity checked out: find out who it is, then admit or hold it as the policy says. */
  private async verified(link: Link, attempt: PairAttempt, peer: PeerIdentity): Promise<void> {
    const memberId = await memberIdOf(peer.publicKeySpki);
    if (link.attempt !== attempt) return;
    // The same member under an older link (its page reconnected with a new peer id): this pair replaces it.
    for (const other of [...this.links.values()]) {
      if (other !== link && other.memberId === memberId) {
        link.announced ||= other.announced;
        other.announced = false;
        other.cancelRedial();
        this.dropAttempt(other);
        this.links.delete(other.peerId);
      }
    }
    link.peer = peer;
    link.memberId = memberId;
    link.everSecure = true;
    link.firstContactRule = false;
    link.redials = 0;
    let admission: Admission;
    try {
      const current = this.options.knowledge?.() ?? { roomContacts: [], allContacts: [] };
      // Those already here when we arrived are judged by whom the room remembered before; every contact's key still counts.
      const remembered = link.wasHereFirst && this.knowledgeAtStart !== null ? { ...current, roomContacts: this.knowledgeAtStart.roomContacts } : current;
      admission = admissionFor(peer, { ...remembered, admittedHere: this.admittedKeys });
    } catch {
      // An app that cannot say what it knows must not let the member in unasked; holding shows the person who it is.
      admission = UNDECIDED;
    }
    link.admission = admission;
    this.watchLiveness(link, attempt);
    if (admission.decision === 'admit') {
      this.admit(link, attempt);
    } else {
      attempt.heldBack = [];
      this.setLinkState(link, 'held');
    }
  }

  /** The member may talk: it is connected, and its session goes to the group and transfer endpoints. */
  private admit(link: Link, attempt: PairAttempt): void {
    const session = attempt.session;
    const memberId = link.memberId;
    if (session === null || memberId === null || link.peer === null) return;
    const key = link.peer.publicKeySpki;
    if (!this.admittedKeys.some((known) => bytesEqual(known, key))) this.admittedKeys.push(key);
    attempt.attached = true;
    const firstTime = !link.announced;
    link.announced = true;
    this.someoneWasHere = true;
    this.setLinkState(link, 'connected');
    if (firstTime) this.options.onEvent({ type: 'member-joined', member: this.viewOf(link) });
    this.options.transfers?.attach(memberId, {
      sendControl: (message) => session.sendControl(message),
      sendChunk: (header, data) => session.sendChunk(header, data),
      writable: () => attempt.handle.writable(),
    });
    this.options.group?.connected({
      memberId,
      send: (frame) => {
        if (link.attempt !== attempt || !session.isSecure) return false;
        session.sendGroupFrame(frame);
        return true;
      },
    });
  }

  /** Delivered at once from an admitted member; held back, in order and bounded, from a held one. */
  private fromPeer(link: Link, attempt: PairAttempt, event: PeerEvent): void {
    if (attempt.heldBack === null) {
      this.deliver(link, attempt, event);
    } else if (attempt.heldBack.length < MAX_HELD_BACK_EVENTS) {
      attempt.heldBack.push(event);
    } else {
      this.failLink(link, { kind: 'held-overflow' });
    }
  }

  private deliver(link: Link, attempt: PairAttempt, event: PeerEvent): void {
    const memberId = link.memberId;
    if (memberId === null) return;
    switch (event.type) {
      case 'transfer-control':
        this.options.transfers?.onControl(memberId, event.message);
        return;
      case 'transfer-chunk':
        this.options.transfers?.onChunk(memberId, event.header, event.data);
        return;
      case 'group': {
        const violation = this.options.group?.receive(memberId, event.frame) ?? null;
        if (violation !== null && link.attempt === attempt) {
          this.failLink(link, violation.reason === 'flooded' ? { kind: 'flooded', detail: violation.detail } : { kind: 'misbehaved', detail: violation.detail });
        }
        return;
      }
      default:
        assertNever(event, 'peer event');
    }
  }

  // ---- liveness and re-dials -----------------------------------------------------------------------

  private watchLiveness(link: Link, attempt: PairAttempt): void {
    const { clock } = this.options.platform;
    const tick = (): void => {
      if (link.attempt !== attempt || attempt.session?.isSecure !== true) return;
      const nowMs = clock.nowMs();
      if (nowMs - attempt.lastReceivedAtMs >= DEAD_AFTER_MS) {
        this.pairBroke(link);
        return;
      }
      if (nowMs - attempt.lastSentAtMs >= PING_IDLE_MS) attempt.session.sendGroupFrame({ type: 'ping', n: attempt.pingCounter++ });
      attempt.cancelLiveness = clock.setTimer(LIVENESS_TICK_MS, tick);
    };
    attempt.cancelLiveness = clock.setTimer(LIVENESS_TICK_MS, tick);
  }

  /** The server says it left, but its session is up: it has PROBE_MS to prove it is still here. */
  private probe(link: Link, attempt: PairAttempt): void {
    const { clock } = this.options.platform;
    const askedAtMs = clock.nowMs();
    attempt.session?.sendGroupFrame({ type: 'ping', n: attempt.pingCounter++ });
    link.cancelProbe();
    link.cancelProbe = clock.setTimer(PROBE_MS, () => {
      if (link.attempt === attempt && attempt.lastReceivedAtMs <= askedAtMs) {
        this.dropAttempt(link);
        this.setLinkState(link, 'left');
        this.forget(link);
      }
    });
  }

  /** The pair's connection ended (closed, or silent too long): re-dial if the member is still here. */
  private pairBroke(link: Link): void {
    this.dropAttempt(link);
    if (this.stopped) return;
    if (this.selfId === null) {
      // We are between sockets ourselves: nobody can say whether it left; the next socket will tell.
      this.setLinkState(link, 'reconnecting');
      this.awaitReintroduction(link);
      return;
    }
    if (!link.inRoom) {
      if (link.state !== 'left') this.setLinkState(link, 'left');
      this.forget(link);
      return;
    }
    this.setLinkState(link, 'reconnecting');
    this.doubtSignaling();
    this.scheduleRedial(link);
  }

  private scheduleRedial(link: Link): void {
    if (!this.weDial(link)) {
      this.awaitOffer(link);
      return;
    }
    if (!link.budget.take()) {
      // Out of tries for this minute: say so, and try again once the budget allows.
      this.setLinkState(link, 'unreachable', { kind: 'no-connection', relay: this.options.platform.relayRoute() });
      link.cancelRedial = this.options.platform.clock.setTimer(link.budget.msUntilNext(), () => this.redial(link));
      return;
    }
    const delayMs = redialDelayMs(link.redials, this.jitter());
    link.redials += 1;
    link.cancelRedial = this.options.platform.clock.setTimer(delayMs, () => this.redial(link));
  }

  private redial(link: Link): void {
    if (this.stopped || this.links.get(link.peerId) !== link || link.attempt !== null || this.selfId === null) return;
    if (link.state === 'unreachable') link.state = 'reconnecting';
    this.startAttempt(link, 'initiator');
  }

  private unreachable(link: Link): void {
    this.dropAttempt(link);
    this.setLinkState(link, 'unreachable', { kind: 'no-connection', relay: this.options.platform.relayRoute() });
    this.doubtSignaling();
    if (link.inRoom) this.scheduleRedial(link);
  }

  /** That member's session broke a rule: it ends, and the member is not dialled again until it rejoins. */
  private failLink(link: Link, failure: MemberFailure): void {
    this.dropAttempt(link);
    link.cancelRedial();
    this.setLinkState(link, 'failed', failure);
  }

  private dropAttempt(link: Link, { sayBye = false } = {}): void {
    const attempt = link.attempt;
    if (attempt === null) return;
    link.attempt = null;
    attempt.cancelTimeout();
    attempt.cancelLiveness();
    link.cancelProbe();
    // Also after a failed session: its transfers must pause, not wait on a dead channel forever.
    if (attempt.attached && link.memberId !== null) {
      this.options.transfers?.detach(link.memberId);
      this.options.group?.disconnected(link.memberId);
    }
    const session = attempt.session;
    if (sayBye && session?.isSecure === true) {
      // The goodbye is sealed asynchronously: close the connection only once it is on its way.
      void session.sendGroupFrame({ type: 'bye' }).finally(() => {
        session.end();
        attempt.handle.destroy();
      });
      return;
    }
    session?.end();
    attempt.handle.destroy();
  }
}
