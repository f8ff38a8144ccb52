/**
 * Conversations, messages and stored files of an unlocked vault. A conversation's summary (unread count,
 * last message, next seq, the group engine's counters, outbox counts) lives in its own sealed record and is
 * rewritten in the same write as each message, so the list never needs to read a message, and a page of
 * messages reads only that page.
 */
import { bytesEqual } from '../encoding.ts';
import { ROOM_SECRET_BYTES } from '../crypto/roomSecret.ts';
import { BlobBuilder, type ByteSource } from './blobParts.ts';
import { isSeq, isVaultId, MAX_SEQ, newVaultId } from './recordIds.ts';
import { parseFilePartRow, parseMessageRow, parsePendingFileRow, parseSealedRow, type VaultWrite } from './storePort.ts';
import { invalid, ok, timestampNow, unreadable, type StoreResult, type VaultContext, type VaultFailure } from './vaultContext.ts';
import {
  cleanName,
  cleanTitle,
  FILE_PART_BYTES,
  filePartCount,
  MAX_FILE_BYTES,
  MAX_FILE_NAME_CHARS,
  MAX_MIME_TYPE_CHARS,
  openConversationRecord,
  openFilePart,
  openMessageRecord,
  pairPeerOf,
  previewOf,
  sealConversation,
  sealFilePart,
  sealMessage,
  type ConversationRecord,
  type LastMessage,
  type MessageRecord,
  type MessageStream,
  type OtherParty,
  type OutboxCount,
  type Party,
  type StoredFileInfo,
} from './vaultRecords.ts';

/** The most messages one page may ask for. */
export const MAX_PAGE_MESSAGES = 500;
/** File parts sealed and written per transaction: bounds memory (4 MiB) while keeping transactions few. */
const FILE_PARTS_PER_WRITE = 4;
/** Room left beyond a file's own bytes before writing it: IndexedDB's overhead, and not filling the disk to the brim. */
const QUOTA_MARGIN_BYTES = 4 * 1024 * 1024;

export interface ConversationSummary {
  readonly kind: 'conversation';
  readonly id: string;
  readonly roomSecret: Uint8Array;
  readonly title: string;
  /** Every contact remembered in this room. */
  readonly contactIds: readonly string[];
  readonly createdAtMs: number;
  /** When a message was last stored here (or the conversation made): the list is sorted by this, newest first. */
  readonly updatedAtMs: number;
  readonly messageCount: number;
  readonly unreadCount: number;
  readonly lastMessage: LastMessage | null;
  /** Per addressee, how many of our messages wait in the outbox for it. */
  readonly outbox: readonly OutboxCount[];
}

/** A conversation whose record does not open (damaged or tampered storage): it can only be deleted. */
export interface UnreadableConversation {
  readonly kind: 'unreadable';
  readonly id: string;
}

export type ConversationEntry = ConversationSummary | UnreadableConversation;

export interface StoredMessage extends MessageRecord {
  readonly kind: 'message';
  readonly conversationId: string;
  /** Its position in this conversation's history: the order this side showed or wrote it. */
  readonly seq: number;
  /** The id it has on the wire (16 bytes, base64url); a file's is the transfer's. */
  readonly messageId: string;
}

/** A message row that does not open or parse; its seq is null only when the row itself is malformed. */
export interface UnreadableMessage {
  readonly kind: 'unreadable';
  readonly conversationId: string;
  readonly seq: number | null;
}

export type HistoryEntry = StoredMessage | UnreadableMessage;

/** Everything a new message's record holds, and its wire id. */
export interface MessageDraft extends MessageRecord {
  readonly messageId: string;
}

export interface NewFileMessage {
  readonly messageId: string;
  readonly author: Party;
  readonly stream: MessageStream;
  readonly name: string;
  /** Empty means unknown (stored as application/octet-stream). */
  readonly mimeType: string;
  readonly atMs?: number;
}

