/**
 * The encrypted backup: one file holding the vault header and every sealed record exactly as stored, closed by
 * a sealed manifest that counts and fingerprints the records. It opens with the passphrase alone, in any
 * browser; a reader checks every byte and opens every record before anything is written.
 *
 * Layout (all integers big-endian; docs/PROTOCOL.md, "Vault", has the full specification):
 *   "PARLEYBK" ‖ u32 version (2; version 1, without outbox entries, is still read) ‖ u32 H ‖ header JSON (H bytes)
 *   records, in ascending tag order and, within a tag, ascending key order:
 *     0x01 settings      u8 n ‖ id (n bytes)                                ‖ u32 L ‖ sealed (L bytes)
 *     0x02 contact       u8 n ‖ id                                           ‖ u32 L ‖ sealed
 *     0x03 conversation  u8 n ‖ id                                           ‖ u32 L ‖ sealed
 *     0x04 message       u8 n ‖ conversationId ‖ u32 seq ‖ u8 m ‖ messageId  ‖ u32 L ‖ sealed
 *     0x05 file part     u8 n ‖ conversationId ‖ u8 m ‖ fileId ‖ u32 index   ‖ u32 L ‖ sealed
 *     0x06 outbox entry  u8 n ‖ conversationId ‖ u8 m ‖ entryId              ‖ u32 L ‖ sealed   (version 2 only)
 *   0xFF manifest        u32 L ‖ sealed (kind 'settings', id 'backup-manifest'), then the end of the file.
 */
import { base64urlToBytes, bytesEqual, bytesToBase64url, concatBytes, framedConcat, fromUtf8, parseJsonBytes, toBufferSource, utf8 } from '../encoding.ts';
import { assertNever } from '../assertNever.ts';
import { unwrapIdentity, IDENTITY_RECORD_ID } from './identityStorage.ts';
import { BlobBuilder, type ByteSource } from './blobParts.ts';
import { exactFields } from './exactFields.ts';
import { isPartIndex, isSeq, isVaultId } from './recordIds.ts';
import { MIN_SEALED_RECORD_BYTES, openJsonRecord, RECORD_IV_BYTES, sealJsonRecord } from './records.ts';
import {
  parseFilePartRow,
  parseMessageRow,
  parseOutboxRow,
  parsePendingFileRow,
  parseSealedRow,
  type FilePartRow,
  type MessageRow,
  type OutboxRow,
  type SealedRow,
  type VaultStorePort,
  type VaultWrite,
} from './storePort.ts';
import { timestampNow, type VaultContext } from './vaultContext.ts';
import { encodeVaultHeader, parseVaultHeader, type VaultHeader } from './vaultHeader.ts';
import {
  FILE_PART_BYTES,
  openContactRecord,
  openConversationRecord,
  openFilePart,
  openMessageRecord,
  openOutboxEntry,
  openPreferences,
  openProfile,
  pairPeerOf,
  partyKey,
  PREFERENCES_RECORD_ID,
  PROFILE_RECORD_ID,
  type OtherParty,
} from './vaultRecords.ts';

export const BACKUP_MAGIC = utf8('PARLEYBK');
export const BACKUP_FORMAT_VERSION = 2;
/** Versions this reader accepts: 1 is what the two-person vault wrote (no outbox entries). */
const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2];
/** Larger files are refused before a byte of them is parsed. */
export const MAX_BACKUP_BYTES = 16 * 1024 ** 3;
export const MAX_BACKUP_HEADER_BYTES = 1024;
/** The backup Blob's type: opaque bytes, which is what it is to anyone without the passphrase. */
export const BACKUP_MEDIA_TYPE = 'application/octet-stream';

export const BackupTag = { settings: 0x01, contact: 0x02, conversation: 0x03, message: 0x04, filePart: 0x05, outbox: 0x06, manifest: 0xff } as const;

const MANIFEST_RECORD_ID = 'backup-manifest';
const DIGEST_LABEL = utf8('parley/v1 backup');
/** The record digest hashes the IVs and tags in runs of this many records, so its memory stays bounded. */
const DIGEST_RUN_RECORDS = 65_536;
const GCM_TAG_BYTES = 16;
/** Settings every backup must hold. */
const SETTINGS_IDS: readonly string[] = [IDENTITY_RECORD_ID, PROFILE_RECORD_ID];
/** Settings a backup may hold besides. */
const OPTIONAL_SETTINGS_IDS: readonly string[] = [PREFERENCES_RECORD_ID];

