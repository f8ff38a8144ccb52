/**
 * The person's choice of light or dark (or the system's): remembered in this browser's localStorage, not in the
 * profile, because the unlock screen must already be in the chosen theme and a theme tells nothing about anyone.
 */

export type ThemeChoice = 'system' | 'light' | 'dark';

export const THEME_CHOICES: readonly { readonly value: ThemeChoice; readonly label: string }[] = [
  { value: 'system', label: 'Same as this device' },
  { value: 'light', label: 'Light' },
  { value: 'dark', label: 'Dark' },
];

const STORAGE_KEY = 'parley.theme';

/** What was stored, if it is a choice this version knows; anything else (or nothing) is the system's. */
export function parseThemeChoice(value: unknown): ThemeChoice {
  return value === 'light' || value === 'dark' ? value : 'system';
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    // Storage can be refused (privacy settings): the choice then lasts as long as the page.
    return null;
  }
}

export function loadThemeChoice(): ThemeChoice {
  return parseThemeChoice(storage()?.getItem(STORAGE_KEY));
}

/** Applies the choice to the page (data-theme on <html>, which app.css reads) and remembers it. */
export function applyThemeChoice(choice: ThemeChoice, remember = true): void {
  if (choice === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.dataset['theme'] = choice;
  if (!remember) return;
  try {
    if (choice === 'system') storage()?.removeItem(STORAGE_KEY);
    else storage()?.setItem(STORAGE_KEY, choice);
  } catch {
    // A full or refused storage only means the choice is not remembered.
  }
}
