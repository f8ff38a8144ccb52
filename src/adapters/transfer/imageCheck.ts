/**
 * Decides whether a received file may be shown inline: its first bytes must be a raster image (whatever
 * it claimed to be), within the pixel limit, and it must actually decode. Everything else is a download.
 */
import { sniffRasterImage, type ImageVerdict } from '../../core/transfer/imageSniff.ts';

const HEAD_BYTES = 64 * 1024;

export async function checkRasterImage(file: Blob): Promise<ImageVerdict> {
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  const sniffed = sniffRasterImage(head);
  // The sniffer reads dimensions from the header and refuses anything over the pixel limit, so a
  // decompression bomb is never handed to the decoder.
  if (sniffed === null) return { kind: 'not-image' };
  const mimeType = `image/${sniffed.format}`;
  try {
    const bitmap = await createImageBitmap(new Blob([file], { type: mimeType }));
    bitmap.close();
  } catch {
    return { kind: 'not-image' };
  }
  return { kind: 'image', mimeType, widthPx: sniffed.widthPx, heightPx: sniffed.heightPx };
}
