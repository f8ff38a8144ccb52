import { describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../../src/core/encoding.ts';
import { MAX_IMAGE_PIXELS, MAX_SNIFF_BYTES, PREVIEW_MAX_EDGE_PX, previewSizePx, sniffRasterImage } from '../../src/core/transfer/imageSniff.ts';
import { seededRandom } from './support/coreFixtures.ts';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const ascii = (text: string): Uint8Array => utf8(text);
const u16be = (n: number): Uint8Array => bytes(n >>> 8, n & 0xff);
const u16le = (n: number): Uint8Array => bytes(n & 0xff, n >>> 8);
const u24le = (n: number): Uint8Array => bytes(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff);
function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}
function u32le(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
}

function png(widthPx: number, heightPx: number): Uint8Array {
  const signature = bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
  const ihdr = concatBytes(u32be(widthPx), u32be(heightPx), bytes(8, 6, 0, 0, 0));
  return concatBytes(signature, u32be(13), ascii('IHDR'), ihdr, bytes(0, 0, 0, 0));
}

/** One GIF image block: descriptor at (left, top) of the given size, no local colour table, a tiny LZW body. */
function gifFrame(widthPx: number, heightPx: number, left = 0, top = 0): Uint8Array {
  return concatBytes(bytes(0x2c), u16le(left), u16le(top), u16le(widthPx), u16le(heightPx), bytes(0), bytes(2, 2, 0x44, 0x01, 0));
}

/** A complete minimal GIF: screen descriptor with a 2-entry global colour table, the frames, the trailer. */
function gif(widthPx: number, heightPx: number, version = 'GIF89a', frames: readonly Uint8Array[] = [gifFrame(widthPx, heightPx)]): Uint8Array {
  return concatBytes(ascii(version), u16le(widthPx), u16le(heightPx), bytes(0x80, 0, 0), new Uint8Array(6), ...frames, bytes(0x3b));
}

function segment(marker: number, payload: Uint8Array): Uint8Array {
  return concatBytes(bytes(0xff, marker), u16be(payload.length + 2), payload);
}

const APP0 = segment(0xe0, concatBytes(ascii('JFIF\0'), bytes(1, 1, 0, 0, 1, 0, 1, 0, 0)));
const DHT = segment(0xc4, new Uint8Array(29));

function sof(marker: number, widthPx: number, heightPx: number): Uint8Array {
  return segment(marker, concatBytes(bytes(8), u16be(heightPx), u16be(widthPx), bytes(3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)));
}

function jpeg(widthPx: number, heightPx: number, marker = 0xc0): Uint8Array {
  return concatBytes(bytes(0xff, 0xd8), APP0, sof(marker, widthPx, heightPx), segment(0xda, new Uint8Array(10)));
}

function riff(chunkType: string, chunkData: Uint8Array): Uint8Array {
  const chunk = concatBytes(ascii(chunkType), u32le(chunkData.length), chunkData);
  return concatBytes(ascii('RIFF'), u32le(4 + chunk.length), ascii('WEBP'), chunk);
}

function webpLossy(widthPx: number, heightPx: number, scaleBits = 0): Uint8Array {
  const frame = concatBytes(bytes(0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a), u16le(widthPx | (scaleBits << 14)), u16le(heightPx | (scaleBits << 14)));
  return riff('VP8 ', frame);
}

function webpLossless(widthPx: number, heightPx: number): Uint8Array {
  const bits = (widthPx - 1) | ((heightPx - 1) << 14);
  return riff('VP8L', concatBytes(bytes(0x2f), u32le(bits >>> 0)));
}

function webpExtended(widthPx: number, heightPx: number): Uint8Array {
  return riff('VP8X', concatBytes(bytes(0x10, 0, 0, 0), u24le(widthPx - 1), u24le(heightPx - 1)));
}

function box(type: string, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(...content);
  return concatBytes(u32be(8 + body.length), ascii(type), body);
}

