/**
 * What each sealed record of the vault holds once opened — the profile, conversations, contacts, messages and
 * file parts — with its JSON form, a strict parser, and the record kind and id it is sealed under.
 */
import { assertNever } from '../assertNever.ts';
import { base64urlToBytes, bytesToBase64url, fromUtf8, utf8 } from '../encoding.ts';
import type { Random } from '../ports.ts';
import { ROOM_SECRET_BYTES } from '../crypto/roomSecret.ts';
import { MAX_MESSAGE_TEXT_BYTES } from '../protocol/groupMessages.ts';
import { exactFields } from './exactFields.ts';
import { filePartRecordId, isVaultId, MAX_SEQ, messageRecordId } from './recordIds.ts';
import { openJsonRecord, openRecord, sealJsonRecord, sealRecord } from './records.ts';

/** The settings record holding the profile; the identity's private key is the settings record 'identity' (identity.ts). */
export const PROFILE_RECORD_ID = 'profile';
/** Record format version inside every JSON record, so a later version can tell old records from new. */
const RECORD_FORMAT = 1;

export const MAX_DISPLAY_NAME_CHARS = 64;
export const MAX_TITLE_CHARS = 200;
/** How much of a text message the conversation list keeps as its preview. */
export const PREVIEW_CHARS = 120;
/** Same bounds as a transfer offer's name and type (transferMessages.ts), so any received file can be stored. */
export const MAX_FILE_NAME_CHARS = 255;
export const MAX_MIME_TYPE_CHARS = 127;
/** File bytes are sealed in parts of this size (the last one smaller), so no single record is huge. */
export const FILE_PART_BYTES = 1024 * 1024;
/** A stored file's parts are counted in u32, like message seqs. */
export const MAX_FILE_BYTES = FILE_PART_BYTES * MAX_SEQ;

export type MessageDirection = 'outgoing' | 'incoming';

export interface ProfileRecord {
  readonly displayName: string;
  readonly publicKeySpki: Uint8Array;
  readonly createdAtMs: number;
}

export type MessagePreview =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'file'; readonly name: string; readonly mimeType: string };

export interface LastMessage {
  readonly seq: number;
  readonly direction: MessageDirection;
  readonly atMs: number;
  readonly preview: MessagePreview;
}

export interface ConversationRecord {
  /** The room link's secret, so the room can be reopened from the list; it never leaves the sealed record. */
  readonly roomSecret: Uint8Array;
  readonly title: string;
  readonly contactId: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  /** The seq of the newest message (0: none yet); the next message gets lastSeq + 1. */
  readonly lastSeq: number;
  readonly unreadCount: number;
  readonly lastMessage: LastMessage | null;
  /**
   * Bytes of received files kept in this conversation, updated in the same write as each file message (and gone with
   * the conversation), so the history budget never reads a message. Null in records written before it was counted:
   * then it is counted from the messages once, at the next received file.
   */
  readonly receivedFileBytes: number | null;
}

export interface ContactRecord {
  /** What the peer calls itself: its claim, shown as such, never a proof of anything. */
  readonly displayName: string;
  readonly publicKeySpki: Uint8Array;
  /** The key this contact had before its latest change, if it ever changed. */
  readonly previousKeySpki: Uint8Array | null;
  readonly verified: boolean;
  /** Set when the key changes; cleared by verifying or acknowledging. */
  readonly keyChanged: boolean;
  readonly firstSeenAtMs: number;
  readonly lastSeenAtMs: number;
}

export interface StoredFileInfo {
  readonly fileId: string;
  readonly name: string;
  readonly mimeType: string;
  readonly sizeBytes: number;
  readonly partCount: number;
}

export type MessageContent = { readonly type: 'text'; readonly text: string } | { readonly type: 'file'; readonly file: StoredFileInfo };

export interface MessageRecord {
  readonly direction: MessageDirection;
  readonly atMs: number;
  readonly content: MessageContent;
  readonly deliveredAtMs: number | null;
}

// ---- field checks -------------------------------------------------------------------------------

function codePointCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** No lone surrogates: such text has no UTF-8 form and would not survive a record round trip. */
function isWellFormed(text: string): boolean {
  return fromUtf8(utf8(text)) === text;
}

// C0/C1 controls and the bidirectional overrides and isolates, which can make a name display as another.
const FORBIDDEN_IN_NAMES = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/** A display name or title as stored: NFC, trimmed, 1..maxChars code points, no controls or bidi overrides; else null. */
export function cleanName(raw: string, maxChars: number): string | null {
  if (!isWellFormed(raw)) return null;
  const name = raw.normalize('NFC').trim();
  const length = codePointCount(name);
  if (length === 0 || length > maxChars || FORBIDDEN_IN_NAMES.test(name)) return null;
  return name;
}

