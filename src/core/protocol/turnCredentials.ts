/**
 * The answer of the server's /turn-credentials endpoint: ICE servers with short-lived credentials, and how long they
 * last. Parsed strictly, like everything from the network; an empty list means the site has no relay server.
 */
import { parseIceServer, type IceServerConfig } from './appConfig.ts';

export type TurnCredentials = { readonly iceServers: readonly IceServerConfig[]; readonly ttlSeconds: number };

const MAX_SERVERS = 8;
const MAX_TTL_SECONDS = 86_400;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseTurnCredentials(value: unknown): TurnCredentials | { readonly error: string } {
  if (!isRecord(value)) return { error: 'not a JSON object' };
  const keys = Object.keys(value);
  if (keys.length !== 2 || !keys.includes('iceServers') || !keys.includes('ttlSeconds')) return { error: 'needs exactly iceServers and ttlSeconds' };
  const { iceServers: rawServers, ttlSeconds } = value;
  if (typeof ttlSeconds !== 'number' || !Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > MAX_TTL_SECONDS) {
    return { error: `ttlSeconds must be a whole number from 0 to ${MAX_TTL_SECONDS}` };
  }
  if (!Array.isArray(rawServers) || rawServers.length > MAX_SERVERS) return { error: `iceServers must be a list of at most ${MAX_SERVERS}` };
  const iceServers: IceServerConfig[] = [];
  for (const [index, raw] of rawServers.entries()) {
    const parsed = parseIceServer(raw, index);
    if (typeof parsed === 'string') return { error: parsed };
    if (!parsed.urls.every((url) => /^turns?:/.test(url)) || parsed.username === undefined || parsed.credential === undefined) {
      return { error: `iceServers[${index}] must be a turn: server with a username and a credential` };
    }
    iceServers.push(parsed);
  }
  if (iceServers.length > 0 && ttlSeconds === 0) return { error: 'credentials need a lifetime' };
  return { iceServers, ttlSeconds };
}
