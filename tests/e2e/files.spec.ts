/** Files and images between two people: odd sizes, previews, paste and drop, cancel, resume, unsafe types. */
import { readFile } from 'node:fs/promises';
import type { Locator, Page } from '@playwright/test';
import { startHostileRelay } from '../fixtures/hostileRelay.ts';
import { makeBlankPng, makePng } from '../fixtures/images.ts';
import { MAX_IMAGE_PIXELS, PREVIEW_MAX_EDGE_PX } from '../../src/core/transfer/imageSniff.ts';
import { DEFAULT_CHUNK_BYTES } from '../../src/core/transfer/transferLimits.ts';
import {
  attach,
  attachGenerated,
  breakConnections,
  createRoom,
  expect,
  expectSecure,
  fileItem,
  heldInbound,
  holdInboundAfter,
  messages,
  save,
  savedSha256,
  securePair,
  sha256Hex,
  tapped,
  test,
} from './fixtures.ts';

/** What the app sends, so the edge cases below fall on a real chunk boundary. */
const CHUNK_BYTES = DEFAULT_CHUNK_BYTES;

/** The pixel size of a preview: what the page holds decoded for it, whatever size CSS shows it at. */
function renderSize(preview: Locator): Promise<number[]> {
  return preview.evaluate((canvas: HTMLCanvasElement) => [canvas.width, canvas.height]);
}

/**
 * Whether a preview shown at full size has the same pixels as the image decoded in the page from `png`'s bytes and
 * drawn into a canvas the same way (so colour and alpha handling are the same on both sides). Every 61st pixel is
 * compared: a lossy encode, a colour swap or a shifted row would change nearly all of them.
 */
function renderPixelsMatch(preview: Locator, png: Buffer): Promise<boolean> {
  return preview.evaluate(async (canvas: HTMLCanvasElement, base64) => {
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const reference = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d');
    const shown = canvas.getContext('2d');
    if (reference === null || shown === null || canvas.width !== bitmap.width || canvas.height !== bitmap.height) return false;
    reference.drawImage(bitmap, 0, 0);
    const expected = reference.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const actual = shown.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let pixel = 0; pixel < expected.length; pixel += 61 * 4) {
      for (let channel = pixel; channel < pixel + 4; channel++) if (expected[channel] !== actual[channel]) return false;
    }
    return true;
  }, png.toString('base64'));
}

async function progressOf(page: Page, name: string): Promise<number> {
  const value = await page.getByRole('progressbar', { name }).getAttribute('value').catch(() => null);
  return value === null ? -1 : Number(value);
}

for (const { label, sizeBytes } of [
  { label: 'an empty file', sizeBytes: 0 },
  { label: 'a 1-byte file', sizeBytes: 1 },
  { label: 'a file of exactly one chunk', sizeBytes: CHUNK_BYTES },
  { label: 'a file of one chunk plus one byte', sizeBytes: CHUNK_BYTES + 1 },
]) {
  test(`${label} arrives byte for byte and can be saved`, async ({ newPerson, parley }) => {
    const { alice, bob } = await securePair(newPerson, parley.url);
    const buffer = Buffer.alloc(sizeBytes, 0x5a);
    const name = `odd-${sizeBytes}.bin`;
    await attach(alice, name, 'application/octet-stream', buffer);
    await expect(fileItem(bob, name)).toContainText('Received');
    await expect(fileItem(alice, name)).toContainText('Sent');
    const download = await save(bob, name);
    expect(download.suggestedFilename()).toBe(name);
    expect(sha256Hex(await readFile(await download.path()))).toBe(sha256Hex(buffer));
    // Not an image: offered as a download only.
    await expect(fileItem(bob, name).getByRole('img')).toHaveCount(0);
  });
}