/**
 * Upper bounds on a sealed record, by tag. A message holds at most 64 KiB of text, which JSON can blow up to
 * six times its size (control characters become \u00XX), and a delivery state per addressee; a conversation holds
 * its lists of contacts, last shown seqs and outbox counts, each bounded (vaultRecords.ts); everything else is far
 * smaller than its bound.
 */
const MAX_SEALED_BYTES: Readonly<Record<number, number>> = {
  [BackupTag.settings]: 64 * 1024,
  [BackupTag.contact]: 64 * 1024,
  [BackupTag.conversation]: 256 * 1024,
  [BackupTag.message]: 1024 * 1024,
  [BackupTag.filePart]: FILE_PART_BYTES + MIN_SEALED_RECORD_BYTES,
  [BackupTag.outbox]: 4 * 1024,
  [BackupTag.manifest]: 4 * 1024,
};

export type BackupRecord =
  | { readonly type: 'settings'; readonly row: SealedRow }
  | { readonly type: 'contact'; readonly row: SealedRow }
  | { readonly type: 'conversation'; readonly row: SealedRow }
  | { readonly type: 'message'; readonly row: MessageRow }
  | { readonly type: 'file-part'; readonly row: FilePartRow }
  | { readonly type: 'outbox'; readonly row: OutboxRow };

function u32be(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset);
}

/** An id as u8 length ‖ ASCII. Every id the vault makes is ASCII and short; anything else is a bug. */
function idField(id: string): Uint8Array {
  const bytes = utf8(id);
  if (bytes.length > 255 || bytes.length !== id.length) throw new Error(`id ${JSON.stringify(id)} cannot go into a backup`);
  return concatBytes(Uint8Array.of(bytes.length), bytes);
}

function frameRecord(record: BackupRecord): Uint8Array {
  const sealed = record.row.sealed;
  switch (record.type) {
    case 'settings':
      return concatBytes(Uint8Array.of(BackupTag.settings), idField(record.row.id), u32be(sealed.length), sealed);
    case 'contact':
      return concatBytes(Uint8Array.of(BackupTag.contact), idField(record.row.id), u32be(sealed.length), sealed);
    case 'conversation':
      return concatBytes(Uint8Array.of(BackupTag.conversation), idField(record.row.id), u32be(sealed.length), sealed);
    case 'message': {
      const { conversationId, seq, messageId } = record.row;
      return concatBytes(Uint8Array.of(BackupTag.message), idField(conversationId), u32be(seq), idField(messageId), u32be(sealed.length), sealed);
    }
    case 'file-part': {
      const { conversationId, fileId, index } = record.row;
      return concatBytes(Uint8Array.of(BackupTag.filePart), idField(conversationId), idField(fileId), u32be(index), u32be(sealed.length), sealed);
    }
    case 'outbox': {
      const { conversationId, entryId } = record.row;
      return concatBytes(Uint8Array.of(BackupTag.outbox), idField(conversationId), idField(entryId), u32be(sealed.length), sealed);
    }
    default:
      return assertNever(record, 'backup record');
  }
}

/**
 * SHA-256 over the header and every record's IV and GCM tag, in file order: state = SHA-256(framedConcat(
 * "parley/v1 backup", header JSON)); each run of 65 536 records: state = SHA-256(state ‖ (IV ‖ tag)…); the
 * digest is SHA-256(state ‖ the last, possibly empty, run). An IV and tag pin a record's contents, key and
 * kind, so the sealed manifest carrying this digest pins the whole file: no record can be dropped, added,
 * or swapped for one from an older backup of the same vault.
 */
class RecordDigest {
  private run: Uint8Array[] = [];
  private state: Promise<Uint8Array>;

  constructor(headerBytes: Uint8Array) {
    this.state = sha256(framedConcat(DIGEST_LABEL, headerBytes));
  }

