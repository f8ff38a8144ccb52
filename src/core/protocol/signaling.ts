/**
 * The signaling wire protocol: JSON text frames between a browser and the signaling server.
 * Shared by both sides so the two can never disagree. The server routes `blob`s without reading them.
 */

export const SIGNALING_VERSION = 1;

/** Room ids are 22 base64url characters (16 bytes from HKDF); peer ids are chosen by the server. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** A sealed blob is base64url text; the frame limit bounds it further. */
export const BLOB_PATTERN = /^[A-Za-z0-9_-]{1,60000}$/;

export type ClientFrame =
  | { readonly v: 1; readonly type: 'join'; readonly room: string }
  | { readonly v: 1; readonly type: 'signal'; readonly to: string; readonly blob: string };

export type ErrorCode =
  | 'malformed'
  | 'unknown-type'
  | 'frame-too-large'
  | 'rate-limited'
  | 'room-full'
  | 'not-joined'
  | 'already-joined'
  | 'unknown-peer'
  | 'idle-timeout'
  | 'server-busy';

export const ERROR_CODES: readonly ErrorCode[] = [
  'malformed',
  'unknown-type',
  'frame-too-large',
  'rate-limited',
  'room-full',
  'not-joined',
  'already-joined',
  'unknown-peer',
  'idle-timeout',
  'server-busy',
];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export type ServerFrame =
  | { readonly v: 1; readonly type: 'joined'; readonly self: string; readonly peers: readonly string[] }
  | { readonly v: 1; readonly type: 'peer-joined'; readonly peer: string }
  | { readonly v: 1; readonly type: 'peer-left'; readonly peer: string }
  | { readonly v: 1; readonly type: 'signal'; readonly from: string; readonly blob: string }
  | { readonly v: 1; readonly type: 'error'; readonly code: ErrorCode; readonly message: string };

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ParseError };
export type ParseError = { readonly code: 'malformed' | 'unknown-type'; readonly detail: string };

function fail<T>(code: ParseError['code'], detail: string): ParseResult<T> {
  return { ok: false, error: { code, detail } };
}

function parseJsonObject(text: unknown): Record<string, unknown> | string {
  if (typeof text !== 'string') return 'frame is not text';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'frame is not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'frame is not a JSON object';
  if ((value as Record<string, unknown>)['v'] !== SIGNALING_VERSION) return 'unsupported protocol version';
  return value as Record<string, unknown>;
}

function hasExactKeys(obj: Record<string, unknown>, keys: readonly string[]): boolean {
  const actual = Object.keys(obj);
  return actual.length === keys.length && keys.every((key) => Object.hasOwn(obj, key));
}

function isMatching(value: unknown, pattern: RegExp): value is string {
  return typeof value === 'string' && pattern.test(value);
}

/** Parses what a browser sent to the server. */
export function parseClientFrame(text: unknown): ParseResult<ClientFrame> {
  const obj = parseJsonObject(text);
  if (typeof obj === 'string') return fail('malformed', obj);
  switch (obj['type']) {
    case 'join':
      if (!hasExactKeys(obj, ['v', 'type', 'room']) || !isMatching(obj['room'], ROOM_ID_PATTERN)) {
        return fail('malformed', 'join needs exactly a room id');
      }
      return { ok: true, value: { v: 1, type: 'join', room: obj['room'] } };
    case 'signal':
      if (
        !hasExactKeys(obj, ['v', 'type', 'to', 'blob']) ||
        !isMatching(obj['to'], PEER_ID_PATTERN) ||
        !isMatching(obj['blob'], BLOB_PATTERN)
      ) {
        return fail('malformed', 'signal needs exactly a peer id and a sealed blob');
      }
      return { ok: true, value: { v: 1, type: 'signal', to: obj['to'], blob: obj['blob'] } };
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
      if (
        !hasExactKeys(obj, ['v', 'type', 'self', 'peers']) ||
        !isMatching(obj['self'], PEER_ID_PATTERN) ||
        !Array.isArray(peers) ||
        peers.length > 64 ||
        !peers.every((peer): peer is string => isMatching(peer, PEER_ID_PATTERN))
      ) {
        return fail('malformed', 'joined needs a peer id and a list of peer ids');
      }
      return { ok: true, value: { v: 1, type: 'joined', self: obj['self'], peers } };
    }
    case 'peer-joined':
    case 'peer-left': {
      const type = obj['type'];
      if (!hasExactKeys(obj, ['v', 'type', 'peer']) || !isMatching(obj['peer'], PEER_ID_PATTERN)) {
        return fail('malformed', `${type} needs a peer id`);
      }
      return { ok: true, value: { v: 1, type, peer: obj['peer'] } };
    }
    case 'signal':
      if (
        !hasExactKeys(obj, ['v', 'type', 'from', 'blob']) ||
        !isMatching(obj['from'], PEER_ID_PATTERN) ||
        !isMatching(obj['blob'], BLOB_PATTERN)
      ) {
        return fail('malformed', 'signal needs a peer id and a sealed blob');
      }
      return { ok: true, value: { v: 1, type: 'signal', from: obj['from'], blob: obj['blob'] } };
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
