/** Turns environment variables into a checked ServerConfig, or a plain-words reason why they are wrong. */

import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type LogLevel = 'info' | 'silent';

export type TlsFiles = { readonly certPath: string; readonly keyPath: string };

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
  readonly maxConnections: number;
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
const MAX_ROOM_MEMBERS: IntegerSetting = { name: 'MAX_ROOM_MEMBERS', fallback: 2, min: 2, max: 64 };
const MAX_FRAMES_PER_SECOND: IntegerSetting = { name: 'MAX_FRAMES_PER_SECOND', fallback: 50, min: 1, max: 10000 };
const JOIN_TIMEOUT_MS: IntegerSetting = { name: 'JOIN_TIMEOUT_MS', fallback: 10000, min: 1, max: 3600000 };
const HEARTBEAT_INTERVAL_MS: IntegerSetting = { name: 'HEARTBEAT_INTERVAL_MS', fallback: 30000, min: 10, max: 3600000 };
const MAX_CONNECTIONS: IntegerSetting = { name: 'MAX_CONNECTIONS', fallback: 1000, min: 1, max: 1000000 };

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
        maxConnections: readInteger(env, MAX_CONNECTIONS),
        log: readLogLevel(env),
      },
    };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, message: error.message };
    throw error;
  }
}
