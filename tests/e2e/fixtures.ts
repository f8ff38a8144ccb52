/** Playwright fixtures: the real signaling server serving the built site, and helpers that act as a person would. */
import { test as base, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseConfig } from '../../signaling/config.ts';
import { startServer, type RunningServer } from '../../signaling/server.ts';

export { expect };

async function startParley(): Promise<RunningServer> {
  const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG: 'silent' });
  if (!parsed.ok) throw new Error(parsed.message);
  if (!existsSync(`${parsed.config.staticDir}/index.html`)) throw new Error('The site is not built: run `npm run build` first.');
  return startServer(parsed.config);
}

export const test = base.extend<{ newPerson: () => Promise<Page> }, { parley: RunningServer }>({
  parley: [
    async ({}, use) => {
      const server = await startParley();
      await use(server);
      await server.close();
    },
    { scope: 'worker' },
  ],
  /** Each call is a different person: a fresh browser context (own storage, own WebRTC identity). */
  newPerson: async ({ browser }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async () => {
      const context = await newContext(browser);
      contexts.push(context);
      return context.newPage();
    });
    await Promise.all(contexts.map((context) => context.close()));
  },
});

export async function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
}

export function statusOf(page: Page) {
  return page.getByRole('status');
}

/** Opens the landing page at `baseUrl`, creates a room, and returns its link. */
export async function createRoom(page: Page, baseUrl: string): Promise<string> {
  await page.goto(baseUrl);
  await page.getByRole('button', { name: 'Create room' }).click();
  const link = await page.getByLabel('Room link').inputValue();
  expect(link).toMatch(/#[A-Za-z0-9_-]{43}$/);
  return link;
}

export async function expectSecure(...pages: Page[]): Promise<void> {
  await Promise.all(
    pages.map(async (page) => {
      try {
        await expect(statusOf(page)).toContainText('Secure');
      } catch (error) {
        // Carry the on-screen details (failure reason) into the report: a bare "expected Secure" says little.
        const header = await page.locator('header').innerText().catch(() => '(no header)');
        throw new Error(`${page.url()} did not reach Secure; it shows:\n${header}`, { cause: error });
      }
    }),
  );
}

/**
 * Counts, in each page, the group message frames (type 0x12) its data channels receive, and lets a test cut the
 * page's data channels as a vanished network would: nothing in, nothing out, until restored. It can also hold what
 * arrives after a given number of bytes (a stalled path: the sender's window fills and it waits), and hand it over
 * later in arrival order, so a transfer is still running at a point the test chose, however fast the machine is.
 */
const WIRE_TAP = () => {
  const connections: RTCPeerConnection[] = [];
  const held: { channel: RTCDataChannel; data: unknown }[] = [];
  const handedOver = new WeakSet<Event>();
  const tap = {
    messageFrames: 0,
    cut: false,
    /** While cut, the page's WebSockets carry nothing either way, and nobody is told (an outage further away). */
    cutSignaling: false,
    socketsOpened: 0,
    /**
     * A slow first word (set before the page connects): the page's first frame on each data channel leaves 400 ms
     * late, and whatever reaches a channel before that is lost, as Chromium was seen to lose a message that arrived
     * at an initiator's channel just before it opened there.
     */
    lateSpeaker: false,
    /** Bytes the page's data channels have let through; past `holdAt`, what arrives waits in `held`. */
    inboundBytes: 0,
    holdAt: Number.POSITIVE_INFINITY,
    breakAll: () => connections.splice(0).forEach((connection) => connection.close()),
    holdAfter: (bytes: number) => {
      tap.holdAt = tap.inboundBytes + bytes;
    },
    heldCount: () => held.length,
    /** Hands over what was held, in arrival order; what arrived on a channel that has closed since is lost with it. */
    release: () => {
      tap.holdAt = Number.POSITIVE_INFINITY;
      for (const { channel, data } of held.splice(0)) {
        if (channel.readyState !== 'open') continue;
        const event = new MessageEvent('message', { data });
        handedOver.add(event);
        channel.dispatchEvent(event);
      }
    },
  };
  Object.assign(window, { __wire: tap });
  const watch = (channel: RTCDataChannel): void => {
    channel.addEventListener('message', (event: MessageEvent) => {
      if (event.data instanceof ArrayBuffer && new Uint8Array(event.data)[1] === 0x12) tap.messageFrames += 1;
    });
    const send = channel.send.bind(channel);
    let spoken = false;
    // A late speaker's frames all leave through one chain that starts 400 ms late, so they stay in order.
    let outbox: Promise<void> | null = null;
    channel.send = ((data: string & Blob & ArrayBuffer & ArrayBufferView) => {
      if (tap.cut) return;
      if (!tap.lateSpeaker) {
        send(data);
        return;
      }
      outbox = (outbox ?? new Promise<void>((resolve) => setTimeout(resolve, 400))).then(() => {
        spoken = true;
        if (channel.readyState === 'open') send(data);
      });
    }) as typeof channel.send;
    // While cut, nothing arrives either: stop the app's own handler from seeing it. While held, it waits.
    channel.addEventListener(
      'message',
      (event: MessageEvent) => {
        if (tap.cut || (tap.lateSpeaker && !spoken)) {
          event.stopImmediatePropagation();
          return;
        }
        if (handedOver.has(event)) return;
        const size = event.data instanceof ArrayBuffer ? event.data.byteLength : 0;
        if (held.length > 0 || tap.inboundBytes + size > tap.holdAt) {
          event.stopImmediatePropagation();
          held.push({ channel, data: event.data });
          return;
        }
        tap.inboundBytes += size;
      },
      { capture: true },
    );
  };
  const Original = window.RTCPeerConnection;
  const create = Original.prototype.createDataChannel;
  Original.prototype.createDataChannel = function (this: RTCPeerConnection, ...args: Parameters<RTCPeerConnection['createDataChannel']>) {
    const channel = create.apply(this, args);
    watch(channel);
    return channel;
  };
  const OriginalSocket = window.WebSocket;
  window.WebSocket = class extends OriginalSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      tap.socketsOpened += 1;
      this.addEventListener(
        'message',
        (event) => {
          if (tap.cutSignaling) event.stopImmediatePropagation();
        },
        { capture: true },
      );
    }

    override send(data: Parameters<WebSocket['send']>[0]): void {
      if (!tap.cutSignaling) super.send(data);
    }
  };
  window.RTCPeerConnection = class extends Original {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args);
      connections.push(this);
      this.addEventListener('datachannel', (event) => watch(event.channel));
    }
  };
};

