/// <reference lib="webworker" />
/**
 * Parley's service worker: keeps the installed version's own files so the app starts with no network, and waits,
 * when a new version arrives, until the person chooses "Reload to update" (nothing is swapped under an open
 * conversation). It fetches nothing but the site's own files, and never keeps config.json (core/offline/cachePolicy.ts).
 */
import { routeRequest, SHELL_PATH } from './core/offline/cachePolicy.ts';
import { assertNever } from './core/assertNever.ts';

declare const self: ServiceWorkerGlobalScope;
/** Written in by the build (vite.config.ts): this version's files, and a digest of them, so the worker's bytes change with every version. */
declare const __PARLEY_PRECACHE__: readonly string[];
declare const __PARLEY_VERSION__: string;

const PRECACHE = __PARLEY_PRECACHE__;
const VERSION = __PARLEY_VERSION__;
const CACHE_PREFIX = 'parley-';
const CACHE = `${CACHE_PREFIX}${VERSION}`;
const precached = new Set(PRECACHE);

self.addEventListener('install', (event) => {
  // 'reload': straight from the server, never an older copy from the HTTP cache.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE.map((path) => new Request(path, { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((key) => key.startsWith(CACHE_PREFIX) && key !== CACHE).map((key) => caches.delete(key)))),
  );
});

// The page asks for this only when the person clicked "Reload to update".
self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') void self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const route = routeRequest(event.request, self.location.origin, precached);
  switch (route.kind) {
    case 'network':
      return;
    case 'shell':
      event.respondWith(fromCache(SHELL_PATH, event.request));
      return;
    case 'precached':
      event.respondWith(fromCache(route.path, event.request));
      return;
    default:
      assertNever(route, 'cache route');
  }
});

/** The kept copy; the network only if it is missing (a cache the browser evicted). */
async function fromCache(path: string, request: Request): Promise<Response> {
  const kept = await caches.match(path, { cacheName: CACHE });
  return kept ?? fetch(request);
}

// A notification shown through the worker (browsers that allow no other way) brings Parley's tab forward.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: 'window' }).then((windows) => windows[0]?.focus() ?? self.clients.openWindow('/')),
  );
});
