/** The vault's outcomes in the words a person reads. */
import { assertNever } from '../core/assertNever.ts';
import { formatBytes } from '../core/transfer/fileName.ts';
import type { VaultFailure } from '../core/vault/vaultContext.ts';
import type { WaitingFor } from '../core/vault/groupHistory.ts';
import type { LastMessage, Party } from '../core/vault/vaultRecords.ts';
import type { CreateResult, ImportResult } from '../core/vault/vaultService.ts';

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

/** The last message of a conversation as its list shows it: who wrote it (`nameOf` a contact's id), then what. */
export function previewText(last: LastMessage, nameOf: (contactId: string) => string): string {
  const who = authorPrefix(last.author, nameOf);
  switch (last.preview.type) {
    case 'text':
      return `${who}${last.preview.text}`;
    case 'file':
      return `${who}${last.preview.name}`;
    case 'deleted':
      return 'A message was deleted';
    default:
      return assertNever(last.preview, 'message preview');
  }
}

function authorPrefix(author: Party, nameOf: (contactId: string) => string): string {
  switch (author.type) {
    case 'me':
      return 'You: ';
    case 'contact':
      return `${nameOf(author.contactId)}: `;
    case 'guest':
      return `${author.label}: `;
    default:
      return assertNever(author, 'party');
  }
}

/** What waits in a conversation's outbox for one person: "waiting for Bob: 3 messages". */
export function waitingText(waiting: WaitingFor): string {
  return `waiting for ${waiting.name}: ${waiting.count} ${waiting.count === 1 ? 'message' : 'messages'}`;
}

export function createFailureText(failure: CreateResult & { ok: false }): string {
  switch (failure.reason) {
    case 'profile-exists':
      return 'This browser already has a profile (perhaps made in another tab). Reload the page to unlock it.';
    case 'quota-exceeded':
      return 'This browser has no room to store a profile. Free some disk space and try again.';
    case 'empty-passphrase':
      return 'Choose a passphrase.';
    case 'invalid-display-name':
      return `That display name cannot be used: ${failure.detail}.`;
    default:
      return assertNever(failure, 'create failure');
  }
}

export function importFailureText(failure: ImportResult & { ok: false }): string {
  switch (failure.reason) {
    case 'profile-exists':
      return 'This browser already has a profile. Delete it first (export it before, if you want to keep it), then import.';
    case 'wrong-passphrase':
      return 'That passphrase does not open this backup. Nothing was imported.';
    case 'quota-exceeded':
      return 'This browser has no room for the backup. Nothing was imported; free some disk space and try again.';
    case 'invalid-backup':
      return `This file is not a Parley backup, or it is damaged. Nothing was imported. (${failure.detail})`;
    default:
      return assertNever(failure, 'import failure');
  }
}
