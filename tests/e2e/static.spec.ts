/**
 * The static site alone (spec §3.8): `dist/` from a plain static file server with no /ws, config.json naming a real
 * PeerServer on loopback. Two people talk and send files, nobody is asked for relay credentials, three form a room,
 * a stale id at the broker blocks nothing, a broker that tampers with what it relays never gets a connection
 * through, and a broker that is down or refuses is explained.
 */
import type { Page } from '@playwright/test';
import WebSocket from 'ws';
import { brokerSlotIds } from '../../src/core/crypto/brokerSlots.ts';
import { deriveRoomKeys, generateRoomSecret, roomFragment } from '../../src/core/crypto/roomSecret.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { makePng } from '../fixtures/images.ts';
import {
  BROKER_KEY,
  BROKER_PATH,
  brokerConfig,
  startHostileBroker,
  startPeerServer,
  startStaticSite,
  type BrokerAttack,
  type RunningBroker,
  type StaticSite,
} from '../fixtures/staticSite.ts';
import { attach, attachGenerated, createRoom, expect, expectSecure, fileItem, messages, savedSha256, sendMessage, sha256Hex, statusOf, test as base } from './fixtures.ts';

const test = base.extend<{ site: StaticSite }, { broker: RunningBroker }>({
  broker: [
    async ({}, use) => {
      const broker = await startPeerServer();
      await use(broker);
      await broker.close();
    },
    { scope: 'worker' },
  ],
  site: async ({ broker }, use) => {
    const site = await startStaticSite({ signaling: brokerConfig(broker.port) });
    await use(site);
    await site.close();
  },
});