/** A file's bytes written and waiting for the message that makes them part of the history. */
export interface WrittenFile {
  readonly conversationId: string;
  readonly file: StoredFileInfo;
}

type Loaded<T> = { readonly ok: true; readonly record: T } | VaultFailure;

function summaryOf(id: string, record: ConversationRecord): ConversationSummary {
  return {
    kind: 'conversation',
    id,
    roomSecret: record.roomSecret,
    title: record.title,
    contactIds: record.contactIds,
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
    messageCount: record.lastSeq,
    unreadCount: record.unreadCount,
    lastMessage: record.lastMessage,
    outbox: record.outbox,
  };
}

function isTimestamp(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** The caller's time if it is a valid one, now if there is none, null if it is invalid. */
function timestampOrNow(ctx: VaultContext, atMs: number | undefined): number | null {
  if (atMs === undefined) return timestampNow(ctx.clock);
  return isTimestamp(atMs) ? atMs : null;
}

export async function loadConversation(ctx: VaultContext, id: string): Promise<Loaded<ConversationRecord>> {
  if (!isVaultId(id)) return { ok: false, reason: 'no-conversation' };
  const raw = await ctx.store.readRow('conversations', id);
  if (raw === undefined) return { ok: false, reason: 'no-conversation' };
  const row = parseSealedRow(raw);
  if (row === null || row.id !== id) return unreadable(`the stored row of conversation ${id} is malformed`);
  const record = await openConversationRecord(ctx.dataKey(), id, row.sealed);
  return record === null ? unreadable(`conversation ${id} does not open`) : { ok: true, record };
}

/** The write that stores `record` as conversation `id`, sealed now. */
export async function putConversation(ctx: VaultContext, id: string, record: ConversationRecord): Promise<VaultWrite> {
  return { type: 'put-row', store: 'conversations', row: { id, sealed: await sealConversation(ctx.dataKey(), id, record, ctx.random) } };
}

/** Every conversation, newest activity first; unreadable ones last. Rows too malformed to have an id are left out. */
export async function listConversations(ctx: VaultContext): Promise<ConversationEntry[]> {
  const rows = await ctx.store.readRows('conversations');
  const entries = await Promise.all(
    rows.map(async (raw): Promise<ConversationEntry | null> => {
      const row = parseSealedRow(raw);
      if (row === null) return null;
      const record = isVaultId(row.id) ? await openConversationRecord(ctx.dataKey(), row.id, row.sealed) : null;
      return record === null ? { kind: 'unreadable', id: row.id } : summaryOf(row.id, record);
    }),
  );
  const rank = (entry: ConversationEntry): number => (entry.kind === 'conversation' ? entry.updatedAtMs : -1);
  return entries.filter((entry) => entry !== null).sort((a, b) => rank(b) - rank(a));
}

export async function getConversation(ctx: VaultContext, id: string): Promise<StoreResult<ConversationSummary>> {
  const loaded = await loadConversation(ctx, id);
  return loaded.ok ? ok(summaryOf(id, loaded.record)) : loaded;
}

/** The room's conversation, made (with `title`) if this is the first time; found by the sealed room secret. */
export async function openRoomConversation(ctx: VaultContext, roomSecret: Uint8Array, title: string): Promise<StoreResult<ConversationSummary>> {
  if (roomSecret.length !== ROOM_SECRET_BYTES) return invalid(`a room secret is ${ROOM_SECRET_BYTES} bytes, not ${roomSecret.length}`);
  const cleanedTitle = cleanTitle(title);
  if (cleanedTitle === null) return invalid('the title is too long or contains control characters');
  for (const entry of await listConversations(ctx)) {
    if (entry.kind === 'conversation' && bytesEqual(entry.roomSecret, roomSecret)) return ok(entry);
  }
  const id = newVaultId(ctx.random);
  const nowMs = timestampNow(ctx.clock);
  const record: ConversationRecord = {
    roomSecret: roomSecret.slice(),
    title: cleanedTitle,
    contactIds: [],
    pairContactId: null,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    lastSeq: 0,
    unreadCount: 0,
    lastMessage: null,
    receivedFileBytes: 0,
    lastOwnSeq: 0,
    lastShown: [],
    outbox: [],
  };
  const written = await ctx.store.write([await putConversation(ctx, id, record)]);
  return written.ok ? ok(summaryOf(id, record)) : written;
}

/** Rewrites a conversation's record with `change` applied; nothing is written when the change returns null. */
async function updateConversation(
  ctx: VaultContext,
  id: string,
  change: (record: ConversationRecord) => ConversationRecord | null,
): Promise<StoreResult<ConversationSummary>> {
  const loaded = await loadConversation(ctx, id);
  if (!loaded.ok) return loaded;
  const changed = change(loaded.record);
  if (changed === null) return ok(summaryOf(id, loaded.record));
  const written = await ctx.store.write([await putConversation(ctx, id, changed)]);
  return written.ok ? ok(summaryOf(id, changed)) : written;
}

export function renameConversation(ctx: VaultContext, id: string, title: string): Promise<StoreResult<ConversationSummary>> {
  const cleanedTitle = cleanTitle(title);
  if (cleanedTitle === null) return Promise.resolve(invalid('the title is too long or contains control characters'));
  return updateConversation(ctx, id, (record) => (record.title === cleanedTitle ? null : { ...record, title: cleanedTitle }));
}

export function markRead(ctx: VaultContext, id: string): Promise<StoreResult<ConversationSummary>> {
  return updateConversation(ctx, id, (record) => (record.unreadCount === 0 ? null : { ...record, unreadCount: 0 }));
}

/** What adding a message takes: the message as stored, the conversation's record after it, and the writes. */
export interface Appended {
  readonly message: StoredMessage;
  readonly conversation: ConversationRecord;
  readonly writes: readonly VaultWrite[];
}

/**
 * The writes that store `draft` as the conversation's next seq and the conversation's new summary (with `change`
 * applied too), for the caller to write in one batch with whatever else belongs with it. The message is added, never
 * put: if another tab took that seq first, the write fails as a conflict.
 */
export async function appendWrites(
  ctx: VaultContext,
  conversationId: string,
  conversation: ConversationRecord,
  draft: MessageDraft,
  change: (record: ConversationRecord, seq: number) => ConversationRecord = (record) => record,
): Promise<StoreResult<Appended>> {
  if (conversation.lastSeq >= MAX_SEQ) return invalid('this conversation holds as many messages as it can');
  const seq = conversation.lastSeq + 1;
  const { messageId, ...record } = draft;
  const message: StoredMessage = { kind: 'message', conversationId, seq, messageId, ...record };
  const updated = change(
    {
      ...conversation,
      lastSeq: seq,
      unreadCount: draft.author.type === 'me' ? conversation.unreadCount : conversation.unreadCount + 1,
      updatedAtMs: Math.max(conversation.updatedAtMs, timestampNow(ctx.clock)),
      lastMessage: { seq, author: draft.author, atMs: draft.atMs, preview: previewOf(draft.content) },
    },
    seq,
  );
  // Sealed side by side: WebCrypto runs each off the main thread, so the send waits for the slower one, not both.
  const [sealed, conversationWrite] = await Promise.all([sealMessage(ctx.dataKey(), { conversationId, seq, messageId }, record, ctx.random), putConversation(ctx, conversationId, updated)]);
  const writes: VaultWrite[] = [{ type: 'add-message', row: { conversationId, seq, messageId, sealed } }, conversationWrite];
  return ok({ message, conversation: updated, writes });
}

/** Adds one message on its own (with `alsoWrite` in the same write); see appendWrites. */
async function appendMessage(
  ctx: VaultContext,
  conversationId: string,
  draft: MessageDraft,
  alsoWrite: readonly VaultWrite[],
  change?: (record: ConversationRecord) => ConversationRecord,
): Promise<StoreResult<StoredMessage>> {
  const loaded = await loadConversation(ctx, conversationId);
  if (!loaded.ok) return loaded;
  const appended = await appendWrites(ctx, conversationId, loaded.record, draft, change);
  if (!appended.ok) return appended;
  const written = await ctx.store.write([...appended.value.writes, ...alsoWrite]);
  return written.ok ? ok(appended.value.message) : written;
}

/** Opens one message row of a conversation; 'unreadable' when it does not open or does not parse. */
export async function openMessageRow(ctx: VaultContext, conversationId: string, raw: unknown, pairPeer: OtherParty | null): Promise<HistoryEntry> {
  const row = parseMessageRow(raw);
  if (row === null || row.conversationId !== conversationId) return { kind: 'unreadable', conversationId, seq: row?.seq ?? null };
  const record = await openMessageRecord(ctx.dataKey(), row, row.sealed, pairPeer);
  if (record === null) return { kind: 'unreadable', conversationId, seq: row.seq };
  return { kind: 'message', conversationId, seq: row.seq, messageId: row.messageId, ...record };
}

/**
 * Up to `limit` messages with seq below `beforeSeq` (null: the newest), oldest first. Reads exactly the rows it
 * returns, newest first through the store's [conversationId, seq] key, however long the conversation is, and the
 * conversation's record (which says who the other person of messages kept before groups was).
 */
export async function readMessagePage(
  ctx: VaultContext,
  conversationId: string,
  beforeSeq: number | null,
  limit: number,
): Promise<HistoryEntry[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_MESSAGES) {
    throw new RangeError(`a page holds 1..${MAX_PAGE_MESSAGES} messages, not ${limit}`);
  }
  if (beforeSeq !== null && !(isSeq(beforeSeq) || beforeSeq === MAX_SEQ + 1)) {
    throw new RangeError(`messages before seq ${beforeSeq}: not a seq`);
  }
  if (!isVaultId(conversationId)) return [];
  const conversation = await loadConversation(ctx, conversationId);
  // Without its conversation, a message of the two-person history cannot say who wrote it: it shows as unreadable.
  const pairPeer = conversation.ok ? pairPeerOf(conversation.record.pairContactId) : null;
  const rows = await ctx.store.readMessages(conversationId, { direction: 'backward', beforeSeq }, limit);
  const entries = await Promise.all(rows.map((raw) => openMessageRow(ctx, conversationId, raw, pairPeer)));
  return entries.reverse();
}

