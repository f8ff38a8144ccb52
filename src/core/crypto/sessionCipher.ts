/**
 * Seals and opens data-channel frames for one direction of one session. The IV is a 4-byte direction
 * prefix followed by the 64-bit sequence number, so it never repeats under a key; the header is the
 * additional data; the opener accepts only the next sequence number, refusing replays and reorders.
 */
import { concatBytes, toBufferSource } from '../encoding.ts';
import { encodeFrameHeader, MAX_FRAME_BYTES, type Frame, type SealedFrameType } from '../protocol/frames.ts';

export type Direction = 'initiator-to-responder' | 'responder-to-initiator';
const EMPTY = new Uint8Array(0);
const GCM_TAG_BYTES = 16;

function directionPrefix(direction: Direction): Uint8Array {
  return Uint8Array.of(0, 0, 0, direction === 'initiator-to-responder' ? 1 : 2);
}

function frameIv(direction: Direction, seq: bigint): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  iv.set(directionPrefix(direction), 0);
  new DataView(iv.buffer).setBigUint64(4, seq);
  return iv;
}

/** Largest plaintext that still fits one frame after the header and the GCM tag. */
export const MAX_SEALED_PLAINTEXT_BYTES = MAX_FRAME_BYTES - 10 - GCM_TAG_BYTES;

export class FrameSealer {
  private nextSeq = 0n;

  constructor(
    private readonly key: CryptoKey,
    private readonly direction: Direction,
  ) {}

  /**
   * Seals `plaintext` into a frame: header, then `associated` in the clear, then ciphertext; the header and
   * `associated` together are the additional data. Callers must await each seal before the next send:
   * frames must leave in sequence order.
   */
  async seal(type: SealedFrameType, plaintext: Uint8Array, associated: Uint8Array = EMPTY): Promise<Uint8Array> {
    if (associated.length + plaintext.length > MAX_SEALED_PLAINTEXT_BYTES) {
      throw new Error(`plaintext of ${plaintext.length} bytes does not fit one frame`);
    }
    const seq = this.nextSeq;
    this.nextSeq += 1n;
    const header = encodeFrameHeader(type, seq);
    const ciphertext = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: frameIv(this.direction, seq), additionalData: toBufferSource(concatBytes(header, associated)) },
      this.key,
      toBufferSource(plaintext),
    );
    return concatBytes(header, associated, new Uint8Array(ciphertext));
  }
}

export type OpenResult = { readonly ok: true; readonly plaintext: Uint8Array } | { readonly ok: false; readonly reason: string };

export class FrameOpener {
  private expectedSeq = 0n;

  constructor(
    private readonly key: CryptoKey,
    private readonly direction: Direction,
  ) {}

  /**
   * Opens one frame whose body starts with `associatedBytes` of clear, authenticated data (0 for most
   * types). Callers must open frames one at a time, in arrival order.
   */
  async open(frame: Frame, associatedBytes = 0): Promise<OpenResult> {
    if (frame.seq !== this.expectedSeq) {
      return { ok: false, reason: `expected frame ${this.expectedSeq}, got ${frame.seq} (replayed, reordered or dropped)` };
    }
    if (frame.body.length < associatedBytes) return { ok: false, reason: `frame ${frame.seq} is shorter than its clear header` };
    const associated = frame.body.subarray(0, associatedBytes);
    try {
      const plaintext = await crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: frameIv(this.direction, frame.seq),
          additionalData: toBufferSource(concatBytes(frame.header, associated)),
        },
        this.key,
        toBufferSource(frame.body.subarray(associatedBytes)),
      );
      this.expectedSeq += 1n;
      return { ok: true, plaintext: new Uint8Array(plaintext) };
    } catch {
      return { ok: false, reason: `frame ${frame.seq} failed authentication` };
    }
  }
}
