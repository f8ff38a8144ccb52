/** Whether a transfer is over: on its own, so the views can ask without loading the transfer engine (lazy, §9). */
import type { TransferState } from './transferManager.ts';

export function isFinal(state: TransferState): boolean {
  return state.kind === 'done' || state.kind === 'cancelled' || state.kind === 'failed';
}
