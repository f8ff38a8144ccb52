/**
 * Seals and opens data-channel frames for one direction of one session. The IV is a 4-byte direction
 * prefix followed by the 64-bit sequence number, so it never repeats under a key; the header (and a split frame's
 * clear part) is the additional data; the opener accepts only the next sequence number, refusing replays and reorders.
 */
import { concatBytes, toBufferSource } from '../encoding.ts';
import { encodeFrameHeader, FRAME_HEADER_BYTES, MAX_FRAME_BYTES, type Frame, type SealedFrameType } from '../protocol/frames.ts';

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
/** Largest plaintext whose sealed data still fits one message of its own (a chunk's, see `sealSplit`). */
export const MAX_SPLIT_PLAINTEXT_BYTES = MAX_FRAME_BYTES - GCM_TAG_BYTES;

/** A frame with a clear part and the message that follows it with the sealed data (spec §6.2). */
export interface SplitFrame {
  /** `header ‖ associated`. */
  readonly frame: Uint8Array;
  /** `ciphertext ‖ tag`, exactly as WebCrypto returned it: never copied. */
  readonly sealedData: Uint8Array;
}

export class FrameSealer {
  private nextSeq = 0n;

  constructor(
    private readonly key: CryptoKey,
    private readonly direction: Direction,
  ) {}

  /**
   * Seals `plaintext` into one frame: header, then ciphertext and tag; the header is the additional data. The sequence
   * number is taken when seal is called, so several seals may run at once; callers must send the frames in the order
   * they called seal (or sealSplit).
   */
  async seal(type: SealedFrameType, plaintext: Uint8Array): Promise<Uint8Array> {
    if (plaintext.length > MAX_SEALED_PLAINTEXT_BYTES) throw new Error(`plaintext of ${plaintext.length} bytes does not fit one frame`);
    const { header, sealed } = await this.encrypt(type, plaintext, EMPTY);
    return concatBytes(header, sealed);
  }

  /**
   * Seals `plaintext` with a clear, authenticated `associated` part (a chunk header) into two messages: the frame
   * `header ‖ associated`, then the sealed data on its own. Both are sent, in this order, with nothing between them.
   * The ciphertext is the one large part; sending it as WebCrypto returned it saves copying it behind a header
   * (spec §6.2: about as much main-thread time as encrypting it).
   */
  async sealSplit(type: SealedFrameType, plaintext: Uint8Array, associated: Uint8Array): Promise<SplitFrame> {
    if (plaintext.length > MAX_SPLIT_PLAINTEXT_BYTES || FRAME_HEADER_BYTES + associated.length > MAX_FRAME_BYTES) {
      throw new Error(`plaintext of ${plaintext.length} bytes does not fit one message`);
    }
    const { header, sealed } = await this.encrypt(type, plaintext, associated);
    return { frame: concatBytes(header, associated), sealedData: sealed };
  }

  private async encrypt(type: SealedFrameType, plaintext: Uint8Array, associated: Uint8Array): Promise<{ header: Uint8Array; sealed: Uint8Array }> {
    const seq = this.nextSeq;
    this.nextSeq += 1n;
    const header = encodeFrameHeader(type, seq);
    const ciphertext = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: frameIv(this.direction, seq), additionalData: toBufferSource(concatBytes(header, associated)) },
      this.key,
      toBufferSource(plaintext),
    );
    return { header, sealed: new Uint8Array(ciphertext) };
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
   * Opens one frame: its body is the sealed data, or, when `sealedData` is given (the message that followed a split
   * frame, see FrameSealer.sealSplit), its body is the clear associated part and `sealedData` is opened. Call it in
   * arrival order; decryption starts at once, so several frames can be opening while the data channel delivers more.
   * Results settle in call order, and once one frame fails (wrong sequence number or not authentic), this frame and
   * every later one fail: nothing after a bad frame is ever opened.
   */
  open(frame: Frame, sealedData?: Uint8Array): Promise<OpenResult> {
    const problem = frame.seq === this.nextSeq ? null : `expected frame ${this.nextSeq}, got ${frame.seq} (replayed, reordered or dropped)`;
    const associated = sealedData === undefined ? EMPTY : frame.body;
    const decrypting = problem === null ? this.decrypt(frame, associated, sealedData ?? frame.body) : Promise.resolve(null);
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

  /** The plaintext, or null if the frame is not authentic. */
  private async decrypt(frame: Frame, associated: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | null> {
    try {
      const plaintext = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: frameIv(this.direction, frame.seq), additionalData: toBufferSource(concatBytes(frame.header, associated)) },
        this.key,
        toBufferSource(sealed),
      );
      return new Uint8Array(plaintext);
    } catch {
      return null;
    }
  }
}
