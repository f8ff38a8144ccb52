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

describe('chunk frames and the message limit', () => {
  it('a chunk is a 31-byte frame and then its sealed data, exactly the ciphertext and tag; the largest a receiver accepts fits one message', async () => {
    const key = await vectorKey();
    const seal = (dataBytes: number) =>
      new FrameSealer(key, 'initiator-to-responder').sealSplit(FrameType.transferChunk, new Uint8Array(dataBytes), encodeChunkHeader({ id: ID, index: 0, isLast: true }));
    const { frame, sealedData } = await seal(MAX_CHUNK_BYTES + DIGEST_TRAILER_BYTES);
    expect(frame.length).toBe(10 + CHUNK_HEADER_BYTES);
    expect(sealedData.length).toBe(MAX_CHUNK_BYTES + DIGEST_TRAILER_BYTES + 16);
    // Sent as WebCrypto returned it: the whole of its own buffer, not a view into a copy.
    expect(sealedData.byteOffset).toBe(0);
    expect(sealedData.buffer.byteLength).toBe(sealedData.length);
    expect(sealedData.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const parsed = parseFrame(frame);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect((await new FrameOpener(key, 'initiator-to-responder').open(parsed.frame, sealedData)).ok).toBe(true);
    await expect(seal(MAX_FRAME_BYTES - 16 + 1)).rejects.toThrow('does not fit one message');
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

describe('transfer frames on the wire (frame version 4): the PROTOCOL.md §7.2 vectors', () => {
  const sealedChunk = async (data: Uint8Array) => {
    const { frame, sealedData } = await new FrameSealer(await vectorKey(), 'initiator-to-responder').sealSplit(FrameType.transferChunk, data, encodeChunkHeader({ id: ID, index: 0, isLast: true }));
    return { frame: hex(frame), sealedData: hex(sealedData) };
  };
  const sealed = async (type: typeof FrameType.transferControl, plaintext: Uint8Array, direction: 'initiator-to-responder' | 'responder-to-initiator') =>
    hex(await new FrameSealer(await vectorKey(), direction).seal(type, plaintext));

  it('the one chunk of the 5-byte file "hello": its bytes, then its content digest; without its last flag it does not open', async () => {
    const data = concatBytes(utf8('hello'), await contentDigest(utf8('hello'), MAX_CHUNK_BYTES));
    const { frame, sealedData } = await sealedChunk(data);
    expect(frame).toBe('04210000000000000000' + '000102030405060708090a0b0c0d0e0f0000000001');
    // Checked against Node's OpenSSL AES-256-GCM with the same key, IV and AAD.
    expect(sealedData).toBe('2c53a1c663cf616180ac62c1e1563306645a16f386bf49b1461e2586c8a0765358cf09589149e9c4439f3aa32989cd4ca26a60d256');
    const opener = async (clearBytes: Buffer) => {
      const parsed = parseFrame(clearBytes);
      if (!parsed.ok) throw new Error(parsed.reason);
      return (await new FrameOpener(await vectorKey(), 'initiator-to-responder').open(parsed.frame, Buffer.from(sealedData, 'hex'))).ok;
    };
    expect(await opener(Buffer.from(frame, 'hex'))).toBe(true);
    const unflagged = Buffer.from(frame, 'hex');
    unflagged[30] = 0;
    expect(await opener(unflagged)).toBe(false);
  });

  it('the one chunk of a 0-byte file: only the content digest', async () => {
    const data = await contentDigest(new Uint8Array(0), MAX_CHUNK_BYTES);
    expect(await sealedChunk(data)).toEqual({ frame: '04210000000000000000' + '000102030405060708090a0b0c0d0e0f0000000001', sealedData: '19c02d487a49ad7b55be10952794aa4c64be9a859b0160fa8fdd18a95321aa862e8f1cb76d55eb8cdd65e98d2de36b68' });
  });

  it('an accept from the responder', async () => {
    const accept = encodeTransferControl({ type: 'accept', id: ID, offsetBytes: 0 });
    expect(await sealed(FrameType.transferControl, accept, 'responder-to-initiator')).toBe(
      '04200000000000000000' +
        'd75e2eb7e265d414792166ef60712a720f33e05fe0db7c3df98bb0936b8c8b007cc8c303a1322123b34db9286686d30e997819c879091c9c148ea0a40eb5c60e894fbfa35b1b7ceb39cf5a4a0ad36d',
    );
  });
});
