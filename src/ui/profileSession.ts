/**
 * What an open profile keeps running in this tab: the claim on it (one unlocked tab at a time, so one writer of the
 * vault), the lock after idling, and the preferences saved with it. Only the profile screens open a profile, so this
 * loads with them, not with the first load; ProfileState.lock() ends it.
 */
import type { UnlockedVault } from '../core/vault/vaultService.ts';
import { DEFAULT_PREFERENCES, type Preferences } from '../core/vault/preferences.ts';
import type { ProfileState } from './profileState.svelte.ts';
import { watchIdle } from './idleTimer.ts';
import { failureText } from './vaultText.ts';

/** The idle watch of each open profile, so that a new auto-lock time restarts it. */
const idleWatches = new WeakMap<ProfileState, () => void>();

function watch(profile: ProfileState): void {
  idleWatches.get(profile)?.();
  const minutes = profile.autoLockMinutes;
  const stop = watchIdle(profile.platform.activity, profile.platform.clock, minutes * 60_000, () =>
    profile.lock(`Locked after ${minutes} minute${minutes === 1 ? '' : 's'} without activity. Unlock to continue.`),
  );
  idleWatches.set(profile, stop);
}

/** The profile just opened (created, unlocked or imported): from now on it is this tab's, and it locks when idle. */
export function openedProfile(profile: ProfileState, vault: UnlockedVault): void {
  // Whatever an earlier opening left running ends first.
  profile.endSession();
  profile.view = { kind: 'unlocked', vault };
  profile.notice = null;
  const releaseClaim = profile.platform.claimProfile(() => {
    if (profile.unlocked === vault) profile.lock('Your profile was unlocked in another tab, so it was locked here. Unlock it here to continue in this tab.');
  });
  profile.endSession = () => {
    idleWatches.get(profile)?.();
    idleWatches.delete(profile);
    releaseClaim();
  };
  profile.autoLockMinutes = DEFAULT_PREFERENCES.autoLockMinutes;
  profile.receivedFilesBudgetBytes = DEFAULT_PREFERENCES.receivedFilesBudgetBytes;
  watch(profile);
  // The saved choice arrives a moment later; until then the default (15 min) is in force, never longer.
  void vault.preferences().then(
    (preferences) => {
      if (profile.unlocked !== vault) return;
      profile.receivedFilesBudgetBytes = preferences.receivedFilesBudgetBytes;
      if (preferences.autoLockMinutes === profile.autoLockMinutes) return;
      profile.autoLockMinutes = preferences.autoLockMinutes;
      watch(profile);
    },
    () => {},
  );
}

function savePreference(profile: ProfileState, vault: UnlockedVault, change: Partial<Preferences>): void {
  void vault.savePreferences(change).then(
    (saved) => {
      if (!saved.ok) profile.problem = failureText(saved);
    },
    () => {},
  );
}

export function setAutoLock(profile: ProfileState, minutes: number): void {
  profile.autoLockMinutes = minutes;
  const vault = profile.unlocked;
  if (vault === null) return;
  watch(profile);
  savePreference(profile, vault, { autoLockMinutes: minutes });
}

/** How many bytes of received files each conversation keeps in the history before asking. */
export function setReceivedFilesBudget(profile: ProfileState, bytes: number): void {
  profile.receivedFilesBudgetBytes = bytes;
  const vault = profile.unlocked;
  if (vault !== null) savePreference(profile, vault, { receivedFilesBudgetBytes: bytes });
}