function fullBox(type: string, version: number, flags: number, ...content: Uint8Array[]): Uint8Array {
  return box(type, bytes(version, (flags >>> 16) & 0xff, (flags >>> 8) & 0xff, flags & 0xff), ...content);
}

const ispe = (widthPx: number, heightPx: number): Uint8Array => fullBox('ispe', 0, 0, u32be(widthPx), u32be(heightPx));
const ftyp = (major: string, ...compatible: string[]): Uint8Array => box('ftyp', ascii(major), u32be(0), ...compatible.map(ascii));
const hdlr = fullBox('hdlr', 0, 0, u32be(0), ascii('pict'), new Uint8Array(13));

function avif(widthPx: number, heightPx: number, brands: readonly string[] = ['avif', 'mif1', 'miaf']): Uint8Array {
  const [major = 'avif', ...compatible] = brands;
  const ipma = fullBox('ipma', 0, 0, u32be(1), u16be(1), bytes(1, 0x81));
  const meta = fullBox('meta', 0, 0, hdlr, fullBox('pitm', 0, 0, u16be(1)), box('iprp', box('ipco', ispe(widthPx, heightPx)), ipma));
  return concatBytes(ftyp(major, ...compatible), meta, box('mdat', new Uint8Array(16)));
}

/** A grid image: tiles carry their own `ispe` first; pitm + ipma say which belongs to the whole picture. */
function avifGrid(withPrimary: boolean, ipmaVersion = 0, ipmaFlags = 0): Uint8Array {
  const itemId = (n: number): Uint8Array => (ipmaVersion === 0 ? u16be(n) : u32be(n));
  const index = (n: number): Uint8Array => ((ipmaFlags & 1) !== 0 ? u16be(0x8000 | n) : bytes(0x80 | n));
  const ipma = fullBox('ipma', ipmaVersion, ipmaFlags, u32be(2), itemId(2), bytes(1), index(1), itemId(1), bytes(1), index(2));
  const pitm = withPrimary ? [fullBox('pitm', 0, 0, u16be(1))] : [];
  const meta = fullBox('meta', 0, 0, hdlr, ...pitm, box('iprp', box('ipco', ispe(512, 512), ispe(2048, 1024)), ipma));
  return concatBytes(ftyp('avif', 'mif1'), meta);
}

describe('sniffRasterImage recognises minimal valid headers', () => {
  it.each([
    ['png', png(640, 480), 640, 480],
    ['gif', gif(320, 200), 320, 200],
    ['gif', gif(1, 1, 'GIF87a'), 1, 1],
    ['jpeg', jpeg(1920, 1080), 1920, 1080],
    ['jpeg', jpeg(3, 5, 0xc2), 3, 5],
    ['webp', webpLossy(800, 600), 800, 600],
    ['webp', webpLossy(16383, 2, 3), 16383, 2],
    ['webp', webpLossless(900, 16384), 900, 16384],
    ['webp', webpLossless(1, 1), 1, 1],
    ['webp', webpExtended(4000, 3000), 4000, 3000],
    ['avif', avif(1280, 720), 1280, 720],
    ['avif', avif(10, 20, ['mif1', 'avif']), 10, 20],
    ['avif', avif(10, 20, ['avis', 'msf1']), 10, 20],
  ])('%s %#', (format, head, widthPx, heightPx) => {
    expect(sniffRasterImage(head)).toEqual({ format, widthPx, heightPx });
  });

  it('reads from a view that does not start at the beginning of its buffer', () => {
    const backing = concatBytes(new Uint8Array(7), png(3, 4));
    expect(sniffRasterImage(backing.subarray(7))).toEqual({ format: 'png', widthPx: 3, heightPx: 4 });
  });

  it('identifies by content, so a PNG is a PNG whatever follows or was announced', () => {
    expect(sniffRasterImage(concatBytes(png(2, 2), ascii('<svg onload=alert(1)>')))?.format).toBe('png');
  });
});