/** Titles may be empty (the UI then shows the contact's name or a placeholder). */
export function cleanTitle(raw: string): string | null {
  return raw.trim() === '' ? '' : cleanName(raw, MAX_TITLE_CHARS);
}

export function isMessageText(value: unknown): value is string {
  if (typeof value !== 'string' || !isWellFormed(value)) return false;
  const bytes = utf8(value).length;
  return bytes >= 1 && bytes <= MAX_MESSAGE_TEXT_BYTES;
}

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SEQ;
}

function isDirection(value: unknown): value is MessageDirection {
  return value === 'outgoing' || value === 'incoming';
}

function isBoundedString(value: unknown, maxChars: number): value is string {
  return typeof value === 'string' && isWellFormed(value) && codePointCount(value) <= maxChars;
}

function isStoredName(value: unknown, maxChars: number): value is string {
  return typeof value === 'string' && cleanName(value, maxChars) === value;
}

function parseBytes(value: unknown, lengthBytes?: number): Uint8Array | null {
  if (typeof value !== 'string') return null;
  const bytes = base64urlToBytes(value);
  if (bytes === null || (lengthBytes !== undefined && bytes.length !== lengthBytes)) return null;
  return bytes;
}

/** SPKI of a P-256 key is 91 bytes; anything past a few hundred is not a public key. */
const MAX_SPKI_BYTES = 512;

function parseSpki(value: unknown): Uint8Array | null {
  const bytes = parseBytes(value);
  return bytes !== null && bytes.length > 0 && bytes.length <= MAX_SPKI_BYTES ? bytes : null;
}

/** Parses the record-format marker and the remaining fields in one go. */
function versionedFields(value: unknown, keys: readonly string[]): ((key: string) => unknown) | null {
  const field = exactFields(value, ['v', ...keys]);
  return field !== null && field('v') === RECORD_FORMAT ? field : null;
}

// ---- profile ------------------------------------------------------------------------------------

function encodeProfile(profile: ProfileRecord): unknown {
  return {
    v: RECORD_FORMAT,
    displayName: profile.displayName,
    publicKeySpki: bytesToBase64url(profile.publicKeySpki),
    createdAtMs: profile.createdAtMs,
  };
}

export function parseProfile(value: unknown): ProfileRecord | null {
  const field = versionedFields(value, ['displayName', 'publicKeySpki', 'createdAtMs']);
  if (field === null) return null;
  const displayName = field('displayName');
  const publicKeySpki = parseSpki(field('publicKeySpki'));
  const createdAtMs = field('createdAtMs');
  if (!isStoredName(displayName, MAX_DISPLAY_NAME_CHARS) || publicKeySpki === null || !isTimestamp(createdAtMs)) return null;
  return { displayName, publicKeySpki, createdAtMs };
}

// ---- preferences --------------------------------------------------------------------------------

/** The settings record holding the person's choices; absent until they change one. */
export const PREFERENCES_RECORD_ID = 'preferences';
/** The idle times the app offers before locking by itself, in minutes; anything else read back is refused. */
export const AUTO_LOCK_CHOICES_MINUTES: readonly number[] = [1, 5, 15, 60, 240];

const MIB = 1024 * 1024;
/**
 * How many bytes of received files one conversation keeps in the history without asking (PROTOCOL.md §11.4); 0 asks
 * for every one. A peer can send files without asking, so without a budget it could fill the disk, file after file.
 */
export const RECEIVED_FILES_BUDGET_CHOICES_BYTES: readonly number[] = [0, 256 * MIB, 1024 * MIB, 4096 * MIB, 16384 * MIB];

export interface Preferences {
  readonly autoLockMinutes: number;
  readonly receivedFilesBudgetBytes: number;
}

export const DEFAULT_PREFERENCES: Preferences = { autoLockMinutes: 15, receivedFilesBudgetBytes: 1024 * MIB };

/** Also reads the record as versions before the budget wrote it (the budget is then the default). */
export function parsePreferences(value: unknown): Preferences | null {
  const field = versionedFields(value, ['autoLockMinutes', 'receivedFilesBudgetBytes']) ?? versionedFields(value, ['autoLockMinutes']);
  if (field === null) return null;
  const autoLockMinutes = field('autoLockMinutes');
  const budget = field('receivedFilesBudgetBytes') ?? DEFAULT_PREFERENCES.receivedFilesBudgetBytes;
  if (typeof autoLockMinutes !== 'number' || !AUTO_LOCK_CHOICES_MINUTES.includes(autoLockMinutes)) return null;
  if (typeof budget !== 'number' || !RECEIVED_FILES_BUDGET_CHOICES_BYTES.includes(budget)) return null;
  return { autoLockMinutes, receivedFilesBudgetBytes: budget };
}

