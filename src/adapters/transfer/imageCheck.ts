/**
 * Decides whether a received file may be shown inline: its first bytes must be a raster image (whatever
 * it claimed to be), within the pixel limit, and it must actually decode. Everything else is a download.
 */
import { sniffRasterImage, type ImageVerdict } from '../../core/transfer/imageSniff.ts';

const HEAD_BYTES = 64 * 1024;

/** GIFs are checked whole (every frame's size matters); larger ones are offered as a download only. */
const MAX_CHECKED_GIF_BYTES = 32 * 1024 * 1024;

function isGif(head: Uint8Array): boolean {
  return head[0] === 0x47 && head[1] === 0x49 && head[2] === 0x46 && head[3] === 0x38;
}

export async function checkRasterImage(file: Blob): Promise<ImageVerdict> {
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  if (isGif(head) && file.size > MAX_CHECKED_GIF_BYTES) return { kind: 'not-image' };
  const examined = isGif(head) && file.size > head.length ? new Uint8Array(await file.arrayBuffer()) : head;
  const sniffed = sniffRasterImage(examined);
  // The sniffer reads dimensions from the header and refuses anything over the pixel limit, so a
  // decompression bomb is never handed to the decoder.
  if (sniffed === null) return { kind: 'not-image' };
  const mimeType = `image/${sniffed.format}`;
  try {
    const bitmap = await createImageBitmap(new Blob([file], { type: mimeType }));
    // The decoder's idea of the size must be the header's: anything else means the header lied.
    const matches = bitmap.width <= sniffed.widthPx && bitmap.height <= sniffed.heightPx;
    bitmap.close();
    if (!matches) return { kind: 'not-image' };
  } catch {
    return { kind: 'not-image' };
  }
  return { kind: 'image', mimeType, widthPx: sniffed.widthPx, heightPx: sniffed.heightPx };
}
