/**
 * One person's presence in one room: joins through the signaling server, sets up a WebRTC peer with
 * whoever else is there (sealing every signal), runs the secure session over it, lets the app admit or hold
 * the verified peer, and reports what is happening as a RoomStatus. Platform pieces (socket, peer, clock,
 * randomness) come in through ports.
 */
import { assertNever } from '../assertNever.ts';
import { generateSessionKeyPair, type Role, type SessionKeyPair } from '../crypto/handshake.ts';
import { samePeerIdentity, type LocalIdentity, type PeerIdentity } from '../crypto/identityProof.ts';
import { deriveRoomKeys, type RoomKeys } from '../crypto/roomSecret.ts';
import { openSignal, sealSignal, type SignalRoute } from '../crypto/signalSeal.ts';
import { dtlsFingerprintFromSdp } from '../crypto/dtlsFingerprint.ts';
import { MAX_MESSAGE_TEXT_BYTES, textSizeBytes } from '../protocol/messages.ts';
import { parsePeerSignal, type PeerSignal } from '../protocol/peerSignal.ts';
import { bytesToBase64url } from '../encoding.ts';
import { encodeFrame, NONCE_BYTES, parseServerFrame, type ErrorCode, type ServerFrame } from '../protocol/signaling.ts';
import { SecureSession, type SessionEvent } from '../session/secureSession.ts';
import type { PeerHandle, RoomPlatform, SignalingSocket } from './roomPorts.ts';
import type { TransferChannel } from '../transfer/transferManager.ts';
import type { ChunkHeader, TransferControl } from '../transfer/transferMessages.ts';
import { isTerminal, type RoomFailure, type RoomStatus } from './roomStatus.ts';
import { admissionFor, UNDECIDED, type Admission, type RoomKnowledge } from './admission.ts';
import { TokenBucket, type RateLimit } from './tokenBucket.ts';

export type RoomEvent =
  | { readonly type: 'status'; readonly status: RoomStatus }
  | { readonly type: 'chat'; readonly id: string; readonly text: string; readonly receivedAtMs: number }
  | { readonly type: 'receipt'; readonly id: string };

export type SendResult =
  | { readonly ok: true; readonly id: string; readonly sentAtMs: number }
  | { readonly ok: false; readonly reason: 'not-secure' | 'held' | 'empty' | 'too-long' };

/** A guest without a profile remembers nobody, so the policy admits whoever proves the room secret. */
const NOTHING_REMEMBERED: RoomKnowledge = { roomContacts: [], allContacts: [] };

export interface RoomSessionOptions {
  readonly secret: Uint8Array;
  readonly platform: RoomPlatform;
  readonly onEvent: (event: RoomEvent) => void;
  /** How long a direct connection may take from first contact to verified; then we give up visibly. */
  readonly connectTimeoutMs?: number;
  readonly generateKeyPair?: () => Promise<SessionKeyPair>;
  /** Where file transfers live; they outlast sessions so that an interrupted one can resume. */
  readonly transfers?: TransferEndpoint;
  /** This side's profile, proven to the peer in every session; without one this side is a guest. */
  readonly identity?: LocalIdentity;
  /**
   * What this person remembers (the room's contacts and every contact's key), read once per verified
   * session, before anything flows, and judged by the admission policy (admission.ts). Absent: nothing is
   * remembered. If it throws, the peer is held.
   */
  readonly knowledge?: () => RoomKnowledge;
  /** Chat messages, and separately receipts, an admitted peer may send; PEER_MESSAGE_LIMIT unless a bench needs more. */
  readonly peerMessageLimit?: RateLimit;
}

/** The room's view of its transfer manager. */
export interface TransferEndpoint {
  attach(channel: TransferChannel): void;
  detach(): void;
  onControl(message: TransferControl): void;
  onChunk(header: ChunkHeader, data: Uint8Array): void;
}

/** Data that arrives between the channel opening and our key pair being ready; a hello and a confirm at most. */
const MAX_EARLY_MESSAGES = 4;
const MAX_RECONNECT_DELAY_MS = 15_000;
/** After a direct connection drops while both are still in the room, wait this long before trying again. */
const REDIAL_DELAY_MS = 1_000;
/**
 * What a held peer may send before it is admitted (an honest one sends a few chats and offers); more ends the
 * room. Every held-back event is one frame of at most 256 KiB, so this also bounds the memory they take.
 */
