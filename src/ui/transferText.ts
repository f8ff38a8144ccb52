/** Words for a transfer's state, and the numbers a progress line shows (percent, speed, time left). */
import { assertNever } from '../core/assertNever.ts';
import { formatBytes } from '../core/transfer/fileName.ts';
import type { TransferFailure, TransferView } from '../core/transfer/transferManager.ts';

function failureText(reason: TransferFailure, outgoing: boolean, maxFileBytes: number): string {
  switch (reason) {
    case 'too-large':
      return outgoing
        ? `Too large to send: the limit is ${formatBytes(maxFileBytes)}. Nothing was sent.`
        : `Refused: larger than the ${formatBytes(maxFileBytes)} limit. Nothing was kept.`;
    case 'hash-mismatch':
      return 'The received file did not match what was sent, so it was thrown away.';
    case 'protocol-error':
      return 'The transfer broke the protocol’s rules and was stopped. Nothing was kept.';
    case 'timed-out':
      return 'The transfer stalled or crawled and was stopped. Nothing was kept.';
    case 'too-many-transfers':
      return 'Refused: too many files at once. Try again in a minute.';
    case 'storage-failed':
      return 'There was no room to store the file: the browser’s storage may be full.';
    case 'read-failed':
      return 'The file could not be read. It may have been moved or changed.';
    case 'cancelled-by-sender':
    case 'cancelled-by-receiver':
      return 'Cancelled.';
    default:
      return assertNever(reason, 'transfer failure');
  }
}

export function transferStateText(view: TransferView<unknown>, maxFileBytes: number): string {
  const outgoing = view.direction === 'outgoing';
  const state = view.state;
  switch (state.kind) {
    case 'queued':
      return 'Waiting to send…';
    case 'offered':
      return 'Waiting for the other person…';
    case 'sending':
      return 'Sending';
    case 'receiving':
      return 'Receiving';
    case 'paused':
      return 'Paused: the connection was lost. It continues when you are both back.';
    case 'waiting':
      return 'Waiting: other files are arriving. It continues as soon as one of them ends.';
    case 'verifying':
      return 'Checking…';
    case 'done':
      return outgoing ? 'Sent' : 'Received';
    case 'cancelled':
      return state.by === 'me' ? 'You cancelled this.' : 'The other person cancelled this.';
    case 'failed':
      return failureText(state.reason, outgoing, maxFileBytes);
    default:
      return assertNever(state, 'transfer state');
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '…';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
