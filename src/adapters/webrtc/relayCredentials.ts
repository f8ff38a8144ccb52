/**
 * Short-lived TURN credentials from the signaling server (POST /turn-credentials), fetched when the page loads and
 * again at half their lifetime, so a peer connection made at any moment has valid ones. The room's ICE servers are
 * config.json's static ones plus these.
 */
import type { IceServerConfig } from '../../core/protocol/appConfig.ts';
import { parseTurnCredentials } from '../../core/protocol/turnCredentials.ts';

/** After a failed fetch, try again this much later; a server without TURN answers an empty list and is not asked again. */
const RETRY_MS = 60_000;

/** `unknown` until the first answer; `none` when the site has no TURN server (or none answered). */
export type RelayServers = { readonly kind: 'unknown' } | { readonly kind: 'none' } | { readonly kind: 'available'; readonly iceServers: readonly IceServerConfig[] };

/** Where to ask: the http(s) origin of each signaling server, in order. */
export function credentialEndpoints(signalingUrls: readonly string[]): string[] {
  return [
    ...new Set(
      signalingUrls.map((url) => {
        const endpoint = new URL('/turn-credentials', url);
        endpoint.protocol = endpoint.protocol === 'wss:' ? 'https:' : 'http:';
        return endpoint.href;
      }),
    ),
  ];
}

export class RelayCredentials {
  #servers: RelayServers = { kind: 'unknown' };
  readonly #endpoints: readonly string[];
  readonly #listeners = new Set<(servers: RelayServers) => void>();

  constructor(endpoints: readonly string[]) {
    this.#endpoints = endpoints;
  }

  get servers(): RelayServers {
    return this.#servers;
  }

  /** Calls `listener` now and on every change; returns how to stop. */
  watch(listener: (servers: RelayServers) => void): () => void {
    this.#listeners.add(listener);
    listener(this.#servers);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    // Nowhere to ask (a static site meeting through a PeerServer): config.json's ICE servers are all there is.
    if (this.#endpoints.length === 0) {
      this.#set({ kind: 'none' });
      return;
    }
    void this.#refresh();
  }

  async #refresh(): Promise<void> {
    for (const endpoint of this.#endpoints) {
      const answer = await this.#ask(endpoint);
      if (answer === null) continue;
      if (answer.iceServers.length === 0) {
        this.#set({ kind: 'none' });
        return;
      }
      this.#set({ kind: 'available', iceServers: answer.iceServers });
      setTimeout(() => void this.#refresh(), (answer.ttlSeconds * 1000) / 2);
      return;
    }
    // No server answered usefully: keep credentials that are still valid, and try again later.
    if (this.#servers.kind === 'unknown') this.#set({ kind: 'none' });
    setTimeout(() => void this.#refresh(), RETRY_MS);
  }

  async #ask(endpoint: string): Promise<{ readonly iceServers: readonly IceServerConfig[]; readonly ttlSeconds: number } | null> {
    try {
      const response = await fetch(endpoint, { method: 'POST', cache: 'no-store', credentials: 'omit' });
      if (!response.ok) return null;
      const parsed = parseTurnCredentials(await response.json());
      if ('error' in parsed) {
        console.warn(`Parley: ${endpoint} answered TURN credentials that are not valid: ${parsed.error}`);
        return null;
      }
      return parsed;
    } catch {
      return null;
    }
  }

  #set(servers: RelayServers): void {
    this.#servers = servers;
    for (const listener of this.#listeners) listener(servers);
  }
}
