/** The transfer frames as they go on the wire: sizes against the frame limit, and the test vectors of PROTOCOL.md §7.2. */
import { describe, expect, it } from 'vitest';
import { FrameOpener, FrameSealer } from '../../src/core/crypto/sessionCipher.ts';
import { FrameType, MAX_FRAME_BYTES, parseFrame } from '../../src/core/protocol/frames.ts';
import { MAX_CHUNK_BYTES } from '../../src/core/transfer/transferLimits.ts';
import { CHUNK_HEADER_BYTES, DIGEST_TRAILER_BYTES, encodeChunkHeader } from '../../src/core/transfer/transferMessages.ts';

const ID = 'AAECAwQFBgcICQoLDA0ODw';

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
