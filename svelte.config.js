import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess(),
  // No window.__svelte version beacon: it tells nothing the app needs and costs first-load bytes.
  compilerOptions: { runes: true, discloseVersion: false },
};