export async function deleteConversation(ctx: VaultContext, id: string): Promise<StoreResult<null>> {
  if (!isVaultId(id)) return { ok: false, reason: 'no-conversation' };
  const written = await ctx.store.write([{ type: 'delete-conversation', conversationId: id }]);
  return written.ok ? ok(null) : written;
}

export async function deleteAllHistory(ctx: VaultContext): Promise<StoreResult<null>> {
  const written = await ctx.store.write([{ type: 'clear-history' }]);
  return written.ok ? ok(null) : written;
}

// ---- files --------------------------------------------------------------------------------------

async function hasRoomFor(ctx: VaultContext, sizeBytes: number): Promise<boolean> {
  const estimate = await ctx.store.estimate();
  return estimate === null || estimate.usageBytes + sizeBytes + QUOTA_MARGIN_BYTES <= estimate.quotaBytes;
}

/** Deletes a file's parts; failures are left for the sweep at the next unlock, which finds its pending marker. */
export async function discardFile(ctx: VaultContext, conversationId: string, fileId: string): Promise<void> {
  try {
    await ctx.store.write([{ type: 'delete-file', conversationId, fileId }]);
  } catch {
    // The marker stays, so the next unlock retries.
  }
}

/**
 * Seals and writes a file's bytes in parts, under a pending marker, outside any message. Storage that cannot
 * hold the file is refused before anything is written when the browser can say so, and otherwise undone.
 */
