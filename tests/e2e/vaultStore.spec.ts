/**
 * The vault's IndexedDB adapter in Chromium, without the app's UI (tests/e2e/pages/vaultStore): a database the
 * two-person version wrote (schema version 1, tests/fixtures/twoPersonVault.json) is upgraded to version 2 with every
 * row left as it was and read as a group history; the group engine's outbox lives in its own store, survives a
 * reload, leaves when read, and goes with its conversation.
 */
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import type { RunningServer } from '../../signaling/server.ts';
import { serveTestPage } from './pages/testPage.ts';

const FIXTURE = readFileSync(new URL('../fixtures/twoPersonVault.json', import.meta.url), 'utf8');

let server: RunningServer;

test.beforeAll(async () => {
  server = await serveTestPage('vaultStore');
});

test.afterAll(async () => {
  await server.close();
});

test('a two-person vault database is upgraded in place and read as a group history; the outbox store keeps, follows and deletes', async ({ page }) => {
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.vaultStoreTest !== undefined);
  const result = await page.evaluate((fixture) => window.vaultStoreTest?.run(fixture), FIXTURE);
  if (result === undefined) throw new Error('the page did not run');

  const stores = { meta: 2, settings: 2, conversations: 2, contacts: 1, messages: 7, fileParts: 2, pendingFiles: 0 };
  expect(result['before']).toMatchObject({ version: 1, counts: stores });
  // The upgrade adds the outbox and changes no row: the sealed bytes are the same bytes.
  expect(result['upgraded']).toMatchObject({ version: 2, counts: { ...stores, outbox: 0 } });
  expect((result['upgraded'] as { sealed: string[] }).sealed).toEqual((result['before'] as { sealed: string[] }).sealed);

  expect(result['read']).toEqual({
    conversations: ['', 'Lunch with Bob'],
    withBob: [
      { seq: 1, author: { type: 'contact', contactId: expect.any(String) }, content: 'hello Ada', delivery: [] },
      { seq: 2, author: { type: 'me' }, content: 'hi Bob', delivery: ['delivered'] },
      { seq: 3, author: { type: 'me' }, content: 'are you there?', delivery: ['sent'] },
      { seq: 4, author: { type: 'contact', contactId: expect.any(String) }, content: 'menu.txt', delivery: [] },
      { seq: 5, author: { type: 'me' }, content: 'map.txt', delivery: [] },
    ],
    withGuest: [
      { seq: 1, author: { type: 'guest', label: 'Guest', memberId: null }, content: 'a guest says hi', delivery: [] },
      { seq: 2, author: { type: 'me' }, content: 'hi guest', delivery: ['sent'] },
    ],
  });
  expect(result['waiting']).toEqual([{ to: 'bob', text: 'in the group now' }]);
  expect(result['outboxRowsWhileWaiting']).toBe(1);
  expect(result['afterRead']).toEqual({ outboxRows: 0, last: { seq: 6, author: { type: 'me' }, content: 'in the group now', delivery: ['read'] } });
  expect(result['deleted']).toBe(true);
  expect(result['afterDelete']).toMatchObject({ conversations: 1, messages: 2, outbox: 0 });
});
