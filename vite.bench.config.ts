/** Builds the benchmark page (bench/page) into dist-bench/, separate from the app's own build in dist/. */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./bench/page', import.meta.url)),
  // The page needs neither the app's config.json nor its favicon.
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist-bench', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The server's CSP forbids inline scripts; keep every asset a separate file, as the app's build does.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
});
