/**
 * Recognises PNG, JPEG, GIF, WebP and AVIF by their first bytes (never by the announced MIME type) and
 * reads the pixel dimensions from the header, so a decompression bomb can be refused before decoding.
 */

export type RasterFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'avif';

export interface SniffedImage {
  readonly format: RasterFormat;
  readonly widthPx: number;
  readonly heightPx: number;
}

/**
 * Images with more pixels than this are not shown inline, whatever their byte size. Browsers decode an image at full
 * size before any scaling (measured in Chromium: a 6 KB PNG declaring 7000 × 7000 took the renderer's peak memory up
 * by about 190 MB through createImageBitmap, with or without its resize options), so this bounds the memory one
 * preview costs while it is made: 16 MP is 64 MB of RGBA, and holds a 12 MP phone photo or a 4K screenshot.
 */
export const MAX_IMAGE_PIXELS = 16_000_000;
/** What is shown (inline, and in the viewer) is a render at most this many pixels on its longer edge, never the file. */
export const PREVIEW_MAX_EDGE_PX = 1280;

/** The platform's final word on a received file: a raster image that decodes, with its display-sized render, or not one to show. */
export type ImageVerdict<Render> =
  | { readonly kind: 'image'; readonly mimeType: string; readonly widthPx: number; readonly heightPx: number; readonly render: Render }
  | { readonly kind: 'not-image' };

/** The size of an image's preview: the whole image scaled to fit `maxEdgePx` on its longer edge, never enlarged. */
export function previewSizePx(widthPx: number, heightPx: number, maxEdgePx = PREVIEW_MAX_EDGE_PX): { readonly widthPx: number; readonly heightPx: number } {
  const scale = Math.min(1, maxEdgePx / Math.max(widthPx, heightPx));
  return { widthPx: Math.max(1, Math.round(widthPx * scale)), heightPx: Math.max(1, Math.round(heightPx * scale)) };
}
/** Only this many leading bytes are examined; every header we read lies well inside them. */
export const MAX_SNIFF_BYTES = 64 * 1024;

/** Bounds-checked big- and little-endian reads: null past the end, so no caller can read out of range. */
class Reader {
  constructor(readonly bytes: Uint8Array) {}

  get length(): number {
    return this.bytes.length;
  }

  u8(at: number): number | null {
    return at >= 0 && at < this.bytes.length ? (this.bytes[at] ?? null) : null;
  }

  private fits(at: number, count: number): boolean {
    return at >= 0 && at + count <= this.bytes.length;
  }

  u16be(at: number): number | null {
    if (!this.fits(at, 2)) return null;
    return ((this.bytes[at] ?? 0) << 8) | (this.bytes[at + 1] ?? 0);
  }

  u16le(at: number): number | null {
    if (!this.fits(at, 2)) return null;
    return (this.bytes[at] ?? 0) | ((this.bytes[at + 1] ?? 0) << 8);
  }

  u24le(at: number): number | null {
    if (!this.fits(at, 3)) return null;
    return (this.bytes[at] ?? 0) | ((this.bytes[at + 1] ?? 0) << 8) | ((this.bytes[at + 2] ?? 0) << 16);
  }

  u32be(at: number): number | null {
    if (!this.fits(at, 4)) return null;
    // Multiplication, not `<< 24`, keeps values over 2^31 positive.
    return (this.bytes[at] ?? 0) * 0x1000000 + (((this.bytes[at + 1] ?? 0) << 16) | ((this.bytes[at + 2] ?? 0) << 8) | (this.bytes[at + 3] ?? 0));
  }

  ascii(at: number, count: number): string | null {
    if (!this.fits(at, count)) return null;
    return String.fromCharCode(...this.bytes.subarray(at, at + count));
  }

  startsWith(at: number, expected: readonly number[]): boolean {
    return expected.every((byte, i) => this.u8(at + i) === byte);
  }
}

