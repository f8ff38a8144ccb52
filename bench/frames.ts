/**
 * Exact data-channel frame sizes and the per-message frame work, from Parley's own encoder, sealer and parsers (in
 * Node, where WebCrypto is global, and in the bench page): a frame is only counted once the receiving side has
 * parsed, opened and read it back.
 */
import { FrameOpener, FrameSealer } from '../src/core/crypto/sessionCipher.ts';
import { bytesToBase64url } from '../src/core/encoding.ts';
import { parseFrame } from '../src/core/protocol/frames.ts';
import { encodeGroupFrame, MEMBER_ID_BYTES, MESSAGE_ID_BYTES, parseGroupFrame, textSizeBytes, type GroupFrame, type GroupMessage, textBody } from '../src/core/protocol/groupMessages.ts';
import { systemRandom } from '../src/core/ports.ts';

export type FrameSizes = {
  readonly textChars: number;
  readonly textBytes: number;
  /** The 0x12 message frame carrying the text to one addressee. */
  readonly messageFrameBytes: number;
  /** The 0x13 receipts frame that acknowledges it. */
  readonly receiptsFrameBytes: number;
};

/** One direction of a session with both ends here: a sealer and an opener for the same fresh key. */
export interface SealedDirection {
  readonly sealer: FrameSealer;
  readonly opener: FrameOpener;
}

/** A sealer and an opener for the same fresh key and direction, keys imported as the handshake imports them. */
export async function sealerOpenerPair(direction: 'initiator-to-responder' | 'responder-to-initiator' = 'initiator-to-responder'): Promise<SealedDirection> {
  const raw = systemRandom.bytes(32);
  const [sealKey, openKey] = await Promise.all([
    crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, ['encrypt']),
    crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, ['decrypt']),
  ]);
  return { sealer: new FrameSealer(sealKey, direction), opener: new FrameOpener(openKey, direction) };
}

/** A group message as GroupChat writes one: fresh id, the author's member id, its next seq, now. */
export function sampleMessage(text: string, seq = 1): GroupMessage {
  const id = (bytes: number): string => bytesToBase64url(systemRandom.bytes(bytes));
  return { id: id(MESSAGE_ID_BYTES), author: id(MEMBER_ID_BYTES), seq, writtenAtMs: Date.now(), stream: 'group', body: textBody(text) };
}

/**
 * What the two SecureSessions do with one group frame: encode and seal it, then parse, open and read it back.
 * Returns the frame's size on the wire.
 */
export async function carry(frame: GroupFrame, link: SealedDirection): Promise<number> {
  const { type, plaintext } = encodeGroupFrame(frame);
  const sealed = await link.sealer.seal(type, plaintext);
  const parsed = parseFrame(sealed);
  if (!parsed.ok) throw new Error(`our own frame does not parse: ${parsed.reason}`);
  const opened = await link.opener.open(parsed.frame);
  if (!opened.ok) throw new Error(`our own frame does not open: ${opened.reason}`);
  // The receiver dispatches on the frame's type byte; encodeGroupFrame's `type` is that same byte.
  const read = parseGroupFrame(type, opened.plaintext);
  if (!read.ok || read.frame.type !== frame.type) throw new Error('our own frame does not read back');
  return sealed.length;
}

/** Sizes of the message frame carrying `text` and of the receipts that answer it. */
export async function frameSizes(text: string): Promise<FrameSizes> {
  // One direction is enough: both directions use the same frame layout.
  const link = await sealerOpenerPair();
  const messageFrameBytes = await carry({ type: 'message', message: sampleMessage(text) }, link);
  const receiptsFrameBytes = await carry({ type: 'receipts', deliveredSeq: 1, readSeq: 1 }, link);
  return { textChars: [...text].length, textBytes: textSizeBytes(text), messageFrameBytes, receiptsFrameBytes };
}

/** The size on the wire of any other group frame (digests, ping), sealed and read back as above. */
export async function groupFrameBytes(frame: GroupFrame): Promise<number> {
  return carry(frame, await sealerOpenerPair());
}
