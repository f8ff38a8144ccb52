/** The plaintext inside sealed frames: chat messages and delivery receipts, each with a strict parser. */
import { bytesToBase64url, base64urlToBytes, concatBytes, fromUtf8, utf8 } from '../encoding.ts';
import { FrameType } from './frames.ts';

/** The frame types whose plaintext this module encodes. */
export type MessageFrameType = typeof FrameType.chat | typeof FrameType.receipt;

export const MESSAGE_ID_BYTES = 16;
/** The most text one message may carry, in UTF-8 bytes. */
export const MAX_MESSAGE_TEXT_BYTES = 65_536;

export type SessionMessage =
  | { readonly type: 'chat'; readonly id: string; readonly text: string }
  | { readonly type: 'receipt'; readonly id: string };

export type MessageParseResult = { readonly ok: true; readonly message: SessionMessage } | { readonly ok: false; readonly reason: string };

export function textSizeBytes(text: string): number {
  return utf8(text).length;
}

export function encodeMessage(message: SessionMessage): { readonly type: MessageFrameType; readonly plaintext: Uint8Array } {
  const id = base64urlToBytes(message.id);
  if (id === null || id.length !== MESSAGE_ID_BYTES) throw new Error(`message id ${message.id} is not ${MESSAGE_ID_BYTES} bytes of base64url`);
  switch (message.type) {
    case 'chat': {
      const text = utf8(message.text);
      if (text.length === 0 || text.length > MAX_MESSAGE_TEXT_BYTES) throw new Error(`message text of ${text.length} bytes is outside 1..${MAX_MESSAGE_TEXT_BYTES}`);
      return { type: FrameType.chat, plaintext: concatBytes(id, text) };
    }
    case 'receipt':
      return { type: FrameType.receipt, plaintext: id };
  }
}

export function parseMessage(type: MessageFrameType, plaintext: Uint8Array): MessageParseResult {
  if (plaintext.length < MESSAGE_ID_BYTES) return { ok: false, reason: 'message shorter than its id' };
  const id = bytesToBase64url(plaintext.subarray(0, MESSAGE_ID_BYTES));
  switch (type) {
    case FrameType.chat: {
      const textBytes = plaintext.subarray(MESSAGE_ID_BYTES);
      if (textBytes.length === 0 || textBytes.length > MAX_MESSAGE_TEXT_BYTES) {
        return { ok: false, reason: `chat text of ${textBytes.length} bytes is outside 1..${MAX_MESSAGE_TEXT_BYTES}` };
      }
      const text = fromUtf8(textBytes);
      if (text === null) return { ok: false, reason: 'chat text is not valid UTF-8' };
      return { ok: true, message: { type: 'chat', id, text } };
    }
    case FrameType.receipt:
      if (plaintext.length !== MESSAGE_ID_BYTES) return { ok: false, reason: 'receipt carries more than an id' };
      return { ok: true, message: { type: 'receipt', id } };
  }
}
