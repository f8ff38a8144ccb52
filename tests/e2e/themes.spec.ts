/**
 * Themes: light and dark follow the device until the person chooses one; the choice applies at once, on every
 * screen, and is remembered in this browser (localStorage) across reloads, before any profile is unlocked.
 */
import type { Page } from '@playwright/test';
import { createRoom, expect, test } from './fixtures.ts';

const LIGHT_BG = 'rgb(247, 247, 245)';
const DARK_BG = 'rgb(22, 22, 22)';

function background(page: Page): Promise<string> {
  return page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
}

test('a chosen theme overrides the device, is remembered across reloads, and “Same as this device” follows it again', async ({ newPerson, parley }) => {
  const page = await newPerson();
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(parley.url);
  await expect.poll(() => background(page)).toBe(DARK_BG);
  await page.getByLabel('Theme').selectOption({ label: 'Light' });
  await expect.poll(() => background(page)).toBe(LIGHT_BG);
  await page.reload();
  await expect(page.getByLabel('Theme')).toHaveValue('light');
  await expect.poll(() => background(page)).toBe(LIGHT_BG);
  // The room shows it too, and can change it.
  await createRoom(page, parley.url);
  await expect.poll(() => background(page)).toBe(LIGHT_BG);
  await page.getByLabel('Theme').selectOption({ label: 'Same as this device' });
  await expect.poll(() => background(page)).toBe(DARK_BG);
  await page.emulateMedia({ colorScheme: 'light' });
  await expect.poll(() => background(page)).toBe(LIGHT_BG);
  await page.getByLabel('Theme').selectOption({ label: 'Dark' });
  await page.reload();
  await expect.poll(() => background(page)).toBe(DARK_BG);
});
