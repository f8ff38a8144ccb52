/**
 * Where a request comes from: the client address that per-address limits count, and whether the page that opened
 * a WebSocket may use this server. Behind a trusted reverse proxy both come from the proxy's X-Forwarded-* headers.
 */

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export type OriginPolicy = {
  /** Whether this process itself serves HTTPS: the scheme of its own origin when no proxy says otherwise. */
  readonly tls: boolean;
  readonly trustProxy: boolean;
  /** Normalised origins (see normalizeOrigin) accepted besides the server's own. */
  readonly allowedOrigins: ReadonlySet<string>;
};

/**
 * The entry a proxy appended last. Each proxy appends what it saw, so only the right-most entry was written by the
 * proxy we trust; everything to its left came from the client, which can write anything there.
 */
function lastEntry(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  const entry = text?.split(',').at(-1)?.trim();
  return entry === '' ? undefined : entry;
}

/** The address the client connects from: the socket's peer, or with TRUST_PROXY the one our proxy saw. */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = lastEntry(req.headers['x-forwarded-for']);
    if (forwarded !== undefined && isIP(forwarded) !== 0) return forwarded;
  }
  return req.socket.remoteAddress;
}

function ipv4FromGroups(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit groups of a valid IPv6 address (as checked by isIP), with `::` and a dotted IPv4 tail expanded. */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((piece) => {
          if (!piece.includes('.')) return [parseInt(piece, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key under which connections from `address` are counted, or null for something that is not an IP address.
 * IPv4 counts per address. IPv6 counts per /64: one host normally holds a whole /64 (SLAAC, privacy addresses) and
 * can use any address in it, so counting full addresses would give one host 2^64 quotas, while a /64 is what a
 * household's one IPv4 address is. IPv4-mapped IPv6 (how a dual-stack socket reports IPv4 peers) counts as IPv4.
 */
export function addressKey(address: string): string | null {
  const withoutZone = address.split('%', 1)[0] ?? '';
  switch (isIP(withoutZone)) {
    case 4:
      return withoutZone;
    case 6: {
      const groups = ipv6Groups(withoutZone.toLowerCase());
      const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
      if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return ipv4FromGroups(g6, g7);
      return `${groups
        .slice(0, 4)
        .map((group) => group.toString(16))
        .join(':')}::/64`;
    }
    default:
      return null;
  }
}

/**
 * `scheme://host[:port]` as browsers serialise origins (lower case, default port left out), or null if `text` is
 * anything more or less than an http(s) origin: a path, credentials, a query, `null`, another scheme.
 */
export function normalizeOrigin(text: string): string | null {
  // URL would quietly drop an empty query or fragment and read a backslash as a slash; an origin has none of them.
  if (/[\s?#\\]/.test(text)) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '' || url.pathname !== '/') return null;
  return url.origin;
}

/**
 * The site's own origin as the browser saw it: the scheme we serve (or the proxy's X-Forwarded-Proto) and the Host
 * the browser asked for (or the proxy's X-Forwarded-Host).
 */
function ownOrigin(req: IncomingMessage, policy: OriginPolicy): string | null {
  const forwardedProto = policy.trustProxy ? lastEntry(req.headers['x-forwarded-proto'])?.toLowerCase() : undefined;
  const scheme = forwardedProto === 'http' || forwardedProto === 'https' ? forwardedProto : policy.tls ? 'https' : 'http';
  const host = (policy.trustProxy ? lastEntry(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
  return host === undefined ? null : normalizeOrigin(`${scheme}://${host}`);
}

/**
 * Whether the page behind a WebSocket upgrade may use this server. Browsers always send Origin on upgrades, so this
 * stops other web sites from making their visitors' browsers hold our connections. A request without Origin is not
 * from a web page (a script, a test, a relay) and is let through: such a client can send any Origin it likes, so
 * refusing it would protect nothing.
 */
export function upgradeOriginAllowed(req: IncomingMessage, policy: OriginPolicy): boolean {
  return requestOriginAllowed(req, policy, 'allow-missing');
}

/**
 * The same rule for any request: `refuse-missing` for requests a browser always sends Origin with (POST), where a
 * missing one means the request did not come from one of our pages.
 */
export function requestOriginAllowed(req: IncomingMessage, policy: OriginPolicy, missing: 'allow-missing' | 'refuse-missing'): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return missing === 'allow-missing';
  const normalized = normalizeOrigin(origin);
  if (normalized === null) return false;
  return policy.allowedOrigins.has(normalized) || normalized === ownOrigin(req, policy);
}

/** How many connections each address key holds right now; a key whose count drops to zero is forgotten. */
export class CountsByKey {
  readonly #counts = new Map<string, number>();

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  add(key: string): void {
    this.#counts.set(key, this.get(key) + 1);
  }

  remove(key: string): void {
    const count = this.get(key) - 1;
    if (count <= 0) this.#counts.delete(key);
    else this.#counts.set(key, count);
  }
}