  async add(sealed: Uint8Array): Promise<void> {
    this.run.push(sealed.slice(0, RECORD_IV_BYTES), sealed.slice(sealed.length - GCM_TAG_BYTES));
    if (this.run.length >= DIGEST_RUN_RECORDS * 2) await this.fold();
  }

  async finish(): Promise<Uint8Array> {
    await this.fold();
    return this.state;
  }

  private async fold(): Promise<void> {
    const run = this.run;
    this.run = [];
    this.state = sha256(concatBytes(await this.state, ...run));
    await this.state;
  }
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', toBufferSource(bytes)));
}

interface Manifest {
  readonly recordCount: number;
  readonly recordDigest: Uint8Array;
  readonly exportedAtMs: number;
}

function parseManifest(value: unknown): Manifest | null {
  const field = exactFields(value, ['v', 'recordCount', 'recordDigest', 'exportedAtMs']);
  if (field === null || field('v') !== 1) return null;
  const recordCount = field('recordCount');
  const digestText = field('recordDigest');
  const exportedAtMs = field('exportedAtMs');
  const recordDigest = typeof digestText === 'string' ? base64urlToBytes(digestText) : null;
  if (typeof recordCount !== 'number' || !Number.isSafeInteger(recordCount) || recordCount < 0) return null;
  if (recordDigest === null || recordDigest.length !== 32) return null;
  if (typeof exportedAtMs !== 'number' || !Number.isSafeInteger(exportedAtMs) || exportedAtMs < 0) return null;
  return { recordCount, recordDigest, exportedAtMs };
}

// ---- writing ------------------------------------------------------------------------------------

const MESSAGES_PER_READ = 256;
const FILE_PARTS_PER_READ = 8;

function byId(a: SealedRow, b: SealedRow): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

async function sealedRows(store: VaultStorePort, name: 'settings' | 'contacts' | 'conversations'): Promise<SealedRow[]> {
  const rows = (await store.readRows(name)).map((raw) => {
    const row = parseSealedRow(raw);
    if (row === null) throw new Error(`a stored ${name} row is malformed`);
    return row;
  });
  return rows.sort(byId);
}

/**
 * Writes the backup of everything in `ctx.store` under `header`. The caller keeps other writes out meanwhile,
 * so the records agree with each other. Files still being written (pending) are left out.
 */
export async function writeBackup(ctx: VaultContext, header: VaultHeader): Promise<Blob> {
  const { store } = ctx;
  const headerBytes = utf8(JSON.stringify(encodeVaultHeader(header)));
  const builder = new BlobBuilder();
  builder.append(concatBytes(BACKUP_MAGIC, u32be(BACKUP_FORMAT_VERSION), u32be(headerBytes.length), headerBytes));
  const digest = new RecordDigest(headerBytes);
  let recordCount = 0;
  const emit = async (record: BackupRecord): Promise<void> => {
    builder.append(frameRecord(record));
    await digest.add(record.row.sealed);
    recordCount += 1;
  };

  for (const row of await sealedRows(store, 'settings')) await emit({ type: 'settings', row });
  for (const row of await sealedRows(store, 'contacts')) await emit({ type: 'contact', row });
  const conversations = await sealedRows(store, 'conversations');
  for (const row of conversations) await emit({ type: 'conversation', row });
  for (const { id } of conversations) {
    let afterSeq = 0;
    for (;;) {
      const page = await store.readMessages(id, { direction: 'forward', afterSeq }, MESSAGES_PER_READ);
      for (const raw of page) {
        const row = parseMessageRow(raw);
        if (row === null || row.conversationId !== id || row.seq <= afterSeq) throw new Error(`a stored message of conversation ${id} is malformed`);
        await emit({ type: 'message', row });
        afterSeq = row.seq;
      }
      if (page.length < MESSAGES_PER_READ) break;
    }
  }
  const pendingRows = (await store.readPendingFiles()).map(parsePendingFileRow).filter((row) => row !== null);
  const pending = new Set(pendingRows.map((row) => `${row.conversationId}/${row.fileId}`));
  for (const { id } of conversations) {
    let after: { fileId: string; index: number } | null = null;
    for (;;) {
      const page = await store.readFileParts(id, after, FILE_PARTS_PER_READ);
      for (const raw of page) {
        const row = parseFilePartRow(raw);
        if (row === null || row.conversationId !== id) throw new Error(`a stored file part of conversation ${id} is malformed`);
        if (!pending.has(`${id}/${row.fileId}`)) await emit({ type: 'file-part', row });
        after = { fileId: row.fileId, index: row.index };
      }
      if (page.length < FILE_PARTS_PER_READ) break;
    }
  }
  for (const { id } of conversations) {
    for (const raw of await store.readOutbox(id)) {
      const row = parseOutboxRow(raw);
      if (row === null || row.conversationId !== id) throw new Error(`a stored outbox entry of conversation ${id} is malformed`);
      await emit({ type: 'outbox', row });
    }
  }

  const manifest = { v: 1, recordCount, recordDigest: bytesToBase64url(await digest.finish()), exportedAtMs: timestampNow(ctx.clock) };
  const sealedManifest = await sealJsonRecord(ctx.dataKey(), 'settings', MANIFEST_RECORD_ID, manifest, ctx.random);
  builder.append(concatBytes(Uint8Array.of(BackupTag.manifest), u32be(sealedManifest.length), sealedManifest));
  return builder.build(BACKUP_MEDIA_TYPE);
}

