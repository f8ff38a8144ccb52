/**
 * The run-time configuration in `config.json` (how browsers find each other, ICE servers, file size limit),
 * parsed strictly: an unknown key or a bad value is refused with a reason a self-hoster can act on.
 */
import { DEFAULT_MAX_FILE_BYTES } from '../transfer/transferLimits.ts';

export { DEFAULT_MAX_FILE_BYTES };

export interface IceServerConfig {
  readonly urls: readonly string[];
  readonly username?: string;
  readonly credential?: string;
}

/** How browsers find each other: Parley's own signaling server, or a PeerJS broker (PeerServer) for a static-only site. */
export type SignalingConfig = ParleySignalingConfig | PeerjsSignalingConfig;

export type ParleySignalingConfig = {
  readonly mode: 'parley';
  /** ws:// or wss:// URLs of the signaling server(s); empty means the server that served the page, at /ws. */
  readonly urls: readonly string[];
};

/** A PeerServer that relays Parley's sealed signals between derived slot ids (spec §3.8). */
export type PeerjsSignalingConfig = {
  readonly mode: 'peerjs';
  /** A DNS name, an IPv4 address or a bracketed IPv6 address: never a URL, never "/" (PeerJS's "this page's host"). */
  readonly host: string;
  readonly port: number;
  /** Starts and ends with "/"; the broker's WebSocket is at `<path>peerjs`. */
  readonly path: string;
  readonly key: string;
  /** wss:// (true) or ws:// (false). */
  readonly secure: boolean;
};

export interface AppConfig {
  readonly signaling: SignalingConfig;
  readonly iceServers: readonly IceServerConfig[];
  /** The largest file this page sends or accepts. */
  readonly maxFileBytes: number;
}

const MAX_FILE_BYTES_CEILING = 4 * 1024 * 1024 * 1024;

export type ConfigResult = { readonly ok: true; readonly config: AppConfig } | { readonly ok: false; readonly reason: string };

const ICE_URL = /^(stun|stuns|turn|turns):[^\s]{1,500}$/;
const MAX_ICE_SERVERS = 16;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MAX_SIGNALING_URLS = 16;
const TOP_LEVEL_KEYS: readonly string[] = ['signaling', 'iceServers', 'maxFileBytes'];

function unknownKey(value: Record<string, unknown>, allowed: readonly string[], where: string): string | null {
  const extra = Object.keys(value).find((key) => !allowed.includes(key));
  if (extra === undefined) return null;
  if (extra === 'signalingUrl') return 'signalingUrl was replaced by "signaling": {"mode": "parley", "urls": ["wss://…/ws"]} (see the README)';
  return `${where} has an unknown setting "${extra}"`;
}

function parseSignalingUrl(value: unknown, index: number): string | { readonly error: string } {
  if (typeof value !== 'string') return { error: `signaling.urls[${index}] must be a ws:// or wss:// URL` };
  try {
    const url = new URL(value);
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return { error: `signaling.urls[${index}] must start with ws:// or wss://, not ${url.protocol}` };
    return url.href;
  } catch {
    return { error: `signaling.urls[${index}] "${value}" is not a URL` };
  }
}

function parseSignaling(value: unknown): SignalingConfig | { readonly error: string } {
  if (value === undefined) return { mode: 'parley', urls: [] };
  if (!isRecord(value)) return { error: 'signaling must be an object such as {"mode": "parley", "urls": []}' };
  if (value['mode'] === 'peerjs') return parsePeerjsSignaling(value);
  if (value['mode'] !== 'parley') return { error: `signaling.mode must be "parley" or "peerjs", not ${JSON.stringify(value['mode'])}` };
  const extra = unknownKey(value, ['mode', 'urls'], 'signaling');
  if (extra !== null) return { error: extra };
  const rawUrls = value['urls'] ?? [];
  if (!Array.isArray(rawUrls) || rawUrls.length > MAX_SIGNALING_URLS) return { error: `signaling.urls must be a list of at most ${MAX_SIGNALING_URLS} URLs` };
  const urls: string[] = [];
  for (const [index, raw] of rawUrls.entries()) {
    const url = parseSignalingUrl(raw, index);
    if (typeof url !== 'string') return url;
    urls.push(url);
  }
  return { mode: 'parley', urls };
}

const BROKER_HOST = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/;
// Both go into the broker's URL as they are (PeerJS does not escape them), so only characters that need no escaping.
const BROKER_PATH = /^\/(?:(?!\.\.?\/)[A-Za-z0-9._~-]+\/)*$/;
const BROKER_KEY = /^[A-Za-z0-9._~-]{1,64}$/;
const MAX_BROKER_PATH_CHARS = 200;

