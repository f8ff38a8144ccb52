/**
 * Bench pages (dist-bench), each in its own browser context, joined in one Parley room through the real server, and
 * baseline links between them whose WebRTC signals Node relays: echo links (round trips), one-way bulk links (file
 * transfers) and mark links (group latency). The pair is what most sections use; the group section adds pages.
 */
import type { JSHandle, Page } from '@playwright/test';
import { generateRoomSecret, roomFragment } from '../src/core/crypto/roomSecret.ts';
import { systemRandom } from '../src/core/ports.ts';
import type { BenchApi, EchoTransport } from './page/benchApi.ts';
import { errorText, withTimeout, type BenchContext } from './harness.ts';

export interface BenchPair {
  /** Both pages are cross-origin isolated, so their timers step in 5 µs rather than 100 µs. */
  readonly fineTimers: boolean;
  /** Sends the messages and measures. */
  readonly pinger: JSHandle<BenchApi>;
  /** Answers: receipts from its room, replies on echo links. */
  readonly echoer: JSHandle<BenchApi>;
  /** The pages themselves (pinger's, echoer's), for CDP sessions and process lookups. */
  readonly pingerPage: Page;
  readonly echoerPage: Page;
  /** Waits until both RoomSessions are verified, and says where each one is if they are not. */
  waitSecure(timeoutMs: number): Promise<void>;
  /** Opens an echo link of `transport` whose echoer answers each ping with `replyBytes` bytes. */
  openEchoLink(transport: EchoTransport, replyBytes: number, timeoutMs: number): Promise<string>;
  closeEchoLink(linkId: string): Promise<void>;
  /** Opens a one-way raw bulk link: the pinger sends, the echoer receives. */
  openBulkLink(timeoutMs: number): Promise<string>;
  closeBulkLink(linkId: string): Promise<void>;
}

const isolatedPages = new WeakSet<Page>();

/**
 * The server already sends COOP same-origin; adding COEP to the bench page's own responses makes it cross-origin
 * isolated, which gives performance.now() 5 µs steps instead of 100 µs. Only page loads pass through this route,
 * never WebRTC or WebSocket data.
 */
async function isolate(page: Page, origin: string): Promise<void> {
  if (isolatedPages.has(page)) return;
  isolatedPages.add(page);
  // A response fulfilled by Playwright has no known address space, so Chromium's Local Network Access checks would
  // block the page's WebSocket to 127.0.0.1; granting the permission is what a person's "Allow" would do.
  await page.context().grantPermissions(['local-network-access'], { origin });
  await page.route(`${origin}/**`, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), 'cross-origin-embedder-policy': 'require-corp' } });
  });
}

/**
 * Loads the bench page at `url` (again, if the page is reused) and returns its API once main.ts has installed it.
 * `isolated: false` loads it as a browser loads any page, without the route that adds COEP (timers then step in
 * 100 µs), where the page load itself is being timed.
 */
export async function loadBenchPage(page: Page, url: string, { isolated = true }: { readonly isolated?: boolean } = {}): Promise<JSHandle<BenchApi>> {
  if (isolated) await isolate(page, new URL(url).origin);
  await page.goto(url);
  const handle = await page.waitForFunction(() => window.parleyBench, undefined, { timeout: 10_000 });
  // waitForFunction resolves only on a truthy value, so the handle holds the API.
  return handle as JSHandle<BenchApi>;
}

/** Relays each baseline link's signals from the page that made them to the link's other page, in the order made. */
export class SignalRouter {
  private readonly ends = new Map<string, readonly [Page, Page]>();
  private readonly chains = new Map<Page, Promise<void>>();
  readonly failures: string[] = [];

  /** Gives `page` its relay; call before the page loads, so the binding exists before any page script runs. */
  async attach(page: Page): Promise<void> {
    await page.exposeBinding('parleyBenchRelay', (source, linkId: unknown, json: unknown) => {
      if (typeof linkId !== 'string' || typeof json !== 'string') throw new Error('parleyBenchRelay takes a link id and a JSON signal');
      return this.relay(source.page, linkId, json);
    });
  }

  /** Link `linkId` runs between pages `a` and `b`; its signals from one go to the other. */
  connect(linkId: string, a: Page, b: Page): void {
    this.ends.set(linkId, [a, b]);
  }