// ---- reading ------------------------------------------------------------------------------------

const READ_BLOCK_BYTES = 1024 * 1024;

/** Sequential reads from a ByteSource in 1 MiB blocks, so a backup of many small records is not many small reads. */
class SourceReader {
  private block: Uint8Array = new Uint8Array(0);
  private blockStart = 0;

  constructor(
    private readonly source: ByteSource,
    public position: number,
  ) {}

  get atEnd(): boolean {
    return this.position >= this.source.sizeBytes;
  }

  /** The next `length` bytes, or null if the source ends first. */
  async take(length: number): Promise<Uint8Array | null> {
    const start = this.position;
    const end = start + length;
    if (end > this.source.sizeBytes) return null;
    if (start < this.blockStart || end > this.blockStart + this.block.length) {
      const readEnd = Math.min(this.source.sizeBytes, Math.max(end, start + READ_BLOCK_BYTES));
      this.block = await this.source.read(start, readEnd);
      this.blockStart = start;
      if (this.block.length !== readEnd - start) throw new Error(`the backup gave ${this.block.length} bytes where ${readEnd - start} were asked for`);
    }
    this.position = end;
    return this.block.subarray(start - this.blockStart, end - this.blockStart);
  }

  async u8(): Promise<number | null> {
    const bytes = await this.take(1);
    return bytes === null ? null : (bytes[0] ?? null);
  }

  async u32(): Promise<number | null> {
    const bytes = await this.take(4);
    return bytes === null ? null : readU32(bytes, 0);
  }

  /** u8 length ‖ ASCII. */
  async id(): Promise<string | null> {
    const length = await this.u8();
    if (length === null) return null;
    const bytes = await this.take(length);
    const text = bytes === null ? null : fromUtf8(bytes);
    return text !== null && text.length === length ? text : null;
  }
}

export interface BackupPreamble {
  /** The format version the file says it has (one of READABLE_FORMAT_VERSIONS). */
  readonly version: number;
  readonly header: VaultHeader;
  readonly headerBytes: Uint8Array;
  readonly recordsStart: number;
}

export type BackupCheck<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly detail: string };

function refused<T>(detail: string): BackupCheck<T> {
  return { ok: false, detail };
}

/** The magic, version and vault header: enough to ask for the passphrase. */
export async function readBackupPreamble(source: ByteSource): Promise<BackupCheck<BackupPreamble>> {
  if (source.sizeBytes > MAX_BACKUP_BYTES) return refused(`the file is larger than ${MAX_BACKUP_BYTES / 1024 ** 3} GiB, the most a backup may be`);
  const reader = new SourceReader(source, 0);
  const magic = await reader.take(BACKUP_MAGIC.length);
  if (magic === null || !bytesEqual(magic, BACKUP_MAGIC)) return refused('this is not a Parley backup');
  const version = await reader.u32();
  if (version === null) return refused('the file ends inside its header');
  if (!READABLE_FORMAT_VERSIONS.includes(version)) {
    return refused(`this backup has format version ${version}; this version of Parley reads versions ${READABLE_FORMAT_VERSIONS.join(' and ')}`);
  }
  const headerLength = await reader.u32();
  if (headerLength === null || headerLength === 0 || headerLength > MAX_BACKUP_HEADER_BYTES) return refused('the vault header has an impossible length');
  const headerBytes = await reader.take(headerLength);
  if (headerBytes === null) return refused('the file ends inside its header');
  const json = parseJsonBytes(headerBytes);
  const header = json.ok ? parseVaultHeader(json.value) : null;
  if (header === null) return refused('the vault header is malformed');
  return { ok: true, value: { version, header, headerBytes: headerBytes.slice(), recordsStart: reader.position } };
}