export async function tapped(newPerson: () => Promise<Page>, { lateSpeaker = false } = {}): Promise<Page> {
  const page = await newPerson();
  await page.addInitScript(WIRE_TAP);
  if (lateSpeaker) await page.addInitScript(() => Object.assign((window as unknown as { __wire: object }).__wire, { lateSpeaker: true }));
  return page;
}

export function messageFrames(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __wire: { messageFrames: number } }).__wire.messageFrames);
}

/** Silences the page's direct connections (and, with `signaling`, its WebSockets too) or gives them back. */
export async function cutNetwork(page: Page, cut: boolean, { signaling = false } = {}): Promise<void> {
  await page.evaluate(
    ({ value, socketsToo }) => {
      const wire = (window as unknown as { __wire: { cut: boolean; cutSignaling: boolean } }).__wire;
      wire.cut = value;
      wire.cutSignaling = value && socketsToo;
    },
    { value: cut, socketsToo: signaling },
  );
}

/** How many WebSockets the page has opened since it loaded. */
export function socketsOpened(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __wire: { socketsOpened: number } }).__wire.socketsOpened);
}

/**
 * Lets the next `bytes` reach the page's data channels and holds everything after them (a tapped page), so the peer's
 * transfer stalls at its window; returns what hands the held frames over, in order, and lets the rest through again.
 */
