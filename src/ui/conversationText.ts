/** A kept conversation's list entry in the words a person reads: its last message and what waits in its outbox. */
import { assertNever } from '../core/assertNever.ts';
import type { WaitingFor } from '../core/vault/groupHistory.ts';
import type { LastMessage, Party } from '../core/vault/vaultRecords.ts';

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
