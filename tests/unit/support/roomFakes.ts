/**
 * In-memory fakes for RoomSession's ports: a manual clock, a signaling server that speaks the real wire
 * protocol (parsed with the real parsers), a pair-able fake WebRTC peer, and a recording transfer endpoint.
 * Everything asynchronous goes through one Scheduler (setImmediate, FIFO), so a test can tell when the
 * fakes have nothing left in flight.
 */
import type { Clock } from '../../../src/core/ports.ts';
import type { PeerSignal } from '../../../src/core/protocol/peerSignal.ts';
import { encodeFrame, parseClientFrame, type ErrorCode, type ServerFrame } from '../../../src/core/protocol/signaling.ts';
import type { PeerHandle, PeerHandlers, RoomPlatform, SignalingHandlers } from '../../../src/core/room/roomPorts.ts';
import type { GroupEndpoint, MemberChannel, TransferEndpoint } from '../../../src/core/room/roomSession.ts';
import { messageText, type GroupFrame } from '../../../src/core/protocol/groupMessages.ts';
import type { GroupChatFrame, GroupViolation } from '../../../src/core/group/groupChat.ts';
import type { TransferChannel } from '../../../src/core/transfer/transferManager.ts';
import type { ChunkHeader, TransferControl } from '../../../src/core/transfer/transferMessages.ts';

// ---- scheduling ----------------------------------------------------------------------------------

/** Runs callbacks on later macrotasks, in the order they were scheduled, and counts what is still due. */
export class Scheduler {
  private pending = 0;

  get inFlight(): number {
    return this.pending;
  }

  schedule(callback: () => void): void {
    this.pending += 1;
    setImmediate(() => {
      this.pending -= 1;
      callback();
    });
  }

  /** Counts `work` as in flight until it settles. */
  track(work: Promise<void>): void {
    this.pending += 1;
    void work.finally(() => {
      this.pending -= 1;
    });
  }
}

// ---- clock ---------------------------------------------------------------------------------------

interface ManualTimer {
  readonly owner: string;
  readonly serial: number;
  readonly atMs: number;
  readonly callback: () => void;
  live: boolean;
}

/** A clock whose timers fire only when the test advances it. Timers are tagged with the owner that set them. */
export class FakeClock {
  private now = 1_000_000;
  private serial = 0;
  private timers: ManualTimer[] = [];

  nowMs(): number {
    return this.now;
  }

  /** The Clock port for one participant; its timers are counted under `owner`. */
  for(owner: string): Clock {
    return {
      nowMs: () => this.now,
      setTimer: (delayMs, callback) => {
        const timer: ManualTimer = { owner, serial: this.serial++, atMs: this.now + delayMs, callback, live: true };
        this.timers.push(timer);
        return () => {
          timer.live = false;
        };
      },
    };
  }

  /** Live timers (of `owner`, or of everyone), with how long until each is due. */
  pending(owner?: string): { readonly owner: string; readonly dueInMs: number }[] {
    return this.timers
      .filter((timer) => timer.live && (owner === undefined || timer.owner === owner))
      .map((timer) => ({ owner: timer.owner, dueInMs: timer.atMs - this.now }));
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, earliest first. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const due = this.timers
        .filter((timer) => timer.live && timer.atMs <= target)
        .sort((a, b) => a.atMs - b.atMs || a.serial - b.serial)[0];
      if (due === undefined) break;
      due.live = false;
      this.now = due.atMs;
      due.callback();
    }
    this.now = target;
    this.timers = this.timers.filter((timer) => timer.live);
  }
}

// ---- signaling server ------------------------------------------------------------------------------

export interface RelayedSignal {
  readonly from: string;
  readonly to: string;
  /** The nonces sender and recipient joined with, as the server passed them on. */
  readonly fromNonce: string;
  readonly toNonce: string;
  readonly blob: string;
  readonly fromOwner: string;
  readonly toOwner: string;
}

export interface FakeConnection {
  readonly owner: string;
  readonly id: string;
  readonly handlers: SignalingHandlers;
  room: string | null;
  /** The nonce the client sent in its join. */
  nonce: string | null;
  /** open: a live member; ghost: the client is gone but the server has not noticed yet; closed: gone. */
  serverState: 'open' | 'ghost' | 'closed';
  /** The network between them holds everything in both directions, and neither end is told (a silent cut). */
  silent: boolean;
  /** Pings the client sent, whether or not they arrived. */
  pings: number;
  /** Whether the client can still receive events on this socket. */
  clientOpen: boolean;
  /** Whether the client itself called close(). */
  closedByClient: boolean;
  /** Raw text the client sent, in order. */
  readonly fromClient: string[];
  /** Raw data delivered to the client (onMessage), in order. */
  readonly toClient: unknown[];
}

