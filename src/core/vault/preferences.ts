/**
 * The person's choices kept in the profile and the values each may take: on their own, so the first load (which
 * shows the defaults) needs none of the vault's record code (vaultRecords.ts seals and parses them).
 */

/** The idle times the app offers before locking by itself, in minutes; anything else read back is refused. */
export const AUTO_LOCK_CHOICES_MINUTES: readonly number[] = [1, 5, 15, 60, 240];

const MIB = 1024 * 1024;
/**
 * How many bytes of received files one conversation keeps in the history without asking (PROTOCOL.md §11.4); 0 asks
 * for every one. A peer can send files without asking, so without a budget it could fill the disk, file after file.
 */
export const RECEIVED_FILES_BUDGET_CHOICES_BYTES: readonly number[] = [0, 256 * MIB, 1024 * MIB, 4096 * MIB, 16384 * MIB];

export interface Preferences {
  readonly autoLockMinutes: number;
  readonly receivedFilesBudgetBytes: number;
}

export const DEFAULT_PREFERENCES: Preferences = { autoLockMinutes: 15, receivedFilesBudgetBytes: 1024 * MIB };
