/**
 * One-line operational log events; by construction they carry ids, codes, counts and reasons, never frame contents
 * or addresses. Repeated refusals are logged once per window with a count, so no client can flood the log.
 */

import { performance } from 'node:perf_hooks';
import { assertNever } from '../src/core/assertNever.ts';
import type { ErrorCode } from '../src/core/protocol/signaling.ts';
import type { LogLevel } from './config.ts';
import { FirstPerWindow } from './rateLimit.ts';

/** At most one line per refusal code per connection (or per server, for turned-away connections) in this window. */
export const LOG_WINDOW_MS = 60_000;

/**
 * Why a connection was turned away before it became a peer: the server is full (or shutting down), its address
 * holds its share of WebSockets or of TCP connections, or the page that opened it is from another site.
 */
export type TurnAwayCode = 'server-busy' | 'address-busy' | 'address-overload' | 'origin-refused';

export type LogEvent =
  | { readonly kind: 'open'; readonly peer: string }
  | { readonly kind: 'close'; readonly peer: string; readonly code: number; readonly reason: string }
  /** `suppressed`: refusals of this code on this connection left out of the log since its previous line. */
  | { readonly kind: 'refused'; readonly peer: string; readonly code: ErrorCode; readonly reason: string; readonly suppressed: number }
  | { readonly kind: 'turned-away'; readonly code: TurnAwayCode; readonly reason: string; readonly suppressed: number }
  /** The shared room directory (Redis) became reachable or unreachable, or sent something unreadable; once per change. */
  | { readonly kind: 'cluster'; readonly state: 'up' | 'down' | 'unreadable'; readonly reason: string }
  /** The server started or finished a graceful shutdown. */
  | { readonly kind: 'draining'; readonly connections: number }
  /** What was left out since the last line of that code, reported when the connection closes or the server stops. */
  | { readonly kind: 'suppressed'; readonly peer: string | null; readonly code: ErrorCode | TurnAwayCode; readonly count: number };

export type Logger = (event: LogEvent) => void;

export type LineWriter = (line: string) => void;

export const writeToStdout: LineWriter = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Reasons can come from library error messages; keep them on one line and short so a log can't be forged or flooded. */
function clean(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

function suppressedSuffix(count: number): string {
  return count > 0 ? ` suppressed=${count}` : '';
}

function formatEvent(event: LogEvent): string {
  switch (event.kind) {
    case 'open':
      return `open peer=${event.peer}`;
    case 'close':
      return `close peer=${event.peer} code=${event.code} reason="${clean(event.reason)}"`;
    case 'refused':
      return `refused peer=${event.peer} code=${event.code} reason="${clean(event.reason)}"${suppressedSuffix(event.suppressed)}`;
    case 'turned-away':
      return `turned-away code=${event.code} reason="${clean(event.reason)}"${suppressedSuffix(event.suppressed)}`;
    case 'cluster':
      return `cluster state=${event.state} reason="${clean(event.reason)}"`;
    case 'draining':
      return `draining connections=${event.connections}`;
    case 'suppressed':
      return `suppressed${event.peer === null ? '' : ` peer=${event.peer}`} code=${event.code} count=${event.count}`;
    default:
      return assertNever(event, 'log event');
  }
}

export function createLogger(level: LogLevel, write: LineWriter = writeToStdout): Logger {
  switch (level) {
    case 'silent':
      return () => {};
    case 'info':
      return (event) => write(`${new Date().toISOString()} ${formatEvent(event)}`);
    default:
      return assertNever(level, 'log level');
  }
}

/** Connections turned away before they became peers, logged at most once per code per window for the whole server. */
export class TurnAwayLog {
  readonly #log: Logger;
  readonly #count: (code: TurnAwayCode) => void;
  readonly #filter = new FirstPerWindow<TurnAwayCode>(LOG_WINDOW_MS);

  /** `count` sees every turn-away, logged or not (for /metrics). */
  constructor(log: Logger, count: (code: TurnAwayCode) => void = () => {}) {
    this.#log = log;
    this.#count = count;
  }

  note(code: TurnAwayCode, reason: string): void {
    this.#count(code);
    const suppressed = this.#filter.take(code, performance.now());
    if (suppressed !== null) this.#log({ kind: 'turned-away', code, reason, suppressed });
  }

  /** At shutdown, so that no count is lost. */
  flush(): void {
    for (const [code, count] of this.#filter.drainSuppressed()) this.#log({ kind: 'suppressed', peer: null, code, count });
  }
}