describe('JPEG marker walk', () => {
  it('skips DHT, DAC and JPG, which share the SOF range', () => {
    const dac = segment(0xcc, new Uint8Array(2));
    const jpg = segment(0xc8, new Uint8Array(2));
    const head = concatBytes(bytes(0xff, 0xd8), APP0, DHT, dac, jpg, sof(0xc1, 77, 66));
    expect(sniffRasterImage(head)).toEqual({ format: 'jpeg', widthPx: 77, heightPx: 66 });
  });

  it('accepts fill bytes and standalone markers between segments', () => {
    const head = concatBytes(bytes(0xff, 0xd8), bytes(0xff, 0xff, 0xff), APP0, bytes(0xff, 0xd0), sof(0xc0, 9, 8));
    expect(sniffRasterImage(head)).toEqual({ format: 'jpeg', widthPx: 9, heightPx: 8 });
  });

  it('accepts every SOF marker and no other', () => {
    for (let marker = 0xc0; marker <= 0xcf; marker++) {
      const expected = [0xc4, 0xc8, 0xcc].includes(marker) ? null : { format: 'jpeg', widthPx: 12, heightPx: 34 };
      expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8), sof(marker, 12, 34))), marker.toString(16)).toEqual(expected);
    }
  });

  it('returns null for a scan or the end before any frame header, and for garbage between segments', () => {
    expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8), APP0, segment(0xda, new Uint8Array(4)), sof(0xc0, 1, 1)))).toBeNull();
    expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8), APP0, bytes(0xff, 0xd9), sof(0xc0, 1, 1)))).toBeNull();
    expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8), APP0, bytes(0x00), sof(0xc0, 1, 1)))).toBeNull();
    expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8, 0xff, 0x00), sof(0xc0, 1, 1)))).toBeNull();
  });

  it('returns null when a segment length runs past the head or is below 2', () => {
    expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff), new Uint8Array(100)))).toBeNull();
    expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01), sof(0xc0, 1, 1)))).toBeNull();
    expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00), sof(0xc0, 1, 1)))).toBeNull();
    expect(sniffRasterImage(concatBytes(bytes(0xff, 0xd8), segment(0xc0, bytes(8, 0, 1))))).toBeNull();
  });

  it('does not look past the first 64 KiB', () => {
    const filler = segment(0xe1, new Uint8Array(MAX_SNIFF_BYTES - 100));
    const within = concatBytes(bytes(0xff, 0xd8), filler, sof(0xc0, 5, 5));
    expect(within.length).toBeLessThan(MAX_SNIFF_BYTES);
    expect(sniffRasterImage(within)?.widthPx).toBe(5);
    const beyond = concatBytes(bytes(0xff, 0xd8), segment(0xe1, new Uint8Array(MAX_SNIFF_BYTES)), sof(0xc0, 5, 5));
    expect(sniffRasterImage(beyond)).toBeNull();
  });
});

