/**
 * The settings controls, one lazy part (spec §9, "First load"): rarely touched, so the first screen is drawn without
 * them and they follow (the theme itself is applied at start by theme.ts, so nothing is ever drawn in the other one).
 */
export { default as ThemeChoice } from './ThemeChoice.svelte';
export { default as NotificationChoice } from './NotificationChoice.svelte';
export { default as RelaySetting } from './RelaySetting.svelte';
