/**
 * The port through which a group conversation keeps what must survive a reload (spec §12.7, §12.9): the own
 * sequence counter, the last sequence number shown per author, and the outbox. A profile's implementation
 * seals it in the vault; a guest's (and the tests') is `MemoryConversationStore`. Members are keyed by their
 * member id (§12.2); mapping ids to contacts is the implementation's business.
 *
 * The chat calls these methods one at a time, each after the previous one settled, in the order things
 * happened; an implementation needs no ordering of its own. A method that resolves has made its change
 * durable (as durable as the implementation is); one that rejects has changed nothing.
 */
import type { GroupMessage } from '../protocol/groupMessages.ts';

/** One message waiting for one addressee's receipt. */
export interface OutboxEntry {
  readonly message: GroupMessage;
  readonly addressee: string;
}

/** Why the outbox gave up on a message for an addressee. */
export type ExpiryReason =
  /** Written more than 7 days ago. */
  | 'too-old'
  /** Beyond the 1 000 newest entries of that addressee. */
  | 'too-many'
  /** A guest that said goodbye: it cannot come back, so nothing can reach it. */
  | 'member-left';

export interface ExpiredEntry {
  readonly messageId: string;
  readonly seq: number;
  readonly addressee: string;
  readonly reason: ExpiryReason;
}

export interface StoredConversation {
  /** The seq of the newest message this side wrote in this conversation; 0 if none. */
  readonly lastOwnSeq: number;
  /** Per author (member id), the highest seq shown from it. */
  readonly lastShown: ReadonlyMap<string, number>;
  /** Every outbox entry not yet acknowledged, given up or expired, in any order. */
  readonly outbox: readonly OutboxEntry[];
}

export interface ConversationStore {
  load(): Promise<StoredConversation>;

  /**
   * A message this side wrote (`message.author` is us), with an outbox entry for each addressee. Atomic: the
   * message, its outbox entries and the own counter (`lastOwnSeq = message.seq`) are written together, so a
   * reload never reuses a seq nor loses an entry. Called before the message is first sent.
   */
  recordOutgoing(message: GroupMessage, addressees: readonly string[]): Promise<void>;

  /**
   * A message shown from `message.author` (always the member whose session carried it). Atomic: the message
   * and `lastShown[message.author] = message.seq` are written together, so a reload neither loses a message
   * nor shows one again. The chat acknowledges it to the author only after this resolves.
   */
  recordShown(message: GroupMessage): Promise<void>;

  /**
   * `member`'s receipts for our messages rose to these values (never lower than before). Removes that
   * member's outbox entries with `seq ≤ deliveredSeq`, and may record the delivery state (delivered up to
   * `deliveredSeq`, read up to `readSeq`) of the messages addressed to it; one write.
   */
  recordReceipts(member: string, deliveredSeq: number, readSeq: number): Promise<void>;

  /** The outbox gave up on these entries: removes them (and may mark them expired for the history); one write. */
  recordExpired(entries: readonly ExpiredEntry[]): Promise<void>;
}