/**
 * The signaling server's behaviour (§3.3 of PROTOCOL.md) in memory: rooms of at most `maxMembers`,
 * `joined` / `peer-joined` / `peer-left`, `signal` relayed within a room with `from` stamped by the
 * server, and error frames. Client frames are parsed with the real `parseClientFrame`.
 */
export class FakeSignalingServer {
  maxMembers = 2;
  /** Which room a join lands in. An honest server uses the id it was given; a hostile one may not. */
  roomOf: (requested: string) => string = (requested) => requested;
  /**
   * Rewrites a signal in transit: returns the blobs to deliver (none drops it, the same one twice replays it). It may
   * take its time (a hostile server sealing blobs of its own); signals still reach their recipient in order.
   */
  relay: (signal: RelayedSignal) => readonly string[] | Promise<readonly string[]> = (signal) => [signal.blob];
  private relaying: Promise<void> = Promise.resolve();
  /** Whether a join with the nonce of a member still counted replaces it, as Parley's server does (§3.3). */
  replacesSameNonce = true;
  /** Owners whose new sockets never open (a closed tab, a machine off the network). */
  readonly unreachable = new Set<string>();
  /** Owners whose new sockets open only once released (their connection attempts wait out a network outage). */
  private readonly held = new Set<string>();
  /** Every signal as its sender handed it to the server, before `relay` had its way. */
  readonly relayed: RelayedSignal[] = [];
  readonly connections: FakeConnection[] = [];
  private readonly rooms = new Map<string, FakeConnection[]>();
  private readonly idQueues = new Map<string, string[]>();

  constructor(private readonly scheduler: Scheduler) {}

  /** The peer ids the server will give `owner`'s next connections, in order (then `<owner><n>`). */
  assignIds(owner: string, ids: readonly string[]): void {
    this.idQueues.set(owner, [...ids]);
  }

  connector(owner: string): RoomPlatform['connectSignaling'] {
    return (handlers) => {
      const index = this.connections.filter((c) => c.owner === owner).length;
      const id = this.idQueues.get(owner)?.shift() ?? `${owner}${index}`;
      const conn: FakeConnection = {
        owner,
        id,
        handlers,
        room: null,
        nonce: null,
        serverState: 'open',
        silent: false,
        pings: 0,
        clientOpen: true,
        closedByClient: false,
        fromClient: [],
        toClient: [],
      };
      this.connections.push(conn);
      if (this.unreachable.has(owner)) return { send: () => {}, close: () => {} };
      if (!this.held.has(owner)) this.toClient(conn, () => handlers.onOpen());
      return {
        send: (text) => {
          if (!conn.clientOpen || conn.serverState !== 'open') return;
          conn.fromClient.push(text);
          const sent = parseClientFrame(text);
          if (sent.ok && sent.value.type === 'ping') conn.pings += 1;
          if (conn.silent) return;
          this.scheduler.schedule(() => {
            if (conn.serverState === 'open') this.onClientText(conn, text);
          });
        },
        close: () => {
          if (!conn.clientOpen) return;
          conn.closedByClient = true;
          this.closeClientSide(conn);
          // Its close frame sits in the cut network with everything else: the server goes on counting it.
          if (!conn.silent) this.leave(conn);
          else if (conn.serverState === 'open') conn.serverState = 'ghost';
        },
      };
    };
  }

  connectionsOf(owner: string): FakeConnection[] {
    return this.connections.filter((conn) => conn.owner === owner);
  }

  /** The owner's newest connection that the client can still hear on. */
  current(owner: string): FakeConnection {
    const conn = this.connectionsOf(owner).filter((c) => c.clientOpen).at(-1);
    if (conn === undefined) throw new Error(`${owner} has no open signaling connection`);
    return conn;
  }

  /** Ids of the members the server counts in `room` (ghosts included). */
  membersOf(room: string): string[] {
    return (this.rooms.get(room) ?? []).map((conn) => conn.id);
  }

  /** Delivers raw data to the owner's current socket as if the server had sent it. */
  inject(owner: string, data: unknown): void {
    const conn = this.current(owner);
    this.toClient(conn, () => {
      conn.toClient.push(data);
      conn.handlers.onMessage(data);
    });
  }

  /** Delivers a well-formed server frame to the owner's current socket. */
  sendFrame(owner: string, frame: ServerFrame): void {
    this.inject(owner, encodeFrame(frame));
  }