export async function writeFileParts(
  ctx: VaultContext,
  conversationId: string,
  draft: Pick<NewFileMessage, 'name' | 'mimeType'>,
  source: ByteSource,
): Promise<StoreResult<WrittenFile>> {
  const name = cleanName(draft.name, MAX_FILE_NAME_CHARS);
  if (name === null) return invalid(`a file name is 1 to ${MAX_FILE_NAME_CHARS} characters without control characters`);
  const mimeType = draft.mimeType === '' ? 'application/octet-stream' : draft.mimeType;
  if (cleanName(mimeType, MAX_MIME_TYPE_CHARS) !== mimeType) {
    return invalid('the file type is not a plausible media type');
  }
  const sizeBytes = source.sizeBytes;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0 || sizeBytes > MAX_FILE_BYTES) return invalid('the file is too large to store');
  const conversation = await loadConversation(ctx, conversationId);
  if (!conversation.ok) return conversation;
  if (!(await hasRoomFor(ctx, sizeBytes))) return { ok: false, reason: 'quota-exceeded' };

  const fileId = newVaultId(ctx.random);
  const partCount = filePartCount(sizeBytes);
  const marked = await ctx.store.write([{ type: 'put-pending-file', row: { conversationId, fileId } }]);
  if (!marked.ok) return marked;
  try {
    for (let first = 0; first < partCount; first += FILE_PARTS_PER_WRITE) {
      const batch: VaultWrite[] = [];
      for (let index = first; index < Math.min(partCount, first + FILE_PARTS_PER_WRITE); index++) {
        const start = index * FILE_PART_BYTES;
        const end = Math.min(sizeBytes, start + FILE_PART_BYTES);
        const bytes = await source.read(start, end);
        if (bytes.length !== end - start) throw new Error(`the file gave ${bytes.length} bytes for part ${index}, expected ${end - start}`);
        const sealed = await sealFilePart(ctx.dataKey(), { conversationId, fileId, index }, bytes, ctx.random);
        batch.push({ type: 'put-file-part', row: { conversationId, fileId, index, sealed } });
      }
      const written = await ctx.store.write(batch);
      if (!written.ok) {
        await discardFile(ctx, conversationId, fileId);
        return written;
      }
    }
  } catch (error) {
    await discardFile(ctx, conversationId, fileId);
    throw error;
  }
  return ok({ conversationId, file: { fileId, name, mimeType, sizeBytes, partCount } });
}

