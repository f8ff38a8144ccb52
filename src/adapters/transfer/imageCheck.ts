/**
 * Decides whether a received file may be shown inline: its first bytes must be a raster image (whatever
 * it claimed to be), within the pixel limit, and it must actually decode. What is shown is then a decoded render of
 * it at display size (PREVIEW_MAX_EDGE_PX), made here; the file itself is never handed to an <img>. Everything
 * else is a download.
 */
import { previewSizePx, sniffRasterImage, type ImageVerdict } from '../../core/transfer/imageSniff.ts';

const HEAD_BYTES = 64 * 1024;

/** GIFs are checked whole (every frame's size matters); larger ones are offered as a download only. */
const MAX_CHECKED_GIF_BYTES = 32 * 1024 * 1024;

function isGif(head: Uint8Array): boolean {
  return head[0] === 0x47 && head[1] === 0x49 && head[2] === 0x46 && head[3] === 0x38;
}

/**
 * Full-size decodes run one at a time, so files that finish together (four transfers, a page of history) cost one
 * image's worth of memory at a time, not four.
 */
let decoding: Promise<unknown> = Promise.resolve();

function oneAtATime<T>(task: () => Promise<T>): Promise<T> {
  const result = decoding.then(task, task);
  decoding = result.catch(() => {});
  return result;
}

/**
 * Decodes once at full size (the only size browsers decode at, see MAX_IMAGE_PIXELS) and checks the decoder's size
 * against the header's. An image within PREVIEW_MAX_EDGE_PX is its own render; a larger one is drawn scaled into a
 * canvas of preview size and the full bitmap let go at once. The render stays decoded: the page draws it straight
 * into a canvas (ImageRender.svelte), because encoding it (WebP: ~700 ms for a 1280 × 1024 photo here) and decoding
 * it again for an <img> took most of the time to a first preview (§7.14).
 */
async function renderPreview(file: Blob, mimeType: string, widthPx: number, heightPx: number): Promise<ImageBitmap | null> {
  const bitmap = await createImageBitmap(new Blob([file], { type: mimeType }));
  // The decoder's idea of the size must be the header's: anything else means the header lied.
  if (bitmap.width > widthPx || bitmap.height > heightPx) {
    bitmap.close();
    return null;
  }
  const size = previewSizePx(bitmap.width, bitmap.height);
  if (size.widthPx === bitmap.width && size.heightPx === bitmap.height) return bitmap;
  try {
    const canvas = new OffscreenCanvas(size.widthPx, size.heightPx);
    const context = canvas.getContext('2d');
    if (context === null) return null;
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, size.widthPx, size.heightPx);
    return canvas.transferToImageBitmap();
  } finally {
    bitmap.close();
  }
}

export async function checkRasterImage(file: Blob): Promise<ImageVerdict<ImageBitmap>> {
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  if (isGif(head) && file.size > MAX_CHECKED_GIF_BYTES) return { kind: 'not-image' };
  const examined = isGif(head) && file.size > head.length ? new Uint8Array(await file.arrayBuffer()) : head;
  const sniffed = sniffRasterImage(examined);
  // The sniffer reads dimensions from the header and refuses anything over the pixel limit, so a
  // decompression bomb is never handed to the decoder.
  if (sniffed === null) return { kind: 'not-image' };
  const mimeType = `image/${sniffed.format}`;
  let render: ImageBitmap | null;
  try {
    render = await oneAtATime(() => renderPreview(file, mimeType, sniffed.widthPx, sniffed.heightPx));
  } catch {
    return { kind: 'not-image' };
  }
  if (render === null) return { kind: 'not-image' };
  return { kind: 'image', mimeType, widthPx: sniffed.widthPx, heightPx: sniffed.heightPx, render };
}