  /**
   * Cuts the owner's socket as a network failure would: the client gets onClose. If the server notices
   * (the default), the others get peer-left at once; otherwise the member lingers as a ghost until `reapGhosts`.
   */
  drop(owner: string, options: { readonly serverNotices?: boolean } = {}): void {
    const conn = this.current(owner);
    this.closeClientSide(conn);
    if (options.serverNotices === false) conn.serverState = 'ghost';
    else this.leave(conn);
  }

  /**
   * Cuts the owner's current socket silently, as an outage further away does: what the client sends is held and
   * lost, nothing reaches it, and neither the client nor the server is told. The server still counts the member.
   */
  silence(owner: string): FakeConnection {
    const conn = this.current(owner);
    conn.silent = true;
    return conn;
  }

  /** From now on the owner's new sockets wait to open until `release`, as connection attempts during an outage do. */
  hold(owner: string): void {
    this.held.add(owner);
  }

  /**
   * The network is back: the close of a silent socket the client gave up reaches the server first (it was sent
   * first), then the owner's waiting sockets that the client has not given up on open.
   */
  release(owner: string): void {
    this.held.delete(owner);
    for (const conn of this.connectionsOf(owner)) if (conn.silent && conn.closedByClient && conn.serverState === 'ghost') this.leave(conn);
    for (const conn of this.connectionsOf(owner)) {
      if (conn.clientOpen && conn.room === null && conn.serverState === 'open' && conn.toClient.length === 0) this.toClient(conn, () => conn.handlers.onOpen());
    }
  }

  /** The heartbeat notices every dead connection: each ghost leaves its room. */
  reapGhosts(): void {
    for (const conn of this.connections) if (conn.serverState === 'ghost') this.leave(conn);
  }

  private closeClientSide(conn: FakeConnection): void {
    if (!conn.clientOpen) return;
    conn.clientOpen = false;
    this.scheduler.schedule(() => conn.handlers.onClose());
  }

  private toClient(conn: FakeConnection, deliver: () => void): void {
    this.scheduler.schedule(() => {
      if (conn.clientOpen && !conn.silent) deliver();
    });
  }

  private send(conn: FakeConnection, frame: ServerFrame): void {
    if (conn.serverState !== 'open') return;
    const text = encodeFrame(frame);
    this.toClient(conn, () => {
      conn.toClient.push(text);
      conn.handlers.onMessage(text);
    });
  }

  private refuse(conn: FakeConnection, code: ErrorCode): void {
    this.send(conn, { v: 1, type: 'error', code, message: `the fake server refused: ${code}` });
  }

  private leave(conn: FakeConnection): void {
    if (conn.serverState === 'closed') return;
    conn.serverState = 'closed';
    if (conn.room === null) return;
    const members = (this.rooms.get(conn.room) ?? []).filter((member) => member !== conn);
    if (members.length === 0) this.rooms.delete(conn.room);
    else this.rooms.set(conn.room, members);
    for (const member of members) this.send(member, { v: 1, type: 'peer-left', peer: conn.id });
  }

  private onClientText(conn: FakeConnection, text: string): void {
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.refuse(conn, parsed.error.code);
      return;
    }
    const frame = parsed.value;
    if (frame.type === 'ping') {
      this.send(conn, { v: 1, type: 'pong', token: frame.token });
      return;
    }
    if (frame.type === 'join') {
      if (conn.room !== null) {
        this.refuse(conn, 'already-joined');
        return;
      }
      const room = this.roomOf(frame.room);
      // The same room session on a new socket replaces its old connection quietly: no peer-left for it.
      for (const old of (this.rooms.get(room) ?? []).filter((member) => this.replacesSameNonce && member.nonce === frame.nonce)) {
        old.serverState = 'closed';
        if (!old.silent) this.closeClientSide(old);
        this.rooms.set(room, (this.rooms.get(room) ?? []).filter((member) => member !== old));
      }
      const members = this.rooms.get(room) ?? [];
      if (members.length >= this.maxMembers) {
        this.refuse(conn, 'room-full');
        return;
      }
      this.send(conn, { v: 1, type: 'joined', self: conn.id, peers: members.map((member) => ({ peer: member.id, nonce: member.nonce ?? '' })) });
      for (const member of members) this.send(member, { v: 1, type: 'peer-joined', peer: conn.id, nonce: frame.nonce });
      conn.room = room;
      conn.nonce = frame.nonce;
      this.rooms.set(room, [...members, conn]);
      return;
    }
    if (conn.room === null) {
      this.refuse(conn, 'not-joined');
      return;
    }
    const target = (this.rooms.get(conn.room) ?? []).find((member) => member.id === frame.to && member !== conn);
    if (target === undefined) {
      this.refuse(conn, 'unknown-peer');
      return;
    }
    const signal: RelayedSignal = {
      from: conn.id,
      to: target.id,
      fromNonce: conn.nonce ?? '',
      toNonce: target.nonce ?? '',
      blob: frame.blob,
      fromOwner: conn.owner,
      toOwner: target.owner,
    };
    this.relayed.push(signal);
    this.relaying = this.relaying.then(async () => {
      for (const blob of await this.relay(signal)) this.send(target, { v: 1, type: 'signal', from: conn.id, blob });
    });
    this.scheduler.track(this.relaying);
  }
}