function parsePeerjsSignaling(value: Record<string, unknown>): PeerjsSignalingConfig | { readonly error: string } {
  const extra = unknownKey(value, ['mode', 'host', 'port', 'path', 'key', 'secure'], 'signaling');
  if (extra !== null) return { error: extra };
  const { host, port } = value;
  if (typeof host !== 'string' || !BROKER_HOST.test(host)) {
    return { error: 'signaling.host must be the PeerServer\'s host name or IP address, such as "broker.example.org" (no scheme, port or path)' };
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) return { error: 'signaling.port must be a port number from 1 to 65535' };
  const rawPath = value['path'] ?? '/';
  if (typeof rawPath !== 'string' || rawPath.length > MAX_BROKER_PATH_CHARS || !rawPath.startsWith('/')) {
    return { error: 'signaling.path must be the PeerServer\'s path, starting with "/", such as "/" or "/myapp"' };
  }
  const path = rawPath.endsWith('/') ? rawPath : `${rawPath}/`;
  if (!BROKER_PATH.test(path)) return { error: `signaling.path "${rawPath}" may hold only letters, digits, ".", "_", "~", "-" and "/" between them, and no "." or ".." segment` };
  const key = value['key'] ?? 'peerjs';
  if (typeof key !== 'string' || !BROKER_KEY.test(key)) return { error: 'signaling.key must be 1 to 64 letters, digits, ".", "_", "~" or "-"' };
  const secure = value['secure'] ?? true;
  if (typeof secure !== 'boolean') return { error: 'signaling.secure must be true (wss://) or false (ws://)' };
  return { mode: 'peerjs', host, port, path, key, secure };
}

/** The broker's WebSocket origin, for the Content-Security-Policy's connect-src. */
export function peerjsBrokerOrigin(signaling: PeerjsSignalingConfig): string {
  return `${signaling.secure ? 'wss' : 'ws'}://${signaling.host}:${signaling.port}`;
}

/** How the page names the broker to a person: its host and port, and its path when it has one. */
export function peerjsBrokerName(signaling: PeerjsSignalingConfig): string {
  return `${signaling.host}:${signaling.port}${signaling.path === '/' ? '' : signaling.path}`;
}

export function parseIceServer(value: unknown, index: number): IceServerConfig | string {
  if (!isRecord(value)) return `iceServers[${index}] must be an object`;
  const rawUrls = value['urls'];
  const urls = typeof rawUrls === 'string' ? [rawUrls] : rawUrls;
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((url): url is string => typeof url === 'string' && ICE_URL.test(url))) {
    return `iceServers[${index}].urls must be stun:, stuns:, turn: or turns: URLs`;
  }
  const { username, credential } = value;
  if (username !== undefined && typeof username !== 'string') return `iceServers[${index}].username must be text`;
  if (credential !== undefined && typeof credential !== 'string') return `iceServers[${index}].credential must be text`;
  return {
    urls,
    ...(username === undefined ? {} : { username }),
    ...(credential === undefined ? {} : { credential }),
  };
}

export function parseAppConfig(value: unknown): ConfigResult {
  if (!isRecord(value)) return { ok: false, reason: 'the file is not a JSON object' };
  const extra = unknownKey(value, TOP_LEVEL_KEYS, 'the file');
  if (extra !== null) return { ok: false, reason: extra };
  const signaling = parseSignaling(value['signaling']);
  if ('error' in signaling) return { ok: false, reason: signaling.error };
  const rawIce = value['iceServers'] ?? [];
  if (!Array.isArray(rawIce) || rawIce.length > MAX_ICE_SERVERS) return { ok: false, reason: `iceServers must be a list of at most ${MAX_ICE_SERVERS}` };
  const iceServers: IceServerConfig[] = [];
  for (const [index, entry] of rawIce.entries()) {
    const parsed = parseIceServer(entry, index);
    if (typeof parsed === 'string') return { ok: false, reason: parsed };
    iceServers.push(parsed);
  }
  const maxFileBytes = value['maxFileBytes'] ?? DEFAULT_MAX_FILE_BYTES;
  if (typeof maxFileBytes !== 'number' || !Number.isSafeInteger(maxFileBytes) || maxFileBytes < 0 || maxFileBytes > MAX_FILE_BYTES_CEILING) {
    return { ok: false, reason: `maxFileBytes must be a whole number of bytes up to ${MAX_FILE_BYTES_CEILING}` };
  }
  return { ok: true, config: { signaling, iceServers, maxFileBytes } };
}

/** The signaling URLs to use from a page at `pageUrl`: the configured ones, or `/ws` on the page's own origin. */
export function resolveSignalingUrls(signaling: ParleySignalingConfig, pageUrl: string): readonly string[] {
  if (signaling.urls.length > 0) return signaling.urls;
  const url = new URL('/ws', pageUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  return [url.href];
}
