/**
 * The vault's storage port on IndexedDB (through idb): one database, numbered migrations, and one transaction
 * per port call, so a tab closed mid-write leaves either the old state or the new one. A thin mapping: all
 * the logic (and every check of what is read back) lives in core.
 */
import { deleteDB, openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import { assertNever } from '../../core/assertNever.ts';
import { VAULT_DB_NAME } from '../vault/profilePresence.ts';
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

export { VAULT_DB_NAME };

/**
 * What is stored, and what of it is in the clear: the header (salt, Argon2id params, wrapped data key), the
 * failure count, random ids, message seqs and the clear message ids; every other byte is sealed.
 */
interface VaultDB extends DBSchema {
  /** 'header' → the encoded vault header; 'failedUnlocks' → a count. */
  meta: { key: 'header' | 'failedUnlocks'; value: unknown };
  /** 'profile' and 'identity'. */
  settings: { key: string; value: SealedRow };
  conversations: { key: string; value: SealedRow };
  contacts: { key: string; value: SealedRow };
  messages: { key: [string, number]; value: MessageRow; indexes: { byMessageId: [string, string] } };
  fileParts: { key: [string, string, number]; value: FilePartRow };
  pendingFiles: { key: [string, string]; value: PendingFileRow };
  outbox: { key: [string, string]; value: OutboxRow };
}

type VaultStoreName = StoreNames<VaultDB>;
type UpgradeTransaction = IDBPTransaction<VaultDB, VaultStoreName[], 'versionchange'>;
type Migration = (db: IDBPDatabase<VaultDB>, transaction: UpgradeTransaction) => void;

/**
 * Migration n takes the database from version n to n + 1; the database's version is the number of
 * migrations. Append only: a migration that has shipped never changes, since browsers out there have run it.
 */
const MIGRATIONS: readonly Migration[] = [
  // 0 → 1: the first schema.
  (db) => {
    db.createObjectStore('meta');
    db.createObjectStore('settings', { keyPath: 'id' });
    db.createObjectStore('conversations', { keyPath: 'id' });
    db.createObjectStore('contacts', { keyPath: 'id' });
    const messages = db.createObjectStore('messages', { keyPath: ['conversationId', 'seq'] });
    messages.createIndex('byMessageId', ['conversationId', 'messageId']);
    db.createObjectStore('fileParts', { keyPath: ['conversationId', 'fileId', 'index'] });
    db.createObjectStore('pendingFiles', { keyPath: ['conversationId', 'fileId'] });
  },
  // 1 → 2: group rooms (spec §12.9): the durable outbox. Records are sealed, so they cannot change here; the
  // conversations and messages of the two-person history are read as they are (vaultRecords.ts).
  (db) => {
    db.createObjectStore('outbox', { keyPath: ['conversationId', 'entryId'] });
  },
];

export const VAULT_DB_VERSION = MIGRATIONS.length;

/**
 * Every key whose first component is `first` (and, if given, whose second is `second`): arrays sort after
 * numbers and strings, so [first] … [first, []] spans exactly those keys.
 */
function prefixRange(first: string, second?: string): IDBKeyRange {
  return second === undefined ? IDBKeyRange.bound([first], [first, []]) : IDBKeyRange.bound([first, second], [first, second, []]);
}

/**
 * Structured cloning stores a view's whole underlying buffer, not just the view: a sealed record cut from a
 * larger buffer could carry unrelated bytes (even plaintext) into IndexedDB. Every stored byte array is its
 * own buffer.
 */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

function storesOf(operation: VaultWrite): readonly VaultStoreName[] {
  switch (operation.type) {
    case 'add-header':
    case 'require-no-header':
    case 'put-header':
    case 'put-failed-unlocks':
      return ['meta'];
    case 'put-row':
      return [operation.store];
    case 'add-message':
    case 'put-message':
      return ['messages'];
    case 'put-file-part':
      return ['fileParts'];
    case 'put-outbox':
    case 'delete-outbox':
      return ['outbox'];
    case 'put-pending-file':
    case 'delete-pending-file':
      return ['pendingFiles'];
    case 'delete-file':
      return ['fileParts', 'pendingFiles'];
    case 'delete-conversation':
    case 'clear-history':
      return ['conversations', 'messages', 'outbox', 'fileParts', 'pendingFiles'];
    case 'clear-rows':
      return ['settings', 'conversations', 'contacts', 'messages', 'outbox', 'fileParts', 'pendingFiles'];
    default:
      return assertNever(operation, 'vault write');
  }
}

function errorName(error: unknown): string {
  return error instanceof DOMException || error instanceof Error ? error.name : '';
}

export class IdbVaultStore implements VaultStorePort {
  private connection: Promise<IDBPDatabase<VaultDB>> | null = null;

  constructor(private readonly name = VAULT_DB_NAME) {}

  private db(): Promise<IDBPDatabase<VaultDB>> {
    if (this.connection === null) {
      const connection = openDB<VaultDB>(this.name, VAULT_DB_VERSION, {
        upgrade: (db, oldVersion, newVersion, transaction) => {
          for (let version = oldVersion; version < (newVersion ?? VAULT_DB_VERSION); version++) {
            const migration = MIGRATIONS[version];
            if (migration === undefined) throw new Error(`no migration from vault database version ${version}`);
            migration(db, transaction);
          }
        },
        // Another tab is upgrading or deleting the database: let it, and reopen on our next call.
        blocking: () => {
          void connection.then((db) => db.close());
          this.connection = null;
        },
        terminated: () => {
          this.connection = null;
        },
      }).catch((error: unknown) => {
        this.connection = null;
        if (errorName(error) === 'VersionError') {
          throw new Error('the vault in this browser was written by a newer version of Parley; reload the page to get it', { cause: error });
        }
        throw new Error(`cannot open the vault database: ${errorName(error) || String(error)}`, { cause: error });
      });
      this.connection = connection;
    }
    return this.connection;
  }

  async write(batch: readonly VaultWrite[]): Promise<WriteResult> {
    if (batch.length === 0) return { ok: true };
    const db = await this.db();
    const stores = [...new Set(batch.flatMap(storesOf))];
    const transaction = db.transaction(stores, 'readwrite');
    let conflict = false;
    const requests: Promise<unknown>[] = [];
    for (const operation of batch) {
      switch (operation.type) {
        case 'add-header':
          requests.push(transaction.objectStore('meta').add(operation.header, 'header'));
          break;
        case 'require-no-header':
          requests.push(
            transaction
              .objectStore('meta')
              .count('header')
              .then((count) => {
                if (count === 0) return;
                conflict = true;
                transaction.abort();
              }),
          );
          break;
        case 'put-header':
          requests.push(transaction.objectStore('meta').put(operation.header, 'header'));
          break;
        case 'put-failed-unlocks':
          requests.push(transaction.objectStore('meta').put(operation.count, 'failedUnlocks'));
          break;
        case 'put-row':
          requests.push(transaction.objectStore(operation.store).put({ id: operation.row.id, sealed: ownBuffer(operation.row.sealed) }));
          break;
        case 'add-message':
          requests.push(transaction.objectStore('messages').add({ ...operation.row, sealed: ownBuffer(operation.row.sealed) }));
          break;
        case 'put-message':
          requests.push(transaction.objectStore('messages').put({ ...operation.row, sealed: ownBuffer(operation.row.sealed) }));
          break;
        case 'put-file-part':
          requests.push(transaction.objectStore('fileParts').put({ ...operation.row, sealed: ownBuffer(operation.row.sealed) }));
          break;
        case 'put-outbox':
          requests.push(transaction.objectStore('outbox').put({ ...operation.row, sealed: ownBuffer(operation.row.sealed) }));
          break;
        case 'delete-outbox':
          requests.push(transaction.objectStore('outbox').delete([operation.conversationId, operation.entryId]));
          break;
        case 'put-pending-file':
          requests.push(transaction.objectStore('pendingFiles').put({ conversationId: operation.row.conversationId, fileId: operation.row.fileId }));
          break;
        case 'delete-pending-file':
          requests.push(transaction.objectStore('pendingFiles').delete([operation.conversationId, operation.fileId]));
          break;
        case 'delete-file':
          requests.push(transaction.objectStore('fileParts').delete(prefixRange(operation.conversationId, operation.fileId)));
          requests.push(transaction.objectStore('pendingFiles').delete([operation.conversationId, operation.fileId]));
          break;
        case 'delete-conversation': {
          const id = operation.conversationId;
          requests.push(transaction.objectStore('conversations').delete(id));
          requests.push(transaction.objectStore('messages').delete(prefixRange(id)));
          requests.push(transaction.objectStore('outbox').delete(prefixRange(id)));
          requests.push(transaction.objectStore('fileParts').delete(prefixRange(id)));
          requests.push(transaction.objectStore('pendingFiles').delete(prefixRange(id)));
          break;
        }
        case 'clear-history':
        case 'clear-rows':
          for (const store of storesOf(operation)) requests.push(transaction.objectStore(store).clear());
          break;
        default:
          assertNever(operation, 'vault write');
      }
    }
    try {
      await Promise.all([...requests, transaction.done]);
      return { ok: true };
    } catch (error) {
      if (conflict || errorName(error) === 'ConstraintError') return { ok: false, reason: 'conflict' };
      // The request that failed may report only an AbortError; the transaction's own error says why.
      if (errorName(error) === 'QuotaExceededError' || errorName(transaction.error) === 'QuotaExceededError') {
        return { ok: false, reason: 'quota-exceeded' };
      }
      throw new Error(`a vault write (${batch.map((operation) => operation.type).join(', ')}) failed: ${errorName(error) || String(error)}`, {
        cause: error,
      });
    }
  }

  async readHeader(): Promise<unknown> {
    return (await this.db()).get('meta', 'header');
  }

  async readFailedUnlocks(): Promise<unknown> {
    return (await this.db()).get('meta', 'failedUnlocks');
  }

  async readRow(store: SealedRowStore, id: string): Promise<unknown> {
    return (await this.db()).get(store, id);
  }

  async readRows(store: SealedRowStore): Promise<readonly unknown[]> {
    return (await this.db()).getAll(store);
  }

  async readMessages(conversationId: string, range: MessageRange, limit: number): Promise<readonly unknown[]> {
    const db = await this.db();
    switch (range.direction) {
      case 'forward':
        return db.getAll('messages', IDBKeyRange.bound([conversationId, range.afterSeq], [conversationId, []], true, false), limit);
      case 'backward': {
        const keys =
          range.beforeSeq === null ? prefixRange(conversationId) : IDBKeyRange.bound([conversationId], [conversationId, range.beforeSeq], false, true);
        // A cursor going backwards from the newest key reads exactly the rows it returns.
        const rows: unknown[] = [];
        let cursor = await db.transaction('messages').store.openCursor(keys, 'prev');
        while (cursor !== null && rows.length < limit) {
          rows.push(cursor.value);
          cursor = rows.length < limit ? await cursor.continue() : null;
        }
        return rows;
      }
      default:
        return assertNever(range, 'message range');
    }
  }

  async readMessagesById(conversationId: string, messageId: string): Promise<readonly unknown[]> {
    return (await this.db()).getAllFromIndex('messages', 'byMessageId', [conversationId, messageId]);
  }

  async readFilePart(conversationId: string, fileId: string, index: number): Promise<unknown> {
    return (await this.db()).get('fileParts', [conversationId, fileId, index]);
  }

  async readFileParts(conversationId: string, after: FilePartCursor | null, limit: number): Promise<readonly unknown[]> {
    const keys =
      after === null
        ? prefixRange(conversationId)
        : IDBKeyRange.bound([conversationId, after.fileId, after.index], [conversationId, []], true, false);
    return (await this.db()).getAll('fileParts', keys, limit);
  }

  async readPendingFiles(): Promise<readonly unknown[]> {
    return (await this.db()).getAll('pendingFiles');
  }

  async readOutbox(conversationId: string): Promise<readonly unknown[]> {
    return (await this.db()).getAll('outbox', prefixRange(conversationId));
  }

  /** Closes our connection and deletes the database; other tabs close theirs when asked (see `blocking`). */
  async destroy(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    if (connection !== null) (await connection.catch(() => null))?.close();
    await deleteDB(this.name);
  }

  async requestPersistence(): Promise<boolean> {
    return (await navigator.storage?.persist?.()) ?? false;
  }

  async persisted(): Promise<boolean> {
    return (await navigator.storage?.persisted?.()) ?? false;
  }

  async estimate(): Promise<StorageEstimate | null> {
    const estimate = await navigator.storage?.estimate?.();
    if (estimate?.usage === undefined || estimate.quota === undefined) return null;
    return { usageBytes: estimate.usage, quotaBytes: estimate.quota };
  }
}
