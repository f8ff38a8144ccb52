/**
 * Notifications and the unread count: the tab title counts what arrived unseen ("(3) Parley") until the conversation
 * is seen; system notifications come only after the person turned them on (never a permission prompt on load), only
 * while the tab is hidden, and say only "New message in Parley" unless the person chose names and text.
 * The browser context grants the notification permission; window.Notification is wrapped to record what is shown
 * and whether permission was asked, and the page's visibility is switched as a hidden tab's would be.
 */
import type { Page } from '@playwright/test';
import { createRoom, expect, expectSecure, messages, sendMessage, test } from './fixtures.ts';

interface Recorder {
  readonly shown: { readonly title: string; readonly body: string }[];
  readonly asked: number;
}

const NOTIFICATION_HOOK = () => {
  const shown: { title: string; body: string }[] = [];
  const record = { shown, asked: 0 };
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title: string, options?: NotificationOptions) {
      super(title, options);
      shown.push({ title, body: options?.body ?? '' });
    }
    static override get permission(): NotificationPermission {
      return Real.permission;
    }
    static override requestPermission(): Promise<NotificationPermission> {
      record.asked += 1;
      return Real.requestPermission();
    }
  }
  window.Notification = Recorded;
  let hidden = false;
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  Object.assign(window, {
    __notifications: record,
    __hide: (value: boolean) => {
      hidden = value;
      document.dispatchEvent(new Event('visibilitychange'));
    },
  });
};

function recorded(page: Page): Promise<Recorder> {
  return page.evaluate(() => (window as unknown as { __notifications: Recorder }).__notifications);
}

async function hide(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((value) => (window as unknown as { __hide: (hidden: boolean) => void }).__hide(value), hidden);
}

test('the title counts unseen messages and files; notifications only once turned on, only while hidden, and without names or text unless chosen', async ({ newPerson, parley }) => {
  const alice = await newPerson();
  await alice.context().grantPermissions(['notifications']);
  await alice.addInitScript(NOTIFICATION_HOOK);
  const bob = await newPerson();
  const link = await createRoom(alice, parley.url);
  await bob.goto(link);
  await expectSecure(alice, bob);
  await expect(alice).toHaveTitle('Parley');
  // Loading asked nothing of the browser.
  expect(await recorded(alice)).toEqual({ shown: [], asked: 0 });

  // Hidden, notifications off: counted in the title, nothing shown; seen again, the count goes.
  await hide(alice, true);
  await sendMessage(bob, 'first words');
  await expect(alice).toHaveTitle('(1) Parley');
  await hide(alice, false);
  await expect(alice).toHaveTitle('Parley');
  expect((await recorded(alice)).shown).toEqual([]);

  await alice.getByRole('button', { name: 'Turn on notifications' }).click();
  await expect(alice.getByRole('button', { name: 'Turn off notifications' })).toBeVisible();
  // The context granted it already: nothing to ask.
  expect((await recorded(alice)).asked).toBe(0);

  await hide(alice, true);
  await sendMessage(bob, 'meet at the station');
  await expect(alice).toHaveTitle('(1) Parley');
  await bob.getByLabel('Attach file').setInputFiles({ name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from('the plan') });
  await expect(alice).toHaveTitle('(2) Parley');
  await sendMessage(bob, 'are you there?');
  await expect(alice).toHaveTitle('(3) Parley');
  await expect.poll(async () => (await recorded(alice)).shown.length).toBe(3);
  for (const shown of (await recorded(alice)).shown) expect(shown).toEqual({ title: 'New message in Parley', body: '' });

  await hide(alice, false);
  await expect(alice).toHaveTitle('Parley');
  // In front of the person: nothing to notify, nothing unread.
  await sendMessage(bob, 'seen at once');
  await expect(messages(alice).filter({ hasText: 'seen at once' })).toHaveCount(1);
  await expect(alice).toHaveTitle('Parley');
  expect((await recorded(alice)).shown).toHaveLength(3);

  await alice.getByLabel(/Show names and message text/).check();
  await hide(alice, true);
  await sendMessage(bob, 'now with words');
  await expect.poll(async () => (await recorded(alice)).shown.length).toBe(4);
  expect((await recorded(alice)).shown[3]).toEqual({ title: 'Guest 1 in Parley', body: 'now with words' });

  // The choice is remembered in this browser; asking again is never needed.
  await hide(alice, false);
  await alice.reload();
  await expect(alice.getByLabel(/Show names and message text/)).toBeChecked();
  expect((await recorded(alice)).asked).toBe(0);
});

test('the browser is asked for permission only when the person clicks “Turn on notifications”, never on load', async ({ newPerson, parley }) => {
  const page = await newPerson();
  await page.addInitScript(NOTIFICATION_HOOK);
  await page.goto(parley.url);
  await expect(page.getByRole('button', { name: 'Create room' })).toBeVisible();
  expect((await recorded(page)).asked).toBe(0);
  await createRoom(page, parley.url);
  await expect(page.getByRole('button', { name: 'Turn on notifications' })).toBeVisible();
  expect((await recorded(page)).asked).toBe(0);
  await page.getByRole('button', { name: 'Turn on notifications' }).click();
  await expect.poll(async () => (await recorded(page)).asked).toBe(1);
  // Headless Chromium answers without a person: not granted, so notifications stay off and the button stays.
  await expect(page.getByRole('button', { name: 'Turn on notifications' })).toBeVisible();
});