export const MAX_HELD_BACK_EVENTS = 64;
/**
 * Chat messages per admitted peer session, and receipts separately (PROTOCOL.md §6.4; the same numbers as a group's
 * limits per pair, §12.5). A person types a few messages a second at most and a paste is one message; the burst
 * leaves room for a script or a quick volley. Each delivered chat is a line on screen and a record in the history,
 * and each receipt a search of the lines, so without a bound a peer could grow both for as long as the page stays
 * open; past it the session ends instead.
 */
export const PEER_MESSAGE_LIMIT: RateLimit = { perSecond: 20, burst: 50 };

/** What the peer sends once verified: delivered at once to an admitted peer, held back for a held one. */
type PeerEvent = Extract<SessionEvent, { readonly type: 'chat' | 'receipt' | 'transfer-control' | 'transfer-chunk' }>;

interface PeerAttempt {
  readonly peerId: string;
  /** The nonce the peer joined with: its signals and ours are bound to this one connection of it. */
  readonly peerNonce: string;
  readonly role: Role;
  readonly handle: PeerHandle;
  localFingerprint: string | null;
  remoteFingerprint: string | null;
  session: SecureSession | null;
  /** Whether this attempt's session was handed to the transfer manager, which must then be told it ended. */
  transfersAttached: boolean;
  /** While the peer is held: what it sent meanwhile, with arrival times, to deliver in order on admission. */
  heldBack: { readonly event: PeerEvent; readonly receivedAtMs: number }[] | null;
  /** Pace the peer's chat messages and its receipts in this session (held-back ones have their own bound). */
  readonly chatRate: TokenBucket;
  readonly receiptRate: TokenBucket;
  readonly earlyMessages: Uint8Array[];
  readonly cancelTimeout: () => void;
}

export class RoomSession {
  private status: RoomStatus = { kind: 'preparing' };
  private keys: RoomKeys | null = null;
  private socket: SignalingSocket | null = null;
  private selfId: string | null = null;
  /**
   * Sent in every join of this room session and bound into every sealed signal (§3.4): no signal sealed to an earlier
   * room session opens in this one, whatever peer ids the server hands out. Kept across reconnections, where the
   * sequence numbers refuse replays, so that members can be recognised under a new peer id (groups, §12.3).
   */
  private readonly selfNonce: string;
  /** The other members by peer id, with the nonce each joined with. */
  private readonly peersInRoom = new Map<string, string>();
  private attempt: PeerAttempt | null = null;
  private nextKeyPair: Promise<SessionKeyPair>;
  private outboundSignalSeq = 0;
  private readonly lastInboundSignalSeq = new Map<string, number>();
  // Signals are sealed and opened asynchronously; chaining keeps the offer ahead of its candidates.
  private outboundSignals: Promise<void> = Promise.resolve();
  private inboundSignals: Promise<void> = Promise.resolve();
  private reconnectAttempts = 0;
  private cancelReconnect: () => void = () => {};
  private cancelRedial: () => void = () => {};
  private hasBeenSecure = false;
  private hasJoined = false;
  private stopped = false;

  private readonly connectTimeoutMs: number;

  constructor(private readonly options: RoomSessionOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.selfNonce = bytesToBase64url(options.platform.random.bytes(NONCE_BYTES));
    // RSA-3072 generation takes a noticeable moment: start before anyone else is even in the room.
    this.nextKeyPair = this.generateKeyPair();
  }

  get currentStatus(): RoomStatus {
    return this.status;
  }

  async start(): Promise<void> {
    this.keys = await deriveRoomKeys(this.options.secret);
    if (!this.stopped) this.connect();
  }

  send(text: string): SendResult {
    const attempt = this.attempt;
    const session = attempt?.session;
    if (attempt === null || session === null || session === undefined || !session.isSecure) return { ok: false, reason: 'not-secure' };
    if (attempt.heldBack !== null) return { ok: false, reason: 'held' };
    if (text.trim() === '') return { ok: false, reason: 'empty' };
    if (textSizeBytes(text) > MAX_MESSAGE_TEXT_BYTES) return { ok: false, reason: 'too-long' };
    return { ok: true, id: session.sendChat(text), sentAtMs: this.options.platform.clock.nowMs() };
  }

