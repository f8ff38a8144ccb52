/**
 * A member's id in a room (spec §12.2): derived from the identity key it proved in the session (a profile's
 * long-term key, or a guest's key for this room session), so nobody can claim another member's id.
 */
import { bytesToBase64url, framedConcat, toBufferSource, utf8 } from '../encoding.ts';
import { MEMBER_ID_BYTES } from '../protocol/groupMessages.ts';

export async function memberIdOf(publicKeySpki: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', toBufferSource(framedConcat(utf8('parley/v2 member id'), publicKeySpki)));
  return bytesToBase64url(new Uint8Array(digest).subarray(0, MEMBER_ID_BYTES));
}
