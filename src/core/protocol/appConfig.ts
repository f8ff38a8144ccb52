/** The run-time configuration in `config.json` (signaling URL, ICE servers, file size limit), parsed strictly. */
import { DEFAULT_MAX_FILE_BYTES } from '../transfer/transferLimits.ts';

export { DEFAULT_MAX_FILE_BYTES };

export interface IceServerConfig {
  readonly urls: readonly string[];
  readonly username?: string;
  readonly credential?: string;
}

export interface AppConfig {
  /** ws:// or wss:// URL of the signaling server; null means the server that served the page, at /ws. */
  readonly signalingUrl: string | null;
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

function parseSignalingUrl(value: unknown): string | null | { readonly error: string } {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return { error: 'signalingUrl must be a ws:// or wss:// URL, or null' };
  try {
    const url = new URL(value);
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return { error: `signalingUrl must start with ws:// or wss://, not ${url.protocol}` };
    return url.href;
  } catch {
    return { error: `signalingUrl "${value}" is not a URL` };
  }
}

function parseIceServer(value: unknown, index: number): IceServerConfig | string {
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
  const signalingUrl = parseSignalingUrl(value['signalingUrl']);
  if (signalingUrl !== null && typeof signalingUrl === 'object') return { ok: false, reason: signalingUrl.error };
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
  return { ok: true, config: { signalingUrl, iceServers, maxFileBytes } };
}

/** The signaling URL to use from a page at `pageUrl`: the configured one, or `/ws` on the page's own origin. */
export function resolveSignalingUrl(config: AppConfig, pageUrl: string): string {
  if (config.signalingUrl !== null) return config.signalingUrl;
  const url = new URL('/ws', pageUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  return url.href;
}
