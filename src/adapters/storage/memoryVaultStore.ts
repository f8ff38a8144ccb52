/**
 * The vault's storage port in memory, with IndexedDB's semantics where the vault relies on them: each write
 * batch is all-or-nothing, `add` refuses an existing key, rows come back as copies in key order, and a
 * write that would exceed the quota fails as 'quota-exceeded' leaving everything as it was. It counts the
 * rows it hands out, so tests can check that a page of history reads only that page.
 */
import { assertNever } from '../../core/assertNever.ts';
import type {
  FilePartCursor,
  FilePartRow,
  MessageRange,
  MessageRow,
  OutboxRow,
  PendingFileRow,
  SealedRow,
  SealedRowStore,
  StorageEstimate,
  VaultStorePort,
  VaultWrite,
  WriteResult,
} from '../../core/vault/storePort.ts';

export interface MemoryVaultStoreOptions {
  /** Total sealed bytes the store may hold; unlimited when absent. */
  readonly quotaBytes?: number;
  /** When false, `estimate()` answers null, as a browser without the Storage API would. */
  readonly canEstimate?: boolean;
}

interface ConversationMessages {
  readonly rows: Map<number, MessageRow>;
  /** Ascending, so a range read walks only the rows it returns. */
  readonly seqs: number[];
}

/** Thrown inside a batch to roll it back. */
class Abort extends Error {
  constructor(readonly result: Exclude<WriteResult, { readonly ok: true }>) {
    super(result.reason);
  }
}

function copyBytes(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}

/** First index whose seq is >= `seq`. */
function lowerBound(seqs: readonly number[], seq: number): number {
  let low = 0;
  let high = seqs.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((seqs[middle] ?? 0) < seq) low = middle + 1;
    else high = middle;
  }
  return low;
}

function partKey(conversationId: string, fileId: string, index: number): string {
  return `${conversationId}/${fileId}/${index}`;
}

function fileKey(conversationId: string, fileId: string): string {
  return `${conversationId}/${fileId}`;
}

function compareOutbox(a: OutboxRow, b: OutboxRow): number {
  const [x, y] = [fileKey(a.conversationId, a.entryId), fileKey(b.conversationId, b.entryId)];
  return x < y ? -1 : x > y ? 1 : 0;
}

export class MemoryVaultStore implements VaultStorePort {
  /** Rows handed out by every read since construction (or the last reset by a test). */
  rowsRead = 0;
  /** Calls to `write`, whatever their outcome. */
  writeCalls = 0;
  private header: unknown = undefined;
  private failedUnlocks: unknown = undefined;
  private sealed: Record<SealedRowStore, Map<string, SealedRow>> = { settings: new Map(), conversations: new Map(), contacts: new Map() };
  private messages = new Map<string, ConversationMessages>();
  private messageIds = new Map<string, Set<number>>();
  private fileParts = new Map<string, FilePartRow>();
  private pendingFiles = new Map<string, PendingFileRow>();
  private outbox = new Map<string, OutboxRow>();
  private usageBytes = 0;
  private persistent = false;

  constructor(private readonly options: MemoryVaultStoreOptions = {}) {}

  // ---- writes -------------------------------------------------------------------------------------

  async write(batch: readonly VaultWrite[]): Promise<WriteResult> {
    this.writeCalls += 1;
    const undo: (() => void)[] = [];
    const usageBefore = this.usageBytes;
    try {
      for (const operation of batch) this.apply(operation, undo);
      const quota = this.options.quotaBytes;
      if (quota !== undefined && this.usageBytes > quota && this.usageBytes > usageBefore) throw new Abort({ ok: false, reason: 'quota-exceeded' });
      return { ok: true };
    } catch (error) {
      for (const step of undo.reverse()) step();
      if (error instanceof Abort) return error.result;
      throw error;
    }
  }

