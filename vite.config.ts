import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  build: {
    target: 'es2022',
    // The CSP forbids inline scripts and styles; keep every asset a separate file.
    assetsInlineLimit: 0,
    sourcemap: true,
    // No preload helper or polyfill: the one lazy chunk (the PeerJS client, only in PeerJS mode, spec §3.6) has no
    // dependencies to preload, and the helper would add to every page's first load.
    modulePreload: false,
  },
});
