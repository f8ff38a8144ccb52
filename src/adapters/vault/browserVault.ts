/** The vault as the browser app uses it: IndexedDB storage and Argon2id in a worker. For the composition root. */
import { IdbVaultStore } from '../storage/idbVaultStore.ts';
import { systemClock, systemRandom } from '../../core/ports.ts';
import { Vault } from '../../core/vault/vaultService.ts';
import { workerArgon2id } from './workerArgon2id.ts';

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

export function openBrowserVault(): Promise<Vault> {
  return Vault.open(new IdbVaultStore(), { argon2: workerArgon2id(), random: systemRandom, clock: systemClock });
}
