/**
 * Two signaling instances sharing rooms through a real redis-server, in real browsers: people on different
 * instances meet and talk; a killed instance's people fail over to the other one and newcomers still join; Redis
 * going away is reported, refuses joins in plain words, and leaves conversations running.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { DEFAULT_STATIC_DIR } from '../../signaling/config.ts';
import { InstanceProcess } from '../fixtures/instanceProcess.ts';
import { freePort, RedisServer } from '../fixtures/redisServer.ts';
import { request } from '../fixtures/signalingClient.ts';
import { createRoom, expect, expectSecure, messages, sendMessage, statusOf, test } from './fixtures.ts';

type Cluster = {
  readonly redis: RedisServer;
  readonly one: InstanceProcess;
  readonly two: InstanceProcess;
  /** The same page (path and fragment) served by instance two. */
  readonly onTwo: (link: string) => string;
};

function members(page: Page) {
  return page.getByRole('list', { name: 'Members' }).getByRole('listitem');
}

async function metric(url: string, series: string): Promise<number | undefined> {
  const text = (await request(url, '/metrics')).body;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function readiness(url: string): Promise<string> {
  const body: unknown = JSON.parse((await request(url, '/readyz')).body);
  return typeof body === 'object' && body !== null && 'status' in body ? String(body.status) : 'unreadable';
}

/**
 * Redis and two instances on fixed ports, each serving the built site with a config.json that lists both; each
 * accepts pages of the other's origin, as a site on two host names would.
 */
const cluster = test.extend<{ cluster: Cluster }>({
  cluster: async ({}, use) => {
    const redis = await RedisServer.start();
    const siteDir = mkdtempSync(path.join(tmpdir(), 'parley-cluster-site-'));
    const instances: InstanceProcess[] = [];
    try {
      const ports = [await freePort(), await freePort()];
      cpSync(DEFAULT_STATIC_DIR, siteDir, { recursive: true });
      const urls = ports.map((port) => `ws://127.0.0.1:${port}/ws`);
      writeFileSync(path.join(siteDir, 'config.json'), JSON.stringify({ signaling: { mode: 'parley', urls }, iceServers: [] }));
      const origins = ports.map((port) => `http://127.0.0.1:${port}`).join(',');
      for (const port of ports) {
        instances.push(await InstanceProcess.start({ PORT: String(port), STATIC_DIR: siteDir, REDIS_URL: redis.url, ALLOWED_ORIGINS: origins }));
      }
      const [one, two] = instances as [InstanceProcess, InstanceProcess];
      await use({ redis, one, two, onTwo: (link) => link.replace(one.url, two.url) });
    } finally {
      await Promise.all(instances.map((instance) => instance.kill()));
      await redis.stop();
      rmSync(siteDir, { recursive: true, force: true });
    }
  },
});

cluster('people on two instances talk; when one instance dies its people fail over, the talk goes on, and newcomers still join', async ({ newPerson, cluster: { one, two, onTwo } }) => {
  test.slow();
  const alice = await newPerson();
  const bob = await newPerson();
  const link = await createRoom(alice, one.url);
  await bob.goto(onTwo(link));
  await expectSecure(alice, bob);
  // Each page is on the instance that served it.
  expect(await metric(one.url, 'parley_connections')).toBe(1);
  expect(await metric(two.url, 'parley_connections')).toBe(1);
  await sendMessage(alice, 'hello across instances');
  await expect(messages(bob).filter({ hasText: 'hello across instances' })).toBeVisible();

  await one.kill();
  await sendMessage(alice, 'instance one is gone, we are not');
  await expect(messages(bob).filter({ hasText: 'instance one is gone, we are not' })).toBeVisible();
  // Alice's page reconnects to the other instance, where Bob recognises her by her nonce: nothing is re-dialled.
  await expect.poll(() => metric(two.url, 'parley_connections'), { timeout: 30_000 }).toBe(2);
  await expect(statusOf(alice)).toContainText('Secure');

  const carol = await newPerson();
  await carol.goto(onTwo(link));
  await expectSecure(carol);
  await expect(members(carol).filter({ hasText: 'Connected' })).toHaveCount(2);
  await sendMessage(carol, 'hello both of you');
  await expect(messages(alice).filter({ hasText: 'hello both of you' })).toBeVisible();
  await expect(messages(bob).filter({ hasText: 'hello both of you' })).toBeVisible();
});

cluster('Redis going away: /readyz says so, a newcomer is told in plain words, the conversation goes on, and all meet once it is back', async ({ newPerson, cluster: { redis, one, two, onTwo } }) => {
  test.slow();
  const alice = await newPerson();
  const bob = await newPerson();
  const link = await createRoom(alice, one.url);
  await bob.goto(onTwo(link));
  await expectSecure(alice, bob);

  await redis.stop();
  await expect.poll(() => readiness(one.url)).toBe('redis-unavailable');
  await expect.poll(() => readiness(two.url)).toBe('redis-unavailable');
  await sendMessage(alice, 'redis is gone, we are not');
  await expect(messages(bob).filter({ hasText: 'redis is gone, we are not' })).toBeVisible();

  const carol = await newPerson();
  await carol.goto(onTwo(link));
  await expect(statusOf(carol)).toContainText('The server cannot let anyone join right now');

  await redis.resume();
  // Redis came back empty: both instances have their members join again, and Carol gets in.
  await expect.poll(() => readiness(one.url), { timeout: 20_000 }).toBe('ready');
  await expect(members(carol).filter({ hasText: 'Connected' })).toHaveCount(2, { timeout: 45_000 });
  await expect(statusOf(alice)).toContainText('Secure');
  await sendMessage(bob, 'welcome back, redis');
  await expect(messages(alice).filter({ hasText: 'welcome back, redis' })).toBeVisible();
  await expect(messages(carol).filter({ hasText: 'welcome back, redis' })).toBeVisible();
});
