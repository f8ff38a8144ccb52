/** The signaling hub: owns every WebSocket connection, puts them in rooms and relays sealed blobs within a room. */

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WebSocket, type RawData } from 'ws';
import { assertNever } from '../src/core/assertNever.ts';
import { encodeFrame, parseClientFrame, type ErrorCode, type ServerFrame } from '../src/core/protocol/signaling.ts';
import type { Logger } from './logger.ts';
import { FrameRateLimiter } from './rateLimit.ts';
import { Rooms } from './rooms.ts';
import type { ServerConfig } from './config.ts';

/** The part of the server's configuration that governs connections and rooms. */
export type HubSettings = Pick<
  ServerConfig,
  'maxFrameBytes' | 'maxRoomMembers' | 'maxFramesPerSecond' | 'joinTimeoutMs' | 'heartbeatIntervalMs' | 'maxConnections'
>;

type Membership = { readonly kind: 'lobby' } | { readonly kind: 'room'; readonly roomId: string };

type Connection = {
  readonly peerId: string;
  readonly socket: WebSocket;
  readonly limiter: FrameRateLimiter;
  membership: Membership;
  joinTimer: NodeJS.Timeout | null;
  awaitingPong: boolean;
  /** Set when the server ends the connection, so the close log line says why. */
  closeReason: string | null;
};

/** Close codes from RFC 6455 §7.4.1 and the IANA registry. */
const CLOSE_NORMAL = 1000;
const CLOSE_ABNORMAL = 1006;
const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * A recipient this far behind is not reading; dropping it protects the server's memory and,
 * through the peer-left it triggers, tells its room the truth sooner than the heartbeat would.
 */
const MAX_BUFFERED_FRAMES = 16;

function newPeerId(): string {
  return randomBytes(16).toString('base64url');
}

function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function send(socket: WebSocket, frame: ServerFrame): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(encodeFrame(frame));
}

function errorFrame(code: ErrorCode, message: string): ServerFrame {
  return { v: 1, type: 'error', code, message };
}

export class SignalingHub {
  readonly #settings: HubSettings;
  readonly #log: Logger;
  readonly #connections = new Set<Connection>();
  /** Sockets turned away as `server-busy`, kept only so shutdown can cut them too. */
  readonly #refused = new Set<WebSocket>();
  readonly #rooms: Rooms<Connection>;
  readonly #heartbeat: NodeJS.Timeout;
  #closed = false;

  constructor(settings: HubSettings, log: Logger) {
    this.#settings = settings;
    this.#log = log;
    this.#rooms = new Rooms(settings.maxRoomMembers);
    this.#heartbeat = setInterval(() => this.#checkHeartbeats(), settings.heartbeatIntervalMs);
  }

  /** Takes ownership of a freshly upgraded socket. */
  accept(socket: WebSocket): void {
    const peerId = newPeerId();
    // ws emits 'error' for protocol violations (bad UTF-8, oversized frames); unhandled, it would crash the process.
    socket.on('error', (error) => this.#log({ kind: 'error', peer: peerId, reason: error.message }));

    if (this.#closed || this.#connections.size >= this.#settings.maxConnections) {
      this.#refuseBusy(socket, peerId);
      return;
    }

    const connection: Connection = {
      peerId,
      socket,
      limiter: new FrameRateLimiter(this.#settings.maxFramesPerSecond, performance.now()),
      membership: { kind: 'lobby' },
      joinTimer: null,
      awaitingPong: false,
      closeReason: null,
    };
    this.#connections.add(connection);
    this.#log({ kind: 'open', peer: peerId });

    connection.joinTimer = setTimeout(() => this.#onJoinTimeout(connection), this.#settings.joinTimeoutMs);
    socket.on('message', (data, isBinary) => this.#onMessage(connection, data, isBinary));
    socket.on('pong', () => {
      connection.awaitingPong = false;
    });
    socket.on('close', (code) => this.#onClose(connection, code));
  }

  /** Cuts every socket and stops every timer; resolves once every socket has closed and been logged. */
  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    const sockets = [...this.#refused, ...[...this.#connections].map((connection) => connection.socket)];
    // Sockets still in these sets have not emitted 'close' yet, so each of these will settle.
    const allClosed = Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve))));
    for (const connection of this.#connections) {
      this.#clearJoinTimer(connection);
      this.#end(connection, 'server shutting down', null);
    }
    for (const socket of this.#refused) socket.terminate();
    return allClosed.then(() => undefined);
  }

  #refuseBusy(socket: WebSocket, peerId: string): void {
    const message = this.#closed
      ? 'The server is shutting down; try again later.'
      : 'The server is at its connection limit; try again later.';
    this.#log({ kind: 'refused', peer: peerId, code: 'server-busy', reason: message });
    this.#refused.add(socket);
    socket.on('close', () => this.#refused.delete(socket));
    send(socket, errorFrame('server-busy', message));
    socket.close(CLOSE_TRY_AGAIN_LATER, 'server busy');
  }

  #refuse(connection: Connection, code: ErrorCode, message: string, logIt = true): void {
    if (logIt) this.#log({ kind: 'refused', peer: connection.peerId, code, reason: message });
    send(connection.socket, errorFrame(code, message));
  }

  #onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    // Frames already buffered behind a close we initiated are not worth reading.
    if (connection.socket.readyState !== WebSocket.OPEN) return;

    const decision = connection.limiter.take(performance.now());
    switch (decision) {
      case 'flood':
        this.#refuse(connection, 'rate-limited', 'You kept sending far too fast; closing the connection.');
        this.#end(connection, 'flooding', CLOSE_POLICY_VIOLATION);
        return;
      case 'limit':
        this.#refuse(
          connection,
          'rate-limited',
          'You are sending frames too fast; this one was dropped.',
          connection.limiter.refusalsInWindow === 1,
        );
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
    const bytes = rawDataToBuffer(data);
    if (bytes.length > this.#settings.maxFrameBytes) {
      this.#refuse(
        connection,
        'frame-too-large',
        `Frames may be at most ${this.#settings.maxFrameBytes} bytes; this one was dropped.`,
      );
      return;
    }