  private apply(operation: VaultWrite, undo: (() => void)[]): void {
    switch (operation.type) {
      case 'add-header':
        if (this.header !== undefined) throw new Abort({ ok: false, reason: 'conflict' });
        this.setHeader(structuredClone(operation.header), undo);
        return;
      case 'require-no-header':
        if (this.header !== undefined) throw new Abort({ ok: false, reason: 'conflict' });
        return;
      case 'put-header':
        this.setHeader(structuredClone(operation.header), undo);
        return;
      case 'put-failed-unlocks': {
        const previous = this.failedUnlocks;
        this.failedUnlocks = operation.count;
        undo.push(() => {
          this.failedUnlocks = previous;
        });
        return;
      }
      case 'put-row': {
        const row = { id: operation.row.id, sealed: copyBytes(operation.row.sealed) };
        this.putIn(this.sealed[operation.store], row.id, row, undo);
        return;
      }
      case 'add-message':
        if (this.messages.get(operation.row.conversationId)?.rows.has(operation.row.seq) === true) throw new Abort({ ok: false, reason: 'conflict' });
        this.putMessage(operation.row, undo);
        return;
      case 'put-message':
        this.putMessage(operation.row, undo);
        return;
      case 'put-file-part': {
        const { conversationId, fileId, index, sealed } = operation.row;
        this.putIn(this.fileParts, partKey(conversationId, fileId, index), { conversationId, fileId, index, sealed: copyBytes(sealed) }, undo);
        return;
      }
      case 'put-outbox': {
        const { conversationId, entryId, sealed } = operation.row;
        this.putIn(this.outbox, fileKey(conversationId, entryId), { conversationId, entryId, sealed: copyBytes(sealed) }, undo);
        return;
      }
      case 'delete-outbox':
        this.deleteIn(this.outbox, fileKey(operation.conversationId, operation.entryId), undo);
        return;
      case 'put-pending-file': {
        const { conversationId, fileId } = operation.row;
        this.putIn(this.pendingFiles, fileKey(conversationId, fileId), { conversationId, fileId }, undo);
        return;
      }
      case 'delete-pending-file':
        this.deleteIn(this.pendingFiles, fileKey(operation.conversationId, operation.fileId), undo);
        return;
      case 'delete-file':
        this.deleteWhere(this.fileParts, (row) => row.conversationId === operation.conversationId && row.fileId === operation.fileId, undo);
        this.deleteIn(this.pendingFiles, fileKey(operation.conversationId, operation.fileId), undo);
        return;
      case 'delete-conversation': {
        const id = operation.conversationId;
        this.deleteIn(this.sealed.conversations, id, undo);
        this.deleteMessagesOf(id, undo);
        this.deleteWhere(this.outbox, (row) => row.conversationId === id, undo);
        this.deleteWhere(this.fileParts, (row) => row.conversationId === id, undo);
        this.deleteWhere(this.pendingFiles, (row) => row.conversationId === id, undo);
        return;
      }
      case 'clear-history':
        this.clearHistory(undo);
        return;
      case 'clear-rows':
        this.clearHistory(undo);
        this.deleteWhere(this.sealed.settings, () => true, undo);
        this.deleteWhere(this.sealed.contacts, () => true, undo);
        return;
      default:
        assertNever(operation, 'vault write');
    }
  }

  private setHeader(header: unknown, undo: (() => void)[]): void {
    const previous = this.header;
    this.header = header;
    undo.push(() => {
      this.header = previous;
    });
  }

  private static sizeOf(row: object): number {
    return 'sealed' in row && row.sealed instanceof Uint8Array ? row.sealed.length : 0;
  }

  private putIn<V extends object>(map: Map<string, V>, key: string, value: V, undo: (() => void)[]): void {
    const previous = map.get(key);
    map.set(key, value);
    const delta = MemoryVaultStore.sizeOf(value) - (previous === undefined ? 0 : MemoryVaultStore.sizeOf(previous));
    this.usageBytes += delta;
    undo.push(() => {
      if (previous === undefined) map.delete(key);
      else map.set(key, previous);
      this.usageBytes -= delta;
    });
  }

  private deleteIn<V extends object>(map: Map<string, V>, key: string, undo: (() => void)[]): void {
    const previous = map.get(key);
    if (previous === undefined) return;
    map.delete(key);
    const size = MemoryVaultStore.sizeOf(previous);
    this.usageBytes -= size;
    undo.push(() => {
      map.set(key, previous);
      this.usageBytes += size;
    });
  }

  private deleteWhere<V extends object>(map: Map<string, V>, matches: (value: V) => boolean, undo: (() => void)[]): void {
    for (const [key, value] of [...map]) if (matches(value)) this.deleteIn(map, key, undo);
  }

