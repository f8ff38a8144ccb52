/** The security headers every HTTP response carries, including a CSP that admits the site's configured signaling host. */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { assertNever } from '../src/core/assertNever.ts';
import { parseAppConfig, peerjsBrokerOrigin, type SignalingConfig } from '../src/core/protocol/appConfig.ts';

export type SecurityHeaders = Readonly<Record<string, string>>;

/**
 * The origins a page needs for this signaling block: each configured Parley server as ws(s):// for the signaling
 * socket and as http(s):// for the TURN credentials the page asks the same server for; or the PeerJS broker's
 * WebSocket (a PeerServer hands out no credentials, so the page asks it for none).
 */
function signalingOrigins(signaling: SignalingConfig): string[] {
  switch (signaling.mode) {
    case 'parley':
      // Built from parsed parts, so nothing but scheme, host and port can reach the header.
      return signaling.urls.flatMap((url) => {
        const { protocol, host } = new URL(url);
        return [`${protocol}//${host}`, `${protocol === 'wss:' ? 'https:' : 'http:'}//${host}`];
      });
    case 'peerjs':
      return [peerjsBrokerOrigin(signaling)];
    default:
      return assertNever(signaling, 'signaling mode');
  }
}

/**
 * The origins of the signaling servers (or PeerJS broker) the site's config.json names (none when it names none, or
 * does not parse: the page itself refuses such a file). A self-hoster may point the web app at signaling servers on
 * other hosts; without this the CSP would block them.
 */
export function signalingOriginsFromSiteConfig(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  const config = parseAppConfig(parsed);
  if (!config.ok) return [];
  return [...new Set(signalingOrigins(config.config.signaling))];
}

/** Read once at start: the file belongs to the deployed build, which does not change under a running server. */
export async function readSignalingOrigins(staticDir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path.join(staticDir, 'config.json'), 'utf8');
  } catch {
    return [];
  }
  return signalingOriginsFromSiteConfig(text);
}

/** Svelte 5 creates 'svelte-trusted-html'; src/adapters/vault/workerArgon2id.ts creates 'parley-worker'. */
const TRUSTED_TYPES_POLICIES = ['svelte-trusted-html', 'parley-worker'];

export function contentSecurityPolicy(extraConnectOrigins: readonly string[]): string {
  const connectSrc = ["'self'", ...extraConnectOrigins].join(' ');
  return [
    "default-src 'none'",
    // Only our own script files: no inline script, no eval. 'wasm-unsafe-eval' lets hash-wasm compile its
    // SHA-256 (and later argon2id) WebAssembly, which WebCrypto cannot do incrementally; it allows no JS eval.
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    // blob: for received images; nothing in the app or its CSS uses data: URLs.
    "img-src 'self' blob:",
    "font-src 'self'",
    `connect-src ${connectSrc}`,
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    // DOM XSS sinks (innerHTML, script URLs) take only values made by a named policy: Svelte's, which turns its own
    // compiled templates into HTML, and ours, which admits only our own worker script.
    "require-trusted-types-for 'script'",
    `trusted-types ${TRUSTED_TYPES_POLICIES.join(' ')}`,
  ].join('; ');
}

export function securityHeaders(options: { readonly tls: boolean; readonly extraConnectOrigins: readonly string[] }): SecurityHeaders {
  const headers: Record<string, string> = {
    'Content-Security-Policy': contentSecurityPolicy(options.extraConnectOrigins),
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  };
  // Only meaningful over HTTPS; browsers ignore it on plain HTTP, and sending it there would only mislead.
  if (options.tls) headers['Strict-Transport-Security'] = 'max-age=31536000';
  return headers;
}