type RecordCheck = BackupCheck<null>;
const FINE: RecordCheck = { ok: true, value: null };

/** What the records seen so far promise about the ones still to come. */
class Consistency {
  private readonly settings = new Set<string>();
  private readonly contacts = new Set<string>();
  /**
   * Conversation id → its lastSeq (every message of it must have a seq up to that), the other person of its
   * two-person messages, and its outbox counts by addressee (counted down by the messages' `sending` entries).
   */
  private readonly conversations = new Map<string, { readonly lastSeq: number; readonly pairPeer: OtherParty; readonly outbox: Map<string, number> }>();
  /**
   * "conversationId/seq" of each own message an addressee still waits on ("sending" or "delivered") → its id and
   * whether one is still "sending": such a message must have its outbox entry, the others may (§11.4).
   */
  private readonly followed = new Map<string, { readonly messageId: string; readonly sending: boolean }>();
  /** "conversationId/fileId" → the file's size, for the parts that must follow. */
  private readonly files = new Map<string, number>();
  private completeFiles = 0;
  private currentFile: { readonly key: string; readonly sizeBytes: number; nextIndex: number } | null = null;

  constructor(private readonly dataKey: CryptoKey) {}

  async check(record: BackupRecord): Promise<RecordCheck> {
    switch (record.type) {
      case 'settings': {
        const { id, sealed } = record.row;
        const opens =
          id === PROFILE_RECORD_ID
            ? (await openProfile(this.dataKey, sealed)) !== null
            : id === PREFERENCES_RECORD_ID
              ? (await openPreferences(this.dataKey, sealed)) !== null
              : (await unwrapIdentity(this.dataKey, sealed)) !== null;
        if (!opens) return refused(`the ${id} record does not open`);
        this.settings.add(id);
        return FINE;
      }
      case 'contact': {
        if ((await openContactRecord(this.dataKey, record.row.id, record.row.sealed)) === null) return refused('a contact record does not open');
        this.contacts.add(record.row.id);
        return FINE;
      }
      case 'conversation': {
        const conversation = await openConversationRecord(this.dataKey, record.row.id, record.row.sealed);
        if (conversation === null) return refused('a conversation record does not open');
        const named = [...conversation.contactIds, ...(conversation.pairContactId === null ? [] : [conversation.pairContactId])];
        if (named.some((contactId) => !this.contacts.has(contactId))) return refused('a conversation names a contact that is not in the backup');
        this.conversations.set(record.row.id, {
          lastSeq: conversation.lastSeq,
          pairPeer: pairPeerOf(conversation.pairContactId),
          outbox: new Map(conversation.outbox.map(({ to, count }) => [partyKey(to), count])),
        });
        return FINE;
      }
      case 'message': {
        const row = record.row;
        const conversation = this.conversations.get(row.conversationId);
        if (conversation === undefined) return refused('a message belongs to a conversation that is not in the backup');
        if (row.seq > conversation.lastSeq) return refused('a message lies beyond the end of its conversation');
        const message = await openMessageRecord(this.dataKey, row, row.sealed, conversation.pairPeer);
        if (message === null) return refused('a message record does not open');
        const sending = message.delivery.filter((delivery) => delivery.state === 'sending');
        for (const { to } of sending) {
          const left = conversation.outbox.get(partyKey(to)) ?? 0;
          if (left === 0) return refused('a message waits for someone its conversation does not count');
          conversation.outbox.set(partyKey(to), left - 1);
        }
        if (message.delivery.some((delivery) => delivery.state === 'sending' || delivery.state === 'delivered')) {
          this.followed.set(`${row.conversationId}/${row.seq}`, { messageId: row.messageId, sending: sending.length > 0 });
        }
        if (message.content.type === 'file') {
          const key = `${row.conversationId}/${message.content.file.fileId}`;
          if (this.files.has(key)) return refused('two messages share one stored file');
          this.files.set(key, message.content.file.sizeBytes);
        }
        return FINE;
      }
      case 'file-part': {
        const row = record.row;
        const key = `${row.conversationId}/${row.fileId}`;
        if (this.currentFile === null || this.currentFile.key !== key) {
          if (!this.closeFile()) return refused('a stored file is missing parts');
          const sizeBytes = this.files.get(key);
          if (sizeBytes === undefined) return refused('a file part belongs to no message');
          this.currentFile = { key, sizeBytes, nextIndex: 0 };
        }
        const file = this.currentFile;
        if (row.index !== file.nextIndex) return refused('a stored file is missing parts');
        const bytes = await openFilePart(this.dataKey, row, row.sealed);
        const expectedBytes = Math.min(FILE_PART_BYTES, file.sizeBytes - row.index * FILE_PART_BYTES);
        if (bytes === null || bytes.length !== expectedBytes) return refused('a file part does not open');
        file.nextIndex += 1;
        return FINE;
      }
      case 'outbox': {
        const row = record.row;
        const conversation = this.conversations.get(row.conversationId);
        if (conversation === undefined) return refused('an outbox entry belongs to a conversation that is not in the backup');
        const entry = await openOutboxEntry(this.dataKey, row, row.sealed);
        if (entry === null) return refused('an outbox entry does not open');
        // Each entry follows one own message that still waits on someone, and no message has two.
        const key = `${row.conversationId}/${entry.seq}`;
        const message = this.followed.get(key);
        if (message === undefined || message.messageId !== entry.messageId) return refused('an outbox entry does not match its message');
        this.followed.delete(key);
        return FINE;
      }
      default:
        return assertNever(record, 'backup record');
    }
  }

