/** The transfer frames as they go on the wire: sizes against the frame limit, and the test vectors of PROTOCOL.md §7.2. */
import { describe, expect, it } from 'vitest';
import { FrameOpener, FrameSealer } from '../../src/core/crypto/sessionCipher.ts';
import { concatBytes, utf8 } from '../../src/core/encoding.ts';
import { FrameType, MAX_FRAME_BYTES, parseFrame } from '../../src/core/protocol/frames.ts';
import { chunkRange, planChunks } from '../../src/core/transfer/chunkPlan.ts';
import { HashList } from '../../src/core/transfer/hashList.ts';
import { MAX_CHUNK_BYTES } from '../../src/core/transfer/transferLimits.ts';
import { CHUNK_HEADER_BYTES, DIGEST_TRAILER_BYTES, encodeChunkHeader, encodeTransferControl } from '../../src/core/transfer/transferMessages.ts';

const ID = 'AAECAwQFBgcICQoLDA0ODw';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The content digest of `content` cut into chunks of `chunkBytes`, through the HashList the sender and receiver use. */
async function contentDigest(content: Uint8Array, chunkBytes: number): Promise<Uint8Array> {
  const plan = planChunks(content.length, chunkBytes);
  const hashes = new HashList();
  for (let index = 0; index < plan.chunkCount; index++) {
    const { startByte, endByte } = chunkRange(plan, index);
    hashes.add(content.subarray(startByte, endByte));
  }
  return hashes.digest();
}

async function vectorKey(): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', Uint8Array.from({ length: 32 }, (_, i) => i), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

describe('chunk frames and the frame limit', () => {
  it('the largest chunk a receiver accepts fits one frame as a last chunk with its digest; 1 KiB more would not', async () => {
    const key = await vectorKey();
    const seal = (dataBytes: number) =>
      new FrameSealer(key, 'initiator-to-responder').seal(FrameType.transferChunk, new Uint8Array(dataBytes), encodeChunkHeader({ id: ID, index: 0, isLast: true }));
    const frame = await seal(MAX_CHUNK_BYTES + DIGEST_TRAILER_BYTES);
    expect(frame.length).toBe(47 + MAX_CHUNK_BYTES + DIGEST_TRAILER_BYTES);
    expect(frame.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const parsed = parseFrame(frame);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect((await new FrameOpener(key, 'initiator-to-responder').open(parsed.frame, CHUNK_HEADER_BYTES)).ok).toBe(true);
    await expect(seal(MAX_CHUNK_BYTES + 1024 + DIGEST_TRAILER_BYTES)).rejects.toThrow('does not fit one frame');
  });
});

describe('the content digest (§7.9): SHA-256 over the SHA-256 of each chunk', () => {
  it('matches the PROTOCOL.md §7.9 vectors', async () => {
    // 2 500 bytes, byte i = i mod 251, chunks of 1 024: three chunks, the last of 452 bytes.
    const file = Uint8Array.from({ length: 2500 }, (_, i) => i % 251);
    expect(hex(await contentDigest(file, 1024))).toBe('38a5ab0aa6069c67d4fcc615f337bcc9c93eb50a8ec56733bdadaea0e4f09ec0');
    // An empty file is one empty chunk: the digest of the digest of nothing.
    expect(hex(await contentDigest(new Uint8Array(0), 1024))).toBe('5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456');
    expect(hex(await contentDigest(utf8('hello'), MAX_CHUNK_BYTES))).toBe('9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50');
  });

  it('depends on where the chunks are cut and on their order, not only on the bytes', async () => {
    const file = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31 + (i >>> 8)) & 0xff);
    const whole = hex(await contentDigest(file, 1024));
    expect(hex(await contentDigest(file, 1500))).not.toBe(whole);
    const swapped = concatBytes(file.subarray(1024, 2048), file.subarray(0, 1024), file.subarray(2048));
    expect(hex(await contentDigest(swapped, 1024))).not.toBe(whole);
  });
});

describe('transfer frames on the wire (frame version 3): the PROTOCOL.md §7.2 vectors', () => {
  const sealed = async (type: typeof FrameType.transferChunk | typeof FrameType.transferControl, plaintext: Uint8Array, associated?: Uint8Array, direction: 'initiator-to-responder' | 'responder-to-initiator' = 'initiator-to-responder') =>
    hex(await new FrameSealer(await vectorKey(), direction).seal(type, plaintext, associated));

  it('the one chunk of the 5-byte file "hello": its bytes, then its content digest; without its last flag it does not open', async () => {
    const data = concatBytes(utf8('hello'), await contentDigest(utf8('hello'), MAX_CHUNK_BYTES));
    const frame = await sealed(FrameType.transferChunk, data, encodeChunkHeader({ id: ID, index: 0, isLast: true }));
    expect(frame).toBe(
      '03210000000000000000' +
        '000102030405060708090a0b0c0d0e0f0000000001' +
        '2c53a1c663cf616180ac62c1e1563306645a16f386bf49b1461e2586c8a0765358cf095891ccd19df7970da253d1d77bcf024b536e',
    );
    const unflagged = Buffer.from(frame, 'hex');
    unflagged[30] = 0;
    const parsed = parseFrame(unflagged);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect((await new FrameOpener(await vectorKey(), 'initiator-to-responder').open(parsed.frame, CHUNK_HEADER_BYTES)).ok).toBe(false);
  });

  it('the one chunk of a 0-byte file: only the content digest', async () => {
    const data = await contentDigest(new Uint8Array(0), MAX_CHUNK_BYTES);
    expect(await sealed(FrameType.transferChunk, data, encodeChunkHeader({ id: ID, index: 0, isLast: true }))).toBe(
      '03210000000000000000' + '000102030405060708090a0b0c0d0e0f0000000001' + '19c02d487a49ad7b55be10952794aa4c64be9a859b0160fa8fdd18a95321aa8627df37655387f920c1b00c8dd2829515',
    );
  });

  it('an accept from the responder', async () => {
    const accept = encodeTransferControl({ type: 'accept', id: ID, offsetBytes: 0 });
    expect(await sealed(FrameType.transferControl, accept, undefined, 'responder-to-initiator')).toBe(
      '03200000000000000000' +
        'd75e2eb7e265d414792166ef60712a720f33e05fe0db7c3df98bb0936b8c8b007cc8c303a1322123b34db9286686d30e997819c879091c9c148ea0a40eb5c68bb1160bab6c1a06b323f83722215255',
    );
  });
});