/**
 * Bytes of received files the conversation keeps: its record's count, or, for a record written before the count
 * existed, the sum over its stored file messages (read once; the next received file stores the count).
 */
async function keptReceivedFileBytes(ctx: VaultContext, conversationId: string, record: ConversationRecord): Promise<number> {
  if (record.receivedFileBytes !== null) return record.receivedFileBytes;
  const pairPeer = pairPeerOf(record.pairContactId);
  let total = 0;
  let afterSeq = 0;
  for (;;) {
    const rows = await ctx.store.readMessages(conversationId, { direction: 'forward', afterSeq }, MAX_PAGE_MESSAGES);
    const entries = await Promise.all(rows.map((raw) => openMessageRow(ctx, conversationId, raw, pairPeer)));
    for (const entry of entries) {
      if (entry.seq !== null) afterSeq = Math.max(afterSeq, entry.seq);
      if (entry.kind === 'message' && entry.author.type !== 'me' && entry.content.type === 'file') total += entry.content.file.sizeBytes;
    }
    // A page without one readable seq cannot be stepped past: what lies beyond is not counted.
    if (rows.length < MAX_PAGE_MESSAGES || entries.every((entry) => entry.seq === null)) return total;
  }
}

/** How much received-file history a conversation may keep without asking; null: no limit (the person said keep it). */
export type FileBudget = { readonly budgetBytes: number } | null;

/**
 * Whether a file of `sizeBytes` from `author` fits the conversation's budget: the new count of kept received-file
 * bytes if it does (null for a file that is not counted: one we sent), an `over-budget` failure if not.
 */
