/**
 * The first load (spec §9): what index.html loads and preloads holds the room (crypto, handshake, room core, the
 * room view) and none of the code a visitor may never use — the vault and profile screens, a profile's history,
 * file transfers and image checks, the QR code, PeerJS — which their source maps would list; the front page and a
 * room link up to "Secure" fetch nothing else; and every later chunk is kept by the service worker.
 */
import { readFile } from 'node:fs/promises';
import type { APIRequestContext, Page } from '@playwright/test';
import { attach, createRoom, expect, expectSecure, fileItem, save, sha256Hex, test } from './fixtures.ts';
import { recordScripts } from '../fixtures/scriptRequests.ts';

/** Source paths (as the maps name them, from the repository root) that must not be in the first load. */
const LATER = [
  'src/adapters/vault/browserVault.ts',
  'src/adapters/vault/workerArgon2id.ts',
  'src/adapters/storage/idbVaultStore.ts',
  'node_modules/idb/',
  'node_modules/hash-wasm/',
  'src/core/vault/vaultService.ts',
  'src/core/vault/backup.ts',
  'src/core/vault/groupHistory.ts',
  'src/core/vault/vaultRecords.ts',
  'src/ui/ProfilePanel.svelte',
  'src/ui/Conversations.svelte',
  'src/ui/Contacts.svelte',
  'src/ui/PassphraseFields.svelte',
  'src/ui/UnlockGate.svelte',
  'src/ui/admissionText.ts',
  'src/ui/profileRooms.svelte.ts',
  'src/ui/roomHistory.ts',
  'src/core/transfer/transferManager.ts',
  'src/core/transfer/memberTransfers.ts',
  'src/core/transfer/imageSniff.ts',
  'src/adapters/transfer/blobSink.ts',
  'src/adapters/transfer/imageCheck.ts',
  'src/ui/FileItem.svelte',
  'src/ui/StoredFileItem.svelte',
  'src/ui/QrCode.svelte',
  'node_modules/uqr/',
  'src/adapters/peerjs/',
  'node_modules/peerjs/',
];
/** What opening a room link needs at once: if these were missing the test above would prove nothing. */
const FIRST = ['src/main.ts', 'src/core/room/roomSession.ts', 'src/core/crypto/handshake.ts', 'src/core/session/secureSession.ts', 'src/ui/RoomView.svelte', 'node_modules/svelte/'];

/** The scripts index.html loads or preloads, as site paths. */
async function indexScripts(request: APIRequestContext, baseUrl: string): Promise<string[]> {
  const html = await (await request.get(new URL('/', baseUrl).href)).text();
  const tags = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g), ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)];
  return tags.map((match) => match[1] ?? '');
}

/** The source modules a built script was made from, by its source map, as paths from the repository root. */
async function sourcesOf(request: APIRequestContext, baseUrl: string, script: string): Promise<string[]> {
  const map: unknown = await (await request.get(new URL(`${script}.map`, baseUrl).href)).json();
  if (typeof map !== 'object' || map === null || !('sources' in map) || !Array.isArray(map.sources)) throw new Error(`${script}.map has no sources`);
  return map.sources.map((source: unknown) => String(source).replace(/^(\.\.\/)+/, ''));
}

/** Runs in the page before its scripts: notes on the root element when its status first says "Secure". */
function markSecure(): void {
  new MutationObserver((_records, observer) => {
    if (document.querySelector('[role="status"]')?.textContent?.startsWith('Secure') !== true) return;
    document.documentElement.dataset['secureAtMs'] = String(performance.now());
    observer.disconnect();
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

/** The scripts the page had started to fetch when its status first said "Secure" (resource timing, page clock). */
function scriptsBeforeSecure(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const secureAtMs = Number(document.documentElement.dataset['secureAtMs'] ?? NaN);
    return performance
      .getEntriesByType('resource')
      .filter((entry) => new URL(entry.name).pathname.endsWith('.js') && entry.startTime < secureAtMs)
      .map((entry) => new URL(entry.name).pathname);
  });
}

test('what index.html loads and preloads holds the room and none of the vault, profile, transfer, QR or PeerJS code', async ({ request, parley }) => {
  const scripts = await indexScripts(request, parley.url);
  expect(scripts.length).toBeGreaterThan(0);
  const sources = (await Promise.all(scripts.map((script) => sourcesOf(request, parley.url, script)))).flat();
  for (const needed of FIRST) expect(sources.some((source) => source.startsWith(needed)), `${needed} is in the first load`).toBe(true);
  expect(sources.filter((source) => LATER.some((later) => source.startsWith(later)))).toEqual([]);
});

test('a room link reaches "Secure" with only what index.html loads; the file code comes when a file does', async ({ newPerson, request, parley }) => {
  const first = new Set(await indexScripts(request, parley.url));
  const alice = await newPerson();
  const link = await createRoom(alice, parley.url);
  const bob = await newPerson();
  await bob.addInitScript(markSecure);
  await bob.goto(link);
  await expectSecure(alice, bob);
  const early = await scriptsBeforeSecure(bob);
  expect(early.length).toBeGreaterThan(0);
  expect(early.filter((script) => !first.has(script))).toEqual([]);

  // The transfer engine, the file line and the Blob sink come when first needed, and a file still arrives whole.
  const bytes = Buffer.from('a file sent through code loaded on first use');
  await attach(alice, 'later.txt', 'text/plain', bytes);
  await expect(fileItem(bob, 'later.txt')).toContainText('Received');
  const download = await save(bob, 'later.txt');
  expect(sha256Hex(await readFile(await download.path()))).toBe(sha256Hex(bytes));
});

test('the service worker keeps every chunk the page fetches later, so that loading it on first use works offline', async ({ newPerson, request, parley }) => {
  const first = new Set(await indexScripts(request, parley.url));
  const page = await newPerson();
  const scripts = recordScripts(page);
  await page.goto(parley.url);
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  // Once the page is idle it fetches ahead what it may need: the vault is among the last.
  await expect.poll(() => scripts.some((script) => /\/browserVault-[\w-]+\.js$/.test(script)), { timeout: 20_000 }).toBe(true);
  const later = [...new Set(scripts)].filter((script) => !first.has(script));
  expect(later.length).toBeGreaterThan(5);
  const kept = await page.evaluate(async () => {
    const paths: string[] = [];
    for (const name of await caches.keys()) for (const cached of await (await caches.open(name)).keys()) paths.push(new URL(cached.url).pathname);
    return paths;
  });
  expect(later.filter((script) => !kept.includes(script))).toEqual([]);
});

test('config.json is fetched once per load: the page reads the response index.html preloads, never cached by the worker', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  const link = await createRoom(alice, parley.url);
  const bob = await newPerson();
  const configRequests: string[] = [];
  bob.on('request', (request) => {
    if (new URL(request.url()).pathname === '/config.json') configRequests.push(request.url());
  });
  await bob.goto(link);
  await expectSecure(alice, bob);
  expect(configRequests).toHaveLength(1);
  // Once the service worker is in charge, the next load still asks the network (once) and nothing keeps the file.
  await bob.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  configRequests.length = 0;
  await bob.reload();
  await expect(bob.getByLabel('Room link')).toBeVisible();
  await expect.poll(() => bob.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  expect(configRequests).toHaveLength(1);
  const kept = await bob.evaluate(async () => {
    const paths: string[] = [];
    for (const name of await caches.keys()) for (const cached of await (await caches.open(name)).keys()) paths.push(new URL(cached.url).pathname);
    return paths;
  });
  expect(kept).not.toContain('/config.json');
});
