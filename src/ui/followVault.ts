/**
 * Reads something from the unlocked vault now and again after every write, handing each result over while the
 * caller still wants it; for views that show what is stored (the conversations and contacts lists). Returns the
 * stop function, so it fits a Svelte `$effect` as is.
 */
import type { UnlockedVault } from '../core/vault/vaultService.ts';

export function followVault<T>(vault: UnlockedVault, read: () => Promise<T>, show: (value: T) => void, fail: (error: unknown) => void): () => void {
  let live = true;
  const load = (): void => {
    read().then(
      (value) => {
        if (live) show(value);
      },
      (error: unknown) => {
        // A read cut short by locking is not a problem to report: the view is going away.
        if (live && !vault.locked) fail(error);
      },
    );
  };
  load();
  const stop = vault.onChange(load);
  return () => {
    live = false;
    stop();
  };
}
