/** Turns environment variables into a checked ServerConfig, or a plain-words reason why they are wrong. */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeOrigin } from './requestSource.ts';

export type LogLevel = 'info' | 'silent';

export type TlsFiles = { readonly certPath: string; readonly keyPath: string };

/** A TURN server sharing a secret with us (coturn's `use-auth-secret`), for which we mint short-lived credentials. */
export type TurnSettings = { readonly urls: readonly string[]; readonly secret: string; readonly ttlSeconds: number };

export type ServerConfig = {
  readonly port: number;
  readonly host: string;
  readonly staticDir: string;
  readonly tls: TlsFiles | null;
  readonly maxFrameBytes: number;
  readonly maxRoomMembers: number;
  readonly maxFramesPerSecond: number;
  readonly joinTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Time to finish the TLS handshake and send a whole HTTP request (including a WebSocket upgrade). */
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  /** Whether a reverse proxy in front of us says who the client is (X-Forwarded-For, -Proto, -Host). */
  readonly trustProxy: boolean;
  /** Page origins besides the server's own whose pages may open the signaling WebSocket, normalised. */
  readonly allowedOrigins: readonly string[];
  /** Rooms shared with other instances through this Redis; null: this process alone, rooms in memory. */
  readonly redisUrl: string | null;
  readonly turn: TurnSettings | null;
  readonly log: LogLevel;
};

export type ConfigResult = { readonly ok: true; readonly config: ServerConfig } | { readonly ok: false; readonly message: string };

export type Env = Readonly<Record<string, string | undefined>>;

/** The built web app lives next to this folder, wherever the server is started from. */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../dist', import.meta.url));

type IntegerSetting = { readonly name: string; readonly fallback: number; readonly min: number; readonly max: number };

const PORT: IntegerSetting = { name: 'PORT', fallback: 8080, min: 0, max: 65535 };
// The upper bound leaves room for the envelope around the largest blob the protocol allows.
const MAX_FRAME_BYTES: IntegerSetting = { name: 'MAX_FRAME_BYTES', fallback: 65536, min: 256, max: 1048576 };
// Browsers reject a `joined` frame listing more than 64 peers, so a room can never be bigger than that.
// Browsers mesh with at most 15 others (PROTOCOL.md §12.3), so a room of more than 16 would leave people out.
const MAX_ROOM_MEMBERS: IntegerSetting = { name: 'MAX_ROOM_MEMBERS', fallback: 8, min: 2, max: 16 };
const MAX_FRAMES_PER_SECOND: IntegerSetting = { name: 'MAX_FRAMES_PER_SECOND', fallback: 50, min: 1, max: 10000 };
const JOIN_TIMEOUT_MS: IntegerSetting = { name: 'JOIN_TIMEOUT_MS', fallback: 10000, min: 1, max: 3600000 };
const HEARTBEAT_INTERVAL_MS: IntegerSetting = { name: 'HEARTBEAT_INTERVAL_MS', fallback: 30000, min: 10, max: 3600000 };
// Our requests are tiny GETs; a client that takes longer is holding a connection rather than making a request.
const REQUEST_TIMEOUT_MS: IntegerSetting = { name: 'REQUEST_TIMEOUT_MS', fallback: 10000, min: 100, max: 600000 };
const MAX_CONNECTIONS: IntegerSetting = { name: 'MAX_CONNECTIONS', fallback: 1000, min: 1, max: 1000000 };
// A household or office behind one NAT shares an address; 50 leaves room for many tabs while one host cannot starve the rest.
const MAX_CONNECTIONS_PER_IP: IntegerSetting = { name: 'MAX_CONNECTIONS_PER_IP', fallback: 50, min: 1, max: 1000000 };

const TURN_CREDENTIAL_TTL_S: IntegerSetting = { name: 'TURN_CREDENTIAL_TTL_S', fallback: 3600, min: 60, max: 86400 };
/** A shorter secret is guessable offline from one credential (an HMAC of a known username). */
const MIN_TURN_SECRET_LENGTH = 16;
const TURN_URL = /^turns?:[^\s,]{1,500}$/;

class ConfigError extends Error {}

/** Empty values count as unset, so `PORT=` in a compose file means "use the default". */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function readInteger(env: Env, setting: IntegerSetting): number {
  const text = read(env, setting.name);
  if (text === undefined) return setting.fallback;
  const range = `a whole number from ${setting.min} to ${setting.max}`;
  if (!/^[0-9]{1,10}$/.test(text)) {
    throw new ConfigError(`${setting.name} must be ${range}, but it is "${text}".`);
  }
  const value = Number(text);
  if (value < setting.min || value > setting.max) {
    throw new ConfigError(`${setting.name} must be ${range}, but it is ${value}.`);
  }
  return value;
}