describe('AVIF box walk', () => {
  it('takes the primary item’s ispe, not the first one (grid images)', () => {
    expect(sniffRasterImage(avifGrid(true))).toEqual({ format: 'avif', widthPx: 2048, heightPx: 1024 });
    expect(sniffRasterImage(avifGrid(true, 1, 0))).toEqual({ format: 'avif', widthPx: 2048, heightPx: 1024 });
    expect(sniffRasterImage(avifGrid(true, 0, 1))).toEqual({ format: 'avif', widthPx: 2048, heightPx: 1024 });
  });

  it('falls back to the first ispe without a primary item', () => {
    expect(sniffRasterImage(avifGrid(false))).toEqual({ format: 'avif', widthPx: 512, heightPx: 512 });
  });

  it('refuses other ISO-BMFF brands (HEIC, MP4) and AVIF without ispe', () => {
    expect(sniffRasterImage(avif(10, 10, ['heic', 'mif1', 'heix']))).toBeNull();
    expect(sniffRasterImage(avif(10, 10, ['isom', 'iso2', 'mp41']))).toBeNull();
    const noIspe = concatBytes(ftyp('avif', 'mif1'), fullBox('meta', 0, 0, hdlr, box('iprp', box('ipco'))));
    expect(sniffRasterImage(noIspe)).toBeNull();
    expect(sniffRasterImage(ftyp('avif', 'mif1'))).toBeNull();
  });

  it('does not take the minor version for a brand', () => {
    const head = avif(10, 10, ['mif1']);
    head.set(ascii('avif'), 12);
    expect(sniffRasterImage(head)).toBeNull();
  });

  it('handles 64-bit and to-the-end box sizes, and refuses sizes below the header', () => {
    const large = concatBytes(u32be(1), ascii('free'), u32be(0), u32be(24), new Uint8Array(8));
    const meta = fullBox('meta', 0, 0, box('iprp', box('ipco', ispe(7, 9))));
    expect(sniffRasterImage(concatBytes(ftyp('avif'), large, meta))).toEqual({ format: 'avif', widthPx: 7, heightPx: 9 });
    const toEnd = concatBytes(u32be(0), meta.subarray(4));
    expect(sniffRasterImage(concatBytes(ftyp('avif'), toEnd))).toEqual({ format: 'avif', widthPx: 7, heightPx: 9 });
    const tiny = concatBytes(u32be(4), ascii('free'));
    expect(sniffRasterImage(concatBytes(ftyp('avif'), tiny, meta))).toBeNull();
  });
});

describe('sniffRasterImage refuses', () => {
  it('SVG, HTML, text and empty input', () => {
    for (const text of ['<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', '<?xml version="1.0"?><svg/>', '<!DOCTYPE html><img src=x>', '<html>', 'GIF8', 'RIFF', 'hello', '']) {
      expect(sniffRasterImage(ascii(text)), text).toBeNull();
    }
  });

  it('truncated headers of every format', () => {
    const samples = [png(640, 480), gif(320, 200), jpeg(100, 50), webpLossy(8, 8), webpLossless(8, 8), webpExtended(8, 8), avif(8, 8)];
    // For AVIF, everything up to the end of its ispe box (4 bytes of type, 4 of version and flags, 8 of size).
    const ispeAt = Buffer.from(avif(8, 8)).indexOf('ispe');
    // A GIF is only complete at its trailer: every frame must be seen.
    const minimalLength = [24, gif(320, 200).length, 2 + APP0.length + 9, 30, 25, 30, ispeAt + 16];
    for (const [i, sample] of samples.entries()) {
      const needed = minimalLength[i] ?? 0;
      expect(sniffRasterImage(sample.subarray(0, needed)), `sample ${i} complete`).not.toBeNull();
      for (let length = 0; length < needed; length++) expect(sniffRasterImage(sample.subarray(0, length)), `sample ${i} at ${length}`).toBeNull();
    }
  });

  it('zero dimensions', () => {
    for (const head of [png(0, 10), png(10, 0), gif(0, 5), jpeg(0, 5), jpeg(5, 0), webpLossy(0, 5), webpLossy(5, 0), avif(0, 5), avif(5, 0)]) {
      expect(sniffRasterImage(head)).toBeNull();
    }
  });

  it('more than MAX_IMAGE_PIXELS, and PNG dimensions beyond 2^31 - 1', () => {
    expect(sniffRasterImage(png(4_000, 4_000))?.widthPx).toBe(4_000);
    expect(4_000 * 4_001).toBeGreaterThan(MAX_IMAGE_PIXELS);
    expect(sniffRasterImage(png(4_000, 4_001))).toBeNull();
    expect(sniffRasterImage(png(7_000, 7_000))).toBeNull();
    expect(sniffRasterImage(jpeg(65_535, 65_535))).toBeNull();
    expect(sniffRasterImage(webpExtended(16_777_216, 16_777_216))).toBeNull();
    expect(sniffRasterImage(png(2 ** 31, 1))).toBeNull();
  });

  it('malformed PNG, WebP and GIF variants', () => {
    const wrongLength = png(5, 5);
    wrongLength.set(u32be(14), 8);
    expect(sniffRasterImage(wrongLength)).toBeNull();
    const notIhdr = png(5, 5);
    notIhdr.set(ascii('IDAT'), 12);
    expect(sniffRasterImage(notIhdr)).toBeNull();
    expect(sniffRasterImage(gif(5, 5, 'GIF88a'))).toBeNull();
    const interFrame = webpLossy(5, 5);
    interFrame[20] = 0x11;
    expect(sniffRasterImage(interFrame)).toBeNull();
    const badStartCode = webpLossy(5, 5);
    badStartCode[23] = 0x9c;
    expect(sniffRasterImage(badStartCode)).toBeNull();
    const badSignature = webpLossless(5, 5);
    badSignature[20] = 0x2e;
    expect(sniffRasterImage(badSignature)).toBeNull();
    const badVersion = webpLossless(5, 5);
    badVersion[24] = (badVersion[24] ?? 0) | 0x20;
    expect(sniffRasterImage(badVersion)).toBeNull();
    expect(sniffRasterImage(riff('ALPH', new Uint8Array(20)))).toBeNull();
  });
});

