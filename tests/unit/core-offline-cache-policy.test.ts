import { describe, expect, it } from 'vitest';
import { precachePaths, routeRequest } from '../../src/core/offline/cachePolicy.ts';

const ORIGIN = 'https://parley.example';
const PRECACHED = new Set(precachePaths(['index.html', 'assets/index-abc.js', 'assets/index-abc.js.map', 'config.json', 'sw.js', 'favicon.svg'], 'sw.js'));

const get = (path: string, mode = 'cors') => ({ method: 'GET', url: `${ORIGIN}${path}`, mode });

describe('service worker cache policy', () => {
  it('installs the built files but never config.json, source maps or the worker itself', () => {
    expect([...PRECACHED]).toEqual(['/assets/index-abc.js', '/favicon.svg', '/index.html']);
  });

  it('answers page loads of the app with the kept shell, whatever the fragment', () => {
    expect(routeRequest(get('/', 'navigate'), ORIGIN, PRECACHED)).toEqual({ kind: 'shell' });
    expect(routeRequest(get('/index.html', 'navigate'), ORIGIN, PRECACHED)).toEqual({ kind: 'shell' });
    expect(routeRequest(get('/elsewhere', 'navigate'), ORIGIN, PRECACHED)).toEqual({ kind: 'network' });
  });

  it('serves kept files from the cache and leaves config.json, other paths, other origins and writes to the network', () => {
    expect(routeRequest(get('/assets/index-abc.js'), ORIGIN, PRECACHED)).toEqual({ kind: 'precached', path: '/assets/index-abc.js' });
    expect(routeRequest(get('/config.json'), ORIGIN, new Set(['/config.json']))).toEqual({ kind: 'network' });
    expect(routeRequest(get('/assets/other.js'), ORIGIN, PRECACHED)).toEqual({ kind: 'network' });
    expect(routeRequest({ ...get('/assets/index-abc.js'), url: 'https://cdn.example/assets/index-abc.js' }, ORIGIN, PRECACHED)).toEqual({ kind: 'network' });
    expect(routeRequest({ ...get('/index.html'), method: 'POST' }, ORIGIN, PRECACHED)).toEqual({ kind: 'network' });
  });
});
