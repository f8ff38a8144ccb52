/**
 * The signaling hub: owns every WebSocket connection and its state, puts connections in rooms and relays sealed
 * blobs within a room. Everything it sends goes through one path that cuts a client too far behind in reading.
 * Alone it keeps rooms in memory; with a cluster (several instances on Redis) the cluster decides who is in a room
 * and carries frames to members whose connections other instances hold, while members held here are served here.
 */

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WebSocket, type RawData } from 'ws';
import { assertNever } from '../src/core/assertNever.ts';
import { encodeFrame, parseClientFrame, type ErrorCode, type ServerFrame } from '../src/core/protocol/signaling.ts';
import type { ClusterDelivery, ClusterMember, RoomCluster } from './cluster.ts';
import { LOG_WINDOW_MS, type Logger, type TurnAwayLog } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { FirstPerWindow, FrameRateLimiter } from './rateLimit.ts';
import { CountsByKey } from './requestSource.ts';
import { Rooms } from './rooms.ts';
import type { ServerConfig } from './config.ts';

/** The part of the server's configuration that governs connections and rooms. */
export type HubSettings = Pick<
  ServerConfig,
  'maxFrameBytes' | 'maxRoomMembers' | 'maxFramesPerSecond' | 'joinTimeoutMs' | 'heartbeatIntervalMs' | 'maxConnections' | 'maxConnectionsPerAddress'
>;

/**
 * `joining`: the cluster is deciding; frames other instances address to it meanwhile wait in `pending` and follow
 * its `joined`, so that it never hears of a member, or from one, before it knows its room.
 */
type Membership =
  | { readonly kind: 'lobby' }
  | { readonly kind: 'joining'; readonly roomId: string; readonly pending: ServerFrame[] }
  | { readonly kind: 'room'; readonly roomId: string };

type Connection = {
  readonly peerId: string;
  readonly socket: WebSocket;
  /** The key its address is counted under (see addressKey); never logged. */
  readonly address: string;
  readonly limiter: FrameRateLimiter;
  /** Error replies: one per code per second is all an honest client needs to learn what it did wrong. */
  readonly replies: FirstPerWindow<ErrorCode>;
  /** Log lines about its refusals: one per code per LOG_WINDOW_MS, with a count of the rest. */
  readonly loggedRefusals: FirstPerWindow<ErrorCode>;
  membership: Membership;
  joinTimer: NodeJS.Timeout | null;
  /** The payload of the ping not yet answered; only a pong echoing it proves the client is reading. */
  unansweredPing: Buffer | null;
  /** Set when the server ends the connection, so the close log line says why. */
  closeReason: string | null;
  closed: boolean;
};

/** What a room remembers of each member: its connection and the nonce it joined with, which the others are told. */
type RoomMember = { readonly connection: Connection; readonly nonce: string };

/** Close codes from RFC 6455 §7.4.1 and the IANA registry. */
const CLOSE_NORMAL = 1000;
const CLOSE_ABNORMAL = 1006;
const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_SERVICE_RESTART = 1012;
const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * A client this far behind in reading is not reading; dropping it protects the server's memory and, through the
 * peer-left it triggers, tells its room the truth sooner than the heartbeat would.
 */
const MAX_BUFFERED_FRAMES = 16;

const REPLY_WINDOW_MS = 1000;
const PING_PAYLOAD_BYTES = 8;

function newPeerId(): string {
  return randomBytes(16).toString('base64url');
}

function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function errorFrame(code: ErrorCode, message: string): ServerFrame {
  return { v: 1, type: 'error', code, message };
}

export class SignalingHub {
  readonly #settings: HubSettings;
  readonly #log: Logger;
  readonly #turnAways: TurnAwayLog;
  readonly #connections = new Set<Connection>();
  /** Where frames from other instances find their recipients. */
  readonly #byPeerId = new Map<string, Connection>();
  readonly #connectionsByAddress = new CountsByKey();
  /** Sockets turned away as `server-busy`, kept only so shutdown can cut them too. */
  readonly #refused = new Set<WebSocket>();
  readonly #rooms: Rooms<RoomMember>;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #metrics: Metrics;
  #cluster: RoomCluster | null = null;
  #closed = false;

