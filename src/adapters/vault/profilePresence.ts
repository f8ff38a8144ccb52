/**
 * What the first load knows of the profile without the vault's code: whether this browser may hold one, and the
 * claim of it for one tab. The vault itself (IndexedDB through idb, Argon2id, every record) loads when needed.
 */

/** The vault's IndexedDB database (src/adapters/storage/idbVaultStore.ts). */
export const VAULT_DB_NAME = 'parley-vault';

/**
 * False only when the browser lists its databases and the vault's is not among them: then there is no profile and
 * the vault's code need not load to say so. Anything else (an old browser, an error) means "look".
 */
export async function mayHoldProfile(): Promise<boolean> {
  if (typeof indexedDB?.databases !== 'function') return true;
  try {
    return (await indexedDB.databases()).some((database) => database.name === VAULT_DB_NAME);
  } catch {
    return true;
  }
}

/** The Web Lock an unlocked tab holds; a tab that unlocks takes it ("steal"), and the tab it was taken from locks. */
const PROFILE_LOCK_NAME = 'parley-profile-open';

export function claimProfileForThisTab(onTaken: () => void): () => void {
  let release: () => void = () => {};
  let released = false;
  const held = new Promise<void>((resolve) => {
    release = () => {
      released = true;
      resolve();
    };
  });
  navigator.locks.request(PROFILE_LOCK_NAME, { steal: true }, () => held).catch(() => {
    // Stolen (AbortError) by another tab's claim; a release of our own ends quietly instead.
    if (!released) onTaken();
  });
  return release;
}
