/**
 * The storage the vault runs on, as a port: a handful of reads, and one `write` that applies a batch of
 * operations all-or-nothing. IndexedDB implements each call as one transaction; tests use an in-memory one.
 * Rows read back are `unknown` until the parsers here have checked them.
 */
import { exactFields } from './exactFields.ts';
import { isPartIndex, isSeq, isVaultId } from './recordIds.ts';
import { MIN_SEALED_RECORD_BYTES } from './records.ts';

/** The stores whose rows are `{ id, sealed }`. */
export type SealedRowStore = 'settings' | 'conversations' | 'contacts';

/** A sealed record under a plain key: the settings ('profile', 'identity'), a conversation or a contact. */
export interface SealedRow {
  readonly id: string;
  readonly sealed: Uint8Array;
}

/** One message: clear key [conversationId, seq], clear messageId for receipts; everything else is sealed. */
export interface MessageRow {
  readonly conversationId: string;
  readonly seq: number;
  readonly messageId: string;
  readonly sealed: Uint8Array;
}

/** One part of a stored file's bytes: clear key [conversationId, fileId, index]. */
export interface FilePartRow {
  readonly conversationId: string;
  readonly fileId: string;
  readonly index: number;
  readonly sealed: Uint8Array;
}

/**
 * One outbox entry (spec §12.7): clear key [conversationId, entryId], the entry id random; which message it follows
 * is sealed, so the clear part tells only how many of one's messages a conversation still follows.
 */
export interface OutboxRow {
  readonly conversationId: string;
  readonly entryId: string;
  readonly sealed: Uint8Array;
}

/** A file whose parts are being written: if the page dies first, the next unlock deletes its parts. */
export interface PendingFileRow {
  readonly conversationId: string;
  readonly fileId: string;
}

/**
 * One operation of a write batch. Operations apply in order inside one transaction; if any fails, none
 * has happened.
 */
export type VaultWrite =
  /** Fails the batch with 'conflict' if a header exists: two creations (or an import racing a creation) cannot both win. */
  | { readonly type: 'add-header'; readonly header: unknown }
  /** Writes nothing; fails the batch with 'conflict' if a header exists (an import guarding against a profile made meanwhile). */
  | { readonly type: 'require-no-header' }
  | { readonly type: 'put-header'; readonly header: unknown }
  | { readonly type: 'put-failed-unlocks'; readonly count: number }
  | { readonly type: 'put-row'; readonly store: SealedRowStore; readonly row: SealedRow }
  /** Fails the batch with 'conflict' if the key exists, so no writer ever overwrites a message it did not read. */
  | { readonly type: 'add-message'; readonly row: MessageRow }
  | { readonly type: 'put-message'; readonly row: MessageRow }
  | { readonly type: 'put-file-part'; readonly row: FilePartRow }
  | { readonly type: 'put-outbox'; readonly row: OutboxRow }
  | { readonly type: 'delete-outbox'; readonly conversationId: string; readonly entryId: string }
  | { readonly type: 'put-pending-file'; readonly row: PendingFileRow }
  | { readonly type: 'delete-pending-file'; readonly conversationId: string; readonly fileId: string }
  /** The file's parts and its pending marker. */
  | { readonly type: 'delete-file'; readonly conversationId: string; readonly fileId: string }
  /** The conversation row, its messages, outbox entries, file parts and pending markers. */
  | { readonly type: 'delete-conversation'; readonly conversationId: string }
  /** Every conversation, message, outbox entry, file part and pending marker; contacts and settings stay. */
  | { readonly type: 'clear-history' }
  /** Every row of every store except the header and the failure count: what an interrupted import may have left. */
  | { readonly type: 'clear-rows' };

export type WriteResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'quota-exceeded' }
  | { readonly ok: false; readonly reason: 'conflict' };

/** Where a message read starts: newest first below `beforeSeq` (null: from the newest), or oldest first above `afterSeq`. */
export type MessageRange =
  | { readonly direction: 'backward'; readonly beforeSeq: number | null }
  | { readonly direction: 'forward'; readonly afterSeq: number };

/** Position after which a page of file parts continues, in [fileId, index] order within one conversation. */
export interface FilePartCursor {
  readonly fileId: string;
  readonly index: number;
}

