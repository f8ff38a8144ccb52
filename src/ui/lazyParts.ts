/**
 * The parts of the app a visitor may never use (the profile screens, a profile's rooms and history, the file
 * transfer engine and file lines, the settings controls): each is fetched on first use, and all of them once the page has drawn and is idle, so that first use rarely waits.
 * Keeping them out of the entry is what keeps the first load small (spec §9, "First load").
 */

/** A loader that fetches once; a failed fetch (the network dropped) is tried again on the next call. */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | null = null;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = null;
      throw error;
    });
    return loading;
  };
}

// Each import is written `const module = await import(…)`: vite.config.ts keeps such an import() plain.
export const profilePanel = loadOnce(async () => {
  const module = await import('./ProfilePanel.svelte');
  return module;
});
/** A room link opened while a profile is locked: the vault's code is on its way then anyway. */
export const unlockGate = loadOnce(async () => {
  const module = await import('./UnlockGate.svelte');
  return module;
});
/** The warning about a member held for the person's decision: only a profile's room holds anyone. */
export const admissionText = loadOnce(async () => {
  const module = await import('./admissionText.ts');
  return module;
});
export const profileRooms = loadOnce(async () => {
  const module = await import('./profileRooms.svelte.ts');
  return module;
});
/** The file lines: shown only once a file is sent, received or kept. */
export const fileItem = loadOnce(async () => {
  const module = await import('./FileItem.svelte');
  return module;
});
export const storedFileItem = loadOnce(async () => {
  const module = await import('./StoredFileItem.svelte');
  return module;
});
/** The room link as a QR code: drawn only when the person asks for it. */
export const qrCode = loadOnce(async () => {
  const module = await import('./QrCode.svelte');
  return module;
});
/** Theme, notifications, "Always relay": below the first screen, and rarely changed. */
export const settingsControls = loadOnce(async () => {
  const module = await import('./settingsControls.ts');
  return module;
});
export const transferEngine = loadOnce(async () => {
  const module = await import('../core/transfer/memberTransfers.ts');
  return module;
});

/** What the person sees when a part did not load: the network went away; reloading is the way out. */
export function loadFailureText(error: unknown): string {
  return `This part of Parley did not load (${error instanceof Error ? error.message : String(error)}). Reload the page to try again.`;
}

function whenIdle(run: () => void): void {
  if (typeof requestIdleCallback === 'function') requestIdleCallback(run, { timeout: 5000 });
  else setTimeout(run, 0);
}

/** Work waiting for the first screen to be of use; null once it is, when work runs as soon as the page is idle. */
let waitingForStartUp: (() => void)[] | null = [];

/**
 * Runs `run` when the page is idle after start-up: once the first screen is of use (the front page drawn, a room
 * joined or found empty, or a question put to the person), so that nothing here competes with joining a room.
 */
export function afterStartUp(run: () => void): void {
  if (waitingForStartUp === null) whenIdle(run);
  else waitingForStartUp.push(run);
}

/** The first screen is of use; called by the views. Later calls change nothing. */
export function startUpDone(): void {
  const waiting = waitingForStartUp;
  if (waiting === null) return;
  waitingForStartUp = null;
  for (const run of waiting) whenIdle(run);
}

/**
 * A part a view shows but that must not be fetched before the first screen is of use (a room link fetches nothing
 * beyond the first load until it is Secure): loaded once start-up is over and the page is idle.
 */
export function afterStartUpLoad<T>(load: () => Promise<T>): Promise<T> {
  return new Promise<void>((resolve) => afterStartUp(resolve)).then(load);
}

/** Fetches every loader after start-up, one at a time when the page is idle; a failure here is retried on first use. */
export function prefetchWhenIdle(loaders: readonly (() => Promise<unknown>)[]): void {
  const next = (index: number): void => {
    const loader = loaders[index];
    if (loader === undefined) return;
    const onward = (): void => next(index + 1);
    whenIdle(() => void loader().then(onward, onward));
  };
  afterStartUp(() => next(0));
}
