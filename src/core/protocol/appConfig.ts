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

/** How browsers find each other. Parley's own signaling server is the only mode so far. */
export type SignalingConfig = {
  readonly mode: 'parley';
  /** ws:// or wss:// URLs of the signaling server(s); empty means the server that served the page, at /ws. */
  readonly urls: readonly string[];
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
  if (value['mode'] !== 'parley') return { error: `signaling.mode must be "parley", not ${JSON.stringify(value['mode'])}` };
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
export function resolveSignalingUrls(signaling: SignalingConfig, pageUrl: string): readonly string[] {
  if (signaling.urls.length > 0) return signaling.urls;
  const url = new URL('/ws', pageUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  return [url.href];
}
