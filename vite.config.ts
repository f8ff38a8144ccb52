import { build, defineConfig, type Plugin, type Rolldown } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { precachePaths } from './src/core/offline/cachePolicy.ts';

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

const WORKER_FILE = 'sw.js';

/** The files of public/, by their path in the site (Vite copies them beside the build after the bundle is written). */
function publicFiles(dir: string, prefix = ''): { readonly name: string; readonly bytes: Buffer }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? publicFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`)
      : [{ name: `${prefix}${entry.name}`, bytes: readFileSync(path.join(dir, entry.name)) }],
  );
}

/** src/serviceWorker.ts as one classic script: a build of its own, so it shares no chunk with the page. */
async function buildWorker(): Promise<string> {
  const output = await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      target: 'es2022',
      sourcemap: false,
      lib: { entry: path.resolve('src/serviceWorker.ts'), formats: ['iife'], name: 'parleyServiceWorker', fileName: () => WORKER_FILE },
    },
  });
  const chunk = (Array.isArray(output) ? output : [output])
    .flatMap((result) => ('output' in result ? result.output : []))
    .find((file): file is Rolldown.OutputChunk => file.type === 'chunk');
  if (chunk === undefined) throw new Error('the service worker build produced no script');
  return chunk.code;
}

/**
 * Adds /sw.js (a fixed name: browsers look for updates at the registered URL) built from src/serviceWorker.ts, with
 * the list of this version's files and a digest of their contents written in, so any change to the site changes the
 * worker's bytes, which is how browsers notice a new version. Our own ~1 kB worker rather than vite-plugin-pwa:
 * measured here, Workbox added 1.2 kB gzip to the first-load chunk, a 2.2 kB workbox-window chunk loaded on every
 * start and 6 kB gzip of worker, and its registration hands a plain string to serviceWorker.register(), which the
 * CSP's Trusted Types refuse.
 */
function serviceWorker(): Plugin {
  let publicDir = '';
  return {
    name: 'parley:service-worker',
    apply: (_config, env) => env.command === 'build' && !env.isPreview,
    configResolved(config) {
      publicDir = config.publicDir;
    },
    generateBundle: {
      order: 'post',
      async handler(_options, bundle) {
        const contents = new Map<string, string | Uint8Array>();
        for (const file of Object.values(bundle)) contents.set(file.fileName, file.type === 'chunk' ? file.code : file.source);
        for (const file of publicFiles(publicDir)) contents.set(file.name, file.bytes);
        const paths = precachePaths([...contents.keys()], WORKER_FILE);
        const digest = createHash('sha256');
        for (const sitePath of paths) digest.update(sitePath).update(contents.get(sitePath.slice(1)) ?? '');
        const code = (await buildWorker())
          .replace(/\b__PARLEY_PRECACHE__\b/g, JSON.stringify(paths))
          .replace(/\b__PARLEY_VERSION__\b/g, JSON.stringify(digest.digest('hex').slice(0, 16)));
        this.emitFile({ type: 'asset', fileName: WORKER_FILE, source: code });
      },
    },
  };
}

export default defineConfig({
  plugins: [svelte(), plainLazyImports(), serviceWorker()],
  build: {
    target: 'es2022',
    // The CSP forbids inline scripts and styles; keep every asset a separate file.
    assetsInlineLimit: 0,
    sourcemap: true,
    // Every browser Parley runs in (WebCrypto, ES2022) knows <link rel="modulepreload">; the polyfill would only add
    // to the first load.
    modulePreload: { polyfill: false },
    rolldownOptions: {
      output: {
        // The small core modules that the entry and the lazy chunks share would each become a chunk of its own
        // (rolldown puts a module shared with a lazy chunk outside the entry, rolldown/rolldown#10731): one chunk for
        // them all, preloaded by index.html, costs the first load 0.6 KiB gzip less than four.
        codeSplitting: {
          groups: [{ name: 'shared', test: /src[\\/]core[\\/](encoding|assertNever|transfer[\\/]fileName|protocol[\\/]groupMessages)\.ts$/ }],
        },
      },
    },
  },
});
