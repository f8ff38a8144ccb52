import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/** What Vite makes of `await import('./x.ts')` when the chunk has nothing to preload: its helper around a plain import. */
const EMPTY_PRELOAD = /__vitePreload\(\(\) => (import\("[^"]+"\)), __VITE_PRELOAD__\)/g;

/**
 * Vite wraps every dynamic import in its preload helper, even one with nothing to preload (vitejs/vite#13952), and
 * the helper would then sit in every page's first load. Our one lazy chunk, the PeerJS client (spec §3.8), has no
 * dependencies and no CSS, so the plain import() is kept and the unused helper is left for the minifier to drop.
 * The replacement is padded to the same length, so no code moves and the source map stays exact.
 */
function plainLazyImports(): Plugin {
  return {
    name: 'parley:plain-lazy-imports',
    apply: 'build',
    renderChunk: {
      order: 'post',
      handler(code) {
        const plain = code.replace(EMPTY_PRELOAD, (wrapped, call: string) => call.padEnd(wrapped.length));
        return plain === code ? null : { code: plain, map: null };
      },
    },
  };
}

export default defineConfig({
  plugins: [svelte(), plainLazyImports()],
  build: {
    target: 'es2022',
    // The CSP forbids inline scripts and styles; keep every asset a separate file.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
});
