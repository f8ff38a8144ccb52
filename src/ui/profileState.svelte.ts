/**
 * The person's profile as the views see it: absent, locked or unlocked, plus every action on it (create, unlock,
 * lock by hand or after idling, change passphrase, delete, export and import) with its outcome in plain words.
 */
import { assertNever } from '../core/assertNever.ts';
import type { Clock } from '../core/ports.ts';
import type { UnlockedVault, Vault } from '../core/vault/vaultService.ts';
import { DEFAULT_PREFERENCES, type Preferences } from '../core/vault/preferences.ts';
import { watchIdle } from './idleTimer.ts';
import { createFailureText, failureText, importFailureText } from './vaultText.ts';

export type ProfileView =
  | { readonly kind: 'checking' }
  | { readonly kind: 'none' }
  | { readonly kind: 'locked' }
  | { readonly kind: 'unlocked'; readonly vault: UnlockedVault };

export interface ProfilePlatform {
  /** The vault, its code fetched and the vault opened on the first call (it is not part of the first load). */
  readonly vault: () => Promise<Vault>;
  /** False when this browser certainly holds no profile: answered without loading the vault. */
  readonly mayHoldProfile: () => Promise<boolean>;
  readonly clock: Clock;
  /** Where the person's activity is heard (the window), for the idle lock. */
  readonly activity: EventTarget;
  /**
   * Claims the profile for this tab, taking it from any other tab of this browser; `onTaken` runs if another tab
   * claims it later. Returns the release. One unlocked tab at a time means one writer of the vault.
   */
  readonly claimProfile: (onTaken: () => void) => () => void;
}


/** How long locking waits for rooms to write what they were keeping before the keys go regardless. */
const LOCK_FLUSH_LIMIT_MS = 1000;

export class ProfileState {
  view = $state<ProfileView>({ kind: 'checking' });
  /** What went wrong with the last action, in words; null when it went well. */
  problem = $state<string | null>(null);
  /** What happened on its own (an automatic lock), in words. */
  notice = $state<string | null>(null);
  busy = $state(false);
  /** When a wrong passphrase was typed, the next try is allowed at this time (clock ms). */
  retryAtMs = $state(0);
  autoLockMinutes = $state<number>(DEFAULT_PREFERENCES.autoLockMinutes);
  receivedFilesBudgetBytes = $state<number>(DEFAULT_PREFERENCES.receivedFilesBudgetBytes);
  private stopIdle: () => void = () => {};
  private readonly beforeLock = new Set<() => Promise<void>>();
  private releaseClaim: () => void = () => {};

  constructor(private readonly platform: ProfilePlatform) {}

  get unlocked(): UnlockedVault | null {
    return this.view.kind === 'unlocked' ? this.view.vault : null;
  }

  async load(): Promise<void> {
    try {
      if (!(await this.platform.mayHoldProfile())) {
        this.view = { kind: 'none' };
        return;
      }
      const presence = await (await this.platform.vault()).presence();
      switch (presence.kind) {
        case 'none':
          this.view = { kind: 'none' };
          return;
        case 'locked':
          this.view = { kind: 'locked' };
          this.retryAtMs = this.platform.clock.nowMs() + presence.retryAfterMs;
          return;
        case 'damaged':
          // Unlocking cannot work; deleting the profile (from the locked view) is the way out, and it is offered there.
          this.view = { kind: 'locked' };
          this.problem = `The profile stored in this browser is damaged and cannot be unlocked (${presence.detail}). You can delete it and start again, or import a backup.`;
          return;
        default:
          assertNever(presence, 'vault presence');
      }
    } catch (error) {
      this.view = { kind: 'none' };
      this.problem = `Saved profiles cannot be read in this browser (${String(error)}). You can still chat without one.`;
    }
  }

  async create(displayName: string, passphrase: string, confirmation: string): Promise<boolean> {
    if (displayName.trim() === '') return this.refuse('Choose a display name: it is what the other person sees.');
    if (passphrase.length < 8) return this.refuse('Choose a passphrase of at least 8 characters; several unusual words are best.');
    if (passphrase !== confirmation) return this.refuse('The two passphrases differ. Type the same one twice.');
    return this.act(async () => {
      const created = await (await this.platform.vault()).create(displayName, passphrase);
      if (!created.ok) return createFailureText(created);
      this.opened(created.vault);
      return null;
    });
  }

  async unlock(passphrase: string): Promise<boolean> {
    return this.act(async () => {
      const result = await (await this.platform.vault()).unlock(passphrase);
      if (result.ok) {
        this.retryAtMs = 0;
        this.opened(result.vault);
        return null;
      }
      switch (result.reason) {
        case 'wrong-passphrase':
        case 'wait': {
          this.retryAtMs = this.platform.clock.nowMs() + result.retryAfterMs;
          const wait = Math.ceil(result.retryAfterMs / 1000);
          return result.reason === 'wrong-passphrase'
            ? `That passphrase is not right. Nothing was changed.${wait > 0 ? ` You can try again in ${wait} s.` : ''}`
            : `Too many wrong tries: wait ${wait} s before the next one.`;
        }
        case 'no-profile':
          this.view = { kind: 'none' };
          return 'There is no profile in this browser any more (it was deleted, perhaps in another tab).';
        case 'damaged':
          return `The stored profile is damaged and cannot be unlocked (${result.detail}). You can delete it and start again, or import a backup.`;
        default:
          return assertNever(result, 'unlock outcome');
      }
    });
  }