export async function holdInboundAfter(page: Page, bytes: number): Promise<() => Promise<void>> {
  type Wire = { holdAfter(bytes: number): void; release(): void };
  await page.evaluate((limit) => (window as unknown as { __wire: Wire }).__wire.holdAfter(limit), bytes);
  return () => page.evaluate(() => (window as unknown as { __wire: Wire }).__wire.release());
}

/** How many data-channel messages the tapped page is holding. */
export function heldInbound(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __wire: { heldCount(): number } }).__wire.heldCount());
}

/** Closes every direct connection of the page at once, as a network failure the browser notices would. */
export async function breakConnections(page: Page): Promise<void> {
  await page.evaluate(() => (window as unknown as { __wire: { breakAll(): void } }).__wire.breakAll());
}

/** Two people in one room, both verified. */
export async function securePair(newPerson: () => Promise<Page>, baseUrl: string): Promise<{ alice: Page; bob: Page; link: string }> {
  const alice = await newPerson();
  const bob = await newPerson();
  const link = await createRoom(alice, baseUrl);
  await bob.goto(link);
  await expectSecure(alice, bob);
  return { alice, bob, link };
}

/** Three guests in one room, each connected to the other two. */
export async function threeGuests(newPerson: () => Promise<Page>, baseUrl: string): Promise<[Page, Page, Page]> {
  const pages: Page[] = [await newPerson()];
  const link = await createRoom(pages[0] as Page, baseUrl);
  for (let i = 1; i < 3; i++) {
    const page = await newPerson();
    await page.goto(link);
    await expect(statusOf(page)).toContainText('Secure');
    pages.push(page);
  }
  for (const page of pages) await expect(members(page).filter({ hasText: 'Connected' })).toHaveCount(2);
  return pages as [Page, Page, Page];
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** What people said (and sent): the conversation's messages and files, not its join/leave and warning lines. */
export function messages(page: Page) {
  return page.getByRole('list', { name: 'Conversation' }).locator(':scope > li.message');
}

/** The Members panel's entries: one per person in the room. */
export function members(page: Page) {
  return page.getByRole('list', { name: 'Members' }).getByRole('listitem');
}

/** The conversation's own lines: who joined or left, and warnings. */
export function roomEvents(page: Page) {
  return page.getByRole('list', { name: 'Conversation' }).locator(':scope > li.event');
}

/** A message that reached its one addressee: delivered, or already read (read receipts are on by default). */
export const DELIVERED = /Delivered|Read/;

// ---- files ------------------------------------------------------------------------------------------

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function fileItem(page: Page, name: string) {
  return messages(page).filter({ hasText: name });
}

export async function attach(page: Page, name: string, mimeType: string, buffer: Buffer): Promise<void> {
  await page.getByLabel('Attach file').setInputFiles({ name, mimeType, buffer });
}

/** Makes a file of `sizeBytes` random bytes inside the page and attaches it, keeping its SHA-256 for later. */
export async function attachGenerated(page: Page, name: string, sizeBytes: number): Promise<string> {
  return page.evaluate(
    async ({ name, sizeBytes }) => {
      const bytes = new Uint8Array(sizeBytes);
      for (let offset = 0; offset < sizeBytes; offset += 65_536) crypto.getRandomValues(bytes.subarray(offset, offset + 65_536));
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
      const input = document.querySelector<HTMLInputElement>('input[type=file]');
      if (input === null) throw new Error('no file input');
      input.files = transfer.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
      return [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join('');
    },
    { name, sizeBytes },
  );
}

/** Clicks Save as a person would and returns the download, so the bytes checked are the bytes saved. */
export async function save(page: Page, name: string) {
  const link = fileItem(page, name).getByRole('link', { name: 'Save' });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  return download;
}

/** The SHA-256 of the file the receiver's Save link saves. */
export async function savedSha256(page: Page, name: string): Promise<string> {
  const download = await save(page, name);
  return sha256Hex(await readFile(await download.path()));
}
