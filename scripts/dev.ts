/**
 * `npm run dev` and `npm run preview`: the signaling server and Vite's server (the sources with hot reload, or the
 * built site in dist/) in one process; Vite passes the page's /ws on to the signaling server, so the page talks to
 * it exactly as it does to `npm start`'s single server.
 */
import { createServer, preview, type ProxyOptions } from 'vite';
import { parseConfig } from '../signaling/config.ts';
import { startServer } from '../signaling/server.ts';

const mode = process.argv[2] === 'preview' ? 'preview' : 'dev';
const port = Number(process.env['PORT'] ?? (mode === 'dev' ? 5173 : 4173));
const signalingPort = Number(process.env['SIGNALING_PORT'] ?? 8787);

// The signaling server admits only pages of its own origin unless told otherwise: here the pages come from Vite.
const parsed = parseConfig({
  PORT: String(signalingPort),
  HOST: '127.0.0.1',
  LOG: process.env['LOG'] ?? 'info',
  ALLOWED_ORIGINS: `http://localhost:${port},http://127.0.0.1:${port}`,
});
if (!parsed.ok) throw new Error(parsed.message);
const signaling = await startServer(parsed.config);

const proxy: Record<string, ProxyOptions> = { '/ws': { target: `ws://127.0.0.1:${signalingPort}`, ws: true } };
// localhost: a secure context without TLS, which WebCrypto needs.
const server =
  mode === 'dev'
    ? await createServer({ server: { host: 'localhost', port, strictPort: true, proxy } })
    : await preview({ preview: { host: 'localhost', port, strictPort: true, proxy } });
if ('listen' in server) await server.listen();
server.printUrls();
console.log(`  signaling server on 127.0.0.1:${signalingPort} (Vite passes /ws to it)`);

async function stop(): Promise<void> {
  await Promise.all([server.close(), signaling.close()]);
  process.exit(0);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