  /**
   * Hides every conversation at once and drops the vault's keys as soon as what the rooms were still keeping is
   * written (a second at most); `why` is shown when it was not the person's own click.
   */
  lock(why: string | null = null): void {
    this.stopIdle();
    this.stopIdle = () => {};
    this.releaseClaim();
    this.releaseClaim = () => {};
    const vault = this.unlocked;
    if (vault === null) return;
    // Asked before the view changes: the rooms that registered these are about to close.
    const pending = [...this.beforeLock].map((hook) => hook().catch(() => {}));
    this.view = { kind: 'locked' };
    this.problem = null;
    this.notice = why;
    const deadline = new Promise<void>((resolve) => this.platform.clock.setTimer(LOCK_FLUSH_LIMIT_MS, resolve));
    void Promise.race([Promise.all(pending), deadline]).then(() => vault.lock());
  }

  /** Work to finish with the keys before they are dropped (a room writing its last moment of chat). */
  onBeforeLock(hook: () => Promise<void>): () => void {
    this.beforeLock.add(hook);
    return () => this.beforeLock.delete(hook);
  }

  setAutoLock(minutes: number): void {
    this.autoLockMinutes = minutes;
    const vault = this.unlocked;
    if (vault === null) return;
    this.watch();
    this.savePreference(vault, { autoLockMinutes: minutes });
  }

  /** How many bytes of received files each conversation keeps in the history before asking. */
  setReceivedFilesBudget(bytes: number): void {
    this.receivedFilesBudgetBytes = bytes;
    const vault = this.unlocked;
    if (vault !== null) this.savePreference(vault, { receivedFilesBudgetBytes: bytes });
  }

  private savePreference(vault: UnlockedVault, change: Partial<Preferences>): void {
    void vault.savePreferences(change).then(
      (saved) => {
        if (!saved.ok) this.problem = failureText(saved);
      },
      () => {},
    );
  }

  async changePassphrase(current: string, next: string, confirmation: string): Promise<boolean> {
    const vault = this.unlocked;
    if (vault === null) return this.refuse('Unlock your profile first.');
    if (next.length < 8) return this.refuse('Choose a new passphrase of at least 8 characters.');
    if (next !== confirmation) return this.refuse('The two new passphrases differ. Type the same one twice.');
    return this.act(async () => {
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

  async deleteAllHistory(): Promise<boolean> {
    const vault = this.unlocked;
    if (vault === null) return this.refuse('Unlock your profile first.');
    return this.act(async () => {
      const deleted = await vault.deleteAllHistory();
      return deleted.ok ? null : failureText(deleted);
    });
  }

  async deleteProfile(): Promise<boolean> {
    return this.act(async () => {
      this.lock();
      await (await this.platform.vault()).deleteProfile();
      this.view = { kind: 'none' };
      this.notice = 'Your profile and everything it kept are deleted from this browser.';
      return null;
    });
  }

  async exportBackup(): Promise<Blob | null> {
    const vault = this.unlocked;
    if (vault === null) return null;
    let backup: Blob | null = null;
    await this.act(async () => {
      const exported = await vault.exportBackup();
      if (!exported.ok) return failureText(exported);
      backup = exported.blob;
      return null;
    });
    return backup;
  }

  async importBackup(file: File, passphrase: string): Promise<boolean> {
    return this.act(async () => {
      const imported = await (await this.platform.vault()).importBackup(file, passphrase);
      if (!imported.ok) return importFailureText(imported);
      this.opened(imported.vault);
      return null;
    });
  }

  private opened(vault: UnlockedVault): void {
    this.view = { kind: 'unlocked', vault };
    this.notice = null;
    this.releaseClaim();
    this.releaseClaim = this.platform.claimProfile(() => {
      if (this.unlocked === vault) this.lock('Your profile was unlocked in another tab, so it was locked here. Unlock it here to continue in this tab.');
    });
    this.autoLockMinutes = DEFAULT_PREFERENCES.autoLockMinutes;
    this.receivedFilesBudgetBytes = DEFAULT_PREFERENCES.receivedFilesBudgetBytes;
    this.watch();
    // The saved choice arrives a moment later; until then the default (15 min) is in force, never longer.
    void vault.preferences().then(
      (preferences) => {
        if (this.unlocked !== vault) return;
        this.receivedFilesBudgetBytes = preferences.receivedFilesBudgetBytes;
        if (preferences.autoLockMinutes === this.autoLockMinutes) return;
        this.autoLockMinutes = preferences.autoLockMinutes;
        this.watch();
      },
      () => {},
    );
  }

  private watch(): void {
    this.stopIdle();
    const minutes = this.autoLockMinutes;
    this.stopIdle = watchIdle(this.platform.activity, this.platform.clock, minutes * 60_000, () =>
      this.lock(`Locked after ${minutes} minute${minutes === 1 ? '' : 's'} without activity. Unlock to continue.`),
    );
  }

  private refuse(problem: string): boolean {
    this.problem = problem;
    return false;
  }

  /** Runs one action at a time; its result is null on success or the problem in words. */
  private async act(action: () => Promise<string | null>): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    this.problem = null;
    try {
      this.problem = await action();
    } catch (error) {
      this.problem = `Something went wrong with your profile: ${String(error)}. Nothing else was changed.`;
    } finally {
      this.busy = false;
    }
    return this.problem === null;
  }
}
