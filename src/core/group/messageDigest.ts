/** The digest of a group message that members exchange to notice different versions of it (spec §12.8). */
import { base64urlToBytes, bytesToBase64url, framedConcat, toBufferSource, utf8 } from '../encoding.ts';
import { DIGEST_BYTES, type GroupMessage } from '../protocol/groupMessages.ts';

function u64be(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
  return bytes;
}

function rawId(text: string, what: string): Uint8Array {
  const bytes = base64urlToBytes(text);
  if (bytes === null) throw new Error(`${what} ${text} is not base64url`);
  return bytes;
}

/** `SHA-256(framedConcat("parley/v2 message digest", author, u64be(seq), id, u64be(writtenAtMs), text))[0:16]`, base64url. */
export async function messageDigest(message: GroupMessage): Promise<string> {
  const input = framedConcat(
    utf8('parley/v2 message digest'),
    rawId(message.author, 'author'),
    u64be(message.seq),
    rawId(message.id, 'message id'),
    u64be(message.writtenAtMs),
    utf8(message.text),
  );
  const digest = await crypto.subtle.digest('SHA-256', toBufferSource(input));
  return bytesToBase64url(new Uint8Array(digest).subarray(0, DIGEST_BYTES));
}
