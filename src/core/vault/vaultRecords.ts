/**
 * What each sealed record of the vault holds once opened — the profile, conversations, contacts, messages and
 * file parts — with its JSON form, a strict parser, and the record kind and id it is sealed under.
 */
import { assertNever } from '../assertNever.ts';
import { base64urlToBytes, bytesToBase64url, fromUtf8, utf8 } from '../encoding.ts';
import type { Random } from '../ports.ts';
import { ROOM_SECRET_BYTES } from '../crypto/roomSecret.ts';
import { MAX_MESSAGE_TEXT_BYTES } from '../protocol/groupMessages.ts';
import type { ExpiryReason } from '../group/conversationStore.ts';
import { exactFields } from './exactFields.ts';
import { filePartRecordId, isVaultId, MAX_SEQ, messageRecordId, outboxRecordId } from './recordIds.ts';
import { openJsonRecord, openRecord, sealJsonRecord, sealRecord } from './records.ts';
import { AUTO_LOCK_CHOICES_MINUTES, DEFAULT_PREFERENCES, RECEIVED_FILES_BUDGET_CHOICES_BYTES, type Preferences } from './preferences.ts';

export { AUTO_LOCK_CHOICES_MINUTES, DEFAULT_PREFERENCES, RECEIVED_FILES_BUDGET_CHOICES_BYTES, type Preferences };

/** The settings record holding the profile; the identity's private key is the settings record 'identity' (identity.ts). */
export const PROFILE_RECORD_ID = 'profile';
/** Record format version inside every JSON record, so a later version can tell old records from new. */
const RECORD_FORMAT = 1;
/** Conversations and messages of group rooms (spec §12.9); format 1 records, from the two-person history, still read. */
const CONVERSATION_FORMAT = 2;
const MESSAGE_FORMAT = 2;

/** Contacts one conversation remembers. A room meshes at most 16 at once; this many over its life is plenty. */
export const MAX_ROOM_CONTACTS = 256;
/**
 * Addressees of one message, members with a kept last-shown seq, and outbox counts of one conversation: the room's
 * contacts and some guests. Bounds every list in a sealed record, so a record stays far below the backup's limits.
 */
export const MAX_ADDRESSEES = MAX_ROOM_CONTACTS + 64;

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

/** How the two-person history before groups said who wrote a message; read from old records only. */
export type MessageDirection = 'outgoing' | 'incoming';

export interface ProfileRecord {
  readonly displayName: string;
  readonly publicKeySpki: Uint8Array;
  readonly createdAtMs: number;
}

/**
 * Someone in a conversation as the history names them: this person, a contact (by contact id, so a rename or a
 * changed key shows on every message), or a guest under the label it was shown with at the time ("Guest 2") and the
 * member id it had in that room session (null in records kept before groups, which did not know it).
 */
export type Party =
  | { readonly type: 'me' }
  | { readonly type: 'contact'; readonly contactId: string }
  | { readonly type: 'guest'; readonly label: string; readonly memberId: string | null };

/** Anyone but this person: whom a message can be addressed to, or a private message exchanged with. */
export type OtherParty = Exclude<Party, { readonly type: 'me' }>;

/** A message to everyone in the room, or a private one between this person and `with`. */
export type MessageStream = { readonly type: 'group' } | { readonly type: 'private'; readonly with: OtherParty };

/** Where one of our messages stands with one addressee (spec §12.5), and since when. */
export type Delivery =
  | { readonly to: OtherParty; readonly state: 'sending' | 'sent' | 'delivered' | 'read'; readonly atMs: number }
  | { readonly to: OtherParty; readonly state: 'expired'; readonly atMs: number; readonly reason: ExpiryReason };

export type DeliveryStateName = Delivery['state'];

export type MessagePreview =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'file'; readonly name: string; readonly mimeType: string }
  /** The last thing that happened was a deletion (§12.5): nothing of the deleted words is kept. */
  | { readonly type: 'deleted' };

export interface LastMessage {
  readonly seq: number;
  readonly author: Party;
  readonly atMs: number;
  readonly preview: MessagePreview;
}

/** One addressee's count of outbox entries still waiting in a conversation. */
export interface OutboxCount {
  readonly to: OtherParty;
  readonly count: number;
}

/** The highest seq shown from one member (spec §12.5), by member id: a contact's new key is a new counter. */
export interface LastShown {
  readonly memberId: string;
  readonly seq: number;
}

