/**
 * Reads every record of every IndexedDB database of a page's origin, the way an attacker with the disk would:
 * keys and values flattened to text, binary data as hex, Blobs read out, CryptoKeys flagged.
 */
import type { Page } from '@playwright/test';

export interface IndexedDbDump {
  /** Database name → store name → record count. */
  readonly counts: Record<string, Record<string, number>>;
  /** Every string found in keys and values, as is. */
  readonly strings: string[];
  /** Every binary value (ArrayBuffer, typed array, Blob), as lower-case hex. */
  readonly binariesHex: string[];
  /** How many stored values were CryptoKey objects (a key stored by structured clone). */
  readonly cryptoKeys: number;
}

export async function dumpIndexedDb(page: Page): Promise<IndexedDbDump> {
  return page.evaluate(async () => {
    const counts: Record<string, Record<string, number>> = {};
    const strings: string[] = [];
    const binariesHex: string[] = [];
    let cryptoKeys = 0;
    const hex = (bytes: Uint8Array): string => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
    const request = <T>(req: IDBRequest<T>): Promise<T> =>
      new Promise((resolve, reject) => {
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
      });
    const walk = async (value: unknown, depth: number): Promise<void> => {
      if (depth > 20 || value === null || value === undefined) return;
      if (typeof value === 'string') strings.push(value);
      else if (value instanceof ArrayBuffer) binariesHex.push(hex(new Uint8Array(value)));
      else if (ArrayBuffer.isView(value)) binariesHex.push(hex(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)));
      else if (value instanceof Blob) binariesHex.push(hex(new Uint8Array(await value.arrayBuffer())));
      else if (value instanceof CryptoKey) cryptoKeys += 1;
      else if (Array.isArray(value)) for (const item of value) await walk(item, depth + 1);
      else if (typeof value === 'object') for (const item of Object.values(value)) await walk(item, depth + 1);
    };
    for (const info of await indexedDB.databases()) {
      const name = info.name;
      if (name === undefined) continue;
      const db = await request(indexedDB.open(name));
      counts[name] = {};
      for (const storeName of Array.from(db.objectStoreNames)) {
        const store = db.transaction(storeName, 'readonly').objectStore(storeName);
        const keys = await request(store.getAllKeys());
        const values = await request(store.getAll());
        counts[name][storeName] = values.length;
        for (const key of keys) await walk(key, 0);
        for (const value of values) await walk(value, 0);
      }
      db.close();
    }
    return { counts, strings, binariesHex, cryptoKeys };
  });
}

/** Whether `needle` appears anywhere in the dump: in a string, or as UTF-8 (or raw) bytes inside a binary value. */
export function dumpContains(dump: IndexedDbDump, needle: string | Uint8Array): boolean {
  const bytes = typeof needle === 'string' ? new TextEncoder().encode(needle) : needle;
  const needleHex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  // Hex is searched at even offsets only, so a match never straddles two bytes.
  const inBinary = dump.binariesHex.some((hexText) => {
    for (let at = hexText.indexOf(needleHex); at !== -1; at = hexText.indexOf(needleHex, at + 1)) if (at % 2 === 0) return true;
    return false;
  });
  const inString = typeof needle === 'string' && dump.strings.some((text) => text.includes(needle));
  return inBinary || inString;
}

/** Total records across every database whose name starts with `prefix` (all of them when empty). */
export function recordCount(dump: IndexedDbDump, prefix = ''): number {
  return Object.entries(dump.counts)
    .filter(([name]) => name.startsWith(prefix))
    .reduce((sum, [, stores]) => sum + Object.values(stores).reduce((a, b) => a + b, 0), 0);
}