test('a 5 MiB PNG arrives intact and is shown inline, and larger on click', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  const png = makePng(1280, 1024);
  expect(png.length).toBeGreaterThan(5 * 1024 * 1024);
  await attach(alice, 'holiday.png', 'image/png', png);
  const preview = bob.getByRole('img', { name: 'holiday.png' });
  await expect(preview).toBeVisible({ timeout: 30_000 });
  // Exactly display size here: the render is never larger than the photo, nor than PREVIEW_MAX_EDGE_PX.
  expect(await renderSize(preview)).toEqual([1280, 1024]);
  // It shows the photo's own pixels: drawn, not re-encoded (a lossy encode would change them).
  expect(await renderPixelsMatch(preview, png)).toBe(true);
  expect(await savedSha256(bob, 'holiday.png')).toBe(sha256Hex(png));
  await preview.click();
  const viewer = bob.getByRole('dialog', { name: 'holiday.png' });
  await expect(viewer.getByRole('img', { name: 'holiday.png' })).toBeVisible();
  await expect(viewer.getByRole('link', { name: 'Save' })).toBeVisible();
  await viewer.getByRole('button', { name: 'Close' }).click();
  await expect(viewer).toBeHidden();
});

test('a tiny PNG declaring a huge canvas is shown as a display-sized render; one over the inline pixel limit only as a download', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  // 4000 × 4000 = 16 MP, just within the limit: a 2 KB file that decodes to 64 MB.
  const large = makeBlankPng(4000, 4000);
  expect(4000 * 4000).toBeLessThanOrEqual(MAX_IMAGE_PIXELS);
  expect(large.length).toBeLessThan(8 * 1024);
  await attach(alice, 'large.png', 'image/png', large);
  const preview = bob.getByRole('img', { name: 'large.png' });
  await expect(preview).toBeVisible();
  // What the page holds decoded is the render, not the 4000-pixel image.
  expect(await renderSize(preview)).toEqual([PREVIEW_MAX_EDGE_PX, PREVIEW_MAX_EDGE_PX]);
  await preview.click();
  const viewer = bob.getByRole('dialog', { name: 'large.png' });
  expect(await renderSize(viewer.getByRole('img', { name: 'large.png' }))).toEqual([PREVIEW_MAX_EDGE_PX, PREVIEW_MAX_EDGE_PX]);
  await viewer.getByRole('button', { name: 'Close' }).click();
  // The sender's own preview is a render too.
  expect(await renderSize(alice.getByRole('img', { name: 'large.png' }))).toEqual([PREVIEW_MAX_EDGE_PX, PREVIEW_MAX_EDGE_PX]);

  // 7000 × 7000 = 49 MP: a 6 KB file that would cost about 196 MB to decode. Received and saved whole, never decoded.
  const huge = makeBlankPng(7000, 7000);
  expect(7000 * 7000).toBeGreaterThan(MAX_IMAGE_PIXELS);
  await attach(alice, 'huge.png', 'image/png', huge);
  await expect(fileItem(bob, 'huge.png')).toContainText('Received');
  for (const page of [bob, alice]) {
    await expect(fileItem(page, 'huge.png').locator('[data-preview]')).toHaveAttribute('data-preview', 'none');
    await expect(fileItem(page, 'huge.png').getByRole('img')).toHaveCount(0);
  }
  expect(await savedSha256(bob, 'huge.png')).toBe(sha256Hex(huge));
});

test('an image pasted into the page is sent', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  const png = makePng(32, 32);
  await alice.evaluate(async (bytes) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], 'pasted.png', { type: 'image/png' }));
    document.querySelector('textarea')?.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
  }, [...png]);
  await expect(bob.getByRole('img', { name: 'pasted.png' })).toBeVisible();
  expect(await savedSha256(bob, 'pasted.png')).toBe(sha256Hex(png));
});

test('a file dropped on the conversation is sent', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  const dataTransfer = await alice.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['dropped text'], 'notes.txt', { type: 'text/plain' }));
    return transfer;
  });
  await alice.dispatchEvent('main', 'dragover', { dataTransfer });
  await alice.dispatchEvent('main', 'drop', { dataTransfer });
  await expect(fileItem(bob, 'notes.txt')).toContainText('Received');
  expect(await savedSha256(bob, 'notes.txt')).toBe(sha256Hex(Buffer.from('dropped text')));
});

test('an SVG is never rendered, only offered as a download that cannot open in our origin', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=1"><script>window.__pwned=2</script><rect width="10" height="10"/></svg>');
  await attach(alice, 'logo.svg', 'image/svg+xml', svg);
  const item = fileItem(bob, 'logo.svg');
  await expect(item).toContainText('Received');
  await expect(item.getByRole('img')).toHaveCount(0);
  await expect(bob.locator('img[src^="blob:"], object, embed, iframe')).toHaveCount(0);
  // Save downloads the exact bytes; it never opens the SVG as a page of our origin.
  const roomUrl = bob.url();
  const download = await save(bob, 'logo.svg');
  expect(download.suggestedFilename()).toBe('logo.svg');
  expect(sha256Hex(await readFile(await download.path()))).toBe(sha256Hex(svg));
  expect(bob.url()).toBe(roomUrl);
  expect(await bob.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
});

