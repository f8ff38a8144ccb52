import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/** What Vite makes of `await import('./x')` before it knows the chunk's dependencies: its helper around a plain import. */
const PRELOADED_IMPORT = /__vitePreload\(\(\) => (import\("[^"]+"\)), __VITE_PRELOAD__\)/g;

/**
 * Vite wraps every dynamic import in its preload helper, even one with nothing to preload (vitejs/vite#13952), and
 * the helper (about 1 kB gzip) would then sit in every page's first load. Our lazy chunks (the QR code) need nothing
 * but what the first load already holds, so the plain import() is kept and the unused helper is left for the
 * minifier to drop; padded to the same length, so no code moves and the source map stays exact. The helper also
 * brings a lazy chunk's CSS: a lazy chunk that has any fails the build rather than losing its styles silently.
 * Write `const module = await import('./x')`, not `(await import('./x')).default`: Vite rewrites the latter into
 * another wrapped form this does not match.
 */
function plainLazyImports(): Plugin {
  return {
    name: 'parley:plain-lazy-imports',
    apply: 'build',
    renderChunk: {
      order: 'post',
      handler(code) {
        const plain = code.replace(PRELOADED_IMPORT, (wrapped, call: string) => call.padEnd(wrapped.length));
        return plain === code ? null : { code: plain, map: null };
      },
    },
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type === 'chunk' && chunk.isDynamicEntry && (chunk.viteMetadata?.importedCss.size ?? 0) > 0) {
          this.error(`${chunk.fileName} is loaded lazily and brings CSS, which a plain import() would not load: move its styles to app.css`);
        }
      }
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
    // Every browser Parley runs in (WebCrypto, ES2022) knows <link rel="modulepreload">; the polyfill would only add
    // to the first load.
    modulePreload: { polyfill: false },
  },
});
