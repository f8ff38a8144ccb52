/**
 * The built site under the server's Content-Security-Policy, which requires Trusted Types for scripts and allows no
 * data: images: every screen works and not one CSP violation is reported on the way.
 */
import type { Page } from '@playwright/test';
import { makePng } from '../fixtures/images.ts';
import { expect, expectSecure, messages, sendMessage, test } from './fixtures.ts';
import { createProfile, PASSPHRASE } from './profiles.ts';


declare global {
  interface Window {
    cspViolations?: string[];
  }
}

/** Records, from the first script on, every CSP violation the page reports, and every console error. */
async function watchViolations(page: Page): Promise<() => Promise<string[]>> {
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.cspViolations?.push(`${event.effectiveDirective}: ${event.blockedURI} ${event.sample}`);
    });
  });
  return async () => [...(await page.evaluate(() => window.cspViolations ?? [])), ...consoleErrors];
}


test('every screen works under Trusted Types, with no CSP violation: landing, profile, room, images, contacts, lock', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  const bob = await newPerson();
  const violationsOf = new Map([
    [alice, await watchViolations(alice)],
    [bob, await watchViolations(bob)],
  ]);

  // Proof that the policy is enforced, on a page of its own (the attempt is itself a violation): a plain string
  // cannot become HTML.
  const probe = await newPerson();
  await probe.goto(parley.url);
  await expect(probe.getByRole('button', { name: 'Create room' })).toBeVisible();
  const assignment = await probe.evaluate(() => {
    try {
      document.createElement('div').innerHTML = '<b>x</b>';
      return 'assigned';
    } catch (error) {
      return String(error);
    }
  });
  expect(assignment).toContain('TrustedHTML');

  // The landing page, profiles (Argon2id in a worker, started through our policy), then a room between the two.
  await createProfile(alice, parley.url, 'Alice');
  await createProfile(bob, parley.url, 'Bob');
  await alice.getByRole('button', { name: 'Create room' }).click();
  const link = await alice.getByLabel('Room link').inputValue();
  await bob.goto(link);
  await expectSecure(alice, bob);
  await sendMessage(alice, 'hello <b>under</b> trusted types');
  await expect(messages(bob).filter({ hasText: 'hello <b>under</b> trusted types' })).toBeVisible();
  await bob.getByText('Compare safety numbers').click();
  await expect(bob.getByLabel('Safety number')).toHaveText(/^(\d{5} ){11}\d{5}$/);

  // An image: shown inline, then in the viewer.
  await alice.getByLabel('Attach file').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: makePng(64, 48) });
  const preview = bob.getByRole('img', { name: 'photo.png' });
  await expect(preview).toBeVisible();
  await preview.click();
  const viewer = bob.getByRole('dialog', { name: 'photo.png' });
  await expect(viewer.getByRole('img', { name: 'photo.png' })).toBeVisible();
  await viewer.getByRole('button', { name: 'Close' }).click();
  await expect(viewer).toBeHidden();

  // Back on the front page: conversations and contacts, then lock and unlock (the worker once more).
  await bob.evaluate(() => {
    location.hash = '';
  });
  await expect(bob.getByRole('list', { name: 'Conversations' }).getByRole('listitem')).toHaveCount(1);
  await expect(bob.getByRole('list', { name: 'Contacts' }).getByRole('listitem')).toContainText('Alice');
  await bob.getByRole('button', { name: 'Lock', exact: true }).click();
  await expect(bob.getByRole('heading', { name: 'Your profile is locked' })).toBeVisible();
  await bob.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await bob.getByRole('button', { name: 'Unlock', exact: true }).click();
  await expect(bob.getByRole('heading', { name: 'Your profile: Bob' })).toBeVisible();

  for (const [page, violations] of violationsOf) expect(await violations(), page.url()).toEqual([]);
});