describe('sniffRasterImage under hostile input', () => {
  const FORMATS = new Set(['png', 'jpeg', 'gif', 'webp', 'avif']);
  const valid = [png(640, 480), gif(320, 200), jpeg(100, 50), concatBytes(bytes(0xff, 0xd8), APP0, DHT, sof(0xc2, 7, 7)), webpLossy(8, 8), webpLossless(8, 8), webpExtended(8, 8), avif(8, 8), avifGrid(true, 1, 1)];

  function expectSane(head: Uint8Array): void {
    const result = sniffRasterImage(head);
    if (result === null) return;
    expect(FORMATS.has(result.format)).toBe(true);
    expect(Number.isSafeInteger(result.widthPx) && result.widthPx > 0).toBe(true);
    expect(Number.isSafeInteger(result.heightPx) && result.heightPx > 0).toBe(true);
    expect(result.widthPx * result.heightPx).toBeLessThanOrEqual(MAX_IMAGE_PIXELS);
  }

  it('never throws and returns null or sane dimensions for 2 000 random and mutated inputs', () => {
    const random = seededRandom(2024);
    const pick = (n: number): number => (random.bytes(4).reduce((acc, b) => acc * 256 + b, 0) >>> 0) % n;
    let recognised = 0;
    for (let round = 0; round < 2_000; round++) {
      let head: Uint8Array;
      if (round % 4 === 0) {
        head = random.bytes(pick(300));
        // Give some random inputs a real signature so the format parsers, not just the dispatch, see noise.
        const prefix = valid[pick(valid.length)]?.subarray(0, 12) ?? new Uint8Array(0);
        if (round % 8 === 0) head = concatBytes(prefix, head);
      } else {
        const base = (valid[pick(valid.length)] ?? new Uint8Array(0)).slice();
        const mutations = 1 + pick(4);
        for (let m = 0; m < mutations; m++) {
          const at = pick(base.length);
          base[at] = round % 3 === 0 ? 0xff : (random.bytes(1)[0] ?? 0);
        }
        head = round % 5 === 0 ? base.subarray(0, pick(base.length + 1)) : base;
      }
      expect(() => expectSane(head)).not.toThrow();
      if (sniffRasterImage(head) !== null) recognised += 1;
    }
    // Mutations that miss the dimensions leave valid images: the fuzz reaches the parsers' success paths.
    expect(recognised).toBeGreaterThan(100);
  });

  // How long these take is for the bench to say; here only that each worst-case shape gets the right answer.
  it('answers worst-case shapes: all fill bytes, endless tiny segments, nested empty boxes', () => {
    expect(sniffRasterImage(new Uint8Array(MAX_SNIFF_BYTES * 2).fill(0xff))).toBeNull();
    const tinySegments = concatBytes(bytes(0xff, 0xd8), ...Array.from({ length: 16_000 }, () => bytes(0xff, 0xe1, 0x00, 0x02)));
    expect(sniffRasterImage(tinySegments)).toBeNull();
    const restarts = concatBytes(bytes(0xff, 0xd8), ...Array.from({ length: 30_000 }, () => bytes(0xff, 0xd0)));
    expect(sniffRasterImage(restarts)).toBeNull();
    const emptyBoxes = concatBytes(ftyp('avif'), ...Array.from({ length: 8_000 }, () => box('free')));
    expect(sniffRasterImage(emptyBoxes)).toBeNull();
    const hugeIpma = concatBytes(ftyp('avif'), fullBox('meta', 0, 0, fullBox('pitm', 0, 0, u16be(9)), box('iprp', box('ipco', ispe(3, 3)), fullBox('ipma', 0, 0, u32be(0xffffffff), new Uint8Array(30_000)))));
    expect(sniffRasterImage(hugeIpma)).toEqual({ format: 'avif', widthPx: 3, heightPx: 3 });
  });
});