// ---- WebRTC peers ------------------------------------------------------------------------------------

function fingerprintOf(serial: number): string {
  const bytes = Array.from({ length: 32 }, (_, i) => (i === 0 ? serial >> 8 : i === 1 ? serial : serial * 7 + i * 13) & 0xff);
  return `sha-256 ${bytes.map((byte) => byte.toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
}

/** An SDP carrying the peer's serial (in the o= line, to pair the fakes) and its DTLS fingerprint. */
export function fakeSdp(serial: number, setup: 'actpass' | 'active', fingerprint: string | null = fingerprintOf(serial)): string {
  return [
    'v=0',
    `o=- ${serial} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    ...(fingerprint === null ? [] : [`a=fingerprint:${fingerprint}`]),
    `a=setup:${setup}`,
    'a=mid:0',
    'a=sctp-port:5000',
    '',
  ].join('\r\n');
}

function serialFromSdp(sdp: string): number | null {
  const match = /^o=- (\d+) /m.exec(sdp);
  return match?.[1] === undefined ? null : Number(match[1]);
}

export class FakePeer implements PeerHandle {
  /** Every signal RoomSession passed to `signal()`, in order. */
  readonly received: PeerSignal[] = [];
  /** Every signal this peer emitted through onSignal, in order. */
  readonly emitted: PeerSignal[] = [];
  /** Every byte array RoomSession asked this peer to send. */
  readonly sent: Uint8Array[] = [];
  partner: FakePeer | null = null;
  hasRemoteDescription = false;
  connected = false;
  closed = false;
  /** Whether RoomSession itself destroyed this peer (rather than the link closing from the far side). */
  destroyedLocally = false;
  readonly fingerprint: string;

  constructor(
    private readonly net: FakePeerNetwork,
    readonly serial: number,
    readonly owner: string,
    readonly initiator: boolean,
    /** RoomSession's handlers for this peer; a test may call them directly to act as a misbehaving stack. */
    readonly handlers: PeerHandlers,
  ) {
    this.fingerprint = fingerprintOf(serial);
    if (initiator) {
      net.scheduler.schedule(() => {
        this.emit({ type: 'offer', sdp: fakeSdp(serial, 'actpass', net.withFingerprints ? this.fingerprint : null) });
        this.emit({ type: 'candidate', candidate: { candidate: `candidate:${serial} 1 udp 2122260223 10.0.0.${serial % 250} 5${serial % 1000} typ host`, sdpMLineIndex: 0, sdpMid: '0' } });
      });
    }
  }

  signal(signal: PeerSignal): void {
    this.received.push(signal);
    if (this.closed || signal.type === 'candidate') return;
    // A second description would be a renegotiation; the fake records it and does nothing else.
    if (this.hasRemoteDescription) return;
    this.hasRemoteDescription = true;
    const serial = serialFromSdp(signal.sdp);
    const other = serial === null ? undefined : this.net.peers.find((peer) => peer.serial === serial);
    if (other === undefined) return;
    if (signal.type === 'offer' && !this.initiator && other.initiator) {
      this.partner = other;
      this.net.scheduler.schedule(() => {
        this.emit({ type: 'answer', sdp: fakeSdp(this.serial, 'active', this.net.withFingerprints ? this.fingerprint : null) });
        this.emit({ type: 'candidate', candidate: { candidate: `candidate:${this.serial} 1 udp 2122260223 10.0.1.${this.serial % 250} 6${this.serial % 1000} typ host`, sdpMLineIndex: 0, sdpMid: '0' } });
      });
    } else if (signal.type === 'answer' && this.initiator && other.partner === this) {
      this.partner = other;
      this.net.scheduler.schedule(() => {
        if (this.closed || other.closed) return;
        this.connected = true;
        other.connected = true;
        this.handlers.onConnect();
        other.handlers.onConnect();
      });
    }
  }