  /**
   * The user accepts the held peer: transfers attach, sending is allowed, and what the peer sent meanwhile
   * is delivered. `peer` is the identity the user was shown; if the held peer is no longer that one (the
   * session was replaced meanwhile), nothing happens and the answer is false.
   */
  admitPeer(peer: PeerIdentity): boolean {
    const attempt = this.attempt;
    const status = this.status;
    if (attempt === null || attempt.heldBack === null || status.kind !== 'held' || !samePeerIdentity(status.peer, peer)) return false;
    const heldBack = attempt.heldBack;
    attempt.heldBack = null;
    this.admit(attempt, status.peer, status.admission);
    for (const { event, receivedAtMs } of heldBack) {
      // The app may stop the room while handling one of them; the rest then has nowhere to go.
      if (this.attempt !== attempt) break;
      this.deliver(attempt, event, receivedAtMs);
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.cancelReconnect();
    this.cancelRedial();
    this.dropAttempt();
    this.closeSocket();
  }

  private generateKeyPair(): Promise<SessionKeyPair> {
    const pending = (this.options.generateKeyPair ?? generateSessionKeyPair)();
    // Failure surfaces when the pair is awaited; this only stops an unhandled-rejection report meanwhile.
    pending.catch(() => {});
    return pending;
  }

  private setStatus(status: RoomStatus): void {
    if (this.stopped || isTerminal(this.status)) return;
    this.status = status;
    this.options.onEvent({ type: 'status', status });
  }

  private failRoom(failure: RoomFailure): void {
    this.setStatus({ kind: 'failed', failure });
    this.stop();
  }

  // ---- signaling -------------------------------------------------------------------------------

  private connect(): void {
    const socket = this.options.platform.connectSignaling({
      onOpen: () => {
        if (this.socket !== socket || this.keys === null) return;
        socket.send(encodeFrame({ v: 1, type: 'join', room: this.keys.roomId, nonce: this.selfNonce }));
      },
      onMessage: (data) => {
        if (this.socket === socket) this.onServerMessage(data);
      },
      onClose: () => {
        if (this.socket === socket) this.onSocketClosed();
      },
    });
    this.socket = socket;
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  private onSocketClosed(): void {
    this.socket = null;
    this.selfId = null;
    this.peersInRoom.clear();
    if (this.stopped || isTerminal(this.status)) return;
    // A verified session lives on the direct connection and does not need the server; anything less does.
    if (this.attempt?.session?.isSecure !== true) {
      this.dropAttempt();
      this.setStatus({ kind: 'reconnecting' });
    }
    const delayMs = Math.min(MAX_RECONNECT_DELAY_MS, 500 * 2 ** this.reconnectAttempts);
    this.reconnectAttempts += 1;
    this.cancelReconnect = this.options.platform.clock.setTimer(delayMs, () => this.connect());
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
        // Back-off resets only on a real join: a server that keeps answering room-full is retried ever more slowly.
        this.reconnectAttempts = 0;
        this.hasJoined = true;
        this.selfId = frame.self;
        this.peersInRoom.clear();
        frame.peers.forEach(({ peer, nonce }) => this.peersInRoom.set(peer, nonce));
        this.pickPeer();
        return;
      case 'peer-joined':
        this.peersInRoom.set(frame.peer, frame.nonce);
        this.pickPeer();
        return;
      case 'peer-left':
        this.peersInRoom.delete(frame.peer);
        if (this.attempt?.peerId === frame.peer) {
          // The server is the prompt witness of a closed tab: Chromium may keep a dead data channel
          // looking open for many seconds. A peer whose server connection merely dropped rejoins and
          // runs a fresh handshake on its own.
          this.endAttempt();
        } else if (this.attempt === null && this.selfId !== null && (this.status.kind === 'reconnecting' || this.status.kind === 'connecting')) {
          // Either the direct link closed just before the server said the peer left, or the peer who was
          // to send us an offer left first: either way we are alone, not redialling or awaiting an offer.
          this.cancelRedial();
          this.settleAlone();
        }
        return;
      case 'signal':
        this.enqueueInboundSignal(frame.from, frame.blob);
        return;
      case 'error':
        this.onServerRefusal(frame.code);
        return;
      default:
        assertNever(frame, 'server frame');
    }
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
          this.setStatus({ kind: 'room-full' });
          this.stop();
        }
        return;
      case 'unknown-peer':
        // Our signal raced the peer leaving; the server's peer-left follows and settles the state.
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

  /** Both sides apply the same rule to the two peer ids, so exactly one of them makes the offer. */
  private pickPeer(): void {
    if (this.attempt !== null || this.selfId === null || this.stopped) return;
    const [peer] = this.peersInRoom;
    if (peer === undefined) {
      this.settleAlone();
      return;
    }
    const [peerId, peerNonce] = peer;
    if (this.selfId < peerId) {
      this.startAttempt(peerId, peerNonce, 'initiator');
    } else {
      this.setStatus({ kind: 'connecting' });
      // The offer should follow at once; if it never does, say so rather than wait forever.
      this.cancelRedial();
      this.cancelRedial = this.options.platform.clock.setTimer(this.connectTimeoutMs, () => {
        if (this.attempt === null && this.status.kind === 'connecting') this.failRoom({ kind: 'no-connection' });
      });
    }
  }

  private enqueueInboundSignal(from: string, blob: string): void {
    const keys = this.keys;
    const selfId = this.selfId;
    if (keys === null || selfId === null) return;
    // The route is fixed on arrival, so a peer-left handled while earlier signals are still being opened cannot
    // make an honest signal that came before it unopenable.
    const fromNonce = this.peersInRoom.get(from);
    this.inboundSignals = this.inboundSignals.then(() =>
      // The server announces every member before relaying its signals; one from a stranger cannot be bound to a
      // connection of its sender, so it is refused like any blob that does not open.
      fromNonce === undefined
        ? this.failRoom({ kind: 'signal-rejected' })
        : this.onInboundSignal(keys, { roomId: keys.roomId, fromPeerId: from, fromNonce, toPeerId: selfId, toNonce: this.selfNonce }, blob),
    );
  }

  private async onInboundSignal(keys: RoomKeys, route: SignalRoute, blob: string): Promise<void> {
    if (this.stopped) return;
    const opened = await openSignal(keys.signalKey, route, blob);
    if (this.stopped) return;
    if (!opened.ok) {
      this.failRoom({ kind: 'signal-rejected' });
      return;
    }
    const { fromPeerId: from, fromNonce, toPeerId: selfId } = route;
    const lastSeq = this.lastInboundSignalSeq.get(from) ?? -1;
    if (opened.seq <= lastSeq) {
      this.failRoom({ kind: 'signal-rejected' });
      return;
    }
    this.lastInboundSignalSeq.set(from, opened.seq);
    const signal = opened.signal;
    // Only the member whose id sorts first may offer, and only to start a connection.
    if (this.attempt === null && signal.type === 'offer' && this.peersInRoom.get(from) === fromNonce && from < selfId) {
      this.startAttempt(from, fromNonce, 'responder');
    }
    const attempt = this.attempt;
    // Late candidates from an attempt that already ended have nowhere to go.
    if (attempt === null || attempt.peerId !== from || attempt.peerNonce !== fromNonce) return;
    if (signal.type === 'offer' || signal.type === 'answer') {
      // Renegotiation is not part of the protocol: once the handshake started, its fingerprints are fixed.
      if (attempt.session !== null || attempt.remoteFingerprint !== null) return;
      attempt.remoteFingerprint = dtlsFingerprintFromSdp(signal.sdp);
    }
    attempt.handle.signal(signal);
  }

  private sendSignal(attempt: PeerAttempt, signal: PeerSignal): void {
    const keys = this.keys;
    const selfId = this.selfId;
    if (keys === null || selfId === null) return;
    const seq = this.outboundSignalSeq++;
    const route: SignalRoute = { roomId: keys.roomId, fromPeerId: selfId, fromNonce: this.selfNonce, toPeerId: attempt.peerId, toNonce: attempt.peerNonce };
    this.outboundSignals = this.outboundSignals.then(async () => {
      const blob = await sealSignal(keys.signalKey, route, seq, signal, this.options.platform.random);
      if (this.attempt === attempt) this.socket?.send(encodeFrame({ v: 1, type: 'signal', to: attempt.peerId, blob }));
    });
  }

  // ---- the direct connection ---------------------------------------------------------------------

  private startAttempt(peerId: string, peerNonce: string, role: Role): void {
    const { platform } = this.options;
    this.cancelRedial();
    this.setStatus({ kind: 'connecting' });
    const handle = platform.createPeer(role === 'initiator', {
      onSignal: (raw) => {
        const signal = parsePeerSignal(raw);
        if (this.attempt !== attempt || signal === null) return;
        if (signal.type === 'offer' || signal.type === 'answer') attempt.localFingerprint = dtlsFingerprintFromSdp(signal.sdp);
        this.sendSignal(attempt, signal);
      },
      onConnect: () => {
        if (this.attempt === attempt) void this.startSession(attempt);
      },
      onData: (bytes) => {
        if (this.attempt !== attempt) return;
        if (attempt.session !== null) {
          attempt.session.receive(bytes);
        } else if (attempt.earlyMessages.length < MAX_EARLY_MESSAGES) {
          attempt.earlyMessages.push(bytes);
        } else {
          this.failRoom({ kind: 'verification-failed', detail: 'the peer sent data before the handshake could start' });
        }
      },
      onClose: () => {
        if (this.attempt === attempt) this.endAttempt();
      },
    });
    const attempt: PeerAttempt = {
      peerId,
      peerNonce,
      role,
      handle,
      localFingerprint: null,
      remoteFingerprint: null,
      session: null,
      transfersAttached: false,
      heldBack: null,
      chatRate: new TokenBucket(this.options.peerMessageLimit ?? PEER_MESSAGE_LIMIT, platform.clock),
      receiptRate: new TokenBucket(this.options.peerMessageLimit ?? PEER_MESSAGE_LIMIT, platform.clock),
      earlyMessages: [],
      cancelTimeout: platform.clock.setTimer(this.connectTimeoutMs, () => {
        if (this.attempt === attempt && attempt.session?.isSecure !== true) {
          this.failRoom(
            attempt.session === null
              ? { kind: 'no-connection' }
              : { kind: 'verification-failed', detail: 'the handshake did not finish in time' },
          );
        }
      }),
    };
    this.attempt = attempt;
  }

  private async startSession(attempt: PeerAttempt): Promise<void> {
    const keys = this.keys;
    const { localFingerprint, remoteFingerprint } = attempt;
    if (keys === null) return;
    if (localFingerprint === null || remoteFingerprint === null) {
      this.failRoom({ kind: 'verification-failed', detail: 'the connection offered no DTLS fingerprint to verify' });
      return;
    }
    this.setStatus({ kind: 'verifying' });
    let keyPair: SessionKeyPair;
    try {
      keyPair = await this.nextKeyPair;
    } catch (error) {
      this.failRoom({ kind: 'verification-failed', detail: `could not make session keys: ${String(error)}` });
      return;
    } finally {
      // Every session gets a key pair of its own; the next one starts now, off the critical path.
      this.nextKeyPair = this.generateKeyPair();
    }
    if (this.attempt !== attempt) return;
    const session = new SecureSession({
      role: attempt.role,
      authKey: keys.authKey,
      keyPair,
      localFingerprint,
      remoteFingerprint,
      send: (frame) => attempt.handle.send(frame),
      random: this.options.platform.random,
      onEvent: (event) => {
        if (this.attempt === attempt) this.onSessionEvent(attempt, event);
      },
      ...(this.options.identity === undefined ? {} : { identity: this.options.identity }),
    });
    attempt.session = session;
    session.start();
    attempt.earlyMessages.splice(0).forEach((bytes) => session.receive(bytes));
  }

  private onSessionEvent(attempt: PeerAttempt, event: SessionEvent): void {
    switch (event.type) {
      case 'secure':
        attempt.cancelTimeout();
        this.hasBeenSecure = true;
        this.judge(attempt, event.peer);
        return;
      case 'chat':
      case 'receipt':
      case 'transfer-control':
      case 'transfer-chunk': {
        const receivedAtMs = this.options.platform.clock.nowMs();
        if (attempt.heldBack === null) {
          // Transfer frames have limits of their own (OfferGate, the window); chat and receipts have this one.
          const rate = event.type === 'chat' ? attempt.chatRate : event.type === 'receipt' ? attempt.receiptRate : null;
          if (rate !== null && !rate.take()) {
            this.failRoom({ kind: 'flooded' });
            return;
          }
          this.deliver(attempt, event, receivedAtMs);
        } else if (attempt.heldBack.length < MAX_HELD_BACK_EVENTS) {
          attempt.heldBack.push({ event, receivedAtMs });
        } else {
          this.failRoom({ kind: 'held-overflow' });
        }
        return;
      }
      case 'group':
        // Group rooms (spec §12) are not wired in yet; until they are, their frames have nowhere to go.
        return;
      case 'failed':
        this.failRoom(event.failure);
        return;
      default:
        assertNever(event, 'session event');
    }
  }

  /** Admits the verified peer or holds it, as the admission policy decides from what this person remembers. */
  private judge(attempt: PeerAttempt, peer: PeerIdentity): void {
    let admission: Admission;
    try {
      admission = admissionFor(peer, this.options.knowledge?.() ?? NOTHING_REMEMBERED);
    } catch {
      // An app that cannot say what it knows must not let the peer in unasked; holding shows the user who it is.
      admission = UNDECIDED;
    }
    if (admission.decision === 'admit') {
      this.admit(attempt, peer, admission);
    } else {
      attempt.heldBack = [];
      this.setStatus({ kind: 'held', peer, admission });
    }
  }

  /** The peer may talk: report it secure and hand the session to the transfer manager. */
  private admit(attempt: PeerAttempt, peer: PeerIdentity, admission: Admission): void {
    this.setStatus({ kind: 'secure', peer, admission });
    const session = attempt.session;
    if (session !== null && this.options.transfers !== undefined) {
      attempt.transfersAttached = true;
      this.options.transfers.attach({
        sendControl: (message) => session.sendControl(message),
        sendChunk: (header, data) => session.sendChunk(header, data),
        writable: () => attempt.handle.writable(),
      });
    }
  }

  private deliver(attempt: PeerAttempt, event: PeerEvent, receivedAtMs: number): void {
    switch (event.type) {
      case 'transfer-control':
        this.options.transfers?.onControl(event.message);
        return;
      case 'transfer-chunk':
        this.options.transfers?.onChunk(event.header, event.data);
        return;
      case 'chat':
        this.options.onEvent({ type: 'chat', id: event.id, text: event.text, receivedAtMs });
        // Only now, shown to the person, is it delivered: a held peer gets no receipt for what waits unseen.
        attempt.session?.sendReceipt(event.id);
        return;
      case 'receipt':
        this.options.onEvent({ type: 'receipt', id: event.id });
        return;
      default:
        assertNever(event, 'peer event');
    }
  }

  private dropAttempt(): void {
    const attempt = this.attempt;
    if (attempt === null) return;
    this.attempt = null;
    attempt.cancelTimeout();
    // Also after a failed session: its transfers must pause, not wait on a dead channel forever.
    if (attempt.transfersAttached) this.options.transfers?.detach();
    attempt.session?.end();
    attempt.handle.destroy();
  }

  /** The direct connection ended: the peer left, or the network between us failed. */
  private endAttempt(): void {
    const attempt = this.attempt;
    this.dropAttempt();
    if (attempt === null || this.stopped || isTerminal(this.status)) return;
    if (this.peersInRoom.has(attempt.peerId)) {
      // Still both in the room, so the link itself broke: try again shortly instead of giving up.
      this.setStatus({ kind: 'reconnecting' });
      this.cancelRedial = this.options.platform.clock.setTimer(REDIAL_DELAY_MS, () => this.pickPeer());
    } else {
      this.settleAlone();
    }
  }

  /** Alone in the room: say that the other person left if there was one, else that we are waiting. */
  private settleAlone(): void {
    this.setStatus(this.hasBeenSecure ? { kind: 'peer-left' } : { kind: 'waiting' });
  }
}
