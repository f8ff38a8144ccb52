/**
 * The plaintext of the sealed identity frame (0x03) each side sends once, right after the handshake: either
 * "guest" or a profile (display name, identity public key, signature). Also the rules a display name obeys.
 *
 * Layout, version 1 (fixed-size fields first, so no length field can disagree with the rest):
 *   guest:   0x01 ‖ 0x02 ‖ spki[91] ‖ signature[64]            (a key made for this room session only, §12.2)
 *   profile: 0x01 ‖ 0x01 ‖ spki[91] ‖ signature[64] ‖ utf8(displayName)[1..256]
 * Kind 0x00, the key-less guest of protocol 1, is refused.
 */
import { assertNever } from '../assertNever.ts';
import { concatBytes, fromUtf8, utf8 } from '../encoding.ts';
import { hasUnsafeNameChar } from '../transfer/fileName.ts';
import { IDENTITY_SIGNATURE_BYTES, IDENTITY_SPKI_BYTES } from '../vault/identity.ts';

export const IDENTITY_MESSAGE_VERSION = 0x01;
const KIND_PROFILE = 0x01;
const KIND_GUEST = 0x02;
const PREFIX_BYTES = 2;
export const MAX_DISPLAY_NAME_CHARS = 64;
/** 64 code points of at most 4 UTF-8 bytes each. */
export const MAX_DISPLAY_NAME_BYTES = MAX_DISPLAY_NAME_CHARS * 4;
const PROFILE_FIXED_BYTES = PREFIX_BYTES + IDENTITY_SPKI_BYTES + IDENTITY_SIGNATURE_BYTES;

export type IdentityMessage =
  | { readonly type: 'guest'; readonly publicKeySpki: Uint8Array; readonly signature: Uint8Array }
  | {
      readonly type: 'profile';
      readonly publicKeySpki: Uint8Array;
      readonly signature: Uint8Array;
      readonly displayName: string;
    };

export type IdentityMessageParseResult =
  | { readonly ok: true; readonly message: IdentityMessage }
  | { readonly ok: false; readonly reason: string };

/** Why a name already trimmed and in NFC cannot be a display name, or null if it can. */
function displayNameProblem(name: string): string | null {
  // Controls, separators and bidi formatting could make one name display as another, or break the line.
  if (hasUnsafeNameChar(name)) return 'the display name has a control, separator or bidi formatting character';
  const chars = [...name].length;
  if (chars < 1 || chars > MAX_DISPLAY_NAME_CHARS) return `the display name has ${chars} characters, not 1..${MAX_DISPLAY_NAME_CHARS}`;
  return null;
}

/**
 * The canonical form of a display name, or null if it cannot be one: NFC, trimmed, 1..64 code points, no
 * control, separator or bidi formatting character, no lone surrogate (it would not survive UTF-8). The name
 * is the peer's own claim; look-alike characters remain possible, which is why the key, not the name, is
 * what identifies a person.
 */
export function normalizeDisplayName(name: string): string | null {
  const normalized = name.normalize('NFC').trim();
  return displayNameProblem(normalized) === null ? normalized : null;
}

function checkKeyFields(message: { readonly publicKeySpki: Uint8Array; readonly signature: Uint8Array }): void {
  if (message.publicKeySpki.length !== IDENTITY_SPKI_BYTES) throw new Error(`an identity SPKI has ${IDENTITY_SPKI_BYTES} bytes`);
  if (message.signature.length !== IDENTITY_SIGNATURE_BYTES) throw new Error(`an identity signature has ${IDENTITY_SIGNATURE_BYTES} bytes`);
}

/** Throws for a profile whose name is not canonical or whose fields have the wrong size: the caller's bug. */
export function encodeIdentityMessage(message: IdentityMessage): Uint8Array {
  switch (message.type) {
    case 'guest':
      checkKeyFields(message);
      return concatBytes(Uint8Array.of(IDENTITY_MESSAGE_VERSION, KIND_GUEST), message.publicKeySpki, message.signature);
    case 'profile': {
      if (normalizeDisplayName(message.displayName) !== message.displayName) throw new Error('the display name is not in canonical form');
      checkKeyFields(message);
      return concatBytes(Uint8Array.of(IDENTITY_MESSAGE_VERSION, KIND_PROFILE), message.publicKeySpki, message.signature, utf8(message.displayName));
    }
    default:
      return assertNever(message, 'identity message');
  }
}

/**
 * Structure only: the version, the kind, the sizes and the display-name rules. Whether the key is a P-256
 * key and whether the signature verifies is for identityProof to decide.
 */
export function parseIdentityMessage(plaintext: Uint8Array): IdentityMessageParseResult {
  if (plaintext.length < PREFIX_BYTES) return { ok: false, reason: `identity message of ${plaintext.length} bytes is too short` };
  if (plaintext[0] !== IDENTITY_MESSAGE_VERSION) return { ok: false, reason: `unsupported identity message version ${String(plaintext[0])}` };
  switch (plaintext[1]) {
    case KIND_GUEST:
      if (plaintext.length !== PROFILE_FIXED_BYTES) return { ok: false, reason: `a guest identity of ${plaintext.length} bytes is not ${PROFILE_FIXED_BYTES}` };
      return { ok: true, message: { type: 'guest', ...keyFields(plaintext) } };
    case KIND_PROFILE:
      return parseProfile(plaintext);
    default:
      return { ok: false, reason: `unknown identity kind ${String(plaintext[1])}` };
  }
}

function parseProfile(plaintext: Uint8Array): IdentityMessageParseResult {
  const nameBytes = plaintext.length - PROFILE_FIXED_BYTES;
  if (nameBytes < 1 || nameBytes > MAX_DISPLAY_NAME_BYTES) {
    return { ok: false, reason: `a profile identity of ${plaintext.length} bytes has no room for a name of 1..${MAX_DISPLAY_NAME_BYTES} bytes` };
  }
  const displayName = fromUtf8(plaintext.subarray(PROFILE_FIXED_BYTES));
  if (displayName === null) return { ok: false, reason: 'the display name is not valid UTF-8' };
  // Canonical form only, so that the signed bytes are the one spelling of the name that is shown.
  if (displayName !== displayName.normalize('NFC').trim()) return { ok: false, reason: 'the display name is not trimmed or not NFC' };
  const problem = displayNameProblem(displayName);
  if (problem !== null) return { ok: false, reason: problem };
  return { ok: true, message: { type: 'profile', ...keyFields(plaintext), displayName } };
}

function keyFields(plaintext: Uint8Array): { readonly publicKeySpki: Uint8Array; readonly signature: Uint8Array } {
  const spkiEnd = PREFIX_BYTES + IDENTITY_SPKI_BYTES;
  return { publicKeySpki: plaintext.slice(PREFIX_BYTES, spkiEnd), signature: plaintext.slice(spkiEnd, PROFILE_FIXED_BYTES) };
}
