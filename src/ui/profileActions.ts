/**
 * The actions on the profile behind its screens (create, unlock, change the passphrase, delete, export and import),
 * each with its outcome in plain words on the ProfileState. Only the profile screens use them, so they load with
 * those screens rather than with the first load.
 */
import { assertNever } from '../core/assertNever.ts';
import type { ProfileState } from './profileState.svelte.ts';
import type { CreateResult, ImportResult } from '../core/vault/vaultService.ts';
import { failureText } from './vaultText.ts';
import { openedProfile } from './profileSession.ts';

export async function createProfile(profile: ProfileState, displayName: string, passphrase: string, confirmation: string): Promise<boolean> {
  if (displayName.trim() === '') return profile.refuse('Choose a display name: it is what the other person sees.');
  if (passphrase.length < 8) return profile.refuse('Choose a passphrase of at least 8 characters; several unusual words are best.');
  if (passphrase !== confirmation) return profile.refuse('The two passphrases differ. Type the same one twice.');
  return profile.act(async () => {
    const created = await (await profile.platform.vault()).create(displayName, passphrase);
    if (!created.ok) return createFailureText(created);
    openedProfile(profile, created.vault);
    return null;
  });
}

export async function unlockProfile(profile: ProfileState, passphrase: string): Promise<boolean> {
  return profile.act(async () => {
    const result = await (await profile.platform.vault()).unlock(passphrase);
    if (result.ok) {
      profile.retryAtMs = 0;
      openedProfile(profile, result.vault);
      return null;
    }
    switch (result.reason) {
      case 'wrong-passphrase':
      case 'wait': {
        profile.retryAtMs = profile.platform.clock.nowMs() + result.retryAfterMs;
        const wait = Math.ceil(result.retryAfterMs / 1000);
        return result.reason === 'wrong-passphrase'
          ? `That passphrase is not right. Nothing was changed.${wait > 0 ? ` You can try again in ${wait} s.` : ''}`
          : `Too many wrong tries: wait ${wait} s before the next one.`;
      }
      case 'no-profile':
        profile.view = { kind: 'none' };
        return 'There is no profile in this browser any more (it was deleted, perhaps in another tab).';
      case 'damaged':
        return `The stored profile is damaged and cannot be unlocked (${result.detail}). You can delete it and start again, or import a backup.`;
      default:
        return assertNever(result, 'unlock outcome');
    }
  });
}

export async function changePassphrase(profile: ProfileState, current: string, next: string, confirmation: string): Promise<boolean> {
  const vault = profile.unlocked;
  if (vault === null) return profile.refuse('Unlock your profile first.');
  if (next.length < 8) return profile.refuse('Choose a new passphrase of at least 8 characters.');
  if (next !== confirmation) return profile.refuse('The two new passphrases differ. Type the same one twice.');
  return profile.act(async () => {
    const changed = await vault.changePassphrase(current, next);
    if (changed.ok) return null;
    switch (changed.reason) {
      case 'wrong-passphrase':
        return 'The current passphrase is not right. Nothing was changed.';
      case 'wait':
        return `Too many wrong tries: wait ${Math.ceil(changed.retryAfterMs / 1000)} s before the next one. Nothing was changed.`;
      case 'empty-passphrase':
        return 'Choose a new passphrase.';
      case 'quota-exceeded':
        return failureText({ ok: false, reason: 'quota-exceeded' });
      case 'unreadable':
        return failureText({ ok: false, reason: 'unreadable', detail: changed.detail });
      default:
        return assertNever(changed, 'passphrase change outcome');
    }
  });
}

export async function deleteAllHistory(profile: ProfileState): Promise<boolean> {
  const vault = profile.unlocked;
  if (vault === null) return profile.refuse('Unlock your profile first.');
  return profile.act(async () => {
    const deleted = await vault.deleteAllHistory();
    return deleted.ok ? null : failureText(deleted);
  });
}

export async function deleteProfile(profile: ProfileState): Promise<boolean> {
  return profile.act(async () => {
    profile.lock();
    await (await profile.platform.vault()).deleteProfile();
    profile.view = { kind: 'none' };
    profile.notice = 'Your profile and everything it kept are deleted from this browser.';
    return null;
  });
}

export async function exportBackup(profile: ProfileState): Promise<Blob | null> {
  const vault = profile.unlocked;
  if (vault === null) return null;
  let backup: Blob | null = null;
  await profile.act(async () => {
    const exported = await vault.exportBackup();
    if (!exported.ok) return failureText(exported);
    backup = exported.blob;
    return null;
  });
  return backup;
}

export async function importBackup(profile: ProfileState, file: File, passphrase: string): Promise<boolean> {
  return profile.act(async () => {
    const imported = await (await profile.platform.vault()).importBackup(file, passphrase);
    if (!imported.ok) return importFailureText(imported);
    openedProfile(profile, imported.vault);
    return null;
  });
}

function createFailureText(failure: CreateResult & { ok: false }): string {
  switch (failure.reason) {
    case 'profile-exists':
      return 'This browser already has a profile (perhaps made in another tab). Reload the page to unlock it.';
    case 'quota-exceeded':
      return 'This browser has no room to store a profile. Free some disk space and try again.';
    case 'empty-passphrase':
      return 'Choose a passphrase.';
    case 'invalid-display-name':
      return `That display name cannot be used: ${failure.detail}.`;
    default:
      return assertNever(failure, 'create failure');
  }
}

function importFailureText(failure: ImportResult & { ok: false }): string {
  switch (failure.reason) {
    case 'profile-exists':
      return 'This browser already has a profile. Delete it first (export it before, if you want to keep it), then import.';
    case 'wrong-passphrase':
      return 'That passphrase does not open this backup. Nothing was imported.';
    case 'quota-exceeded':
      return 'This browser has no room for the backup. Nothing was imported; free some disk space and try again.';
    case 'invalid-backup':
      return `This file is not a Parley backup, or it is damaged. Nothing was imported. (${failure.detail})`;
    default:
      return assertNever(failure, 'import failure');
  }
}
