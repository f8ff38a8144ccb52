/**
 * Binary frames on the data channel. Header: version (u8), type (u8), sequence number (u64, big endian).
 * Hello and confirm carry a plaintext body; every later frame's body, from the identity frame on, is AES-GCM
 * ciphertext (see sessionCipher).
 */

/**
 * Version 3: replies, deletions and typing (spec §12.5), and file transfers with 255 KiB parts and a hash-list
 * digest (§7.9, §7.14). Version 2 brought group rooms, version 1 was the two-person protocol. A peer of another
 * version fails at the first frame.
 */
export const FRAME_VERSION = 3;
export const FRAME_HEADER_BYTES = 10;
/** Chromium refuses data-channel messages over 262144 bytes, so nothing larger is ever legitimate. */
export const MAX_FRAME_BYTES = 262_144;

export const FrameType = {
  hello: 0x01,
  confirm: 0x02,
  /** The sender's identity (guest, or a signed profile), sealed; the first sealed frame in each direction. */
  identity: 0x03,
  /** A group room's message (§12.5): id, author, seq, time, stream, text. */
  message: 0x12,
  /** Cumulative receipts from a recipient to an author: delivered and read up to a seq. */
  receipts: 0x13,
  /** Liveness: sent when idle; answered at once with a pong carrying the same counter. */
  ping: 0x14,
  pong: 0x15,
  /** The sender leaves the room: end this session now, the member has left. */
  bye: 0x16,
  /** Digests of the group messages the sender showed, for members to compare (§12.8). */
  digests: 0x17,
  /** A group room's message that answers an earlier one (§12.5): a message's fields and the id it replies to. */
  reply: 0x18,
  /** The author takes back one of its own messages (§12.5): a message's fields and the id of the one to delete. */
  deletion: 0x19,
  /** The sender is writing a message to the receiver (or stopped): at most one every few seconds (§12.5). */
  typing: 0x1a,
  /** Transfer control (offer, accept, ack, cancel, complete): sealed JSON. */
  transferControl: 0x20,
  /** One chunk of a file: a clear 21-byte chunk header, authenticated as additional data, then sealed bytes. */
  transferChunk: 0x21,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];
export type HandshakeFrameType = typeof FrameType.hello | typeof FrameType.confirm;
export type SealedFrameType =
  | typeof FrameType.identity
  | typeof FrameType.message
  | typeof FrameType.receipts
  | typeof FrameType.ping
  | typeof FrameType.pong
  | typeof FrameType.bye
  | typeof FrameType.digests
  | typeof FrameType.reply
  | typeof FrameType.deletion
  | typeof FrameType.typing
  | typeof FrameType.transferControl
  | typeof FrameType.transferChunk;

const FRAME_TYPES: ReadonlySet<number> = new Set(Object.values(FrameType));

export interface Frame {
  readonly type: FrameType;
  readonly seq: bigint;
  /** The 10 header bytes, authenticated as additional data of sealed frames. */
  readonly header: Uint8Array;
  readonly body: Uint8Array;
}

export type FrameParseResult = { readonly ok: true; readonly frame: Frame } | { readonly ok: false; readonly reason: string };

function isFrameType(value: number): value is FrameType {
  return FRAME_TYPES.has(value);
}

export function encodeFrameHeader(type: FrameType, seq: bigint): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint8(0, FRAME_VERSION);
  view.setUint8(1, type);
  view.setBigUint64(2, seq);
  return header;
}

/** The frame's header and body are views of `bytes`: callers hand over each message's buffer and never reuse it. */
export function parseFrame(bytes: Uint8Array): FrameParseResult {
  if (bytes.length > MAX_FRAME_BYTES) return { ok: false, reason: `frame of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}` };
  if (bytes.length < FRAME_HEADER_BYTES) return { ok: false, reason: `frame of ${bytes.length} bytes is shorter than its header` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== FRAME_VERSION) return { ok: false, reason: `unsupported frame version ${version}` };
  const type = view.getUint8(1);
  if (!isFrameType(type)) return { ok: false, reason: `unknown frame type ${type}` };
  return {
    ok: true,
    frame: {
      type,
      seq: view.getBigUint64(2),
      // Views, not copies: a file chunk is up to 255 KiB, and decrypting writes a fresh buffer anyway.
      header: bytes.subarray(0, FRAME_HEADER_BYTES),
      body: bytes.subarray(FRAME_HEADER_BYTES),
    },
  };
}
