/** The vault's outcomes in the words a person reads. */
import { assertNever } from '../core/assertNever.ts';
import { formatBytes } from '../core/transfer/fileName.ts';
import type { VaultFailure } from '../core/vault/vaultContext.ts';

export function failureText(failure: VaultFailure): string {
  switch (failure.reason) {
    case 'quota-exceeded':
      return 'This browser has no more room for your history. Nothing already saved was lost; delete old conversations or free disk space to keep new ones.';
    case 'conflict':
      return 'Another tab changed your profile at the same moment, so this change was not saved. Try again.';
    case 'no-conversation':
      return 'That conversation is no longer kept here.';
    case 'no-contact':
      return 'That contact is no longer kept here.';
    case 'unreadable':
      return `Part of your stored profile cannot be read: it is damaged or was altered. Nothing was changed. (${failure.detail})`;
    case 'invalid':
      return `That was refused: ${failure.detail}.`;
    case 'over-budget':
      return `Not kept in your history: this conversation already keeps ${formatBytes(failure.keptBytes)} of received files, and your limit is ${formatBytes(failure.budgetBytes)} (profile page).`;
    case 'key-mismatch':
      return 'Their key changed while you were comparing, so it was not marked as verified. Compare the new safety number.';
    default:
      return assertNever(failure, 'vault failure');
  }
}
