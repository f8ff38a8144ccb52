/**
 * A page of tests/e2e/pages/<name> built with Vite on its own (no app UI, no service worker) and served by the real
 * signaling server, for browser tests of one adapter in Chromium.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { parseConfig } from '../../../signaling/config.ts';
import { startServer, type RunningServer } from '../../../signaling/server.ts';

export async function serveTestPage(name: string): Promise<RunningServer> {
  const outDir = fileURLToPath(new URL(`../../../test-results/${name}-page`, import.meta.url));
  await build({
    root: fileURLToPath(new URL(`./${name}`, import.meta.url)),
    configFile: false,
    publicDir: false,
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0 },
  });
  const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG: 'silent', STATIC_DIR: outDir });
  if (!parsed.ok) throw new Error(parsed.message);
  return startServer(parsed.config);
}
