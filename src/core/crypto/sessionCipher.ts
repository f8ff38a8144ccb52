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
   * `associated` together are the additional data. The sequence number is taken when seal is called, so several
   * seals may run at once; callers must send the frames in the order they called seal.
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
  /** The sequence number the next call must carry: taken when open is called, so opens can overlap. */
  private nextSeq = 0n;
  /** Settles with whether every frame handed over so far opened; each result waits for the one before it. */
  private previous: Promise<boolean> = Promise.resolve(true);

  constructor(
    private readonly key: CryptoKey,
    private readonly direction: Direction,
  ) {}

  /**
   * Opens one frame whose body starts with `associatedBytes` of clear, authenticated data (0 for most types). Call it
   * in arrival order; decryption starts at once, so several frames can be opening while the data channel delivers
   * more. Results settle in call order, and once one frame fails (wrong sequence number, too short, or not
   * authentic), this frame and every later one fail: nothing after a bad frame is ever opened.
   */
  open(frame: Frame, associatedBytes = 0): Promise<OpenResult> {
    const problem = this.problemOf(frame, associatedBytes);
    const decrypting = problem === null ? this.decrypt(frame, associatedBytes) : Promise.resolve(null);
    if (problem === null) this.nextSeq += 1n;
    const result = this.previous.then(async (allOpened): Promise<OpenResult> => {
      if (!allOpened) return { ok: false, reason: `frame ${frame.seq} follows a frame that failed` };
      if (problem !== null) return { ok: false, reason: problem };
      const plaintext = await decrypting;
      return plaintext === null ? { ok: false, reason: `frame ${frame.seq} failed authentication` } : { ok: true, plaintext };
    });
    this.previous = result.then((opened) => opened.ok);
    return result;
  }

  private problemOf(frame: Frame, associatedBytes: number): string | null {
    if (frame.seq !== this.nextSeq) return `expected frame ${this.nextSeq}, got ${frame.seq} (replayed, reordered or dropped)`;
    if (frame.body.length < associatedBytes) return `frame ${frame.seq} is shorter than its clear header`;
    return null;
  }

  /** The plaintext, or null if the frame is not authentic. */
  private async decrypt(frame: Frame, associatedBytes: number): Promise<Uint8Array | null> {
    try {
      const plaintext = await crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: frameIv(this.direction, frame.seq),
          additionalData: toBufferSource(concatBytes(frame.header, frame.body.subarray(0, associatedBytes))),
        },
        this.key,
        toBufferSource(frame.body.subarray(associatedBytes)),
      );
      return new Uint8Array(plaintext);
    } catch {
      return null;
    }
  }
}
