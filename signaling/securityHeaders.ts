/** The security headers every HTTP response carries, including a CSP that admits the site's configured signaling host. */

import { readFile } from 'node:fs/promises';
import path from 'node:path';

export type SecurityHeaders = Readonly<Record<string, string>>;

/**
 * Finds the origin of `signalingUrl` in the site's config.json text, or null if there is none worth trusting.
 * A self-hoster may point the web app at a signaling server on another host; without this the CSP would block it.
 */
export function signalingOriginFromSiteConfig(text: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const signalingUrl: unknown = Reflect.get(parsed, 'signalingUrl');
  if (typeof signalingUrl !== 'string') return null;
  let url: URL;
  try {
    url = new URL(signalingUrl);
  } catch {
    return null;
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return null;
  // Built from parsed parts, so nothing but scheme, host and port can reach the header.
  return `${url.protocol}//${url.host}`;
}

/** Read once at start: the file belongs to the deployed build, which does not change under a running server. */
export async function readSignalingOrigin(staticDir: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(path.join(staticDir, 'config.json'), 'utf8');
  } catch {
    return null;
  }
  return signalingOriginFromSiteConfig(text);
}

/** Svelte 5 creates 'svelte-trusted-html'; src/adapters/vault/workerArgon2id.ts creates 'parley-worker'. */
const TRUSTED_TYPES_POLICIES = ['svelte-trusted-html', 'parley-worker'];

export function contentSecurityPolicy(extraConnectOrigin: string | null): string {
  const connectSrc = extraConnectOrigin === null ? "'self'" : `'self' ${extraConnectOrigin}`;
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

export function securityHeaders(options: { readonly tls: boolean; readonly extraConnectOrigin: string | null }): SecurityHeaders {
  const headers: Record<string, string> = {
    'Content-Security-Policy': contentSecurityPolicy(options.extraConnectOrigin),
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
