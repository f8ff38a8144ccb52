/**
 * Removes what versions before the Blob store (spec §7.11) left in IndexedDB: each page spilled received files to a
 * database of its own, `parley-spill-<uuid>`, holding a Web Lock of that name while it lived. A database whose lock
 * can be taken at once belongs to a page that is gone (closed, crashed, reloaded) and is deleted.
 */
import { deleteDB } from 'idb';

const DB_PREFIX = 'parley-spill-';

/** Best effort: a failure changes nothing, and a database in use by a live older page is left alone. */
export async function removeAbandonedSpills(): Promise<void> {
  const databases = await indexedDB.databases();
  for (const { name } of databases) {
    if (name?.startsWith(DB_PREFIX) !== true) continue;
    await navigator.locks.request(name, { ifAvailable: true }, async (lock) => {
      if (lock !== null) await deleteDB(name);
    });
  }
}