export async function receivedFileBudget(
  ctx: VaultContext,
  conversationId: string,
  author: Party,
  sizeBytes: number,
  budget: FileBudget,
): Promise<StoreResult<number | null>> {
  // Files we send are our own choice, already on this machine; the budget guards against what others send.
  if (author.type === 'me') return ok(null);
  const loaded = await loadConversation(ctx, conversationId);
  if (!loaded.ok) return loaded;
  const keptBytes = await keptReceivedFileBytes(ctx, conversationId, loaded.record);
  if (budget !== null && keptBytes + sizeBytes > budget.budgetBytes) return { ok: false, reason: 'over-budget', keptBytes, budgetBytes: budget.budgetBytes };
  return ok(keptBytes + sizeBytes);
}

/**
 * The message that makes written parts part of the history; its write also removes the pending marker and, for a
 * received file, adds its size to the conversation's count. The budget is checked again here, where writes are one
 * at a time, so files finishing together cannot all slip under it.
 */
export async function appendFileMessage(
  ctx: VaultContext,
  written: WrittenFile,
  draft: Pick<NewFileMessage, 'messageId' | 'author' | 'stream' | 'atMs'>,
  budget: FileBudget,
): Promise<StoreResult<StoredMessage>> {
  if (!isVaultId(draft.messageId)) return invalid('a message id is 16 bytes of base64url');
  const atMs = timestampOrNow(ctx, draft.atMs);
  if (atMs === null) return invalid('a message time is a whole number of milliseconds since 1970');
  const { conversationId, file } = written;
  const counted = await receivedFileBudget(ctx, conversationId, draft.author, file.sizeBytes, budget);
  if (!counted.ok) return counted;
  const receivedFileBytes = counted.value;
  const message: MessageDraft = {
    messageId: draft.messageId,
    author: draft.author,
    stream: draft.stream,
    authorSeq: null,
    writtenAtMs: atMs,
    atMs,
    content: { type: 'file', file },
    delivery: [],
  };
  return appendMessage(
    ctx,
    conversationId,
    message,
    [{ type: 'delete-pending-file', conversationId, fileId: file.fileId }],
    (record) => (receivedFileBytes === null ? record : { ...record, receivedFileBytes }),
  );
}

/** A stored file's bytes as a Blob of its type; 'unreadable' if any part is missing, altered or the wrong size. */
export async function readFile(ctx: VaultContext, conversationId: string, file: StoredFileInfo): Promise<StoreResult<Blob>> {
  if (!isVaultId(conversationId) || !isVaultId(file.fileId) || file.partCount !== filePartCount(file.sizeBytes)) {
    return invalid('not a stored file');
  }
  const builder = new BlobBuilder();
  for (let index = 0; index < file.partCount; index++) {
    const row = parseFilePartRow(await ctx.store.readFilePart(conversationId, file.fileId, index));
    if (row === null || row.conversationId !== conversationId || row.fileId !== file.fileId || row.index !== index) {
      return unreadable(`part ${index} of file ${file.fileId} is missing or malformed`);
    }
    const bytes = await openFilePart(ctx.dataKey(), row, row.sealed);
    const expectedBytes = Math.min(FILE_PART_BYTES, file.sizeBytes - index * FILE_PART_BYTES);
    if (bytes === null || bytes.length !== expectedBytes) return unreadable(`part ${index} of file ${file.fileId} does not open`);
    builder.append(bytes);
  }
  return ok(builder.build(file.mimeType));
}

/** Deletes the parts of files whose writing never finished (the page closed, crashed or was locked meanwhile). */
export async function sweepPendingFiles(ctx: VaultContext): Promise<void> {
  const pending = (await ctx.store.readPendingFiles()).map(parsePendingFileRow).filter((row) => row !== null);
  if (pending.length === 0) return;
  await ctx.store.write(pending.map((row): VaultWrite => ({ type: 'delete-file', conversationId: row.conversationId, fileId: row.fileId })));
}