  /** After the last record: nothing promised is missing. */
  finish(): RecordCheck {
    if (!SETTINGS_IDS.every((id) => this.settings.has(id))) return refused('the backup holds no profile');
    if (!this.closeFile() || this.completeFiles !== this.countPartedFiles()) return refused('a stored file is missing parts');
    for (const { outbox } of this.conversations.values()) {
      if ([...outbox.values()].some((count) => count !== 0)) return refused('a conversation counts waiting messages that are not in the backup');
    }
    if ([...this.followed.values()].some((message) => message.sending)) return refused('a message waits for someone but has no outbox entry');
    return FINE;
  }

  /** Files of size 0 have no parts and are complete by definition. */
  private countPartedFiles(): number {
    let count = 0;
    for (const sizeBytes of this.files.values()) if (sizeBytes > 0) count += 1;
    return count;
  }

  private closeFile(): boolean {
    const file = this.currentFile;
    if (file === null) return true;
    this.currentFile = null;
    if (file.nextIndex * FILE_PART_BYTES < file.sizeBytes) return false;
    this.completeFiles += 1;
    return true;
  }
}

/** The key of a record as a comparable tuple; records of one tag must come in strictly ascending key order. */
function recordKey(record: BackupRecord): readonly (string | number)[] {
  switch (record.type) {
    case 'settings':
    case 'contact':
    case 'conversation':
      return [record.row.id];
    case 'message':
      return [record.row.conversationId, record.row.seq];
    case 'file-part':
      return [record.row.conversationId, record.row.fileId, record.row.index];
    case 'outbox':
      return [record.row.conversationId, record.row.entryId];
    default:
      return assertNever(record, 'backup record');
  }
}

function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined || x === y) continue;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

const TAG_TYPES: Readonly<Record<number, BackupRecord['type']>> = {
  [BackupTag.settings]: 'settings',
  [BackupTag.contact]: 'contact',
  [BackupTag.conversation]: 'conversation',
  [BackupTag.message]: 'message',
  [BackupTag.filePart]: 'file-part',
  [BackupTag.outbox]: 'outbox',
};

