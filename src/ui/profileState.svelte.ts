/**
 * The person's profile as the views see it: absent, locked or unlocked, locking, and the preferences; what an open
 * profile runs (profileSession.ts: the tab's claim, the idle lock) and the other actions on it (profileActions.ts)
 * load with the profile screens, not with the first load.
 */
import { assertNever } from '../core/assertNever.ts';
import type { Clock } from '../core/ports.ts';
import type { UnlockedVault, Vault } from '../core/vault/vaultService.ts';
import { DEFAULT_PREFERENCES } from '../core/vault/preferences.ts';

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
  private readonly beforeLock = new Set<() => Promise<void>>();
  /** Ends what opening the profile started in this tab (set by profileSession.ts); lock() calls it. */
  endSession: () => void = () => {};

  constructor(readonly platform: ProfilePlatform) {}

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

  /**
   * Hides every conversation at once and drops the vault's keys as soon as what the rooms were still keeping is
   * written (a second at most); `why` is shown when it was not the person's own click.
   */
  lock(why: string | null = null): void {
    this.endSession();
    this.endSession = () => {};
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

  /** Says why an action was not even tried; false, for the action to return. */
  refuse(problem: string): boolean {
    this.problem = problem;
    return false;
  }

  /** Runs one action at a time; its result is null on success or the problem in words. */
  async act(action: () => Promise<string | null>): Promise<boolean> {
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
