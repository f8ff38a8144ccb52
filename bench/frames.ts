/**
 * Exact data-channel frame sizes, produced by Parley's own encoder and sealer in Node (WebCrypto is global in
 * Node 20), and opened again so a size is only reported for a frame the peer would accept.
 */
import { FrameOpener, FrameSealer } from '../src/core/crypto/sessionCipher.ts';
import { bytesToBase64url } from '../src/core/encoding.ts';
import { parseFrame } from '../src/core/protocol/frames.ts';
import { encodeMessage, MESSAGE_ID_BYTES, parseMessage, textSizeBytes, type SessionMessage } from '../src/core/protocol/messages.ts';
import { systemRandom } from '../src/core/ports.ts';

export type FrameSizes = {
  readonly textChars: number;
  readonly textBytes: number;
  readonly chatFrameBytes: number;
  readonly receiptFrameBytes: number;
};

async function sealedSize(message: SessionMessage, sealer: FrameSealer, opener: FrameOpener): Promise<number> {
  const { type, plaintext } = encodeMessage(message);
  const frame = await sealer.seal(type, plaintext);
  const parsed = parseFrame(frame);
  if (!parsed.ok) throw new Error(`our own frame does not parse: ${parsed.reason}`);
  const opened = await opener.open(parsed.frame);
  if (!opened.ok) throw new Error(`our own frame does not open: ${opened.reason}`);
  const read = parseMessage(type, opened.plaintext);
  if (!read.ok || read.message.type !== message.type) throw new Error('our own frame does not read back');
  return frame.length;
}

/** A sealer and an opener for the same fresh key and direction: one side of a session, both ends. */
export async function sealerOpenerPair(): Promise<{ readonly sealer: FrameSealer; readonly opener: FrameOpener }> {
  const raw = systemRandom.bytes(32);
  const [sealKey, openKey] = await Promise.all([
    crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, ['encrypt']),
    crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, ['decrypt']),
  ]);
  return { sealer: new FrameSealer(sealKey, 'initiator-to-responder'), opener: new FrameOpener(openKey, 'initiator-to-responder') };
}

/** Sizes of the chat frame carrying `text` and of the receipt that answers it. */
export async function frameSizes(text: string): Promise<FrameSizes> {
  // One direction is enough: both directions use the same frame layout.
  const { sealer, opener } = await sealerOpenerPair();
  const id = bytesToBase64url(systemRandom.bytes(MESSAGE_ID_BYTES));
  const chatFrameBytes = await sealedSize({ type: 'chat', id, text }, sealer, opener);
  const receiptFrameBytes = await sealedSize({ type: 'receipt', id }, sealer, opener);
  return { textChars: [...text].length, textBytes: textSizeBytes(text), chatFrameBytes, receiptFrameBytes };
}