  hint(): string {
    return this.failures.length > 0 ? ` (relay: ${this.failures.join('; ')})` : '';
  }

  private relay(from: Page, linkId: string, json: string): Promise<void> {
    const ends = this.ends.get(linkId);
    const target = ends === undefined ? undefined : ends[0] === from ? ends[1] : ends[0];
    const chain = (this.chains.get(from) ?? Promise.resolve())
      .then(async () => {
        if (target === undefined) throw new Error('no such link');
        await target.evaluate(([id, signal]) => window.parleyBench?.deliverSignal(id, signal), [linkId, json] as const);
      })
      .catch((error: unknown) => {
        this.failures.push(`relay of ${linkId}: ${errorText(error)}`);
      });
    this.chains.set(from, chain);
    return chain;
  }
}

export async function openBenchPair(ctx: BenchContext): Promise<BenchPair> {
  const fragment = roomFragment(generateRoomSecret(systemRandom));
  const [first, second] = [await ctx.newPage(), await ctx.newPage()];
  const router = new SignalRouter();
  await router.attach(first);
  await router.attach(second);
  const url = `${ctx.benchUrl}/#${fragment}`;
  const pinger = await loadBenchPage(first, url);
  const echoer = await loadBenchPage(second, url);
  let nextLink = 0;

  const statuses = async (): Promise<string> => {
    const [a, b] = await Promise.all([pinger.evaluate((api) => api.status()), echoer.evaluate((api) => api.status())]);
    return `pinger ${a}, echoer ${b}`;
  };

  const fineTimers = (await pinger.evaluate((api) => api.isolated())) && (await echoer.evaluate((api) => api.isolated()));

  return {
    fineTimers,
    pinger,
    echoer,
    pingerPage: first,
    echoerPage: second,
    async waitSecure(timeoutMs) {
      try {
        await Promise.all(
          [first, second].map((page) => page.waitForFunction(() => window.parleyBench?.status() === 'secure', undefined, { timeout: timeoutMs })),
        );
      } catch (error) {
        throw new Error(`the bench pages did not reach secure (${await statuses()})`, { cause: error });
      }
    },
    async openEchoLink(transport, replyBytes, timeoutMs) {
      const linkId = `${transport}-${nextLink++}`;
      router.connect(linkId, first, second);
      // The answering end must exist before the offer arrives, so it is opened first.
      await echoer.evaluate((api, [id, kind, bytes]) => api.openEcho(id, kind, false, 'echoer', bytes), [linkId, transport, replyBytes] as const);
      await pinger.evaluate((api, [id, kind, bytes]) => api.openEcho(id, kind, true, 'pinger', bytes), [linkId, transport, replyBytes] as const);
      const opened = Promise.all([pinger.evaluate((api, id) => api.echoOpen(id), linkId), echoer.evaluate((api, id) => api.echoOpen(id), linkId)]);
      try {
        await withTimeout(opened, timeoutMs, `opening echo link ${linkId}`);
      } catch (error) {
        throw new Error(`${errorText(error)}${router.hint()}`, { cause: error });
      }
      return linkId;
    },
    async closeEchoLink(linkId) {
      await Promise.all([pinger.evaluate((api, id) => api.closeEcho(id), linkId), echoer.evaluate((api, id) => api.closeEcho(id), linkId)]);
    },
    async openBulkLink(timeoutMs) {
      const linkId = `bulk-${nextLink++}`;
      router.connect(linkId, first, second);
      // As for echo links, the answering end exists before the offer arrives.
      await echoer.evaluate((api, id) => api.openBulk(id, false), linkId);
      await pinger.evaluate((api, id) => api.openBulk(id, true), linkId);
      const opened = Promise.all([pinger.evaluate((api, id) => api.bulkOpen(id), linkId), echoer.evaluate((api, id) => api.bulkOpen(id), linkId)]);
      try {
        await withTimeout(opened, timeoutMs, `opening bulk link ${linkId}`);
      } catch (error) {
        throw new Error(`${errorText(error)}${router.hint()}`, { cause: error });
      }
      return linkId;
    },
    async closeBulkLink(linkId) {
      await Promise.all([pinger.evaluate((api, id) => api.closeBulk(id), linkId), echoer.evaluate((api, id) => api.closeBulk(id), linkId)]);
    },
  };
}
