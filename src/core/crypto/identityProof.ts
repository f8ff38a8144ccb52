/**
 * Who is at the other end of a verified session: each side proves an ECDSA P-256 identity key by signing the
 * handshake transcript with it: a profile's long-term key with its display name, or a guest's key made for
 * this room session only (so a reconnecting guest is recognised and nobody can pose as another guest).
 */
import { assertNever } from '../assertNever.ts';
import { bytesEqual, framedConcat, utf8 } from '../encoding.ts';
import { encodeIdentityMessage, normalizeDisplayName, parseIdentityMessage } from '../protocol/identityMessage.ts';
import { generateIdentity, importIdentityPublicKey, signTranscript, verifyTranscriptWithKey } from '../vault/identity.ts';
import type { Role } from './handshake.ts';

interface IdentityKey {
  /** WebCrypto's SPKI export of the public key (91 bytes). */
  readonly publicKeySpki: Uint8Array;
  /** ECDSA P-256, usage 'sign'; ideally non-extractable. */
  readonly privateKey: CryptoKey;
}

/** This side's identity, as the session needs it: a profile, or a guest with a key for this room session. */
export type ProfileIdentity = IdentityKey & { readonly kind: 'profile'; readonly displayName: string };
export type LocalIdentity = ProfileIdentity | (IdentityKey & { readonly kind: 'guest' });

/** The peer as verified in this session. Keys are canonical SPKI, so they compare by their bytes. */
export type PeerIdentity =
  | { readonly kind: 'guest'; readonly publicKeySpki: Uint8Array }
  | { readonly kind: 'profile'; readonly displayName: string; readonly publicKeySpki: Uint8Array };

/** The same person as far as the protocol can tell: same kind, same key bytes, and for profiles the same name. */
export function samePeerIdentity(a: PeerIdentity, b: PeerIdentity): boolean {
  if (!bytesEqual(a.publicKeySpki, b.publicKeySpki)) return false;
  if (a.kind === 'guest' || b.kind === 'guest') return a.kind === b.kind;
  return a.displayName === b.displayName;
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

/** The plaintext of this side's identity frame: its key and a signature over this session, with a profile's name. */
export async function createIdentityMessage(identity: LocalIdentity, role: Role, transcript: Uint8Array): Promise<Uint8Array> {
  const { publicKeySpki, privateKey } = identity;
  if (identity.kind === 'guest') {
    // A guest signs the empty name: the signature still binds its key to this session and role.
    const signature = await signTranscript(privateKey, signedIdentity(role, transcript, '', publicKeySpki));
    return encodeIdentityMessage({ type: 'guest', publicKeySpki, signature });
  }
  const displayName = normalizeDisplayName(identity.displayName);
  if (displayName === null) throw new Error('this profile’s display name is empty, too long or has control characters');
  const signature = await signTranscript(privateKey, signedIdentity(role, transcript, displayName, publicKeySpki));
  return encodeIdentityMessage({ type: 'profile', displayName, publicKeySpki, signature });
}

/** A guest identity for one room session: a fresh, non-extractable key that is never stored. */
export async function generateGuestIdentity(): Promise<LocalIdentity> {
  return { kind: 'guest', ...(await generateIdentity()) };
}

/** Checks the peer's identity frame plaintext against this session's transcript and the peer's role. */
export async function verifyIdentityMessage(plaintext: Uint8Array, peerRole: Role, transcript: Uint8Array): Promise<IdentityVerification> {
  const parsed = parseIdentityMessage(plaintext);
  if (!parsed.ok) return { ok: false, reason: `the peer's identity is malformed: ${parsed.reason}` };
  const message = parsed.message;
  const { publicKeySpki, signature } = message;
  const displayName = message.type === 'profile' ? message.displayName : '';
  const publicKey = await importIdentityPublicKey(publicKeySpki);
  if (publicKey === null) return { ok: false, reason: "the peer's identity key is not an ECDSA P-256 public key" };
  const authentic = await verifyTranscriptWithKey(publicKey, signedIdentity(peerRole, transcript, displayName, publicKeySpki), signature);
  if (!authentic) {
    return { ok: false, reason: "the peer's identity signature does not match this conversation, its role or its name" };
  }
  switch (message.type) {
    case 'guest':
      return { ok: true, peer: { kind: 'guest', publicKeySpki } };
    case 'profile':
      return { ok: true, peer: { kind: 'profile', displayName, publicKeySpki } };
    default:
      return assertNever(message, 'identity message');
  }
}
