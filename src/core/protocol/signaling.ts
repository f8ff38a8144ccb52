/**
 * The signaling wire protocol: JSON text frames between a browser and the signaling server.
 * Shared by both sides so the two can never disagree. The server routes `blob`s without reading them.
 */

export const SIGNALING_VERSION = 1;

/** Room ids are 22 base64url characters (16 bytes from HKDF); peer ids are chosen by the server. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** A connection nonce: 16 random bytes the client picks once per room session, as base64url (22 characters). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{22}$/;
export const NONCE_BYTES = 16;
/** A sealed blob is base64url text; the frame limit bounds it further. */
export const BLOB_PATTERN = /^[A-Za-z0-9_-]{1,60000}$/;
/** A signaling probe's token (§3.1): clients send 8 random bytes as base64url; the server echoes whatever fits. */
export const PROBE_TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,22}$/;
export const PROBE_TOKEN_BYTES = 8;

export type ClientFrame =
  | { readonly v: 1; readonly type: 'join'; readonly room: string; readonly nonce: string }
  | { readonly v: 1; readonly type: 'signal'; readonly to: string; readonly blob: string }
  /** Is this socket still carrying frames both ways? The server answers `pong` with the same token. */
  | { readonly v: 1; readonly type: 'ping'; readonly token: string };

export type ErrorCode =
  | 'malformed'
  | 'unknown-type'
  | 'rate-limited'
  | 'room-full'
  | 'not-joined'
  | 'already-joined'
  | 'unknown-peer'
  | 'idle-timeout'
  | 'server-busy'
  /** The server cannot take a join now (its room directory is out of reach, or it is shutting down); try again, elsewhere. */
  | 'unavailable';

export const ERROR_CODES: readonly ErrorCode[] = [
  'malformed',
  'unknown-type',
  'rate-limited',
  'room-full',
  'not-joined',
  'already-joined',
  'unknown-peer',
  'idle-timeout',
  'server-busy',
  'unavailable',
];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Another member of the room: its peer id and the nonce it chose for its connection. */
export type RoomMember = { readonly peer: string; readonly nonce: string };

export type ServerFrame =
  | { readonly v: 1; readonly type: 'joined'; readonly self: string; readonly peers: readonly RoomMember[] }
  | { readonly v: 1; readonly type: 'peer-joined'; readonly peer: string; readonly nonce: string }
  | { readonly v: 1; readonly type: 'peer-left'; readonly peer: string }
  | { readonly v: 1; readonly type: 'signal'; readonly from: string; readonly blob: string }
  | { readonly v: 1; readonly type: 'pong'; readonly token: string }
  | { readonly v: 1; readonly type: 'error'; readonly code: ErrorCode; readonly message: string };

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ParseError };
export type ParseError = { readonly code: 'malformed' | 'unknown-type'; readonly detail: string };

