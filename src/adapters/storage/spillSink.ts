/**
 * Where received files accumulate: small ones in memory, large ones spilled to IndexedDB in 4 MiB parts
 * so a 256 MiB file never sits in the page's memory. Each page owns its own database, marked by a Web
 * Lock it holds while alive, so a later page can delete what a crashed one left behind.
 */
import { deleteDB, openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ReceiveSink } from '../../core/transfer/transferManager.ts';
import type { TransferOffer } from '../../core/transfer/transferMessages.ts';

const SPILL_PART_BYTES = 4 * 1024 * 1024;
const DB_PREFIX = 'parley-spill-';

interface SpillSchema extends DBSchema {
  parts: { key: [string, number]; value: Blob };
}

export class SpillStore {
  private db: Promise<IDBPDatabase<SpillSchema>> | null = null;
  private readonly name = `${DB_PREFIX}${crypto.randomUUID()}`;

  /** Deletes spill databases whose page is gone (its lock is free). Best effort: failures change nothing. */
  static async removeAbandoned(): Promise<void> {
    const databases = await indexedDB.databases();
    for (const { name } of databases) {
      if (name?.startsWith(DB_PREFIX) !== true) continue;
      await navigator.locks.request(name, { ifAvailable: true }, async (lock) => {
        if (lock !== null) await deleteDB(name);
      });
    }
  }

  private open(): Promise<IDBPDatabase<SpillSchema>> {
    if (this.db === null) {
      // Hold the lock for the page's whole life: it tells other pages this database is in use.
      void navigator.locks.request(this.name, () => new Promise<never>(() => {}));
      this.db = openDB<SpillSchema>(this.name, 1, {
        upgrade: (db) => {
          db.createObjectStore('parts');
        },
      });
    }
    return this.db;
  }

  sink(offer: TransferOffer): ReceiveSink<Blob> {
    const range = (): IDBKeyRange => IDBKeyRange.bound([offer.id, 0], [offer.id, Number.MAX_SAFE_INTEGER]);
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let partCount = 0;
    /** The write in progress, so a discard waits for it instead of racing it and leaving a part behind. */
    let writing: Promise<void> = Promise.resolve();
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const part = new Blob(pending as BlobPart[]);
      pending = [];
      pendingBytes = 0;
      const index = partCount;
      partCount += 1;
      writing = writing.then(async () => {
        await (await this.open()).put('parts', part, [offer.id, index]);
      });
      await writing;
    };
    return {
      append: async (bytes) => {
        pending.push(bytes);
        pendingBytes += bytes.length;
        if (pendingBytes >= SPILL_PART_BYTES) await flush();
      },
      finish: async () => {
        if (partCount === 0) return new Blob(pending as BlobPart[]);
        await flush();
        const db = await this.open();
        const parts = await db.getAll('parts', range());
        // Blobs read from IndexedDB stay readable after their records are deleted; the data is not kept twice.
        await db.delete('parts', range());
        return new Blob(parts);
      },
      discard: async () => {
        pending = [];
        pendingBytes = 0;
        await writing.catch(() => {});
        if (partCount > 0) await (await this.open()).delete('parts', range());
      },
    };
  }
}