  send(bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.sent.push(copy);
    const to = this.partner;
    if (!this.connected || this.closed || to === null) return;
    if (!this.net.carries(this, copy)) return;
    this.net.scheduler.schedule(() => {
      if (!to.closed) to.handlers.onData(copy);
    });
  }

  writable(): Promise<void> {
    return Promise.resolve();
  }

  destroy(): void {
    if (this.closed) return;
    this.destroyedLocally = true;
    this.close();
    const partner = this.partner;
    if (partner !== null && !partner.closed) this.net.scheduler.schedule(() => partner.close());
  }

  /** Delivers arbitrary bytes to this peer's owner as if they had come over the data channel. */
  injectData(bytes: Uint8Array): void {
    this.net.scheduler.schedule(() => {
      if (!this.closed) this.handlers.onData(bytes);
    });
  }

  /** The network between the two ends fails: both sides see the channel close. */
  breakLink(): void {
    const partner = this.partner;
    this.close();
    if (partner !== null) partner.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    // The peer adapter reports 'close' after destroy() too.
    this.net.scheduler.schedule(() => this.handlers.onClose());
  }

  private emit(signal: PeerSignal): void {
    if (this.closed) return;
    this.emitted.push(signal);
    this.handlers.onSignal(signal);
  }
}

export class FakePeerNetwork {
  readonly peers: FakePeer[] = [];
  /** Whether SDPs carry a fingerprint line (a test may turn this off to see the room refuse). */
  withFingerprints = true;
  /** Decides whether a data-channel message crosses the link; default: all do. */
  carries: (from: FakePeer, bytes: Uint8Array) => boolean = () => true;
  private serial = 1;

  constructor(readonly scheduler: Scheduler) {}

  creator(owner: string): RoomPlatform['createPeer'] {
    return (initiator, handlers) => {
      const peer = new FakePeer(this, this.serial++, owner, initiator, handlers);
      this.peers.push(peer);
      return peer;
    };
  }

  peersOf(owner: string): FakePeer[] {
    return this.peers.filter((peer) => peer.owner === owner);
  }
}

// ---- transfers ---------------------------------------------------------------------------------------

/** Records what RoomSession tells its transfer endpoint, per member. */
export class FakeTransfers implements TransferEndpoint {
  /** 'attach <member>' and 'detach <member>' in the order they happened. */
  readonly calls: string[] = [];
  readonly channels = new Map<string, TransferChannel>();
  readonly controls: { readonly memberId: string; readonly message: TransferControl }[] = [];
  readonly chunks: { readonly memberId: string; readonly header: ChunkHeader; readonly data: Uint8Array }[] = [];
  /** Every call of any kind, in order, to check what came before what. */
  readonly sequence: ('attach' | 'detach' | 'control' | 'chunk')[] = [];

  attach(memberId: string, channel: TransferChannel): void {
    this.calls.push(`attach ${memberId}`);
    this.sequence.push('attach');
    this.channels.set(memberId, channel);
  }

  detach(memberId: string): void {
    this.calls.push(`detach ${memberId}`);
    this.sequence.push('detach');
    this.channels.delete(memberId);
  }

  onControl(memberId: string, message: TransferControl): void {
    this.sequence.push('control');
    this.controls.push({ memberId, message });
  }

  onChunk(memberId: string, header: ChunkHeader, data: Uint8Array): void {
    this.sequence.push('chunk');
    this.chunks.push({ memberId, header, data: data.slice() });
  }
}

// ---- group messages ------------------------------------------------------------------------------------

/** Records what RoomSession tells its group endpoint; a test sends through the channels it was handed. */
export class FakeGroup implements GroupEndpoint {
  readonly calls: string[] = [];
  readonly channels = new Map<string, MemberChannel>();
  readonly received: { readonly memberId: string; readonly frame: GroupFrame }[] = [];
  /** What receive() answers; a test sets it to act as an engine that found a violation. */
  verdict: (memberId: string, frame: GroupFrame) => GroupViolation | null = () => null;

  connected(channel: MemberChannel): void {
    this.calls.push(`connected ${channel.memberId}`);
    this.channels.set(channel.memberId, channel);
  }

  disconnected(memberId: string): void {
    this.calls.push(`disconnected ${memberId}`);
    this.channels.delete(memberId);
  }

  receive(memberId: string, frame: GroupChatFrame): GroupViolation | null {
    this.received.push({ memberId, frame });
    return this.verdict(memberId, frame);
  }

  /** The texts of the messages received, in order. */
  texts(): string[] {
    return this.received.flatMap(({ frame }) => (frame.type === 'message' ? [messageText(frame.message) ?? ''] : []));
  }
}