export interface StorageEstimate {
  readonly usageBytes: number;
  readonly quotaBytes: number;
}

export interface VaultStorePort {
  /** All-or-nothing. Storage full is a result, not an exception; anything else unexpected throws. */
  write(batch: readonly VaultWrite[]): Promise<WriteResult>;
  /** The encoded header, or undefined when there is no vault. */
  readHeader(): Promise<unknown>;
  /** The stored count of failed unlocks, or undefined when none is stored. */
  readFailedUnlocks(): Promise<unknown>;
  readRow(store: SealedRowStore, id: string): Promise<unknown>;
  readRows(store: SealedRowStore): Promise<readonly unknown[]>;
  /** At most `limit` message rows of one conversation, in the range's direction; reads nothing beyond them. */
  readMessages(conversationId: string, range: MessageRange, limit: number): Promise<readonly unknown[]>;
  /** The message rows of one conversation carrying this clear message id (normally one; a peer may reuse ids). */
  readMessagesById(conversationId: string, messageId: string): Promise<readonly unknown[]>;
  readFilePart(conversationId: string, fileId: string, index: number): Promise<unknown>;
  /** At most `limit` file part rows of one conversation after `after` (null: from the first), ordered by [fileId, index]. */
  readFileParts(conversationId: string, after: FilePartCursor | null, limit: number): Promise<readonly unknown[]>;
  readPendingFiles(): Promise<readonly unknown[]>;
  /** Every outbox row of one conversation, in entry id order. */
  readOutbox(conversationId: string): Promise<readonly unknown[]>;
  /** Removes the vault and everything in it, failure count included (in IndexedDB: deletes the database). */
  destroy(): Promise<void>;
  /** Asks the browser not to evict this origin's storage under pressure; whether it agreed. */
  requestPersistence(): Promise<boolean>;
  persisted(): Promise<boolean>;
  /** Null when the platform cannot say. */
  estimate(): Promise<StorageEstimate | null>;
}

// ---- parsers for rows read back -----------------------------------------------------------------

function isSealedBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length >= MIN_SEALED_RECORD_BYTES;
}

export function parseSealedRow(value: unknown): SealedRow | null {
  const field = exactFields(value, ['id', 'sealed']);
  if (field === null) return null;
  const id = field('id');
  const sealed = field('sealed');
  return typeof id === 'string' && isSealedBytes(sealed) ? { id, sealed } : null;
}

export function parseMessageRow(value: unknown): MessageRow | null {
  const field = exactFields(value, ['conversationId', 'seq', 'messageId', 'sealed']);
  if (field === null) return null;
  const conversationId = field('conversationId');
  const seq = field('seq');
  const messageId = field('messageId');
  const sealed = field('sealed');
  if (!isVaultId(conversationId) || !isSeq(seq) || !isVaultId(messageId) || !isSealedBytes(sealed)) return null;
  return { conversationId, seq, messageId, sealed };
}

export function parseFilePartRow(value: unknown): FilePartRow | null {
  const field = exactFields(value, ['conversationId', 'fileId', 'index', 'sealed']);
  if (field === null) return null;
  const conversationId = field('conversationId');
  const fileId = field('fileId');
  const index = field('index');
  const sealed = field('sealed');
  if (!isVaultId(conversationId) || !isVaultId(fileId) || !isPartIndex(index) || !isSealedBytes(sealed)) return null;
  return { conversationId, fileId, index, sealed };
}

export function parseOutboxRow(value: unknown): OutboxRow | null {
  const field = exactFields(value, ['conversationId', 'entryId', 'sealed']);
  if (field === null) return null;
  const conversationId = field('conversationId');
  const entryId = field('entryId');
  const sealed = field('sealed');
  if (!isVaultId(conversationId) || !isVaultId(entryId) || !isSealedBytes(sealed)) return null;
  return { conversationId, entryId, sealed };
}

export function parsePendingFileRow(value: unknown): PendingFileRow | null {
  const field = exactFields(value, ['conversationId', 'fileId']);
  if (field === null) return null;
  const conversationId = field('conversationId');
  const fileId = field('fileId');
  return isVaultId(conversationId) && isVaultId(fileId) ? { conversationId, fileId } : null;
}
