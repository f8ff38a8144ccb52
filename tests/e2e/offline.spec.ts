/**
 * Installable and offline: the site has a web app manifest and a service worker; once loaded, its shell starts with
 * no network and says it is offline (config.json is never kept, so it cannot start further); a new version is
 * announced with "Reload to update" and takes over only when the person clicks it, never under an open page.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { parseConfig } from '../../signaling/config.ts';
import { startServer } from '../../signaling/server.ts';
import { expectAccessible } from './axe.ts';
import { createRoom, expect, test } from './fixtures.ts';

/** Waits until the page's service worker is installed and active (its files are kept by then). */
async function workerActive(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
}

function keptPaths(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const paths: string[] = [];
    for (const name of await caches.keys()) {
      for (const request of await (await caches.open(name)).keys()) paths.push(`${name} ${new URL(request.url).pathname}`);
    }
    return paths;
  });
}

test('the manifest describes an installable app, and offline the shell loads and says it is offline; back online, Parley starts', async ({ newPerson, parley }) => {
  const page = await newPerson();
  await page.goto(parley.url);
  const manifestHref = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(manifestHref).toBe('/manifest.webmanifest');
  const manifest: unknown = await (await page.request.get(new URL('/manifest.webmanifest', parley.url).href)).json();
  expect(manifest).toMatchObject({ name: 'Parley', start_url: '/', display: 'standalone', icons: [expect.objectContaining({ src: '/favicon.svg' })] });

  await workerActive(page);
  const kept = await keptPaths(page);
  expect(kept.some((entry) => entry.endsWith(' /index.html'))).toBe(true);
  expect(kept.filter((entry) => entry.endsWith('/config.json'))).toEqual([]);

  await page.context().setOffline(true);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'You are offline' })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('back online');

  // It starts by itself once the network returns.
  await page.context().setOffline(false);
  await expect(page.getByRole('button', { name: 'Create room' })).toBeVisible();
});

test('a new version is announced with “Reload to update” and replaces the open page only when the person clicks it', async ({ newPerson }) => {
  // A copy of the site of our own, so that this test can publish a "new version" of it.
  const siteDir = await mkdtemp(path.join(tmpdir(), 'parley-site-'));
  await cp('dist', siteDir, { recursive: true });
  const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG: 'silent', STATIC_DIR: siteDir });
  if (!parsed.ok) throw new Error(parsed.message);
  const server = await startServer(parsed.config);
  try {
    const page = await newPerson();
    await page.goto(server.url);
    await workerActive(page);
    // From this load on, the worker serves the page.
    await page.reload();
    const link = await createRoom(page, server.url);
    await page.evaluate(() => Object.assign(window, { __sameDocument: true }));

    // The new version: the worker's file changes (as it does whenever any of the site's files change).
    const workerPath = path.join(siteDir, 'sw.js');
    await writeFile(workerPath, `${await readFile(workerPath, 'utf8')}\n// next version\n`);
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      await registration?.update();
    });
    const reloadButton = page.getByRole('button', { name: 'Reload to update' });
    await expect(reloadButton).toBeVisible();
    await expectAccessible(page, 'room with "Reload to update"');
    // Announced, not applied: the same document, the same room.
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(page.url()).toBe(link);

    // The click reloads the page: wait for that load before looking into the new document.
    await Promise.all([page.waitForEvent('load'), reloadButton.click()]);
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument ?? false)).toBe(false);
    await expect(page.getByLabel('Room link')).toHaveValue(link);
    await expect(reloadButton).toHaveCount(0);
  } finally {
    await server.close();
    await rm(siteDir, { recursive: true, force: true });
  }
});