  private putMessage(source: MessageRow, undo: (() => void)[]): void {
    const row: MessageRow = { ...source, sealed: copyBytes(source.sealed) };
    let conversation = this.messages.get(row.conversationId);
    const created = conversation === undefined;
    if (conversation === undefined) {
      conversation = { rows: new Map(), seqs: [] };
      this.messages.set(row.conversationId, conversation);
    }
    const messages = conversation;
    const previous = messages.rows.get(row.seq);
    messages.rows.set(row.seq, row);
    if (previous === undefined) {
      const at = lowerBound(messages.seqs, row.seq);
      messages.seqs.splice(at, 0, row.seq);
    } else {
      this.unindex(previous);
    }
    this.index(row);
    const delta = row.sealed.length - (previous?.sealed.length ?? 0);
    this.usageBytes += delta;
    undo.push(() => {
      this.unindex(row);
      if (previous === undefined) {
        messages.rows.delete(row.seq);
        messages.seqs.splice(lowerBound(messages.seqs, row.seq), 1);
        if (created) this.messages.delete(row.conversationId);
      } else {
        messages.rows.set(row.seq, previous);
        this.index(previous);
      }
      this.usageBytes -= delta;
    });
  }

  private deleteMessagesOf(conversationId: string, undo: (() => void)[]): void {
    const messages = this.messages.get(conversationId);
    if (messages === undefined) return;
    this.messages.delete(conversationId);
    let size = 0;
    for (const row of messages.rows.values()) {
      this.unindex(row);
      size += row.sealed.length;
    }
    this.usageBytes -= size;
    undo.push(() => {
      this.messages.set(conversationId, messages);
      for (const row of messages.rows.values()) this.index(row);
      this.usageBytes += size;
    });
  }

  private clearHistory(undo: (() => void)[]): void {
    this.deleteWhere(this.sealed.conversations, () => true, undo);
    for (const conversationId of [...this.messages.keys()]) this.deleteMessagesOf(conversationId, undo);
    this.deleteWhere(this.outbox, () => true, undo);
    this.deleteWhere(this.fileParts, () => true, undo);
    this.deleteWhere(this.pendingFiles, () => true, undo);
  }

  private index(row: MessageRow): void {
    const key = fileKey(row.conversationId, row.messageId);
    const seqs = this.messageIds.get(key) ?? new Set<number>();
    seqs.add(row.seq);
    this.messageIds.set(key, seqs);
  }

  private unindex(row: MessageRow): void {
    const key = fileKey(row.conversationId, row.messageId);
    const seqs = this.messageIds.get(key);
    seqs?.delete(row.seq);
    if (seqs?.size === 0) this.messageIds.delete(key);
  }

  // ---- reads --------------------------------------------------------------------------------------

  private handOut<T extends object>(rows: readonly T[]): unknown[] {
    this.rowsRead += rows.length;
    return rows.map((row) => structuredClone(row));
  }

  async readHeader(): Promise<unknown> {
    return structuredClone(this.header);
  }

  async readFailedUnlocks(): Promise<unknown> {
    return this.failedUnlocks;
  }

  async readRow(store: SealedRowStore, id: string): Promise<unknown> {
    const row = this.sealed[store].get(id);
    return row === undefined ? undefined : this.handOut([row])[0];
  }

