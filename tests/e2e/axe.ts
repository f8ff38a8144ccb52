/**
 * axe-core on a screen as it is now, in the light and in the dark theme: every rule axe runs by default, colour
 * contrast included. Each theme is the person's manual choice, kept in localStorage, on a device set to the other
 * one, so the choice (not the device) decides.
 */
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect } from './fixtures.ts';

const THEMES = ['light', 'dark'] as const;
type Theme = (typeof THEMES)[number];

/** The person's manual choice, as the Theme select stores and applies it (theme.ts), with the device set against it. */
async function chooseTheme(page: Page, theme: Theme): Promise<void> {
  await page.emulateMedia({ colorScheme: theme === 'light' ? 'dark' : 'light' });
  await page.evaluate((chosen) => {
    localStorage.setItem('parley.theme', chosen);
    document.documentElement.dataset['theme'] = chosen;
  }, theme);
}

/** Every violation axe finds on the page as it is now, in one readable line each. */
async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.flatMap((violation) =>
    violation.nodes.map((node) => `${violation.id} (${violation.impact ?? 'n/a'}): ${node.target.join(' ')}: ${node.failureSummary ?? violation.help}`),
  );
}

/** The screen as it is now has no violation in either theme. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  for (const theme of THEMES) {
    await chooseTheme(page, theme);
    expect(await violations(page), `${screen}, ${theme} theme`).toEqual([]);
  }
}