export function sealPreferences(dataKey: CryptoKey, preferences: Preferences, random: Random): Promise<Uint8Array> {
  const encoded = { v: RECORD_FORMAT, autoLockMinutes: preferences.autoLockMinutes, receivedFilesBudgetBytes: preferences.receivedFilesBudgetBytes };
  return sealJsonRecord(dataKey, 'settings', PREFERENCES_RECORD_ID, encoded, random);
}

export function openPreferences(dataKey: CryptoKey, sealed: Uint8Array): Promise<Preferences | null> {
  return openParsed(dataKey, 'settings', PREFERENCES_RECORD_ID, sealed, parsePreferences);
}

// ---- conversation -------------------------------------------------------------------------------

function encodePreview(preview: MessagePreview): unknown {
  switch (preview.type) {
    case 'text':
      return { type: 'text', text: preview.text };
    case 'file':
      return { type: 'file', name: preview.name, mimeType: preview.mimeType };
    default:
      return assertNever(preview, 'message preview');
  }
}

function parsePreview(value: unknown): MessagePreview | null {
  const text = exactFields(value, ['type', 'text']);
  if (text !== null) {
    const content = text('text');
    return text('type') === 'text' && isBoundedString(content, PREVIEW_CHARS) ? { type: 'text', text: content } : null;
  }
  const file = exactFields(value, ['type', 'name', 'mimeType']);
  if (file === null || file('type') !== 'file') return null;
  const name = file('name');
  const mimeType = file('mimeType');
  if (!isStoredName(name, MAX_FILE_NAME_CHARS) || !isStoredName(mimeType, MAX_MIME_TYPE_CHARS)) return null;
  return { type: 'file', name, mimeType };
}

function encodeLastMessage(last: LastMessage | null): unknown {
  if (last === null) return null;
  return { seq: last.seq, direction: last.direction, atMs: last.atMs, preview: encodePreview(last.preview) };
}

/** null is a valid "no message yet"; undefined means the value does not parse. */
function parseLastMessage(value: unknown): LastMessage | null | undefined {
  if (value === null) return null;
  const field = exactFields(value, ['seq', 'direction', 'atMs', 'preview']);
  if (field === null) return undefined;
  const seq = field('seq');
  const direction = field('direction');
  const atMs = field('atMs');
  const preview = parsePreview(field('preview'));
  if (!isCount(seq) || seq === 0 || !isDirection(direction) || !isTimestamp(atMs) || preview === null) return undefined;
  return { seq, direction, atMs, preview };
}