export interface ConversationRecord {
  /** The room link's secret, so the room can be reopened from the list; it never leaves the sealed record. */
  readonly roomSecret: Uint8Array;
  readonly title: string;
  /** Every contact remembered in this room (spec §12.4), without repeats. */
  readonly contactIds: readonly string[];
  /**
   * The contact of the two-person conversation this was before groups (null if none, or made since): the other
   * person of every message kept then, which recorded only a direction.
   */
  readonly pairContactId: string | null;
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
  /** The author seq of the newest message this person wrote here (0: none); the next one gets lastOwnSeq + 1. */
  readonly lastOwnSeq: number;
  /** Per member, the highest seq shown; the newest MAX_LAST_SHOWN members (contacts' current keys never pruned first). */
  readonly lastShown: readonly LastShown[];
  /** Per addressee, how many outbox entries wait for it: the outbox rows of this conversation, counted. */
  readonly outbox: readonly OutboxCount[];
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

export type MessageContent =
  /** `replyTo`: the wire id of the message it answers (spec §12.5), absent for a plain message. */
  | { readonly type: 'text'; readonly text: string; readonly replyTo?: string }
  | { readonly type: 'file'; readonly file: StoredFileInfo }
  /** Our own deletion of our message `target`: kept (never shown) while its outbox entry waits, so it is resent after a reload. */
  | { readonly type: 'deletion'; readonly target: string }
  /** A message its author deleted for everyone: its words are gone, its place stays ("This message was deleted"). */
  | { readonly type: 'deleted' };

export interface MessageRecord {
  readonly author: Party;
  readonly stream: MessageStream;
  /** The author's sequence number (§12.5); null for files and for messages kept before groups. */
  readonly authorSeq: number | null;
  /** The author's clock when written: its claim. Messages kept before groups have their `atMs` here. */
  readonly writtenAtMs: number;
  /** When this side showed it (received) or wrote it (own). */
  readonly atMs: number;
  readonly content: MessageContent;
  /** For our own messages, one entry per addressee; empty for everyone else's (and for files). */
  readonly delivery: readonly Delivery[];
}

/**
 * An outbox entry (spec §12.7): our message at `seq` in its conversation is still followed, because an addressee's
 * delivery entry there is `sending` (it waits for a receipt) or `delivered` (it waits to be reported read, so a read
 * receipt after a reload still reaches the history). Whom it waits for is the message's own delivery list.
 */
export interface OutboxRecord {
  readonly seq: number;
  readonly messageId: string;
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
function versionedFields(value: unknown, keys: readonly string[], version = RECORD_FORMAT): ((key: string) => unknown) | null {
  const field = exactFields(value, ['v', ...keys]);
  return field !== null && field('v') === version ? field : null;
}

/** An author's sequence number (§12.5): 1 or more, within what JavaScript counts exactly. */
export function isAuthorSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

// ---- parties ------------------------------------------------------------------------------------

export const ME: Party = { type: 'me' };
/** How a two-person conversation's peer without a profile is named in the history kept before groups. */
const PAIR_GUEST_LABEL = 'Guest';

/** One string per party, equal exactly when the parties are the same. */
export function partyKey(party: Party): string {
  switch (party.type) {
    case 'me':
      return 'me';
    case 'contact':
      return `contact/${party.contactId}`;
    case 'guest':
      return party.memberId === null ? `guest-label/${party.label}` : `guest/${party.memberId}`;
    default:
      return assertNever(party, 'party');
  }
}

function encodeParty(party: Party): unknown {
  switch (party.type) {
    case 'me':
      return { type: 'me' };
    case 'contact':
      return { type: 'contact', contactId: party.contactId };
    case 'guest':
      return { type: 'guest', label: party.label, memberId: party.memberId };
    default:
      return assertNever(party, 'party');
  }
}

function parseParty(value: unknown): Party | null {
  const me = exactFields(value, ['type']);
  if (me !== null) return me('type') === 'me' ? ME : null;
  const contact = exactFields(value, ['type', 'contactId']);
  if (contact !== null) {
    const contactId = contact('contactId');
    return contact('type') === 'contact' && isVaultId(contactId) ? { type: 'contact', contactId } : null;
  }
  const guest = exactFields(value, ['type', 'label', 'memberId']);
  if (guest === null || guest('type') !== 'guest') return null;
  const label = guest('label');
  const memberId = guest('memberId');
  if (!isStoredName(label, MAX_DISPLAY_NAME_CHARS) || (memberId !== null && !isVaultId(memberId))) return null;
  return { type: 'guest', label, memberId };
}

function parseOtherParty(value: unknown): OtherParty | null {
  const party = parseParty(value);
  return party === null || party.type === 'me' ? null : party;
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
    case 'deleted':
      return { type: 'deleted' };
    case 'text':
      return { type: 'text', text: preview.text };
    case 'file':
      return { type: 'file', name: preview.name, mimeType: preview.mimeType };
    default:
      return assertNever(preview, 'message preview');
  }
}

function parsePreview(value: unknown): MessagePreview | null {
  const deleted = exactFields(value, ['type']);
  if (deleted !== null) return deleted('type') === 'deleted' ? { type: 'deleted' } : null;
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
  return { seq: last.seq, author: encodeParty(last.author), atMs: last.atMs, preview: encodePreview(last.preview) };
}

/** null is a valid "no message yet"; undefined means the value does not parse. */
function parseLastMessage(value: unknown): LastMessage | null | undefined {
  if (value === null) return null;
  const field = exactFields(value, ['seq', 'author', 'atMs', 'preview']);
  if (field === null) return undefined;
  const seq = field('seq');
  const author = parseParty(field('author'));
  const atMs = field('atMs');
  const preview = parsePreview(field('preview'));
  if (!isCount(seq) || seq === 0 || author === null || !isTimestamp(atMs) || preview === null) return undefined;
  return { seq, author, atMs, preview };
}

/** A last message of the two-person history, whose author was this person or the conversation's one peer. */
function parseLastMessageV1(value: unknown, pairPeer: OtherParty): LastMessage | null | undefined {
  if (value === null) return null;
  const field = exactFields(value, ['seq', 'direction', 'atMs', 'preview']);
  if (field === null) return undefined;
  const seq = field('seq');
  const direction = field('direction');
  const atMs = field('atMs');
  const preview = parsePreview(field('preview'));
  if (!isCount(seq) || seq === 0 || !isDirection(direction) || !isTimestamp(atMs) || preview === null) return undefined;
  return { seq, author: direction === 'outgoing' ? ME : pairPeer, atMs, preview };
}

function encodeConversation(record: ConversationRecord): unknown {
  return {
    v: CONVERSATION_FORMAT,
    roomSecret: bytesToBase64url(record.roomSecret),
    title: record.title,
    contactIds: [...record.contactIds],
    pairContactId: record.pairContactId,
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
    lastSeq: record.lastSeq,
    unreadCount: record.unreadCount,
    lastMessage: encodeLastMessage(record.lastMessage),
    receivedFileBytes: record.receivedFileBytes,
    lastOwnSeq: record.lastOwnSeq,
    lastShown: record.lastShown.map(({ memberId, seq }) => ({ memberId, seq })),
    outbox: record.outbox.map(({ to, count }) => ({ to: encodeParty(to), count })),
  };
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** A JSON array of at most `max` items, each parsed; null if it is not one or any item does not parse. */
function parseList<T>(value: unknown, max: number, parse: (item: unknown) => T | null): T[] | null {
  if (!Array.isArray(value) || value.length > max) return null;
  const items: T[] = [];
  for (const item of value) {
    const parsed = parse(item);
    if (parsed === null) return null;
    items.push(parsed);
  }
  return items;
}

function parseLastShown(value: unknown): LastShown | null {
  const field = exactFields(value, ['memberId', 'seq']);
  if (field === null) return null;
  const memberId = field('memberId');
  const seq = field('seq');
  return isVaultId(memberId) && isAuthorSeq(seq) ? { memberId, seq } : null;
}

function parseOutboxCount(value: unknown): OutboxCount | null {
  const field = exactFields(value, ['to', 'count']);
  if (field === null) return null;
  const to = parseOtherParty(field('to'));
  const count = field('count');
  return to !== null && isCount(count) && count > 0 ? { to, count } : null;
}

function hasRepeats(keys: readonly string[]): boolean {
  return new Set(keys).size !== keys.length;
}

/** The fields both versions share, checked; null if any is wrong. */
interface CommonConversationFields {
  readonly roomSecret: Uint8Array;
  readonly title: string;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly lastSeq: number;
  readonly unreadCount: number;
}

function parseCommonConversation(field: (key: string) => unknown): CommonConversationFields | null {
  const roomSecret = parseBytes(field('roomSecret'), ROOM_SECRET_BYTES);
  const title = field('title');
  const createdAtMs = field('createdAtMs');
  const updatedAtMs = field('updatedAtMs');
  const lastSeq = field('lastSeq');
  const unreadCount = field('unreadCount');
  if (
    roomSecret === null ||
    typeof title !== 'string' ||
    cleanTitle(title) !== title ||
    !isTimestamp(createdAtMs) ||
    !isTimestamp(updatedAtMs) ||
    !isCount(lastSeq) ||
    !isCount(unreadCount) ||
    unreadCount > lastSeq
  ) {
    return null;
  }
  return { roomSecret, title, createdAtMs, updatedAtMs, lastSeq, unreadCount };
}

const CONVERSATION_V1_KEYS = ['roomSecret', 'title', 'contactId', 'createdAtMs', 'updatedAtMs', 'lastSeq', 'unreadCount', 'lastMessage'];
const CONVERSATION_KEYS = [
  'roomSecret',
  'title',
  'contactIds',
  'pairContactId',
  'createdAtMs',
  'updatedAtMs',
  'lastSeq',
  'unreadCount',
  'lastMessage',
  'receivedFileBytes',
  'lastOwnSeq',
  'lastShown',
  'outbox',
];

/**
 * A conversation of the two-person history (format 1, with or without the received-file count, which is then null:
 * unknown), read as a group conversation: its one contact is the room's set and the other person of its messages,
 * nothing of it was written by the group engine yet.
 */
function parseConversationV1(value: unknown): ConversationRecord | null {
  const field = versionedFields(value, [...CONVERSATION_V1_KEYS, 'receivedFileBytes']) ?? versionedFields(value, CONVERSATION_V1_KEYS);
  if (field === null) return null;
  const common = parseCommonConversation(field);
  const contactId = field('contactId');
  const receivedFileBytes = field('receivedFileBytes') ?? null;
  if (common === null || (contactId !== null && !isVaultId(contactId)) || (receivedFileBytes !== null && !isByteCount(receivedFileBytes))) return null;
  const lastMessage = parseLastMessageV1(field('lastMessage'), pairPeerOf(contactId));
  if (lastMessage === undefined || (lastMessage !== null && lastMessage.seq > common.lastSeq)) return null;
  return {
    ...common,
    contactIds: contactId === null ? [] : [contactId],
    pairContactId: contactId,
    lastMessage,
    receivedFileBytes,
    lastOwnSeq: 0,
    lastShown: [],
    outbox: [],
  };
}

export function parseConversation(value: unknown): ConversationRecord | null {
  const field = versionedFields(value, CONVERSATION_KEYS, CONVERSATION_FORMAT);
  if (field === null) return parseConversationV1(value);
  const common = parseCommonConversation(field);
  const contactIds = parseList(field('contactIds'), MAX_ROOM_CONTACTS, (item) => (isVaultId(item) ? item : null));
  const pairContactId = field('pairContactId');
  const lastMessage = parseLastMessage(field('lastMessage'));
  const receivedFileBytes = field('receivedFileBytes');
  const lastOwnSeq = field('lastOwnSeq');
  const lastShown = parseList(field('lastShown'), MAX_ADDRESSEES, parseLastShown);
  const outbox = parseList(field('outbox'), MAX_ADDRESSEES, parseOutboxCount);
  if (
    common === null ||
    contactIds === null ||
    hasRepeats(contactIds) ||
    (pairContactId !== null && !isVaultId(pairContactId)) ||
    lastMessage === undefined ||
    (lastMessage !== null && lastMessage.seq > common.lastSeq) ||
    (receivedFileBytes !== null && !isByteCount(receivedFileBytes)) ||
    !(lastOwnSeq === 0 || isAuthorSeq(lastOwnSeq)) ||
    lastShown === null ||
    hasRepeats(lastShown.map((entry) => entry.memberId)) ||
    outbox === null ||
    hasRepeats(outbox.map((entry) => partyKey(entry.to)))
  ) {
    return null;
  }
  return { ...common, contactIds, pairContactId, lastMessage, receivedFileBytes, lastOwnSeq, lastShown, outbox };
}

/** Who the other person of a two-person conversation's messages was: its contact, or a guest nobody remembered. */
export function pairPeerOf(pairContactId: string | null): OtherParty {
  return pairContactId === null ? { type: 'guest', label: PAIR_GUEST_LABEL, memberId: null } : { type: 'contact', contactId: pairContactId };
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
      return content.replyTo === undefined ? { type: 'text', text: content.text } : { type: 'text', text: content.text, replyTo: content.replyTo };
    case 'deletion':
      return { type: 'deletion', target: content.target };
    case 'deleted':
      return { type: 'deleted' };
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
  const reply = exactFields(value, ['type', 'text', 'replyTo']);
  if (reply !== null) {
    const content = reply('text');
    const replyTo = reply('replyTo');
    return reply('type') === 'text' && isMessageText(content) && isVaultId(replyTo) ? { type: 'text', text: content, replyTo } : null;
  }
  const deletion = exactFields(value, ['type', 'target']);
  if (deletion !== null) {
    const target = deletion('target');
    return deletion('type') === 'deletion' && isVaultId(target) ? { type: 'deletion', target } : null;
  }
  const deleted = exactFields(value, ['type']);
  if (deleted !== null) return deleted('type') === 'deleted' ? { type: 'deleted' } : null;
  const file = exactFields(value, ['type', 'file']);
  if (file === null || file('type') !== 'file') return null;
  const info = parseFileInfo(file('file'));
  return info === null ? null : { type: 'file', file: info };
}

function encodeStream(stream: MessageStream): unknown {
  switch (stream.type) {
    case 'group':
      return { type: 'group' };
    case 'private':
      return { type: 'private', with: encodeParty(stream.with) };
    default:
      return assertNever(stream, 'message stream');
  }
}

function parseStream(value: unknown): MessageStream | null {
  const group = exactFields(value, ['type']);
  if (group !== null) return group('type') === 'group' ? { type: 'group' } : null;
  const direct = exactFields(value, ['type', 'with']);
  if (direct === null || direct('type') !== 'private') return null;
  const other = parseOtherParty(direct('with'));
  return other === null ? null : { type: 'private', with: other };
}

function encodeDelivery(delivery: Delivery): unknown {
  const common = { to: encodeParty(delivery.to), state: delivery.state, atMs: delivery.atMs };
  return delivery.state === 'expired' ? { ...common, reason: delivery.reason } : common;
}

const EXPIRY_REASONS: readonly ExpiryReason[] = ['too-old', 'too-many', 'member-left'];

function parseDelivery(value: unknown): Delivery | null {
  const field = exactFields(value, ['to', 'state', 'atMs']) ?? exactFields(value, ['to', 'state', 'atMs', 'reason']);
  if (field === null) return null;
  const to = parseOtherParty(field('to'));
  const state = field('state');
  const atMs = field('atMs');
  const reason = field('reason');
  if (to === null || !isTimestamp(atMs)) return null;
  if (state === 'expired') {
    const known = EXPIRY_REASONS.find((candidate) => candidate === reason);
    return known === undefined ? null : { to, state, atMs, reason: known };
  }
  if (reason !== undefined) return null;
  return state === 'sending' || state === 'sent' || state === 'delivered' || state === 'read' ? { to, state, atMs } : null;
}

function encodeMessage(record: MessageRecord): unknown {
  return {
    v: MESSAGE_FORMAT,
    author: encodeParty(record.author),
    stream: encodeStream(record.stream),
    authorSeq: record.authorSeq,
    writtenAtMs: record.writtenAtMs,
    atMs: record.atMs,
    content: encodeContent(record.content),
    delivery: record.delivery.map(encodeDelivery),
  };
}

const MESSAGE_KEYS = ['author', 'stream', 'authorSeq', 'writtenAtMs', 'atMs', 'content', 'delivery'];

/**
 * A message of the two-person history (format 1): ours or the conversation's one peer's, in the one stream there
 * was, with a receipt time at most. Our text without one was sent and never acknowledged; files had no receipts.
 */
function parseMessageRecordV1(value: unknown, pairPeer: OtherParty | null): MessageRecord | null {
  const field = versionedFields(value, ['direction', 'atMs', 'content', 'deliveredAtMs']);
  if (field === null || pairPeer === null) return null;
  const direction = field('direction');
  const atMs = field('atMs');
  const content = parseContent(field('content'));
  const deliveredAtMs = field('deliveredAtMs');
  if (!isDirection(direction) || !isTimestamp(atMs) || content === null || (deliveredAtMs !== null && !isTimestamp(deliveredAtMs))) {
    return null;
  }
  const common = { stream: { type: 'group' } as const, authorSeq: null, writtenAtMs: atMs, atMs, content };
  switch (direction) {
    case 'incoming':
      // Only our own messages got receipts.
      return deliveredAtMs === null ? { ...common, author: pairPeer, delivery: [] } : null;
    case 'outgoing': {
      if (deliveredAtMs !== null) return { ...common, author: ME, delivery: [{ to: pairPeer, state: 'delivered', atMs: deliveredAtMs }] };
      return { ...common, author: ME, delivery: content.type === 'text' ? [{ to: pairPeer, state: 'sent', atMs }] : [] };
    }
    default:
      return assertNever(direction, 'message direction');
  }
}

/**
 * Reads a message record of either format. `pairPeer` is who the other person of a format-1 message was (its
 * conversation's `pairPeerOf`; null when that is unknown, and then such a message does not parse); format 2 names
 * everyone itself.
 */
export function parseMessageRecord(value: unknown, pairPeer: OtherParty | null): MessageRecord | null {
  const field = versionedFields(value, MESSAGE_KEYS, MESSAGE_FORMAT);
  if (field === null) return parseMessageRecordV1(value, pairPeer);
  const author = parseParty(field('author'));
  const stream = parseStream(field('stream'));
  const authorSeq = field('authorSeq');
  const writtenAtMs = field('writtenAtMs');
  const atMs = field('atMs');
  const content = parseContent(field('content'));
  const delivery = parseList(field('delivery'), MAX_ADDRESSEES, parseDelivery);
  if (
    author === null ||
    stream === null ||
    (authorSeq !== null && !isAuthorSeq(authorSeq)) ||
    !isTimestamp(writtenAtMs) ||
    !isTimestamp(atMs) ||
    content === null ||
    delivery === null ||
    hasRepeats(delivery.map((entry) => partyKey(entry.to)))
  ) {
    return null;
  }
  // Only our own messages have addressees; a private one has exactly its one, and someone else's private message
  // was exchanged with its author.
  if (author.type !== 'me' && delivery.length > 0) return null;
  if (stream.type === 'private') {
    const other = partyKey(stream.with);
    if (author.type === 'me' ? delivery.some((entry) => partyKey(entry.to) !== other) : other !== partyKey(author)) return null;
  }
  return { author, stream, authorSeq, writtenAtMs, atMs, content, delivery };
}

// ---- outbox entry -------------------------------------------------------------------------------

function encodeOutbox(record: OutboxRecord): unknown {
  return { v: RECORD_FORMAT, seq: record.seq, messageId: record.messageId };
}

export function parseOutboxRecord(value: unknown): OutboxRecord | null {
  const field = versionedFields(value, ['seq', 'messageId']);
  if (field === null) return null;
  const seq = field('seq');
  const messageId = field('messageId');
  return isCount(seq) && seq > 0 && isVaultId(messageId) ? { seq, messageId } : null;
}

export function previewOf(content: MessageContent): MessagePreview {
  switch (content.type) {
    case 'text':
      return { type: 'text', text: truncateChars(content.text, PREVIEW_CHARS) };
    case 'file':
      return { type: 'file', name: content.file.name, mimeType: content.file.mimeType };
    case 'deletion':
    case 'deleted':
      return { type: 'deleted' };
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
  kind: 'settings' | 'conversation' | 'contact' | 'message' | 'outbox',
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

/** `pairPeer`: who the other person of a message kept before groups was (its conversation's `pairPeerOf`), if known. */
export function openMessageRecord(dataKey: CryptoKey, key: MessageKey, sealed: Uint8Array, pairPeer: OtherParty | null): Promise<MessageRecord | null> {
  return openParsed(dataKey, 'message', messageRecordId(key.conversationId, key.seq, key.messageId), sealed, (value) => parseMessageRecord(value, pairPeer));
}

/** Where an outbox entry lies: its conversation and its own random id. */
export interface OutboxKey {
  readonly conversationId: string;
  readonly entryId: string;
}

export function sealOutboxEntry(dataKey: CryptoKey, key: OutboxKey, record: OutboxRecord, random: Random): Promise<Uint8Array> {
  return sealJsonRecord(dataKey, 'outbox', outboxRecordId(key.conversationId, key.entryId), encodeOutbox(record), random);
}

export function openOutboxEntry(dataKey: CryptoKey, key: OutboxKey, sealed: Uint8Array): Promise<OutboxRecord | null> {
  return openParsed(dataKey, 'outbox', outboxRecordId(key.conversationId, key.entryId), sealed, parseOutboxRecord);
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
