/**
 * The room link's QR code: shown on request beside "Copy link", fetched only then (not in the first load), and
 * scannable: the drawn SVG, rasterised in the page and read by a QR decoder used only here, is exactly the link.
 */
import jsQR from 'jsqr';
import { createRoom, expect, test } from './fixtures.ts';

test('“Show QR code” draws the room link as a QR code that decodes to exactly that link, loaded only when asked for', async ({ newPerson, parley }) => {
  const page = await newPerson();
  const scripts: string[] = [];
  page.on('request', (request) => {
    if (request.resourceType() === 'script') scripts.push(request.url());
  });
  const link = await createRoom(page, parley.url);
  expect(scripts.some((url) => /QrCode/.test(url))).toBe(false);
  // Nor does the first load carry Vite's preload helper for it (vite.config.ts: plainLazyImports): the helper is the
  // only code that would create <link rel="modulepreload">.
  const firstLoad = await Promise.all(scripts.map(async (url) => (await page.request.get(url)).text()));
  expect(firstLoad.some((code) => code.includes('modulepreload'))).toBe(false);
  await page.getByRole('button', { name: 'Show QR code' }).click();
  const qr = page.getByRole('img', { name: 'QR code of the room link' });
  await expect(qr).toBeVisible();
  expect(scripts.some((url) => /QrCode/.test(url))).toBe(true);

  // The SVG as the page drew it, rasterised at 8 pixels per module on a canvas, handed over as RGBA.
  const { width, height, rgba } = await qr.evaluate(async (svg: SVGSVGElement) => {
    const scale = 8;
    const size = svg.viewBox.baseVal.width * scale;
    const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(svg)], { type: 'image/svg+xml' }));
    const image = new Image(size, size);
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = size;
    canvas.height = size;
    const context = canvas.getContext('2d');
    if (context === null) throw new Error('no 2d canvas');
    context.drawImage(image, 0, 0, size, size);
    URL.revokeObjectURL(url);
    return { width: size, height: size, rgba: [...context.getImageData(0, 0, size, size).data] };
  });
  const decoded = jsQR(Uint8ClampedArray.from(rgba), width, height);
  expect(decoded?.data).toBe(link);

  await page.getByRole('button', { name: 'Hide QR code' }).click();
  await expect(qr).toHaveCount(0);
});

test('when the QR code’s code does not arrive the page says so in words, and the next press tries again', async ({ newPerson, parley }) => {
  const page = await newPerson();
  const qrScript = /\/assets\/QrCode-[\w-]+\.js$/;
  // The network drops just for that one file.
  await page.route(qrScript, (route) => route.abort());
  await createRoom(page, parley.url);
  await page.getByRole('button', { name: 'Show QR code' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'This part of Parley did not load' })).toBeVisible();
  await expect(page.getByRole('img', { name: 'QR code of the room link' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Show QR code' })).toHaveAttribute('aria-expanded', 'false');
  await page.unroute(qrScript);
  await page.getByRole('button', { name: 'Show QR code' }).click();
  await expect(page.getByRole('img', { name: 'QR code of the room link' })).toBeVisible();
  await expect(page.getByRole('alert').filter({ hasText: 'This part of Parley did not load' })).toHaveCount(0);
});