function encodeConversation(record: ConversationRecord): unknown {
  return {
    v: RECORD_FORMAT,
    roomSecret: bytesToBase64url(record.roomSecret),
    title: record.title,
    contactId: record.contactId,
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
    lastSeq: record.lastSeq,
    unreadCount: record.unreadCount,
    lastMessage: encodeLastMessage(record.lastMessage),
    receivedFileBytes: record.receivedFileBytes,
  };
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

const CONVERSATION_KEYS = ['roomSecret', 'title', 'contactId', 'createdAtMs', 'updatedAtMs', 'lastSeq', 'unreadCount', 'lastMessage'];

/** Also reads the record as versions before the received-file count wrote it (the count is then null: unknown). */
export function parseConversation(value: unknown): ConversationRecord | null {
  const field = versionedFields(value, [...CONVERSATION_KEYS, 'receivedFileBytes']) ?? versionedFields(value, CONVERSATION_KEYS);
  if (field === null) return null;
  const receivedFileBytes = field('receivedFileBytes') ?? null;
  const roomSecret = parseBytes(field('roomSecret'), ROOM_SECRET_BYTES);
  const title = field('title');
  const contactId = field('contactId');
  const createdAtMs = field('createdAtMs');
  const updatedAtMs = field('updatedAtMs');
  const lastSeq = field('lastSeq');
  const unreadCount = field('unreadCount');
  const lastMessage = parseLastMessage(field('lastMessage'));
  if (
    roomSecret === null ||
    typeof title !== 'string' ||
    cleanTitle(title) !== title ||
    (contactId !== null && !isVaultId(contactId)) ||
    !isTimestamp(createdAtMs) ||
    !isTimestamp(updatedAtMs) ||
    !isCount(lastSeq) ||
    !isCount(unreadCount) ||
    unreadCount > lastSeq ||
    lastMessage === undefined ||
    (lastMessage !== null && lastMessage.seq > lastSeq) ||
    (receivedFileBytes !== null && !isByteCount(receivedFileBytes))
  ) {
    return null;
  }
  return { roomSecret, title, contactId, createdAtMs, updatedAtMs, lastSeq, unreadCount, lastMessage, receivedFileBytes };
}

// ---- contact ------------------------------------------------------------------------------------

function encodeContact(record: ContactRecord): unknown {
  return {
    v: RECORD_FORMAT,
    displayName: record.displayName,
    publicKeySpki: bytesToBase64url(record.publicKeySpki),
    previousKeySpki: record.previousKeySpki === null ? null : bytesToBase64url(record.previousKeySpki),
    verified: record.verified,
    keyChanged: record.keyChanged,
    firstSeenAtMs: record.firstSeenAtMs,
    lastSeenAtMs: record.lastSeenAtMs,
  };
}

export function parseContact(value: unknown): ContactRecord | null {
  const field = versionedFields(value, [
    'displayName',
    'publicKeySpki',
    'previousKeySpki',
    'verified',
    'keyChanged',
    'firstSeenAtMs',
    'lastSeenAtMs',
  ]);
  if (field === null) return null;
  const displayName = field('displayName');
  const publicKeySpki = parseSpki(field('publicKeySpki'));
  const previousField = field('previousKeySpki');
  const previousKeySpki = previousField === null ? null : parseSpki(previousField);
  const verified = field('verified');
  const keyChanged = field('keyChanged');
  const firstSeenAtMs = field('firstSeenAtMs');
  const lastSeenAtMs = field('lastSeenAtMs');
  if (
    !isStoredName(displayName, MAX_DISPLAY_NAME_CHARS) ||
    publicKeySpki === null ||
    (previousField !== null && previousKeySpki === null) ||
    typeof verified !== 'boolean' ||
    typeof keyChanged !== 'boolean' ||
    !isTimestamp(firstSeenAtMs) ||
    !isTimestamp(lastSeenAtMs)
  ) {
    return null;
  }
  return { displayName, publicKeySpki, previousKeySpki, verified, keyChanged, firstSeenAtMs, lastSeenAtMs };
}

// ---- message ------------------------------------------------------------------------------------

export function filePartCount(sizeBytes: number): number {
  return Math.ceil(sizeBytes / FILE_PART_BYTES);
}

function encodeContent(content: MessageContent): unknown {
  switch (content.type) {
    case 'text':
      return { type: 'text', text: content.text };
    case 'file': {
      const { fileId, name, mimeType, sizeBytes, partCount } = content.file;
      return { type: 'file', file: { fileId, name, mimeType, sizeBytes, partCount } };
    }
    default:
      return assertNever(content, 'message content');
  }
}

function parseFileInfo(value: unknown): StoredFileInfo | null {
  const field = exactFields(value, ['fileId', 'name', 'mimeType', 'sizeBytes', 'partCount']);
  if (field === null) return null;
  const fileId = field('fileId');
  const name = field('name');
  const mimeType = field('mimeType');
  const sizeBytes = field('sizeBytes');
  const partCount = field('partCount');
  if (
    !isVaultId(fileId) ||
    !isStoredName(name, MAX_FILE_NAME_CHARS) ||
    !isStoredName(mimeType, MAX_MIME_TYPE_CHARS) ||
    typeof sizeBytes !== 'number' ||
    !Number.isSafeInteger(sizeBytes) ||
    sizeBytes < 0 ||
    sizeBytes > MAX_FILE_BYTES ||
    partCount !== filePartCount(sizeBytes)
  ) {
    return null;
  }
  return { fileId, name, mimeType, sizeBytes, partCount };
}

function parseContent(value: unknown): MessageContent | null {
  const text = exactFields(value, ['type', 'text']);
  if (text !== null) {
    const content = text('text');
    return text('type') === 'text' && isMessageText(content) ? { type: 'text', text: content } : null;
  }
  const file = exactFields(value, ['type', 'file']);
  if (file === null || file('type') !== 'file') return null;
  const info = parseFileInfo(file('file'));
  return info === null ? null : { type: 'file', file: info };
}

function encodeMessage(record: MessageRecord): unknown {
  return {
    v: RECORD_FORMAT,
    direction: record.direction,
    atMs: record.atMs,
    content: encodeContent(record.content),
    deliveredAtMs: record.deliveredAtMs,
  };
}

export function parseMessageRecord(value: unknown): MessageRecord | null {
  const field = versionedFields(value, ['direction', 'atMs', 'content', 'deliveredAtMs']);
  if (field === null) return null;
  const direction = field('direction');
  const atMs = field('atMs');
  const content = parseContent(field('content'));
  const deliveredAtMs = field('deliveredAtMs');
  if (!isDirection(direction) || !isTimestamp(atMs) || content === null || (deliveredAtMs !== null && !isTimestamp(deliveredAtMs))) {
    return null;
  }
  // Only our own messages get receipts.
  if (direction === 'incoming' && deliveredAtMs !== null) return null;
  return { direction, atMs, content, deliveredAtMs };
}

export function previewOf(content: MessageContent): MessagePreview {
  switch (content.type) {
    case 'text':
      return { type: 'text', text: truncateChars(content.text, PREVIEW_CHARS) };
    case 'file':
      return { type: 'file', name: content.file.name, mimeType: content.file.mimeType };
    default:
      return assertNever(content, 'message content');
  }
}

function truncateChars(text: string, maxChars: number): string {
  let out = '';
  let count = 0;
  for (const char of text) {
    if (count === maxChars) break;
    out += char;
    count += 1;
  }
  return out;
}

// ---- sealing ------------------------------------------------------------------------------------

/** Opens a JSON record and parses it: null when it does not open, is not JSON, or does not parse. */
async function openParsed<T>(
  dataKey: CryptoKey,
  kind: 'settings' | 'conversation' | 'contact' | 'message',
  id: string,
  sealed: Uint8Array,
  parse: (value: unknown) => T | null,
): Promise<T | null> {
  const opened = await openJsonRecord(dataKey, kind, id, sealed);
  return opened.ok ? parse(opened.value) : null;
}

export function sealProfile(dataKey: CryptoKey, profile: ProfileRecord, random: Random): Promise<Uint8Array> {
  return sealJsonRecord(dataKey, 'settings', PROFILE_RECORD_ID, encodeProfile(profile), random);
}

export function openProfile(dataKey: CryptoKey, sealed: Uint8Array): Promise<ProfileRecord | null> {
  return openParsed(dataKey, 'settings', PROFILE_RECORD_ID, sealed, parseProfile);
}

export function sealConversation(dataKey: CryptoKey, id: string, record: ConversationRecord, random: Random): Promise<Uint8Array> {
  return sealJsonRecord(dataKey, 'conversation', id, encodeConversation(record), random);
}

export function openConversationRecord(dataKey: CryptoKey, id: string, sealed: Uint8Array): Promise<ConversationRecord | null> {
  return openParsed(dataKey, 'conversation', id, sealed, parseConversation);
}

export function sealContact(dataKey: CryptoKey, id: string, record: ContactRecord, random: Random): Promise<Uint8Array> {
  return sealJsonRecord(dataKey, 'contact', id, encodeContact(record), random);
}

export function openContactRecord(dataKey: CryptoKey, id: string, sealed: Uint8Array): Promise<ContactRecord | null> {
  return openParsed(dataKey, 'contact', id, sealed, parseContact);
}

export interface MessageKey {
  readonly conversationId: string;
  readonly seq: number;
  readonly messageId: string;
}

export function sealMessage(dataKey: CryptoKey, key: MessageKey, record: MessageRecord, random: Random): Promise<Uint8Array> {
  return sealJsonRecord(dataKey, 'message', messageRecordId(key.conversationId, key.seq, key.messageId), encodeMessage(record), random);
}

export function openMessageRecord(dataKey: CryptoKey, key: MessageKey, sealed: Uint8Array): Promise<MessageRecord | null> {
  return openParsed(dataKey, 'message', messageRecordId(key.conversationId, key.seq, key.messageId), sealed, parseMessageRecord);
}

export interface FilePartKey {
  readonly conversationId: string;
  readonly fileId: string;
  readonly index: number;
}

/** File bytes are sealed as kind 'image' (the kind for image and file bytes), raw, without JSON. */
export function sealFilePart(dataKey: CryptoKey, key: FilePartKey, bytes: Uint8Array, random: Random): Promise<Uint8Array> {
  return sealRecord(dataKey, 'image', filePartRecordId(key.conversationId, key.fileId, key.index), bytes, random);
}

export async function openFilePart(dataKey: CryptoKey, key: FilePartKey, sealed: Uint8Array): Promise<Uint8Array | null> {
  const opened = await openRecord(dataKey, 'image', filePartRecordId(key.conversationId, key.fileId, key.index), sealed);
  return opened.ok ? opened.plaintext : null;
}
