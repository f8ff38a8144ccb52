/**
 * Who is at the other end of a verified session: each side either says it is a guest or proves a profile
 * (a long-term ECDSA P-256 key and a display name) by signing the handshake transcript with that key.
 */
import { assertNever } from '../assertNever.ts';
import { bytesEqual, framedConcat, utf8 } from '../encoding.ts';
import { encodeIdentityMessage, normalizeDisplayName, parseIdentityMessage } from '../protocol/identityMessage.ts';
import { importIdentityPublicKey, signTranscript, verifyTranscriptWithKey } from '../vault/identity.ts';
import type { Role } from './handshake.ts';

/** This side's profile, as the session needs it. */
export interface LocalIdentity {
  readonly displayName: string;
  /** WebCrypto's SPKI export of the public key (91 bytes). */
  readonly publicKeySpki: Uint8Array;
  /** ECDSA P-256, usage 'sign'; ideally non-extractable. */
  readonly privateKey: CryptoKey;
}

/** The peer as verified in this session. A profile's key is canonical SPKI, so keys compare by their bytes. */
export type PeerIdentity =
  | { readonly kind: 'guest' }
  | { readonly kind: 'profile'; readonly displayName: string; readonly publicKeySpki: Uint8Array };

/** The same person as far as the protocol can tell: same kind, same name, same key bytes. */
export function samePeerIdentity(a: PeerIdentity, b: PeerIdentity): boolean {
  if (a.kind === 'guest' || b.kind === 'guest') return a.kind === b.kind;
  return a.displayName === b.displayName && bytesEqual(a.publicKeySpki, b.publicKeySpki);
}

export type IdentityVerification = { readonly ok: true; readonly peer: PeerIdentity } | { readonly ok: false; readonly reason: string };

/**
 * What a profile signs (inside the identity key's own label, see vault/identity). The transcript makes the
 * signature worthless in any other session; the signer's role stops it being reflected back to its author
 * (whose transcript is the same bytes); the name and the key stop it being moved to another name or key.
 */
function signedIdentity(signerRole: Role, transcript: Uint8Array, displayName: string, publicKeySpki: Uint8Array): Uint8Array {
  return framedConcat(utf8('parley/v1 session identity'), utf8(signerRole), transcript, utf8(displayName), publicKeySpki);
}

/** The plaintext of this side's identity frame: guest without an identity, else a signed profile. */
export async function createIdentityMessage(identity: LocalIdentity | undefined, role: Role, transcript: Uint8Array): Promise<Uint8Array> {
  if (identity === undefined) return encodeIdentityMessage({ type: 'guest' });
  const displayName = normalizeDisplayName(identity.displayName);
  if (displayName === null) throw new Error('this profile’s display name is empty, too long or has control characters');
  const { publicKeySpki } = identity;
  const signature = await signTranscript(identity.privateKey, signedIdentity(role, transcript, displayName, publicKeySpki));
  return encodeIdentityMessage({ type: 'profile', displayName, publicKeySpki, signature });
}

/** Checks the peer's identity frame plaintext against this session's transcript and the peer's role. */
export async function verifyIdentityMessage(plaintext: Uint8Array, peerRole: Role, transcript: Uint8Array): Promise<IdentityVerification> {
  const parsed = parseIdentityMessage(plaintext);
  if (!parsed.ok) return { ok: false, reason: `the peer's identity is malformed: ${parsed.reason}` };
  const message = parsed.message;
  switch (message.type) {
    case 'guest':
      return { ok: true, peer: { kind: 'guest' } };
    case 'profile': {
      const { displayName, publicKeySpki, signature } = message;
      const publicKey = await importIdentityPublicKey(publicKeySpki);
      if (publicKey === null) return { ok: false, reason: "the peer's identity key is not an ECDSA P-256 public key" };
      const authentic = await verifyTranscriptWithKey(publicKey, signedIdentity(peerRole, transcript, displayName, publicKeySpki), signature);
      if (!authentic) {
        return { ok: false, reason: "the peer's identity signature does not match this conversation, its role or its name" };
      }
      return { ok: true, peer: { kind: 'profile', displayName, publicKeySpki } };
    }
    default:
      return assertNever(message, 'identity message');
  }
}
