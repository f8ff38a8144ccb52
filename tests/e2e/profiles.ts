/** Browser-test steps for people with a profile: create one, unlock it, create a room and go back, as a person would. */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { expect, expectSecure, newContext } from './fixtures.ts';

export const PASSPHRASE = 'lamp orbit velvet cactus';

export async function createProfile(page: Page, baseUrl: string, displayName: string, passphrase = PASSPHRASE): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByLabel('Passphrase', { exact: true }).fill(passphrase);
  await page.getByLabel('Confirm passphrase', { exact: true }).fill(passphrase);
  await page.getByRole('button', { name: 'Create profile' }).click();
  await expect(page.getByRole('heading', { name: `Your profile: ${displayName}` })).toBeVisible();
}

/** Creates a room from the landing page already open, without reloading it (a reload locks the profile). */
export async function createRoomHere(page: Page): Promise<string> {
  await page.getByRole('button', { name: 'Create room' }).click();
  const link = await page.getByLabel('Room link').inputValue();
  expect(link).toMatch(/#[A-Za-z0-9_-]{43}$/);
  return link;
}

/** Back to the landing page the way a link inside the app does: the fragment changes, the page stays. */
export async function toLanding(page: Page): Promise<void> {
  await page.evaluate(() => {
    location.hash = '';
  });
  await expect(page.getByRole('button', { name: 'Create room' })).toBeVisible();
}

export async function unlock(page: Page, passphrase = PASSPHRASE): Promise<void> {
  await page.getByLabel('Passphrase', { exact: true }).fill(passphrase);
  await page.getByRole('button', { name: 'Unlock', exact: true }).click();
}

/**
 * Alice and Bob, each with a profile, secure in a room Alice created. Bob's browser context is returned so he can
 * close his tab and come back to the same profile in a new one.
 */
export async function profilesInRoom(
  browser: Browser,
  newPerson: () => Promise<Page>,
  baseUrl: string,
): Promise<{ alice: Page; bob: Page; bobContext: BrowserContext; link: string }> {
  const alice = await newPerson();
  await createProfile(alice, baseUrl, 'Alice');
  const link = await createRoomHere(alice);
  const bobContext = await newContext(browser);
  const bob = await bobContext.newPage();
  await createProfile(bob, baseUrl, 'Bob');
  await bob.goto(link);
  await expectSecure(alice, bob);
  return { alice, bob, bobContext, link };
}