  async readRows(store: SealedRowStore): Promise<readonly unknown[]> {
    return this.handOut([...this.sealed[store].values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  }

  async readMessages(conversationId: string, range: MessageRange, limit: number): Promise<readonly unknown[]> {
    const messages = this.messages.get(conversationId);
    if (messages === undefined) return [];
    const picked: MessageRow[] = [];
    const take = (index: number): void => {
      const row = messages.rows.get(messages.seqs[index] ?? -1);
      if (row !== undefined) picked.push(row);
    };
    switch (range.direction) {
      case 'backward': {
        const end = range.beforeSeq === null ? messages.seqs.length : lowerBound(messages.seqs, range.beforeSeq);
        for (let index = end - 1; index >= 0 && picked.length < limit; index--) take(index);
        break;
      }
      case 'forward': {
        const start = lowerBound(messages.seqs, range.afterSeq + 1);
        for (let index = start; index < messages.seqs.length && picked.length < limit; index++) take(index);
        break;
      }
      default:
        assertNever(range, 'message range');
    }
    return this.handOut(picked);
  }

  async readMessagesById(conversationId: string, messageId: string): Promise<readonly unknown[]> {
    const seqs = [...(this.messageIds.get(fileKey(conversationId, messageId)) ?? [])].sort((a, b) => a - b);
    const rows = seqs.map((seq) => this.messages.get(conversationId)?.rows.get(seq)).filter((row) => row !== undefined);
    return this.handOut(rows);
  }

  async readFilePart(conversationId: string, fileId: string, index: number): Promise<unknown> {
    const row = this.fileParts.get(partKey(conversationId, fileId, index));
    return row === undefined ? undefined : this.handOut([row])[0];
  }

  async readFileParts(conversationId: string, after: FilePartCursor | null, limit: number): Promise<readonly unknown[]> {
    const isAfter = (row: FilePartRow): boolean =>
      after === null || row.fileId > after.fileId || (row.fileId === after.fileId && row.index > after.index);
    const rows = [...this.fileParts.values()]
      .filter((row) => row.conversationId === conversationId && isAfter(row))
      .sort((a, b) => (a.fileId < b.fileId ? -1 : a.fileId > b.fileId ? 1 : a.index - b.index))
      .slice(0, limit);
    return this.handOut(rows);
  }

  async readPendingFiles(): Promise<readonly unknown[]> {
    return this.handOut([...this.pendingFiles.values()]);
  }

  async readOutbox(conversationId: string): Promise<readonly unknown[]> {
    return this.handOut([...this.outbox.values()].filter((row) => row.conversationId === conversationId).sort(compareOutbox));
  }

  // ---- the rest of the port -----------------------------------------------------------------------

  async destroy(): Promise<void> {
    this.header = undefined;
    this.failedUnlocks = undefined;
    this.sealed = { settings: new Map(), conversations: new Map(), contacts: new Map() };
    this.messages = new Map();
    this.messageIds = new Map();
    this.fileParts = new Map();
    this.pendingFiles = new Map();
    this.outbox = new Map();
    this.usageBytes = 0;
    this.persistent = false;
  }

  async requestPersistence(): Promise<boolean> {
    this.persistent = true;
    return true;
  }

  async persisted(): Promise<boolean> {
    return this.persistent;
  }

  async estimate(): Promise<StorageEstimate | null> {
    if (this.options.canEstimate === false) return null;
    return { usageBytes: this.usageBytes, quotaBytes: this.options.quotaBytes ?? Number.MAX_SAFE_INTEGER };
  }

  // ---- for tests ----------------------------------------------------------------------------------

  /** Everything stored, as plain data in key order: two snapshots are equal exactly when the stores hold the same. */
  snapshot(): unknown {
    const byId = (map: Map<string, SealedRow>): SealedRow[] => [...map.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    const messages = [...this.messages.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .flatMap(([, conversation]) => conversation.seqs.map((seq) => conversation.rows.get(seq)));
    return structuredClone({
      header: this.header,
      failedUnlocks: this.failedUnlocks,
      settings: byId(this.sealed.settings),
      conversations: byId(this.sealed.conversations),
      contacts: byId(this.sealed.contacts),
      messages,
      outbox: [...this.outbox.values()].sort(compareOutbox),
      fileParts: [...this.fileParts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row),
      pendingFiles: [...this.pendingFiles.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row),
    });
  }

  /** Counts of what each store holds. */
  counts(): Readonly<Record<'settings' | 'conversations' | 'contacts' | 'messages' | 'outbox' | 'fileParts' | 'pendingFiles', number>> {
    let messages = 0;
    for (const conversation of this.messages.values()) messages += conversation.rows.size;
    return {
      settings: this.sealed.settings.size,
      conversations: this.sealed.conversations.size,
      contacts: this.sealed.contacts.size,
      messages,
      outbox: this.outbox.size,
      fileParts: this.fileParts.size,
      pendingFiles: this.pendingFiles.size,
    };
  }

  /** Whether anything at all is stored, the failure count included. */
  isEmpty(): boolean {
    return this.header === undefined && this.failedUnlocks === undefined && Object.values(this.counts()).every((count) => count === 0);
  }
}
