/**
 * What the service worker does with each request: the app's own built files come from the copy made at install
 * (so the shell starts with no network), everything else goes to the network untouched. config.json is never kept:
 * a self-hoster's change must reach every page at its next load, and offline the page says it is offline instead.
 */

export type CacheRoute =
  /** A page load of the app: the kept index.html of the installed version. */
  | { readonly kind: 'shell' }
  /** One of the installed version's own files, by its path. */
  | { readonly kind: 'precached'; readonly path: string }
  /** Not the worker's business: the browser fetches it as if there were no worker. */
  | { readonly kind: 'network' };

export interface RequestFacts {
  readonly method: string;
  readonly url: string;
  readonly mode: string;
}

/** Never kept: read at every load. */
export const CONFIG_PATH = '/config.json';
export const SHELL_PATH = '/index.html';

export function routeRequest(request: RequestFacts, origin: string, precached: ReadonlySet<string>): CacheRoute {
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== origin) return { kind: 'network' };
  if (request.mode === 'navigate') return url.pathname === '/' || url.pathname === SHELL_PATH ? { kind: 'shell' } : { kind: 'network' };
  if (url.pathname !== CONFIG_PATH && precached.has(url.pathname)) return { kind: 'precached', path: url.pathname };
  return { kind: 'network' };
}

/**
 * The paths a version installs, from the build's file names: everything the site serves but source maps (only for
 * developers), config.json, and the worker itself (the browser keeps that).
 */
export function precachePaths(fileNames: readonly string[], workerFileName: string): string[] {
  return fileNames
    .map((name) => `/${name}`)
    .filter((path) => !path.endsWith('.map') && path !== CONFIG_PATH && path !== `/${workerFileName}`)
    .sort();
}