  constructor(settings: HubSettings, log: Logger, turnAways: TurnAwayLog, metrics: Metrics) {
    this.#settings = settings;
    this.#log = log;
    this.#turnAways = turnAways;
    this.#metrics = metrics;
    this.#rooms = new Rooms(settings.maxRoomMembers);
    this.#heartbeat = setInterval(() => this.#checkHeartbeats(), settings.heartbeatIntervalMs);
  }

  /** From now on rooms are shared with other instances through `cluster`; set once, before any connection. */
  useCluster(cluster: RoomCluster): void {
    this.#cluster = cluster;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Rooms with at least one member connected here. */
  get roomCount(): number {
    return this.#rooms.roomCount;
  }

  /** Takes ownership of a freshly upgraded socket from the client counted under `address` (see addressKey). */
  accept(socket: WebSocket, address: string): void {
    if (this.#closed) {
      this.#turnAway(socket, 'server-busy', 'The server is shutting down; connect to another server or try again shortly.', 'unavailable');
      return;
    }
    if (this.#connections.size >= this.#settings.maxConnections) {
      this.#turnAway(socket, 'server-busy', 'The server is at its connection limit; try again later.');
      return;
    }
    if (this.#connectionsByAddress.get(address) >= this.#settings.maxConnectionsPerAddress) {
      this.#turnAway(socket, 'address-busy', 'Your address holds as many connections as one address may; try again later.');
      return;
    }
    this.#connectionsByAddress.add(address);

    const now = performance.now();
    const connection: Connection = {
      peerId: newPeerId(),
      socket,
      address,
      limiter: new FrameRateLimiter(this.#settings.maxFramesPerSecond, now),
      replies: new FirstPerWindow(REPLY_WINDOW_MS),
      loggedRefusals: new FirstPerWindow(LOG_WINDOW_MS),
      membership: { kind: 'lobby' },
      joinTimer: null,
      unansweredPing: null,
      closeReason: null,
      closed: false,
    };
    this.#connections.add(connection);
    this.#byPeerId.set(connection.peerId, connection);
    this.#log({ kind: 'open', peer: connection.peerId });

    // ws emits 'error' for protocol violations (bad UTF-8, oversized frames) and then closes the socket; unhandled, it
    // would crash the process. Its message becomes the reason on the close line, so a violation costs no extra line.
    socket.on('error', (error) => {
      connection.closeReason ??= error.message;
    });
    connection.joinTimer = setTimeout(() => this.#onJoinTimeout(connection), this.#settings.joinTimeoutMs);
    socket.on('message', (data, isBinary) => this.#onMessage(connection, data, isBinary));
    socket.on('pong', (payload) => {
      // An unsolicited pong, or one for an older ping, says nothing about whether the client reads what we send.
      if (connection.unansweredPing?.equals(payload) === true) connection.unansweredPing = null;
    });
    socket.on('close', (code) => this.#onClose(connection, code));
  }

  /**
   * Stops taking connections and closes every socket with 1012 (service restart), so clients reconnect at once,
   * to another instance if they know one; stops every timer. Resolves once every socket has closed and been
   * logged: a client that does not answer the close frame is cut after the close-handshake timeout.
   */
  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    const sockets = [...this.#refused, ...[...this.#connections].map((connection) => connection.socket)];
    // Sockets still in these sets have not emitted 'close' yet, so each of these will settle.
    const allClosed = Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve))));
    for (const connection of this.#connections) {
      this.#clearJoinTimer(connection);
      this.#end(connection, 'server shutting down', CLOSE_SERVICE_RESTART);
    }
    for (const socket of this.#refused) socket.terminate();
    return allClosed.then(() => undefined);
  }

  /**
   * The cluster no longer lists our members: every connection in a room (or joining one) is closed with 1012, so
   * its client joins again, with the same nonce, and the others recognise it; live conversations are not touched.
   */
  rejoinEveryone(): void {
    for (const connection of this.#connections) {
      if (connection.membership.kind !== 'lobby') this.#end(connection, 'room directory lost; join again', CLOSE_SERVICE_RESTART);
    }
  }

  /** Refuses a socket before it becomes a peer; it never gets a peer id or a log line of its own. */
  #turnAway(socket: WebSocket, code: 'server-busy' | 'address-busy', message: string, frameCode: 'server-busy' | 'unavailable' = 'server-busy'): void {
    this.#turnAways.note(code, message);
    socket.on('error', () => {});
    this.#refused.add(socket);
    socket.on('close', () => this.#refused.delete(socket));
    // A socket this fresh has nothing queued, so the backlog rule has nothing to cut.
    socket.send(encodeFrame(errorFrame(frameCode, message)));
    socket.close(CLOSE_TRY_AGAIN_LATER, frameCode === 'server-busy' ? 'server busy' : 'shutting down');
  }


  /** The one way anything reaches a client. */
  #send(connection: Connection, frame: ServerFrame): void {
    const socket = connection.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_FRAMES * this.#settings.maxFrameBytes) {
      this.#end(connection, 'not reading its messages', null);
      return;
    }
    socket.send(encodeFrame(frame));
  }

