/**
 * The container of an image preview (§7.10): the header of an uncompressed 32-bit BMP whose pixels are exactly the
 * RGBA bytes a canvas gives (`getImageData`), top row first. Putting a header in front of pixels already decoded costs
 * nothing, where encoding the render as WebP cost ~700 ms of CPU for a 1280 × 1024 photo and decoding it again
 * another 200–600 ms (§7.14); the browser's BMP decoder only copies the rows back.
 */

/** BITMAPFILEHEADER (14 bytes) followed by a BITMAPV5HEADER (124 bytes), after which the pixels start. */
export const BMP_HEADER_BYTES = 14 + 124;

const BI_BITFIELDS = 3;
/** 'sRGB' as the V5 header spells LCS_sRGB: the pixels are what the canvas holds, in sRGB. */
const LCS_SRGB = 0x73524742;
/** 72 dpi, the conventional value; nothing here depends on it. */
const PIXELS_PER_METRE = 2835;

/**
 * The header for `widthPx` × `heightPx` pixels of 4 bytes each in R, G, B, A byte order (not premultiplied, as
 * `ImageData` holds them). Channel masks say where each colour sits in the little-endian 32-bit pixel, so the canvas's
 * bytes need no reordering; a negative height says the rows run top to bottom, as they do in `ImageData`.
 */
export function bmpHeader(widthPx: number, heightPx: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(widthPx) || !Number.isInteger(heightPx) || widthPx < 1 || heightPx < 1 || widthPx * heightPx > 2 ** 27) {
    throw new RangeError(`no BMP preview of ${widthPx} × ${heightPx} pixels`);
  }
  const pixelBytes = widthPx * heightPx * 4;
  const header = new Uint8Array(BMP_HEADER_BYTES);
  const view = new DataView(header.buffer);
  // BITMAPFILEHEADER
  header.set([0x42, 0x4d], 0); // 'BM'
  view.setUint32(2, BMP_HEADER_BYTES + pixelBytes, true);
  view.setUint32(10, BMP_HEADER_BYTES, true);
  // BITMAPV5HEADER
  view.setUint32(14, 124, true);
  view.setInt32(18, widthPx, true);
  view.setInt32(22, -heightPx, true);
  view.setUint16(26, 1, true); // planes
  view.setUint16(28, 32, true); // bits per pixel
  view.setUint32(30, BI_BITFIELDS, true);
  view.setUint32(34, pixelBytes, true);
  view.setInt32(38, PIXELS_PER_METRE, true);
  view.setInt32(42, PIXELS_PER_METRE, true);
  // Colours used and important colours (46, 50) stay 0: no palette.
  view.setUint32(54, 0x000000ff, true); // red mask: byte 0
  view.setUint32(58, 0x0000ff00, true); // green mask: byte 1
  view.setUint32(62, 0x00ff0000, true); // blue mask: byte 2
  view.setUint32(66, 0xff000000, true); // alpha mask: byte 3
  view.setUint32(70, LCS_SRGB, true);
  // Endpoints, gamma, intent, profile data and size, reserved (74 … 137) stay 0, as for any sRGB bitmap.
  return header;
}
