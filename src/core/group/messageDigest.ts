/** The digest of a group message that members exchange to notice different versions of it (spec §12.8). */
import { base64urlToBytes, bytesToBase64url, framedConcat, toBufferSource, utf8 } from '../encoding.ts';
import { assertNever } from '../assertNever.ts';
import { DIGEST_BYTES, type GroupMessage, type MessageBody } from '../protocol/groupMessages.ts';

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

/** What the digest covers of a message's body, under a label of its own for each kind (§12.8). */
function bodyParts(body: MessageBody): readonly [Uint8Array, ...Uint8Array[]] {
  switch (body.type) {
    case 'text':
      return body.replyTo === null ? [utf8('parley/v2 message digest'), utf8(body.text)] : [utf8('parley/v2 reply digest'), rawId(body.replyTo, 'replied id'), utf8(body.text)];
    case 'deletion':
      return [utf8('parley/v2 deletion digest'), rawId(body.target, 'deleted id')];
    default:
      return assertNever(body, 'message body');
  }
}

/**
 * `SHA-256(framedConcat(label, author, u64be(seq), id, u64be(writtenAtMs), …body))[0:16]`, base64url: for a plain
 * text message the label "parley/v2 message digest" and the text, for a reply "parley/v2 reply digest", the id it
 * answers and the text, for a deletion "parley/v2 deletion digest" and the deleted id.
 */
export async function messageDigest(message: GroupMessage): Promise<string> {
  const [label, ...body] = bodyParts(message.body);
  const input = framedConcat(label, rawId(message.author, 'author'), u64be(message.seq), rawId(message.id, 'message id'), u64be(message.writtenAtMs), ...body);
  const digest = await crypto.subtle.digest('SHA-256', toBufferSource(input));
  return bytesToBase64url(new Uint8Array(digest).subarray(0, DIGEST_BYTES));
}