function readLogLevel(env: Env): LogLevel {
  const text = read(env, 'LOG');
  if (text === undefined) return 'info';
  switch (text) {
    case 'info':
    case 'silent':
      return text;
    default:
      throw new ConfigError(`LOG must be "info" or "silent", but it is "${text}".`);
  }
}

function readBoolean(env: Env, name: string): boolean {
  const text = read(env, name);
  if (text === undefined) return false;
  switch (text) {
    case 'true':
      return true;
    case 'false':
      return false;
    default:
      throw new ConfigError(`${name} must be "true" or "false", but it is "${text}".`);
  }
}

/** A comma-separated list of page origins such as `https://chat.example.org, https://example.org:8443`. */
function readOrigins(env: Env, name: string): string[] {
  const text = read(env, name);
  if (text === undefined) return [];
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => {
      const origin = normalizeOrigin(item);
      if (origin === null) {
        throw new ConfigError(`${name} must list origins like https://chat.example.org (scheme, host and port only), but it has "${item}".`);
      }
      return origin;
    });
}

function readTls(env: Env): TlsFiles | null {
  const certPath = read(env, 'TLS_CERT');
  const keyPath = read(env, 'TLS_KEY');
  if (certPath === undefined && keyPath === undefined) return null;
  if (certPath === undefined || keyPath === undefined) {
    throw new ConfigError(
      'TLS_CERT and TLS_KEY go together: set both (to serve HTTPS) or neither (to serve plain HTTP).',
    );
  }
  return { certPath: path.resolve(certPath), keyPath: path.resolve(keyPath) };
}

function readRedisUrl(env: Env): string | null {
  const text = read(env, 'REDIS_URL');
  if (text === undefined) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`REDIS_URL must be a URL like redis://127.0.0.1:6379, but it is not one.`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, not ${url.protocol}//.`);
  }
  return text;
}

function readTurn(env: Env): TurnSettings | null {
  const urlsText = read(env, 'TURN_URLS');
  const secret = read(env, 'TURN_SECRET');
  const ttlSeconds = readInteger(env, TURN_CREDENTIAL_TTL_S);
  if (urlsText === undefined && secret === undefined) return null;
  if (urlsText === undefined || secret === undefined) {
    throw new ConfigError('TURN_URLS and TURN_SECRET go together: set both (to hand out TURN credentials) or neither.');
  }
  if (secret.length < MIN_TURN_SECRET_LENGTH) {
    throw new ConfigError(`TURN_SECRET must be at least ${MIN_TURN_SECRET_LENGTH} characters (the same static-auth-secret coturn has).`);
  }
  const urls = urlsText
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const bad = urls.find((url) => !TURN_URL.test(url));
  if (bad !== undefined || urls.length === 0) {
    throw new ConfigError(`TURN_URLS must list turn: or turns: URLs such as turn:turn.example.org:3478, but it has "${bad ?? urlsText}".`);
  }
  return { urls, secret, ttlSeconds };
}

export function parseConfig(env: Env): ConfigResult {
  try {
    const staticDir = read(env, 'STATIC_DIR');
    return {
      ok: true,
      config: {
        port: readInteger(env, PORT),
        host: read(env, 'HOST') ?? '127.0.0.1',
        staticDir: staticDir === undefined ? DEFAULT_STATIC_DIR : path.resolve(staticDir),
        tls: readTls(env),
        maxFrameBytes: readInteger(env, MAX_FRAME_BYTES),
        maxRoomMembers: readInteger(env, MAX_ROOM_MEMBERS),
        maxFramesPerSecond: readInteger(env, MAX_FRAMES_PER_SECOND),
        joinTimeoutMs: readInteger(env, JOIN_TIMEOUT_MS),
        heartbeatIntervalMs: readInteger(env, HEARTBEAT_INTERVAL_MS),
        requestTimeoutMs: readInteger(env, REQUEST_TIMEOUT_MS),
        maxConnections: readInteger(env, MAX_CONNECTIONS),
        maxConnectionsPerAddress: readInteger(env, MAX_CONNECTIONS_PER_IP),
        trustProxy: readBoolean(env, 'TRUST_PROXY'),
        allowedOrigins: readOrigins(env, 'ALLOWED_ORIGINS'),
        redisUrl: readRedisUrl(env),
        turn: readTurn(env),
        log: readLogLevel(env),
      },
    };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, message: error.message };
    throw error;
  }
}
