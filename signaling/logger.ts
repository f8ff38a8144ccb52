/** One-line operational log events; by construction they carry ids, codes and reasons, never frame contents. */

import { assertNever } from '../src/core/assertNever.ts';
import type { LogLevel } from './config.ts';

export type LogEvent =
  | { readonly kind: 'open'; readonly peer: string }
  | { readonly kind: 'close'; readonly peer: string; readonly code: number; readonly reason: string }
  | { readonly kind: 'error'; readonly peer: string; readonly reason: string }
  | { readonly kind: 'refused'; readonly peer: string; readonly code: string; readonly reason: string };

export type Logger = (event: LogEvent) => void;

export type LineWriter = (line: string) => void;

export const writeToStdout: LineWriter = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Reasons can come from library error messages; keep them on one line and short so a log can't be forged or flooded. */
function clean(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

function formatEvent(event: LogEvent): string {
  switch (event.kind) {
    case 'open':
      return `open peer=${event.peer}`;
    case 'close':
      return `close peer=${event.peer} code=${event.code} reason="${clean(event.reason)}"`;
    case 'error':
      return `error peer=${event.peer} reason="${clean(event.reason)}"`;
    case 'refused':
      return `refused peer=${event.peer} code=${event.code} reason="${clean(event.reason)}"`;
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