/** Reads one record after its tag byte; null if its fields are malformed. */
async function readRecord(reader: SourceReader, tag: number): Promise<BackupRecord | null> {
  const type = TAG_TYPES[tag];
  if (type === undefined) return null;
  const sealedOf = async (): Promise<Uint8Array | null> => {
    const length = await reader.u32();
    if (length === null || length < MIN_SEALED_RECORD_BYTES || length > (MAX_SEALED_BYTES[tag] ?? 0)) return null;
    return (await reader.take(length))?.slice() ?? null;
  };
  switch (type) {
    case 'settings':
    case 'contact':
    case 'conversation': {
      const id = await reader.id();
      const valid = type === 'settings' ? id !== null && (SETTINGS_IDS.includes(id) || OPTIONAL_SETTINGS_IDS.includes(id)) : isVaultId(id);
      const sealed = valid ? await sealedOf() : null;
      return id === null || sealed === null ? null : { type, row: { id, sealed } };
    }
    case 'message': {
      const conversationId = await reader.id();
      const seq = await reader.u32();
      const messageId = await reader.id();
      if (!isVaultId(conversationId) || !isSeq(seq) || !isVaultId(messageId)) return null;
      const sealed = await sealedOf();
      return sealed === null ? null : { type, row: { conversationId, seq, messageId, sealed } };
    }
    case 'file-part': {
      const conversationId = await reader.id();
      const fileId = await reader.id();
      const index = await reader.u32();
      if (!isVaultId(conversationId) || !isVaultId(fileId) || !isPartIndex(index)) return null;
      const sealed = await sealedOf();
      return sealed === null ? null : { type, row: { conversationId, fileId, index, sealed } };
    }
    case 'outbox': {
      const conversationId = await reader.id();
      const entryId = await reader.id();
      if (!isVaultId(conversationId) || !isVaultId(entryId)) return null;
      const sealed = await sealedOf();
      return sealed === null ? null : { type, row: { conversationId, entryId, sealed } };
    }
    default:
      return assertNever(type, 'backup record type');
  }
}

/**
 * Reads every record after the preamble, checks its framing, order, bounds and consistency, opens it under
 * `dataKey`, and hands it to `onRecord` (which may stop the walk by returning false). Succeeds only if the
 * sealed manifest at the end matches the count and digest of all records and nothing follows it.
 */
export async function walkBackup(
  source: ByteSource,
  preamble: BackupPreamble,
  dataKey: CryptoKey,
  onRecord: (record: BackupRecord) => Promise<boolean>,
): Promise<BackupCheck<{ readonly recordCount: number }> | { readonly ok: false; readonly stopped: true }> {
  const reader = new SourceReader(source, preamble.recordsStart);
  const digest = new RecordDigest(preamble.headerBytes);
  const consistency = new Consistency(dataKey);
  let recordCount = 0;
  let previous: { readonly tag: number; readonly key: readonly (string | number)[] } | null = null;
  for (;;) {
    const tag = await reader.u8();
    if (tag === null) return refused('the backup ends before its manifest: it was cut short');
    if (tag === BackupTag.manifest) break;
    // Version 1 had no outbox: such a record there is not one this version ever wrote.
    const record = tag === BackupTag.outbox && preamble.version < 2 ? null : await readRecord(reader, tag);
    if (record === null) return refused(`record ${recordCount + 1} is malformed or too large`);
    const key = recordKey(record);
    if (previous !== null && (tag < previous.tag || (tag === previous.tag && compareKeys(key, previous.key) <= 0))) {
      return refused(`record ${recordCount + 1} is out of order or repeated`);
    }
    previous = { tag, key };
    const checked = await consistency.check(record);
    if (!checked.ok) return checked;
    await digest.add(record.row.sealed);
    recordCount += 1;
    if (!(await onRecord(record))) return { ok: false, stopped: true };
  }
  const manifestLength = await reader.u32();
  if (manifestLength === null || manifestLength < MIN_SEALED_RECORD_BYTES || manifestLength > (MAX_SEALED_BYTES[BackupTag.manifest] ?? 0)) {
    return refused('the manifest is malformed');
  }
  const sealedManifest = await reader.take(manifestLength);
  if (sealedManifest === null) return refused('the backup ends inside its manifest');
  if (!reader.atEnd) return refused('something follows the manifest');
  const opened = await openJsonRecord(dataKey, 'settings', MANIFEST_RECORD_ID, sealedManifest.slice());
  const manifest = opened.ok ? parseManifest(opened.value) : null;
  if (manifest === null) return refused('the manifest does not open');
  if (manifest.recordCount !== recordCount || !bytesEqual(manifest.recordDigest, await digest.finish())) {
    return refused('the records are not the ones this backup was made with');
  }
  const finished = consistency.finish();
  return finished.ok ? { ok: true, value: { recordCount } } : finished;
}