    const parsed = parseClientFrame(bytes.toString('utf8'));
    if (!parsed.ok) {
      this.#refuse(connection, parsed.error.code, `The frame was refused: ${parsed.error.detail}.`);
      return;
    }
    const frame = parsed.value;
    switch (frame.type) {
      case 'join':
        this.#onJoin(connection, frame.room);
        return;
      case 'signal':
        this.#onSignal(connection, frame.to, frame.blob);
        return;
      default:
        assertNever(frame, 'client frame');
    }
  }

  #onJoin(connection: Connection, roomId: string): void {
    if (connection.membership.kind === 'room') {
      this.#refuse(connection, 'already-joined', 'This connection has already joined a room.');
      return;
    }
    const outcome = this.#rooms.join(roomId, connection.peerId, connection);
    if (!outcome.ok) {
      this.#refuse(connection, outcome.reason, 'That room is full.');
      return;
    }
    connection.membership = { kind: 'room', roomId };
    this.#clearJoinTimer(connection);
    send(connection.socket, {
      v: 1,
      type: 'joined',
      self: connection.peerId,
      peers: outcome.others.map(([peerId]) => peerId),
    });
    for (const [, other] of outcome.others) {
      this.#deliver(other, { v: 1, type: 'peer-joined', peer: connection.peerId });
    }
  }

  #onSignal(connection: Connection, to: string, blob: string): void {
    const membership = connection.membership;
    switch (membership.kind) {
      case 'lobby':
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
    if (target === undefined) {
      this.#refuse(connection, 'unknown-peer', 'No peer with that id is in your room.');
      return;
    }
    this.#deliver(target, { v: 1, type: 'signal', from: connection.peerId, blob });
  }

  #deliver(target: Connection, frame: ServerFrame): void {
    if (target.socket.bufferedAmount > MAX_BUFFERED_FRAMES * this.#settings.maxFrameBytes) {
      this.#end(target, 'not reading its messages', null);
      return;
    }
    send(target.socket, frame);
  }

  #onJoinTimeout(connection: Connection): void {
    connection.joinTimer = null;
    this.#refuse(connection, 'idle-timeout', 'No room was joined in time; closing the connection.');
    this.#end(connection, 'no room joined in time', CLOSE_NORMAL);
  }

  #checkHeartbeats(): void {
    for (const connection of this.#connections) {
      if (connection.awaitingPong) {
        this.#end(connection, 'no reply to heartbeat', null);
        continue;
      }
      if (connection.socket.readyState !== WebSocket.OPEN) continue;
      connection.awaitingPong = true;
      connection.socket.ping();
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
    this.#clearJoinTimer(connection);
    this.#connections.delete(connection);
    const reason = connection.closeReason ?? (code === CLOSE_ABNORMAL ? 'connection lost' : 'closed by client');
    this.#log({ kind: 'close', peer: connection.peerId, code, reason });
    const membership = connection.membership;
    switch (membership.kind) {
      case 'lobby':
        return;
      case 'room':
        for (const other of this.#rooms.leave(membership.roomId, connection.peerId)) {
          this.#deliver(other, { v: 1, type: 'peer-left', peer: connection.peerId });
        }
        return;
      default:
        assertNever(membership, 'membership');
    }
  }
}
