/**
 * Conversations, messages and stored files of an unlocked vault. A conversation's summary (unread count,
 * last message, next seq) lives in its own sealed record and is rewritten in the same write as each
 * message, so the list never needs to read a message, and a page of messages reads only that page.
 */
import { bytesEqual } from '../encoding.ts';
import { ROOM_SECRET_BYTES } from '../crypto/roomSecret.ts';
import { BlobBuilder, type ByteSource } from './blobParts.ts';
import { isSeq, isVaultId, MAX_SEQ, newVaultId } from './recordIds.ts';
import { parseFilePartRow, parseMessageRow, parsePendingFileRow, parseSealedRow, type MessageRow, type VaultWrite } from './storePort.ts';
import { invalid, ok, timestampNow, unreadable, type StoreResult, type VaultContext, type VaultFailure } from './vaultContext.ts';
import {
  cleanName,
  cleanTitle,
  FILE_PART_BYTES,
  filePartCount,
  isMessageText,
  MAX_FILE_BYTES,
  MAX_FILE_NAME_CHARS,
  MAX_MIME_TYPE_CHARS,
  openConversationRecord,
  openFilePart,
  openMessageRecord,
  previewOf,
  sealConversation,
  sealFilePart,
  sealMessage,
  type ConversationRecord,
  type LastMessage,
  type MessageContent,
  type MessageDirection,
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
  /** The contact last seen in this room, if the peer had a profile. */
  readonly contactId: string | null;
  readonly createdAtMs: number;
  /** When a message was last stored here (or the conversation made): the list is sorted by this, newest first. */
  readonly updatedAtMs: number;
  readonly messageCount: number;
  readonly unreadCount: number;
  readonly lastMessage: LastMessage | null;
}

/** A conversation whose record does not open (damaged or tampered storage): it can only be deleted. */
export interface UnreadableConversation {
  readonly kind: 'unreadable';
  readonly id: string;
}

export type ConversationEntry = ConversationSummary | UnreadableConversation;

export interface StoredMessage {
  readonly kind: 'message';
  readonly conversationId: string;
  readonly seq: number;
  readonly messageId: string;
  readonly direction: MessageDirection;
  readonly atMs: number;
  readonly content: MessageContent;
  /** When the peer's receipt arrived; null until then, and always for incoming messages. */
  readonly deliveredAtMs: number | null;
}

/** A message row that does not open or parse; its seq is null only when the row itself is malformed. */
export interface UnreadableMessage {
  readonly kind: 'unreadable';
  readonly conversationId: string;
  readonly seq: number | null;
}

export type HistoryEntry = StoredMessage | UnreadableMessage;

export interface NewTextMessage {
  /** The id the message has (or had) on the wire: 16 bytes, base64url. */
  readonly messageId: string;
  readonly direction: MessageDirection;
  readonly text: string;
  /** Defaults to now. */
  readonly atMs?: number;
}