/** The write that restores one backup record as it was stored. */
export function restoreWrite(record: BackupRecord): VaultWrite {
  switch (record.type) {
    case 'settings':
      return { type: 'put-row', store: 'settings', row: record.row };
    case 'contact':
      return { type: 'put-row', store: 'contacts', row: record.row };
    case 'conversation':
      return { type: 'put-row', store: 'conversations', row: record.row };
    case 'message':
      return { type: 'add-message', row: record.row };
    case 'file-part':
      return { type: 'put-file-part', row: record.row };
    case 'outbox':
      return { type: 'put-outbox', row: record.row };
    default:
      return assertNever(record, 'backup record');
  }
}


export type RestoreResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'invalid-backup'; readonly detail: string }
  | { readonly ok: false; readonly reason: 'quota-exceeded' }
  | { readonly ok: false; readonly reason: 'profile-exists' };

const RESTORE_BATCH_RECORDS = 256;
const RESTORE_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Restores a backup into a store without a vault. A first pass checks and opens every record and writes
 * nothing; a second pass checks them again as it writes them in batches (the file could change between the
 * passes), and the header goes last, in its own write: until then the store has no vault, and whatever an
 * interrupted restore left is cleared by the next creation or restore. Every batch first requires that no
 * header exists, so a profile made in another tab meanwhile stops the restore rather than being mixed into.
 */
export async function restoreBackup(store: VaultStorePort, source: ByteSource, preamble: BackupPreamble, dataKey: CryptoKey): Promise<RestoreResult> {
  const checked = await walkBackup(source, preamble, dataKey, async () => true);
  // The first pass never stops early, so a failure here always has a detail.
  if (!checked.ok) return { ok: false, reason: 'invalid-backup', detail: 'detail' in checked ? checked.detail : 'the check stopped' };

  const guarded = async (writes: readonly VaultWrite[]): Promise<RestoreResult> => {
    const written = await store.write([{ type: 'require-no-header' }, ...writes]);
    if (written.ok) return { ok: true };
    return written.reason === 'conflict' ? { ok: false, reason: 'profile-exists' } : written;
  };
  const cleared = await guarded([{ type: 'clear-rows' }]);
  if (!cleared.ok) return cleared;

  let batch: VaultWrite[] = [];
  let batchBytes = 0;
  // Set by a batch write that failed, which also stops the walk.
  const written: { failure: RestoreResult | null } = { failure: null };
  const flush = async (): Promise<boolean> => {
    if (batch.length === 0) return true;
    const result = await guarded(batch);
    batch = [];
    batchBytes = 0;
    if (!result.ok) written.failure = result;
    return result.ok;
  };
  const restored = await walkBackup(source, preamble, dataKey, async (record) => {
    batch.push(restoreWrite(record));
    batchBytes += record.row.sealed.length;
    return batch.length < RESTORE_BATCH_RECORDS && batchBytes < RESTORE_BATCH_BYTES ? true : flush();
  });
  if (restored.ok) await flush();
  const outcome: RestoreResult =
    !restored.ok && 'detail' in restored
      ? { ok: false, reason: 'invalid-backup', detail: `the backup changed while it was read: ${restored.detail}` }
      : (written.failure ?? { ok: true });
  if (!outcome.ok) {
    // Leave nothing half-restored behind, unless another tab's profile now owns the store.
    if (outcome.reason !== 'profile-exists') await guarded([{ type: 'clear-rows' }]);
    return outcome;
  }
  const committed = await store.write([
    { type: 'add-header', header: encodeVaultHeader(preamble.header) },
    { type: 'put-failed-unlocks', count: 0 },
  ]);
  if (committed.ok) return { ok: true };
  return committed.reason === 'conflict' ? { ok: false, reason: 'profile-exists' } : committed;
}