describe('GIF frames larger than the logical screen', () => {
  it('reports the extent that covers every frame, not just the screen', () => {
    expect(sniffRasterImage(gif(10, 10, 'GIF89a', [gifFrame(10, 10), gifFrame(300, 20, 5, 0)]))).toEqual({ format: 'gif', widthPx: 305, heightPx: 20 });
  });

  it('refuses a 1×1 screen hiding a 20000×20000 frame (a decompression bomb)', () => {
    expect(sniffRasterImage(gif(1, 1, 'GIF89a', [gifFrame(20_000, 20_000)]))).toBeNull();
  });

  it('refuses a bomb in a later frame of an animation', () => {
    expect(sniffRasterImage(gif(100, 100, 'GIF89a', [gifFrame(100, 100), gifFrame(100, 100), gifFrame(10_000, 10_000)]))).toBeNull();
  });

  it('walks past the first 64 KiB: a large extension before the frame does not hide it', () => {
    const comment = concatBytes(bytes(0x21, 0xfe), ...Array.from({ length: 400 }, () => concatBytes(bytes(255), new Uint8Array(255))), bytes(0));
    expect(comment.length).toBeGreaterThan(64 * 1024);
    expect(sniffRasterImage(gif(1, 1, 'GIF89a', [comment, gifFrame(20_000, 20_000)]))).toBeNull();
    expect(sniffRasterImage(gif(8, 8, 'GIF89a', [comment, gifFrame(8, 8)]))).toEqual({ format: 'gif', widthPx: 8, heightPx: 8 });
  });

  it('refuses a GIF without a frame or without its trailer', () => {
    expect(sniffRasterImage(gif(8, 8, 'GIF89a', []))).toBeNull();
    const whole = gif(8, 8);
    expect(sniffRasterImage(whole.subarray(0, whole.length - 1))).toBeNull();
  });
});

describe('previewSizePx', () => {
  it('fits the longer edge to the preview size, keeps the aspect, never enlarges, never reaches zero', () => {
    expect(previewSizePx(4000, 3000)).toEqual({ widthPx: PREVIEW_MAX_EDGE_PX, heightPx: 960 });
    expect(previewSizePx(3000, 4000)).toEqual({ widthPx: 960, heightPx: PREVIEW_MAX_EDGE_PX });
    expect(previewSizePx(4000, 4000)).toEqual({ widthPx: PREVIEW_MAX_EDGE_PX, heightPx: PREVIEW_MAX_EDGE_PX });
    expect(previewSizePx(40, 30)).toEqual({ widthPx: 40, heightPx: 30 });
    expect(previewSizePx(16_000_000, 1)).toEqual({ widthPx: PREVIEW_MAX_EDGE_PX, heightPx: 1 });
    expect(previewSizePx(1280, 1024)).toEqual({ widthPx: 1280, heightPx: 1024 });
  });
});
