/**
 * Short-lived TURN credentials in the shared-secret scheme coturn implements with `use-auth-secret`: the username is
 * the expiry time (Unix seconds) and a label, the password the base64 HMAC-SHA1 of the username under the secret
 * both servers hold. Handed out at POST /turn-credentials to pages of the site's own origins, rate limited per address.
 */

import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TurnSettings } from './config.ts';
import type { Metrics } from './metrics.ts';
import { KeyedTokenBuckets } from './rateLimit.ts';
import { addressKey, clientAddress, normalizeOrigin, requestOriginAllowed, type OriginPolicy } from './requestSource.ts';
import { sendJson } from './respond.ts';

export const TURN_CREDENTIALS_PATH = '/turn-credentials';

/** A page asks once when it loads and again at half the lifetime; a household of tabs stays far below this. */
const REQUESTS_BURST = 20;
const REQUESTS_PER_MINUTE = 20;

export type TurnCredential = { readonly urls: readonly string[]; readonly username: string; readonly credential: string };

export function mintTurnCredential(turn: TurnSettings, nowMs: number): TurnCredential {
  const username = `${Math.floor(nowMs / 1000) + turn.ttlSeconds}:parley`;
  const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
  return { urls: turn.urls, username, credential };
}

export class TurnCredentialsEndpoint {
  readonly #turn: TurnSettings | null;
  readonly #policy: OriginPolicy;
  readonly #metrics: Metrics;
  readonly #buckets = new KeyedTokenBuckets(REQUESTS_BURST, REQUESTS_PER_MINUTE / 60_000);

  constructor(turn: TurnSettings | null, policy: OriginPolicy, metrics: Metrics) {
    this.#turn = turn;
    this.#policy = policy;
    this.#metrics = metrics;
  }

  /**
   * Only POST: a browser then always sends Origin, and only a page of our own origins (or ALLOWED_ORIGINS) gets an
   * answer. Another web site cannot read one anyway (no CORS for it) and is refused before any credential is made;
   * a program that is not a browser can claim any Origin and is held by the rate limit, as it would be by TURN's
   * own quotas had the secret been static.
   */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'Use POST.' }, { Allow: 'POST' });
      return;
    }
    if (!requestOriginAllowed(req, this.#policy, 'refuse-missing')) {
      this.#metrics.refused('origin-refused');
      sendJson(res, 403, { error: 'Only pages of this site may ask for TURN credentials.' });
      return;
    }
    const origin = normalizeOrigin(req.headers.origin ?? '');
    // A page of another host named in ALLOWED_ORIGINS reads the answer through CORS; our own origin needs none.
    const cors: Record<string, string> = origin !== null && this.#policy.allowedOrigins.has(origin) ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : {};
    const address = addressKey(clientAddress(req, this.#policy.trustProxy) ?? '') ?? 'unknown';
    if (!this.#buckets.take(address, performance.now())) {
      this.#metrics.refused('rate-limited');
      sendJson(res, 429, { error: 'Too many requests for TURN credentials; try again in a minute.' }, { ...cors, 'Retry-After': '60' });
      return;
    }
    const turn = this.#turn;
    if (turn === null) {
      sendJson(res, 200, { iceServers: [], ttlSeconds: 0 }, cors);
      return;
    }
    this.#metrics.turnCredentialsIssued();
    const credential = mintTurnCredential(turn, Date.now());
    sendJson(res, 200, { iceServers: [credential], ttlSeconds: turn.ttlSeconds }, cors);
  }
}