function fail<T>(code: ParseError['code'], detail: string): ParseResult<T> {
  return { ok: false, error: { code, detail } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonObject(text: unknown): Record<string, unknown> | string {
  if (typeof text !== 'string') return 'frame is not text';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'frame is not JSON';
  }
  if (!isObject(value)) return 'frame is not a JSON object';
  if (value['v'] !== SIGNALING_VERSION) return 'unsupported protocol version';
  return value;
}

function hasExactKeys(obj: Record<string, unknown>, keys: readonly string[]): boolean {
  const actual = Object.keys(obj);
  return actual.length === keys.length && keys.every((key) => Object.hasOwn(obj, key));
}

function isMatching(value: unknown, pattern: RegExp): value is string {
  return typeof value === 'string' && pattern.test(value);
}

function parseRoomMember(value: unknown): RoomMember | null {
  if (!isObject(value) || !hasExactKeys(value, ['peer', 'nonce'])) return null;
  const { peer, nonce } = value;
  return isMatching(peer, PEER_ID_PATTERN) && isMatching(nonce, NONCE_PATTERN) ? { peer, nonce } : null;
}

/** Parses what a browser sent to the server. */
export function parseClientFrame(text: unknown): ParseResult<ClientFrame> {
  const obj = parseJsonObject(text);
  if (typeof obj === 'string') return fail('malformed', obj);
  switch (obj['type']) {
    case 'join':
      if (!hasExactKeys(obj, ['v', 'type', 'room', 'nonce']) || !isMatching(obj['room'], ROOM_ID_PATTERN) || !isMatching(obj['nonce'], NONCE_PATTERN)) {
        return fail('malformed', 'join needs exactly a room id and a connection nonce');
      }
      return { ok: true, value: { v: 1, type: 'join', room: obj['room'], nonce: obj['nonce'] } };
    case 'signal':
      if (
        !hasExactKeys(obj, ['v', 'type', 'to', 'blob']) ||
        !isMatching(obj['to'], PEER_ID_PATTERN) ||
        !isMatching(obj['blob'], BLOB_PATTERN)
      ) {
        return fail('malformed', 'signal needs exactly a peer id and a sealed blob');
      }
      return { ok: true, value: { v: 1, type: 'signal', to: obj['to'], blob: obj['blob'] } };
    case 'ping':
      if (!hasExactKeys(obj, ['v', 'type', 'token']) || !isMatching(obj['token'], PROBE_TOKEN_PATTERN)) {
        return fail('malformed', 'ping needs exactly a short token');
      }
      return { ok: true, value: { v: 1, type: 'ping', token: obj['token'] } };
    default:
      return fail('unknown-type', 'unknown frame type');
  }
}

/** Parses what the server sent to a browser. */
export function parseServerFrame(text: unknown): ParseResult<ServerFrame> {
  const obj = parseJsonObject(text);
  if (typeof obj === 'string') return fail('malformed', obj);
  switch (obj['type']) {
    case 'joined': {
      const peers = obj['peers'];
      if (!hasExactKeys(obj, ['v', 'type', 'self', 'peers']) || !isMatching(obj['self'], PEER_ID_PATTERN) || !Array.isArray(peers) || peers.length > 64) {
        return fail('malformed', 'joined needs a peer id and a list of members');
      }
      const members = peers.map(parseRoomMember);
      if (!members.every((member): member is RoomMember => member !== null)) {
        return fail('malformed', 'joined lists each member as exactly a peer id and a nonce');
      }
      return { ok: true, value: { v: 1, type: 'joined', self: obj['self'], peers: members } };
    }
    case 'peer-joined':
      if (!hasExactKeys(obj, ['v', 'type', 'peer', 'nonce']) || !isMatching(obj['peer'], PEER_ID_PATTERN) || !isMatching(obj['nonce'], NONCE_PATTERN)) {
        return fail('malformed', 'peer-joined needs a peer id and a nonce');
      }
      return { ok: true, value: { v: 1, type: 'peer-joined', peer: obj['peer'], nonce: obj['nonce'] } };
    case 'peer-left':
      if (!hasExactKeys(obj, ['v', 'type', 'peer']) || !isMatching(obj['peer'], PEER_ID_PATTERN)) {
        return fail('malformed', 'peer-left needs a peer id');
      }
      return { ok: true, value: { v: 1, type: 'peer-left', peer: obj['peer'] } };
    case 'signal':
      if (
        !hasExactKeys(obj, ['v', 'type', 'from', 'blob']) ||
        !isMatching(obj['from'], PEER_ID_PATTERN) ||
        !isMatching(obj['blob'], BLOB_PATTERN)
      ) {
        return fail('malformed', 'signal needs a peer id and a sealed blob');
      }
      return { ok: true, value: { v: 1, type: 'signal', from: obj['from'], blob: obj['blob'] } };
    case 'pong':
      if (!hasExactKeys(obj, ['v', 'type', 'token']) || !isMatching(obj['token'], PROBE_TOKEN_PATTERN)) {
        return fail('malformed', 'pong needs exactly a short token');
      }
      return { ok: true, value: { v: 1, type: 'pong', token: obj['token'] } };
    case 'error': {
      const code = obj['code'];
      const message = obj['message'];
      if (
        !hasExactKeys(obj, ['v', 'type', 'code', 'message']) ||
        !isErrorCode(code) ||
        typeof message !== 'string' ||
        message.length > 500
      ) {
        return fail('malformed', 'error needs a known code and a short message');
      }
      return { ok: true, value: { v: 1, type: 'error', code, message } };
    }
    default:
      return fail('unknown-type', 'unknown frame type');
  }
}

export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame);
}