/** Records every CSP violation the page reports, so a test can show the static host's headers suffice. */
async function watchCsp(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('__cspViolation', (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      (window as unknown as { __cspViolation(text: string): void }).__cspViolation(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return violations;
}

test('two people talk both ways through a PeerServer, from a static host that has no /ws', async ({ newPerson, site }) => {
  const alice = await newPerson();
  const bob = await newPerson();
  const violations = [...(await watchCsp(alice)), ...(await watchCsp(bob))];
  const link = await createRoom(alice, site.url);
  await bob.goto(link);
  await expectSecure(alice, bob);
  await sendMessage(alice, 'hello from a static site');
  await expect(messages(bob).last()).toContainText('hello from a static site');
  await sendMessage(bob, 'and back, through no server of ours');
  await expect(messages(alice).last()).toContainText('and back, through no server of ours');
  // Only files were asked of the host; the PeerJS client came as its own file, fetched because config.json asked.
  expect(site.requested.every((path) => !path.startsWith('/ws'))).toBe(true);
  expect(site.requested.some((path) => /^\/assets\/peerjsSignaling-[\w-]+\.js$/.test(path))).toBe(true);
  expect(violations).toEqual([]);
});

test('a static site asks nobody for relay credentials, and says it has no relay when "Always relay" is chosen', async ({ newPerson, site }) => {
  const page = await newPerson();
  await page.goto(site.url);
  await page.getByLabel('Always relay (hides your IP address from the other person)').check();
  // Known only once the page has settled where relay servers come from: config.json alone, in this mode.
  await expect(page.getByText('This site has no relay server, so with this on you cannot connect to anyone.')).toBeVisible();
  expect(site.requested.filter((path) => path.startsWith('/turn-credentials'))).toEqual([]);
});

test('an image and a 3 MiB file arrive byte for byte', async ({ newPerson, site }) => {
  const alice = await newPerson();
  const bob = await newPerson();
  const link = await createRoom(alice, site.url);
  await bob.goto(link);
  await expectSecure(alice, bob);
  const png = makePng(320, 240);
  await attach(alice, 'photo.png', 'image/png', png);
  await expect(bob.getByRole('img', { name: 'photo.png' })).toBeVisible();
  expect(await savedSha256(bob, 'photo.png')).toBe(sha256Hex(png));
  const digest = await attachGenerated(bob, 'three.bin', 3 * 1024 * 1024);
  await expect(fileItem(alice, 'three.bin')).toContainText('Received', { timeout: 30_000 });
  expect(await savedSha256(alice, 'three.bin')).toBe(digest);
});

test('three people form a room through the broker, each connected to both others', async ({ newPerson, site }) => {
  const first = await newPerson();
  const link = await createRoom(first, site.url);
  const pages = [first];
  for (let i = 1; i < 3; i++) {
    const page = await newPerson();
    await page.goto(link);
    pages.push(page);
    await expect(statusOf(page)).toContainText('Secure');
  }
  for (const page of pages) {
    await expect(page.getByRole('list', { name: 'Members' }).getByRole('listitem').filter({ hasText: 'Connected' })).toHaveCount(2);
  }
  await sendMessage(pages[2] as Page, 'all three of us');
  for (const page of pages.slice(0, 2)) await expect(messages(page).last()).toContainText('all three of us');
});

test('an id the broker still holds for a vanished page does not block the room', async ({ newPerson, site, broker }) => {
  const secret = generateRoomSecret(systemRandom);
  const [firstSlot] = await brokerSlotIds((await deriveRoomKeys(secret)).roomId);
  // A page that took the room's first slot and vanished without closing: the broker keeps its id (for up to its
  // alive timeout) and delivers nothing from it.
  const stale = new WebSocket(`ws://127.0.0.1:${broker.port}${BROKER_PATH}peerjs?key=${BROKER_KEY}&id=${firstSlot ?? ''}&token=stale`);
  await new Promise<void>((resolve, reject) => {
    stale.once('message', (data) => (String(data).includes('"OPEN"') ? resolve() : reject(new Error(String(data)))));
    stale.once('error', reject);
  });
  try {
    const alice = await newPerson();
    const bob = await newPerson();
    await alice.goto(`${site.url}#${roomFragment(secret)}`);
    await bob.goto(`${site.url}#${roomFragment(secret)}`);
    await expectSecure(alice, bob);
  } finally {
    stale.terminate();
  }
});

const TAMPER_WORDS = 'did not open with this link’s key';

for (const { attack, name } of [
  { attack: 'flip', name: 'changes one character of every sealed signal' },
  { attack: 'swap', name: 'swaps every signal for one carrying its own SDP' },
] as const satisfies readonly { attack: BrokerAttack; name: string }[]) {
  test(`a broker that ${name} never yields a connection, and the user is told`, async ({ newPerson, broker }) => {
    const hostile = await startHostileBroker(broker.port, attack);
    const site = await startStaticSite({ signaling: brokerConfig(hostile.port) });
    try {
      const alice = await newPerson();
      const bob = await newPerson();
      const link = await createRoom(alice, site.url);
      await bob.goto(link);
      await expect(async () => {
        const texts = await Promise.all([statusOf(alice).innerText(), statusOf(bob).innerText()]);
        expect(texts.some((text) => text.includes(TAMPER_WORDS))).toBe(true);
      }).toPass({ timeout: 15_000 });
      expect(hostile.alteredCount()).toBeGreaterThan(0);
      // Every chance for a connection to appear anyway; none must.
      await alice.waitForTimeout(2_000);
      for (const page of [alice, bob]) {
        await expect(statusOf(page)).not.toContainText('Secure');
        await expect(page.getByRole('button', { name: 'Send' })).toBeDisabled();
      }
    } finally {
      await site.close();
      await hostile.close();
    }
  });
}

test('a broker that is down is explained, by the name config.json gives it', async ({ newPerson }) => {
  const gone = await startPeerServer();
  await gone.close();
  const site = await startStaticSite({ signaling: brokerConfig(gone.port) });
  try {
    const alice = await newPerson();
    await createRoom(alice, site.url);
    await expect(statusOf(alice)).toContainText(`Cannot reach the connection broker at 127.0.0.1:${gone.port}${BROKER_PATH}`);
    await expect(alice.getByRole('button', { name: 'Try again' })).toBeVisible();
  } finally {
    await site.close();
  }
});

test('a broker that refuses the configured key is explained', async ({ newPerson, broker }) => {
  const site = await startStaticSite({ signaling: brokerConfig(broker.port, 'not-the-key') });
  try {
    const alice = await newPerson();
    await createRoom(alice, site.url);
    await expect(statusOf(alice)).toContainText(`The connection broker at 127.0.0.1:${broker.port}${BROKER_PATH} refused this page`);
  } finally {
    await site.close();
  }
});