export interface NewFileMessage {
  readonly messageId: string;
  readonly direction: MessageDirection;
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
    contactId: record.contactId,
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
    messageCount: record.lastSeq,
    unreadCount: record.unreadCount,
    lastMessage: record.lastMessage,
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
    contactId: null,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    lastSeq: 0,
    unreadCount: 0,
    lastMessage: null,
    receivedFileBytes: 0,
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

/**
 * Stores a message as the conversation's next seq, and the conversation's new summary, in one write. The
 * message is added, never put: if another tab took that seq first, the write fails as a conflict.
 */
async function appendContent(
  ctx: VaultContext,
  conversationId: string,
  messageId: string,
  direction: MessageDirection,
  atMs: number,
  content: MessageContent,
  alsoWrite: readonly VaultWrite[],
  /** The conversation's new count of kept received-file bytes, when this message changes it. */
  receivedFileBytes?: number,
): Promise<StoreResult<StoredMessage>> {
  const loaded = await loadConversation(ctx, conversationId);
  if (!loaded.ok) return loaded;
  const conversation = loaded.record;
  if (conversation.lastSeq >= MAX_SEQ) return invalid('this conversation holds as many messages as it can');
  const seq = conversation.lastSeq + 1;
  const message: StoredMessage = { kind: 'message', conversationId, seq, messageId, direction, atMs, content, deliveredAtMs: null };
  const updated: ConversationRecord = {
    ...conversation,
    lastSeq: seq,
    unreadCount: direction === 'incoming' ? conversation.unreadCount + 1 : conversation.unreadCount,
    updatedAtMs: Math.max(conversation.updatedAtMs, timestampNow(ctx.clock)),
    lastMessage: { seq, direction, atMs, preview: previewOf(content) },
    receivedFileBytes: receivedFileBytes ?? conversation.receivedFileBytes,
  };
  const sealed = await sealMessage(ctx.dataKey(), { conversationId, seq, messageId }, message, ctx.random);
  const written = await ctx.store.write([
    { type: 'add-message', row: { conversationId, seq, messageId, sealed } },
    await putConversation(ctx, conversationId, updated),
    ...alsoWrite,
  ]);
  return written.ok ? ok(message) : written;
}

export async function appendText(ctx: VaultContext, conversationId: string, draft: NewTextMessage): Promise<StoreResult<StoredMessage>> {
  if (!isVaultId(draft.messageId)) return invalid('a message id is 16 bytes of base64url');
  if (!isMessageText(draft.text)) return invalid('message text must be 1 to 65536 bytes of well-formed text');
  const atMs = timestampOrNow(ctx, draft.atMs);
  if (atMs === null) return invalid('a message time is a whole number of milliseconds since 1970');
  return appendContent(ctx, conversationId, draft.messageId, draft.direction, atMs, { type: 'text', text: draft.text }, []);
}

/** Records the peer's receipt for one of our messages; null when there is no outgoing message with that id. */
export async function markDelivered(
  ctx: VaultContext,
  conversationId: string,
  messageId: string,
  deliveredAtMs: number,
): Promise<StoreResult<StoredMessage | null>> {
  if (!isVaultId(conversationId) || !isVaultId(messageId)) return ok(null);
  if (!isTimestamp(deliveredAtMs)) return invalid('a receipt time is a whole number of milliseconds since 1970');
  const found = await storedReceipt(ctx, conversationId, messageId, deliveredAtMs);
  if (found === null) return ok(null);
  if (found.write === null) return ok(found.message);
  const written = await ctx.store.write([found.write]);
  return written.ok ? ok(found.message) : written;
}

/**
 * The newest stored outgoing message with this wire id, marked delivered, and the write that records it (null when
 * it already was); null when there is no such message. Wire ids are not trusted to be unique (§6.3), and a peer
 * picks the ids of its own messages, so one may share an id with ours: receipts only touch ours.
 */
async function storedReceipt(
  ctx: VaultContext,
  conversationId: string,
  messageId: string,
  deliveredAtMs: number,
): Promise<{ readonly message: StoredMessage; readonly write: VaultWrite | null } | null> {
  const rows = (await ctx.store.readMessagesById(conversationId, messageId))
    .map(parseMessageRow)
    .filter((row): row is MessageRow => row !== null && row.conversationId === conversationId && row.messageId === messageId)
    .sort((a, b) => b.seq - a.seq);
  for (const row of rows) {
    const record = await openMessageRecord(ctx.dataKey(), row, row.sealed);
    if (record === null || record.direction !== 'outgoing') continue;
    const message: StoredMessage = { kind: 'message', conversationId, seq: row.seq, messageId, ...record };
    if (record.deliveredAtMs !== null) return { message, write: null };
    const delivered: StoredMessage = { ...message, deliveredAtMs };
    const sealed = await sealMessage(ctx.dataKey(), row, delivered, ctx.random);
    return { message: delivered, write: { type: 'put-message', row: { ...row, sealed } } };
  }
  return null;
}

/** What a chat says in a moment, kept together: new text messages, receipts for ours, and whether the person saw them. */
export interface ChatBatch {
  readonly texts: readonly NewTextMessage[];
  readonly receipts: readonly { readonly messageId: string; readonly atMs: number }[];
  /** The person has the conversation in front of them: nothing in it is unread afterwards. */
  readonly read: boolean;
}

/**
 * Keeps a moment of chat in ONE write: the texts as the next seqs, every receipt (a receipt for a text of the same
 * batch is folded into it), and the conversation's summary once. While two people chat quickly this costs one
 * transaction and one summary seal per batch instead of several per message, which is what keeps storing from
 * slowing the chat. All-or-nothing, like every write.
 */
export async function recordChatBatch(ctx: VaultContext, conversationId: string, batch: ChatBatch): Promise<StoreResult<number>> {
  const drafts: { messageId: string; direction: MessageDirection; atMs: number; text: string; deliveredAtMs: number | null }[] = [];
  for (const draft of batch.texts) {
    if (!isVaultId(draft.messageId)) return invalid('a message id is 16 bytes of base64url');
    if (!isMessageText(draft.text)) return invalid('message text must be 1 to 65536 bytes of well-formed text');
    const atMs = timestampOrNow(ctx, draft.atMs);
    if (atMs === null) return invalid('a message time is a whole number of milliseconds since 1970');
    drafts.push({ messageId: draft.messageId, direction: draft.direction, atMs, text: draft.text, deliveredAtMs: null });
  }
  const loaded = await loadConversation(ctx, conversationId);
  if (!loaded.ok) return loaded;
  const conversation = loaded.record;
  if (conversation.lastSeq + drafts.length > MAX_SEQ) return invalid('this conversation holds as many messages as it can');

  const receiptWrites: VaultWrite[] = [];
  for (const receipt of batch.receipts) {
    if (!isVaultId(receipt.messageId) || !isTimestamp(receipt.atMs)) continue;
    const inBatch = drafts.findLast((draft) => draft.direction === 'outgoing' && draft.messageId === receipt.messageId);
    if (inBatch !== undefined) {
      inBatch.deliveredAtMs ??= receipt.atMs;
      continue;
    }
    const stored = await storedReceipt(ctx, conversationId, receipt.messageId, receipt.atMs);
    if (stored !== null && stored.write !== null) receiptWrites.push(stored.write);
  }
  const writes: VaultWrite[] = [];
  let seq = conversation.lastSeq;
  let incoming = 0;
  let lastMessage = conversation.lastMessage;
  for (const draft of drafts) {
    seq += 1;
    if (draft.direction === 'incoming') incoming += 1;
    const content: MessageContent = { type: 'text', text: draft.text };
    const message: StoredMessage = { kind: 'message', conversationId, seq, messageId: draft.messageId, direction: draft.direction, atMs: draft.atMs, content, deliveredAtMs: draft.deliveredAtMs };
    const sealed = await sealMessage(ctx.dataKey(), { conversationId, seq, messageId: draft.messageId }, message, ctx.random);
    writes.push({ type: 'add-message', row: { conversationId, seq, messageId: draft.messageId, sealed } });
    lastMessage = { seq, direction: draft.direction, atMs: draft.atMs, preview: previewOf(content) };
  }
  const unreadCount = batch.read ? 0 : conversation.unreadCount + incoming;
  if (drafts.length > 0 || unreadCount !== conversation.unreadCount) {
    const updated: ConversationRecord = {
      ...conversation,
      lastSeq: seq,
      unreadCount,
      updatedAtMs: drafts.length > 0 ? Math.max(conversation.updatedAtMs, timestampNow(ctx.clock)) : conversation.updatedAtMs,
      lastMessage,
    };
    writes.push(await putConversation(ctx, conversationId, updated));
  }
  writes.push(...receiptWrites);
  if (writes.length === 0) return ok(0);
  const written = await ctx.store.write(writes);
  return written.ok ? ok(drafts.length) : written;
}

/**
 * Up to `limit` messages with seq below `beforeSeq` (null: the newest), oldest first. Reads exactly the rows it
 * returns, newest first through the store's [conversationId, seq] key, however long the conversation is.
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
  const rows = await ctx.store.readMessages(conversationId, { direction: 'backward', beforeSeq }, limit);
  const entries = await Promise.all(
    rows.map(async (raw): Promise<HistoryEntry> => {
      const row = parseMessageRow(raw);
      if (row === null || row.conversationId !== conversationId) return { kind: 'unreadable', conversationId, seq: row?.seq ?? null };
      const record = await openMessageRecord(ctx.dataKey(), row, row.sealed);
      if (record === null) return { kind: 'unreadable', conversationId, seq: row.seq };
      return { kind: 'message', conversationId, seq: row.seq, messageId: row.messageId, ...record };
    }),
  );
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
  let total = 0;
  let afterSeq = 0;
  for (;;) {
    const rows = (await ctx.store.readMessages(conversationId, { direction: 'forward', afterSeq }, MAX_PAGE_MESSAGES)).map(parseMessageRow);
    for (const row of rows) {
      if (row === null || row.conversationId !== conversationId) continue;
      afterSeq = Math.max(afterSeq, row.seq);
      const message = await openMessageRecord(ctx.dataKey(), row, row.sealed);
      if (message?.direction === 'incoming' && message.content.type === 'file') total += message.content.file.sizeBytes;
    }
    // A page without one readable seq cannot be stepped past: what lies beyond is not counted.
    if (rows.length < MAX_PAGE_MESSAGES || rows.every((row) => row === null)) return total;
  }
}

/** How much received-file history a conversation may keep without asking; null: no limit (the person said keep it). */
export type FileBudget = { readonly budgetBytes: number } | null;

/**
 * Whether a received file of `sizeBytes` fits the conversation's budget: the new count of kept received-file bytes
 * if it does (null for a file that is not counted: one we sent), an `over-budget` failure if not.
 */
export async function receivedFileBudget(
  ctx: VaultContext,
  conversationId: string,
  direction: MessageDirection,
  sizeBytes: number,
  budget: FileBudget,
): Promise<StoreResult<number | null>> {
  // Files we send are our own choice, already on this machine; the budget guards against what a peer sends.
  if (direction === 'outgoing') return ok(null);
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
  draft: Pick<NewFileMessage, 'messageId' | 'direction' | 'atMs'>,
  budget: FileBudget,
): Promise<StoreResult<StoredMessage>> {
  if (!isVaultId(draft.messageId)) return invalid('a message id is 16 bytes of base64url');
  const atMs = timestampOrNow(ctx, draft.atMs);
  if (atMs === null) return invalid('a message time is a whole number of milliseconds since 1970');
  const { conversationId, file } = written;
  const counted = await receivedFileBudget(ctx, conversationId, draft.direction, file.sizeBytes, budget);
  if (!counted.ok) return counted;
  return appendContent(
    ctx,
    conversationId,
    draft.messageId,
    draft.direction,
    atMs,
    { type: 'file', file },
    [{ type: 'delete-pending-file', conversationId, fileId: file.fileId }],
    counted.value ?? undefined,
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