function image(format: RasterFormat, widthPx: number | null, heightPx: number | null): SniffedImage | null {
  if (widthPx === null || heightPx === null || widthPx <= 0 || heightPx <= 0) return null;
  if (widthPx * heightPx > MAX_IMAGE_PIXELS) return null;
  return { format, widthPx, heightPx };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_MAX_DIMENSION = 0x7fffffff;

/** The IHDR chunk must come first, with length 13: width and height are its first two u32s. */
function sniffPng(r: Reader): SniffedImage | null {
  if (r.u32be(8) !== 13 || r.ascii(12, 4) !== 'IHDR') return null;
  const widthPx = r.u32be(16);
  const heightPx = r.u32be(20);
  if (widthPx === null || heightPx === null || widthPx > PNG_MAX_DIMENSION || heightPx > PNG_MAX_DIMENSION) return null;
  return image('png', widthPx, heightPx);
}

/** The most GIF blocks walked before giving up: bounds the work a hostile file can cause. */
const MAX_GIF_BLOCKS = 100_000;

/**
 * The logical screen (u16le width and height after the signature) is not enough: a frame may be far
 * larger than the screen, decoders size the bitmap to cover it, and an animated <img> decodes every
 * frame. So every image descriptor up to the trailer must lie within the limit; the caller passes the
 * whole file for GIFs, and one whose trailer is not within `bytes` is not shown.
 */
function sniffGif(r: Reader): SniffedImage | null {
  const screenWidth = r.u16le(6);
  const screenHeight = r.u16le(8);
  const flags = r.u8(10);
  if (screenWidth === null || screenHeight === null || flags === null) return null;
  let widthPx = screenWidth;
  let heightPx = screenHeight;
  let sawImage = false;
  // Skip the global colour table when there is one: 3 bytes × 2^(size+1) entries.
  let at = 13 + ((flags & 0x80) !== 0 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  for (let blocks = 0; blocks < MAX_GIF_BLOCKS; blocks++) {
    const introducer = r.u8(at);
    if (introducer === 0x3b) return sawImage ? image('gif', widthPx, heightPx) : null;
    if (introducer === 0x2c) {
      const left = r.u16le(at + 1);
      const top = r.u16le(at + 3);
      const frameWidth = r.u16le(at + 5);
      const frameHeight = r.u16le(at + 7);
      const frameFlags = r.u8(at + 9);
      if (left === null || top === null || frameWidth === null || frameHeight === null || frameFlags === null) return null;
      widthPx = Math.max(widthPx, left + frameWidth);
      heightPx = Math.max(heightPx, top + frameHeight);
      sawImage = true;
      // Local colour table, then the LZW minimum code size byte, then the data sub-blocks.
      at += 10 + ((frameFlags & 0x80) !== 0 ? 3 * 2 ** ((frameFlags & 0x07) + 1) : 0) + 1;
    } else if (introducer === 0x21) {
      at += 2; // introducer and label, then sub-blocks
    } else {
      return null;
    }
    // Sub-blocks: a length byte then that many bytes, until a zero length.
    for (let size = r.u8(at); size !== 0; size = r.u8(at)) {
      if (size === null) return null;
      at += 1 + size;
    }
    at += 1;
  }
  return null;
}

/** DHT, JPG and DAC share the SOF range (C0..CF) but are not frame headers. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Markers that stand alone without a length: TEM, RST0..7 (and a stray SOI, which some encoders repeat). */
function isStandaloneMarker(marker: number): boolean {
  return marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8);
}

/**
 * Walks the marker segments after SOI to the first frame header. Every step moves forward by at least
 * two bytes, so hostile lengths cannot make it loop; start of scan or end of image before a frame is null.
 */
function sniffJpeg(r: Reader): SniffedImage | null {
  let at = 2;
  while (at < r.length) {
    if (r.u8(at) !== 0xff) return null;
    // Any number of 0xFF fill bytes may precede a marker.
    while (r.u8(at + 1) === 0xff) at += 1;
    const marker = r.u8(at + 1);
    if (marker === null || marker === 0x00) return null;
    if (isStandaloneMarker(marker)) {
      at += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null;
    const segmentBytes = r.u16be(at + 2);
    if (segmentBytes === null || segmentBytes < 2) return null;
    if (isStartOfFrame(marker)) {
      // Segment: length (2), sample precision (1), height (2), width (2).
      if (segmentBytes < 7) return null;
      return image('jpeg', r.u16be(at + 7), r.u16be(at + 5));
    }
    at += 2 + segmentBytes;
  }
  return null;
}

/** RIFF container, then exactly one of the three first-chunk layouts the WebP spec defines. */
function sniffWebp(r: Reader): SniffedImage | null {
  const chunk = r.ascii(12, 4);
  const data = 20;
  switch (chunk) {
    case 'VP8 ': {
      // Frame tag (3 bytes, bit 0 clear on a key frame), start code 9D 01 2A, then 14-bit dimensions.
      const frameTag = r.u8(data);
      if (frameTag === null || (frameTag & 0x01) !== 0 || !r.startsWith(data + 3, [0x9d, 0x01, 0x2a])) return null;
      const width = r.u16le(data + 6);
      const height = r.u16le(data + 8);
      return image('webp', width === null ? null : width & 0x3fff, height === null ? null : height & 0x3fff);
    }
    case 'VP8L': {
      // Signature 0x2F, then 14 bits width-1, 14 bits height-1, 1 bit alpha, 3 bits version (must be 0).
      const b0 = r.u8(data + 1);
      const b1 = r.u8(data + 2);
      const b2 = r.u8(data + 3);
      const b3 = r.u8(data + 4);
      if (r.u8(data) !== 0x2f || b0 === null || b1 === null || b2 === null || b3 === null || b3 >> 5 !== 0) return null;
      const width = 1 + (b0 | ((b1 & 0x3f) << 8));
      const height = 1 + ((b1 >> 6) | (b2 << 2) | ((b3 & 0x0f) << 10));
      return image('webp', width, height);
    }
    case 'VP8X': {
      // Flags (1), reserved (3), canvas width-1 (u24le), canvas height-1 (u24le).
      const width = r.u24le(data + 4);
      const height = r.u24le(data + 7);
      return image('webp', width === null ? null : width + 1, height === null ? null : height + 1);
    }
    default:
      return null;
  }
}

interface Box {
  readonly type: string;
  /** Where the box's content starts (after its header) and ends (exclusive), clamped to what `head` holds. */
  readonly contentStart: number;
  readonly end: number;
}

/**
 * The ISO-BMFF boxes directly inside [start, end). A box that claims to run past `end` is clamped,
 * because `head` may cut a large box short; iteration stops at a malformed size. Each box is at least
 * 8 bytes, so the walk is linear in the bytes examined.
 */
function childBoxes(r: Reader, start: number, end: number): Box[] {
  const boxes: Box[] = [];
  let at = start;
  while (at + 8 <= end) {
    const size32 = r.u32be(at);
    const type = r.ascii(at + 4, 4);
    if (size32 === null || type === null) break;
    let headerBytes = 8;
    let sizeBytes: number;
    if (size32 === 0) {
      sizeBytes = end - at;
    } else if (size32 === 1) {
      const high = r.u32be(at + 8);
      const low = r.u32be(at + 12);
      if (high === null || low === null) break;
      headerBytes = 16;
      sizeBytes = high * 0x100000000 + low;
    } else {
      sizeBytes = size32;
    }
    if (sizeBytes < headerBytes) break;
    const boxEnd = Math.min(end, at + sizeBytes);
    boxes.push({ type, contentStart: at + headerBytes, end: boxEnd });
    at = boxEnd;
  }
  return boxes;
}

function findChild(r: Reader, parent: { readonly start: number; readonly end: number }, type: string): Box | null {
  return childBoxes(r, parent.start, parent.end).find((box) => box.type === type) ?? null;
}

/** Full boxes (meta, pitm, ipma, ispe) start with a version byte and 24 flag bits. */
const FULL_BOX_HEADER_BYTES = 4;

/** The primary item's id from `pitm`, or null. */
function primaryItemId(r: Reader, meta: { readonly start: number; readonly end: number }): number | null {
  const pitm = findChild(r, meta, 'pitm');
  if (pitm === null) return null;
  const version = r.u8(pitm.contentStart);
  const idAt = pitm.contentStart + FULL_BOX_HEADER_BYTES;
  return version === 0 ? r.u16be(idAt) : r.u32be(idAt);
}

/** The 1-based `ipco` property indices that `ipma` associates with `itemId`, in order; empty if none or malformed. */
function propertyIndicesOf(r: Reader, ipma: Box, itemId: number): number[] {
  const version = r.u8(ipma.contentStart);
  const flags = r.u8(ipma.contentStart + 3);
  const entryCount = r.u32be(ipma.contentStart + FULL_BOX_HEADER_BYTES);
  if (version === null || flags === null || entryCount === null) return [];
  const idBytes = version < 1 ? 2 : 4;
  const indexBytes = (flags & 0x01) !== 0 ? 2 : 1;
  let at = ipma.contentStart + FULL_BOX_HEADER_BYTES + 4;
  // Each entry takes at least 3 bytes, so the loop is bounded by the box size, whatever entryCount claims.
  for (let entry = 0; entry < entryCount && at < ipma.end; entry++) {
    const id = idBytes === 2 ? r.u16be(at) : r.u32be(at);
    const count = r.u8(at + idBytes);
    if (id === null || count === null) return [];
    at += idBytes + 1;
    if (at + count * indexBytes > ipma.end) return [];
    if (id === itemId) {
      const indices: number[] = [];
      for (let i = 0; i < count; i++) {
        const raw = indexBytes === 2 ? r.u16be(at + i * 2) : r.u8(at + i);
        // The top bit marks the property as essential; the rest is the index.
        if (raw !== null) indices.push(indexBytes === 2 ? raw & 0x7fff : raw & 0x7f);
      }
      return indices;
    }
    at += count * indexBytes;
  }
  return [];
}

function ispeSize(r: Reader, ispe: Box): { readonly widthPx: number | null; readonly heightPx: number | null } {
  return { widthPx: r.u32be(ispe.contentStart + FULL_BOX_HEADER_BYTES), heightPx: r.u32be(ispe.contentStart + FULL_BOX_HEADER_BYTES + 4) };
}

/**
 * `ftyp` must name `avif` or `avis` as its major or a compatible brand. The size is the `ispe` property
 * of the primary item (pitm + ipma inside meta/iprp), which matters for grid images whose tiles carry
 * their own `ispe`; without pitm/ipma, the first `ispe` in `ipco` is used.
 */
function sniffAvif(r: Reader): SniffedImage | null {
  const ftypBytes = r.u32be(0);
  if (ftypBytes === null || ftypBytes < 16 || ftypBytes > r.length || ftypBytes % 4 !== 0) return null;
  const brands: string[] = [];
  for (let at = 8; at + 4 <= ftypBytes; at += 4) {
    // Bytes 12..16 are the minor version, not a brand.
    if (at !== 12) brands.push(r.ascii(at, 4) ?? '');
  }
  if (!brands.includes('avif') && !brands.includes('avis')) return null;
  const metaBox = findChild(r, { start: ftypBytes, end: r.length }, 'meta');
  if (metaBox === null) return null;
  const meta = { start: metaBox.contentStart + FULL_BOX_HEADER_BYTES, end: metaBox.end };
  const iprpBox = findChild(r, meta, 'iprp');
  if (iprpBox === null) return null;
  const iprp = { start: iprpBox.contentStart, end: iprpBox.end };
  const ipcoBox = findChild(r, iprp, 'ipco');
  if (ipcoBox === null) return null;
  const properties = childBoxes(r, ipcoBox.contentStart, ipcoBox.end);
  const primary = primaryItemId(r, meta);
  const ipma = findChild(r, iprp, 'ipma');
  if (primary !== null && ipma !== null) {
    const indices = propertyIndicesOf(r, ipma, primary);
    const ispe = indices.map((index) => properties[index - 1]).find((box) => box?.type === 'ispe');
    if (ispe !== undefined) {
      const { widthPx, heightPx } = ispeSize(r, ispe);
      return image('avif', widthPx, heightPx);
    }
  }
  const firstIspe = properties.find((box) => box.type === 'ispe');
  if (firstIspe === undefined) return null;
  const { widthPx, heightPx } = ispeSize(r, firstIspe);
  return image('avif', widthPx, heightPx);
}

/**
 * Null for anything that is not one of the five formats with a complete, plausible header (SVG and HTML
 * included). Only the first MAX_SNIFF_BYTES are read, except for GIFs, which must be passed whole.
 */
export function sniffRasterImage(bytes: Uint8Array): SniffedImage | null {
  const whole = new Reader(bytes);
  if (whole.ascii(0, 6) === 'GIF87a' || whole.ascii(0, 6) === 'GIF89a') return sniffGif(whole);
  const r = new Reader(bytes.subarray(0, MAX_SNIFF_BYTES));
  if (r.startsWith(0, PNG_SIGNATURE)) return sniffPng(r);
  if (r.startsWith(0, [0xff, 0xd8, 0xff])) return sniffJpeg(r);
  if (r.ascii(0, 4) === 'RIFF' && r.ascii(8, 4) === 'WEBP') return sniffWebp(r);
  if (r.ascii(4, 4) === 'ftyp') return sniffAvif(r);
  return null;
}