test('a file over the size limit is refused before anything is sent', async ({ newPerson, parley }) => {
  const { alice, bob } = await securePair(newPerson, parley.url);
  // Building a real 256 MiB file is slow; a sparse Blob of that size costs nothing to make.
  await alice.evaluate(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Blob([new ArrayBuffer(256 * 1024 * 1024 + 1)])], 'huge.iso'));
    const input = document.querySelector<HTMLInputElement>('input[type=file]');
    if (input === null) throw new Error('no file input');
    input.files = transfer.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await expect(fileItem(alice, 'huge.iso')).toContainText('Too large to send');
  await alice.waitForTimeout(500);
  await expect(fileItem(bob, 'huge.iso')).toHaveCount(0);
});

for (const side of ['sender', 'receiver'] as const) {
  test(`the ${side} can cancel a running transfer, and both sides are told`, async ({ newPerson, parley }) => {
    const { alice, bob } = await securePair(() => tapped(newPerson), parley.url);
    // Bob takes the first 2 MiB, then holds what arrives: the transfer is still running when the button is clicked.
    const flowAgain = await holdInboundAfter(bob, 2 * 1024 * 1024);
    await attachGenerated(alice, 'big.bin', 48 * 1024 * 1024);
    await expect.poll(() => progressOf(bob, 'big.bin'), { timeout: 60_000 }).toBeGreaterThanOrEqual(1);
    const canceller = side === 'sender' ? alice : bob;
    const other = side === 'sender' ? bob : alice;
    await fileItem(canceller, 'big.bin').getByRole('button', { name: 'Cancel' }).click();
    await expect(fileItem(canceller, 'big.bin')).toContainText('You cancelled this.');
    // Bob now gets what was held, in order: chunks still on their way when the cancel was sent, then the cancel.
    await flowAgain();
    await expect(fileItem(other, 'big.bin')).toContainText('The other person cancelled this.');
    // Nothing half-received is left to save, and the conversation goes on.
    await expect(fileItem(bob, 'big.bin').getByRole('link', { name: 'Save' })).toHaveCount(0);
    await expectSecure(alice, bob);
  });
}

test('a transfer cut by a lost connection resumes from what was acknowledged when both are back', async ({ newPerson, parley }) => {
  const relay = await startHostileRelay(parley.url, 'pass');
  try {
    const alice = await newPerson();
    const bob = await tapped(newPerson);
    const link = await createRoom(alice, relay.url);
    await bob.goto(link);
    await expectSecure(alice, bob);
    const sizeBytes = 48 * 1024 * 1024;
    // Bob takes the first 4 MiB and then nothing more arrives: the transfer is stalled mid-way when the cut comes.
    const flowAgain = await holdInboundAfter(bob, 4 * 1024 * 1024);
    const sentHash = await attachGenerated(alice, 'resume.bin', sizeBytes);
    // Some of it acknowledged, so the resume has something to start from.
    await expect.poll(() => progressOf(bob, 'resume.bin'), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => heldInbound(bob)).toBeGreaterThan(0);
    // Bob's direct connection breaks (his signaling socket too); both sides notice and connect again. What was held
    // was on the broken connection and is lost with it.
    relay.dropConnection(1);
    await breakConnections(bob);
    await expect(fileItem(alice, 'resume.bin')).toContainText('Paused');
    await flowAgain();
    await expect(fileItem(alice, 'resume.bin')).toContainText('Sent', { timeout: 45_000 });
    await expect(fileItem(bob, 'resume.bin')).toContainText('Received');
    expect(await savedSha256(bob, 'resume.bin')).toBe(sentHash);
    const item = fileItem(alice, 'resume.bin').locator('[data-transfer-state]');
    const resumedAt = Number(await item.getAttribute('data-resumed-at-bytes'));
    const resent = Number(await item.getAttribute('data-resent-bytes'));
    expect(resumedAt).toBeGreaterThan(0);
    expect(resent).toBeLessThan(sizeBytes);
  } finally {
    await relay.close();
  }
});
