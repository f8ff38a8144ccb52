/** Serves the built web app from one directory, refusing any path that could reach outside it. */

import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { assertNever } from '../src/core/assertNever.ts';
import { sendPlainText } from './respond.ts';

const CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.mjs', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.json', 'application/json; charset=utf-8'],
  ['.map', 'application/json; charset=utf-8'],
  ['.webmanifest', 'application/manifest+json; charset=utf-8'],
  // Browsers only stream-compile WebAssembly served with exactly this type.
  ['.wasm', 'application/wasm'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.ico', 'image/x-icon'],
  ['.woff2', 'font/woff2'],
  ['.txt', 'text/plain; charset=utf-8'],
]);

const NO_CACHE = 'no-cache';
const IMMUTABLE = 'public, max-age=31536000, immutable';

function isInside(root: string, candidate: string): boolean {
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(prefix);
}

export type ResolvedPath =
  | { readonly kind: 'file'; readonly urlPath: string; readonly filePath: string }
  | { readonly kind: 'bad-request'; readonly reason: string };

/**
 * Maps a raw request target to a file path inside staticDir, without touching the disk.
 * Dot segments are refused outright rather than normalised: no honest browser sends them, and
 * refusing is simpler to trust than reasoning about what normalisation would produce.
 */
export function resolveRequestPath(staticDir: string, requestTarget: string): ResolvedPath {
  const rawPath = requestTarget.split(/[?#]/, 1)[0] ?? '';
  if (!rawPath.startsWith('/')) return { kind: 'bad-request', reason: 'The path must start with a slash.' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { kind: 'bad-request', reason: 'The path is not validly encoded.' };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) {
    return { kind: 'bad-request', reason: 'The path contains a forbidden character.' };
  }
  if (decoded.split('/').some((segment) => segment === '..' || segment === '.')) {
    return { kind: 'bad-request', reason: 'The path may not contain dot segments.' };
  }
  const urlPath = decoded === '/' ? '/index.html' : decoded;
  const root = path.resolve(staticDir);
  const filePath = path.resolve(root, `.${urlPath}`);
  if (!isInside(root, filePath)) {
    return { kind: 'bad-request', reason: 'The path leads outside the site.' };
  }
  return { kind: 'file', urlPath, filePath };
}

export function contentTypeFor(filePath: string): string {
  return CONTENT_TYPES.get(path.extname(filePath).toLowerCase()) ?? 'application/octet-stream';
}

/** Hashed build output never changes under its name; everything else must be revalidated so updates show up. */
export function cacheControlFor(urlPath: string): string {
  return urlPath.startsWith('/assets/') ? IMMUTABLE : NO_CACHE;
}

type FoundFile = { readonly kind: 'found'; readonly realPath: string; readonly sizeBytes: number } | { readonly kind: 'missing' };

/** Follows symlinks before the containment check, so a link inside the site cannot expose a file outside it. */
async function findFile(staticDir: string, filePath: string): Promise<FoundFile> {
  try {
    const [realRoot, realPath] = await Promise.all([realpath(staticDir), realpath(filePath)]);
    if (!isInside(realRoot, realPath)) return { kind: 'missing' };
    const info = await stat(realPath);
    return info.isFile() ? { kind: 'found', realPath, sizeBytes: info.size } : { kind: 'missing' };
  } catch {
    return { kind: 'missing' };
  }
}

/** Answers a GET or HEAD for a file; the caller has already checked the method and set security headers. */
export async function serveStaticFile(res: ServerResponse, staticDir: string, requestTarget: string): Promise<void> {
  const resolved = resolveRequestPath(staticDir, requestTarget);
  switch (resolved.kind) {
    case 'bad-request':
      sendPlainText(res, 400, `Bad request: ${resolved.reason}`);
      return;
    case 'file':
      break;
    default:
      assertNever(resolved, 'resolved path');
  }

  const found = await findFile(staticDir, resolved.filePath);
  switch (found.kind) {
    case 'missing':
      if (resolved.urlPath === '/index.html') {
        sendPlainText(
          res,
          503,
          'The Parley web app has not been built yet. Run `npm run build`, then restart this server.',
        );
      } else {
        sendPlainText(res, 404, 'Not found.');
      }
      return;
    case 'found':
      break;
    default:
      assertNever(found, 'file lookup');
  }

  res.writeHead(200, {
    'Content-Type': contentTypeFor(found.realPath),
    'Content-Length': found.sizeBytes,
    'Cache-Control': cacheControlFor(resolved.urlPath),
  });
  if (res.req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(found.realPath);
  // Headers are already sent, so a read failure can only cut the response short.
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
