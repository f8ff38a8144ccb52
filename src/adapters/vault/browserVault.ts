/** The vault as the browser app uses it: IndexedDB storage and Argon2id in a worker. Loaded on first use (main.ts). */
import { IdbVaultStore } from '../storage/idbVaultStore.ts';
import { systemClock, systemRandom } from '../../core/ports.ts';
import { Vault } from '../../core/vault/vaultService.ts';
import { workerArgon2id } from './workerArgon2id.ts';

export function openBrowserVault(): Promise<Vault> {
  return Vault.open(new IdbVaultStore(), { argon2: workerArgon2id(), random: systemRandom, clock: systemClock });
}