  /**
   * Tells the client that its frame was refused. Replies and log lines are rationed per code (see Connection), so a
   * client that repeats a mistake costs neither memory nor log space; `always` is for the one reply before a close.
   */
  #refuse(connection: Connection, code: ErrorCode, message: string, reply: 'rationed' | 'always' = 'rationed'): void {
    this.#metrics.refused(code);
    const now = performance.now();
    const suppressed = connection.loggedRefusals.take(code, now);
    if (suppressed !== null) this.#log({ kind: 'refused', peer: connection.peerId, code, reason: message, suppressed });
    if (reply === 'always' || connection.replies.take(code, now) !== null) this.#send(connection, errorFrame(code, message));
  }

  #onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    // Frames already buffered behind a close we initiated are not worth reading.
    if (connection.socket.readyState !== WebSocket.OPEN) return;

    const decision = connection.limiter.take(performance.now());
    switch (decision) {
      case 'flood':
        this.#refuse(connection, 'rate-limited', 'You kept sending far too fast; closing the connection.', 'always');
        this.#end(connection, 'flooding', CLOSE_POLICY_VIOLATION);
        return;
      case 'limit':
        this.#refuse(connection, 'rate-limited', 'You are sending frames too fast; this one was dropped.');
        return;
      case 'allow':
        break;
      default:
        assertNever(decision, 'rate decision');
    }

    if (isBinary) {
      this.#refuse(connection, 'malformed', 'Binary frames are not accepted; send JSON text.');
      return;
    }
    // ws has already closed (1009) any message longer than maxFrameBytes, so what arrives here is within the limit.
    const parsed = parseClientFrame(rawDataToBuffer(data).toString('utf8'));
    if (!parsed.ok) {
      this.#refuse(connection, parsed.error.code, `The frame was refused: ${parsed.error.detail}.`);
      return;
    }
    const frame = parsed.value;
    switch (frame.type) {
      case 'join':
        this.#onJoin(connection, frame.room, frame.nonce);
        return;
      case 'signal':
        this.#onSignal(connection, frame.to, frame.blob);
        return;
      case 'ping':
        // The client asks whether this socket still carries frames both ways (§3.1); it is counted like any frame.
        this.#send(connection, { v: 1, type: 'pong', token: frame.token });
        return;
      default:
        assertNever(frame, 'client frame');
    }
  }

  #onJoin(connection: Connection, roomId: string, nonce: string): void {
    if (connection.membership.kind !== 'lobby') {
      this.#refuse(connection, 'already-joined', 'This connection has already joined a room.');
      return;
    }
    this.#replaceEarlierConnections(roomId, nonce);
    const cluster = this.#cluster;
    if (cluster === null) {
      const outcome = this.#rooms.join(roomId, connection.peerId, { connection, nonce });
      if (!outcome.ok) {
        this.#refuse(connection, outcome.reason, 'That room is full.');
        return;
      }
      this.#admit(connection, roomId, nonce, outcome.others.map(([peer, other]) => ({ peer, nonce: other.nonce, local: true })), []);
      return;
    }
    const pending: ServerFrame[] = [];
    connection.membership = { kind: 'joining', roomId, pending };
    void cluster.join(roomId, connection.peerId, nonce, this.#settings.maxRoomMembers).then((outcome) => {
      if (connection.closed) {
        // It left while the cluster was placing it: take its place back, and tell those who were just told it came.
        if (outcome.ok) void cluster.leave(roomId, connection.peerId);
        return;
      }
      connection.membership = { kind: 'lobby' };
      if (!outcome.ok) {
        if (outcome.reason === 'room-full') this.#refuse(connection, 'room-full', 'That room is full.');
        else this.#refuse(connection, 'unavailable', 'The server cannot reach its room directory just now; join through another server or try again shortly.', 'always');
        return;
      }
      // The cluster has counted it, so the local view only mirrors who is here; it cannot be fuller than the room
      // once an earlier connection of the same room session held here has gone (the cluster removed it too).
      this.#replaceEarlierConnections(roomId, nonce);
      this.#rooms.join(roomId, connection.peerId, { connection, nonce });
      this.#admit(connection, roomId, nonce, outcome.others, pending);
    });
  }

  /**
   * The same room session (its nonce) joins again on a new socket: it found its old one dead (§3.1), which we may not
   * have noticed yet. The old connection leaves the room without a peer-left (the member is still here, and the others
   * re-address it by its nonce when told peer-joined) and is cut, so it neither holds a place nor is listed to anyone.
   */
  #replaceEarlierConnections(roomId: string, nonce: string): void {
    for (const [peer, member] of this.#rooms.members(roomId)) {
      if (member.nonce !== nonce) continue;
      this.#rooms.leave(roomId, peer);
      this.#dropReplaced(member.connection);
    }
  }

  #dropReplaced(connection: Connection): void {
    connection.membership = { kind: 'lobby' };
    this.#end(connection, 'replaced by a new connection of its room session', null);
  }

  /** Tells a newly placed member who is there, and the members held here that it came; then what waited for it. */
  #admit(connection: Connection, roomId: string, nonce: string, others: readonly ClusterMember[], pending: readonly ServerFrame[]): void {
    connection.membership = { kind: 'room', roomId };
    this.#clearJoinTimer(connection);
    this.#send(connection, { v: 1, type: 'joined', self: connection.peerId, peers: others.map(({ peer, nonce: theirs }) => ({ peer, nonce: theirs })) });
    for (const other of others) {
      // Members held elsewhere were told by the cluster.
      const local = other.local ? this.#rooms.find(roomId, other.peer) : undefined;
      if (local !== undefined) this.#send(local.connection, { v: 1, type: 'peer-joined', peer: connection.peerId, nonce });
    }
    for (const frame of pending) this.#send(connection, frame);
  }

  /** Frames other instances address to members held here. */
  deliver(delivery: ClusterDelivery): void {
    for (const peerId of delivery.recipients) {
      const connection = this.#byPeerId.get(peerId);
      if (connection === undefined) continue;
      const membership = connection.membership;
      switch (membership.kind) {
        case 'room':
          // A peer-left naming the recipient itself: its room session joined again through another instance (§3.6).
          if (delivery.frame.type === 'peer-left' && delivery.frame.peer === peerId) {
            this.#rooms.leave(membership.roomId, peerId);
            this.#dropReplaced(connection);
          } else {
            this.#send(connection, delivery.frame);
          }
          break;
        case 'joining':
          membership.pending.push(delivery.frame);
          break;
        case 'lobby':
          break;
        default:
          assertNever(membership, 'membership');
      }
    }
  }


  #onSignal(connection: Connection, to: string, blob: string): void {
    const membership = connection.membership;
    switch (membership.kind) {
      case 'lobby':
      case 'joining':
        this.#refuse(connection, 'not-joined', 'Join a room before sending signals.');
        return;
      case 'room':
        break;
      default:
        assertNever(membership, 'membership');
    }
    if (to === connection.peerId) {
      this.#refuse(connection, 'unknown-peer', 'You cannot send a signal to yourself.');
      return;
    }
    const target = this.#rooms.find(membership.roomId, to);
    if (target !== undefined) {
      this.#metrics.relayed('local');
      this.#send(target.connection, { v: 1, type: 'signal', from: connection.peerId, blob });
      return;
    }
    const cluster = this.#cluster;
    if (cluster === null) {
      this.#refuse(connection, 'unknown-peer', 'No peer with that id is in your room.');
      return;
    }
    // One sender's signals reach Redis in the order sent (one connection, pipelined), and so their recipient.
    void cluster.relay(membership.roomId, connection.peerId, to, blob).then((outcome) => {
      switch (outcome) {
        case 'sent':
          this.#metrics.relayed('cluster');
          return;
        case 'unknown-peer':
          this.#refuse(connection, 'unknown-peer', 'No peer with that id is in your room.');
          return;
        case 'unavailable':
          this.#refuse(connection, 'unavailable', 'The server cannot reach its room directory just now; that signal was not relayed.');
          return;
        default:
          assertNever(outcome, 'relay outcome');
      }
    });
  }

  #onJoinTimeout(connection: Connection): void {
    connection.joinTimer = null;
    this.#refuse(connection, 'idle-timeout', 'No room was joined in time; closing the connection.', 'always');
    this.#end(connection, 'no room joined in time', CLOSE_NORMAL);
  }

  #checkHeartbeats(): void {
    for (const connection of this.#connections) {
      if (connection.unansweredPing !== null) {
        this.#end(connection, 'no reply to heartbeat', null);
        continue;
      }
      if (connection.socket.readyState !== WebSocket.OPEN) continue;
      // Unpredictable, so that a client that does not read cannot answer it blindly.
      connection.unansweredPing = randomBytes(PING_PAYLOAD_BYTES);
      connection.socket.ping(connection.unansweredPing);
    }
  }

  /** Ends a connection from our side: with a close frame when the client deserves to learn why, else by cutting it. */
  #end(connection: Connection, reason: string, closeCode: number | null): void {
    connection.closeReason ??= reason;
    if (closeCode === null) connection.socket.terminate();
    else connection.socket.close(closeCode, reason);
  }

  #clearJoinTimer(connection: Connection): void {
    if (connection.joinTimer !== null) clearTimeout(connection.joinTimer);
    connection.joinTimer = null;
  }

  #onClose(connection: Connection, code: number): void {
    connection.closed = true;
    this.#clearJoinTimer(connection);
    this.#connections.delete(connection);
    this.#byPeerId.delete(connection.peerId);
    this.#connectionsByAddress.remove(connection.address);

    const reason = connection.closeReason ?? (code === CLOSE_ABNORMAL ? 'connection lost' : 'closed by client');
    this.#log({ kind: 'close', peer: connection.peerId, code, reason });
    for (const [refusal, count] of connection.loggedRefusals.drainSuppressed()) {
      this.#log({ kind: 'suppressed', peer: connection.peerId, code: refusal, count });
    }
    const membership = connection.membership;
    switch (membership.kind) {
      case 'lobby':
      // The join's continuation sees `closed` and takes the place back.
      case 'joining':
        return;
      case 'room':
        for (const other of this.#rooms.leave(membership.roomId, connection.peerId)) {
          this.#send(other.connection, { v: 1, type: 'peer-left', peer: connection.peerId });
        }
        // Never rejects: if Redis is away, the reaper removes this member once our lease runs out.
        if (this.#cluster !== null) void this.#cluster.leave(membership.roomId, connection.peerId);
        return;
      default:
        assertNever(membership, 'membership');
    }
  }
}
