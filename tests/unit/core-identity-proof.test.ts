import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, framedConcat, toBufferSource, utf8 } from '../../src/core/encoding.ts';
import { createIdentityMessage, generateGuestIdentity, samePeerIdentity, verifyIdentityMessage, type LocalIdentity, type ProfileIdentity } from '../../src/core/crypto/identityProof.ts';
import type { Role } from '../../src/core/crypto/handshake.ts';
import { parseIdentityMessage } from '../../src/core/protocol/identityMessage.ts';
import { generateIdentity, signTranscript, verifyTranscript } from '../../src/core/vault/identity.ts';
import { flipBit } from './support/coreFixtures.ts';

// Stand-ins for two handshake transcripts: identityProof treats the transcript as opaque bytes.
const TRANSCRIPT = utf8('parley/v1 handshake transcript: session one');
const OTHER_TRANSCRIPT = utf8('parley/v1 handshake transcript: session two');

let alice: ProfileIdentity;
let mallory: ProfileIdentity;

beforeAll(async () => {
  const [a, m] = await Promise.all([generateIdentity(), generateIdentity()]);
  alice = { kind: 'profile', displayName: 'Alice', ...a };
  mallory = { kind: 'profile', displayName: 'Mallory', ...m };
});

/** The signature input exactly as PROTOCOL.md writes it, built here independently of the code under test. */
function specSignedInput(role: Role, transcript: Uint8Array, name: string, spki: Uint8Array): Uint8Array {
  return framedConcat(utf8('parley/v1 session identity'), utf8(role), transcript, utf8(name), spki);
}

/** A profile message with a signature this test chose what to cover, encoded without the sender's checks. */
async function forgedProfile(options: { signer: LocalIdentity; role: Role; transcript: Uint8Array; signedName: string; sentSpki?: Uint8Array }): Promise<Uint8Array> {
  const signature = await signTranscript(options.signer.privateKey, specSignedInput(options.role, options.transcript, options.signedName, options.signer.publicKeySpki));
  return concatBytes(Uint8Array.of(0x01, 0x01), options.sentSpki ?? options.signer.publicKeySpki, signature, utf8(options.signedName));
}

async function reasonOf(plaintext: Uint8Array, peerRole: Role, transcript: Uint8Array = TRANSCRIPT): Promise<string> {
  const verified = await verifyIdentityMessage(plaintext, peerRole, transcript);
  if (verified.ok) throw new Error(`accepted: ${JSON.stringify(verified.peer)}`);
  return verified.reason;
}

describe('createIdentityMessage and verifyIdentityMessage', () => {
  it('a guest proves its key for this room session (01 02, no name), and is verified as a guest with that key', async () => {
    const guest = await generateGuestIdentity();
    for (const role of ['initiator', 'responder'] as const) {
      const plaintext = await createIdentityMessage(guest, role, TRANSCRIPT);
      expect(plaintext.subarray(0, 2)).toEqual(Uint8Array.of(0x01, 0x02));
      expect(plaintext).toHaveLength(157);
      expect(await verifyIdentityMessage(plaintext, role, TRANSCRIPT)).toEqual({ ok: true, peer: { kind: 'guest', publicKeySpki: guest.publicKeySpki } });
      // Bound to its session and role like a profile's: nobody can pose as this guest elsewhere.
      expect(await verifyIdentityMessage(plaintext, role === 'initiator' ? 'responder' : 'initiator', TRANSCRIPT)).toMatchObject({ ok: false });
      expect(await verifyIdentityMessage(plaintext, role, utf8('another session'))).toMatchObject({ ok: false });
    }
  });

  it('a guest message carrying a profile’s key and a signature made under a name does not verify', async () => {
    const asProfile = await createIdentityMessage(alice, 'initiator', TRANSCRIPT);
    // Keep Alice's key and signature but drop the name and say "guest": the signed name no longer matches.
    const forged = concatBytes(Uint8Array.of(0x01, 0x02), asProfile.subarray(2, 157));
    expect(await verifyIdentityMessage(forged, 'initiator', TRANSCRIPT)).toMatchObject({ ok: false });
  });

  it('a profile verifies for its own role and transcript, and yields its name and key', async () => {
    for (const role of ['initiator', 'responder'] as const) {
      const plaintext = await createIdentityMessage(alice, role, TRANSCRIPT);
      expect(await verifyIdentityMessage(plaintext, role, TRANSCRIPT)).toEqual({
        ok: true,
        peer: { kind: 'profile', displayName: 'Alice', publicKeySpki: alice.publicKeySpki },
      });
    }
  });

  it('signs ECDSA P-256/SHA-256 over framedConcat("parley/v1 identity signature", framedConcat("parley/v1 session identity", role, T, name, spki))', async () => {
    const plaintext = await createIdentityMessage(alice, 'responder', TRANSCRIPT);
    const parsed = parseIdentityMessage(plaintext);
    if (!parsed.ok || parsed.message.type !== 'profile') throw new Error('not a profile');
    const input = specSignedInput('responder', TRANSCRIPT, 'Alice', alice.publicKeySpki);
    expect(await verifyTranscript(alice.publicKeySpki, input, parsed.message.signature)).toBe(true);
    const publicKey = await crypto.subtle.importKey('spki', toBufferSource(alice.publicKeySpki), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    const outer = toBufferSource(framedConcat(utf8('parley/v1 identity signature'), input));
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, toBufferSource(parsed.message.signature), outer)).toBe(true);
  });

  it('sends the canonical form of the display name, and refuses to sign a name that has none', async () => {
    const plaintext = await createIdentityMessage({ ...alice, displayName: '  Zoe\u0308 ' }, 'initiator', TRANSCRIPT);
    expect(await verifyIdentityMessage(plaintext, 'initiator', TRANSCRIPT)).toEqual({
      ok: true,
      peer: { kind: 'profile', displayName: 'Zoë', publicKeySpki: alice.publicKeySpki },
    });
    await expect(createIdentityMessage({ ...alice, displayName: '\u202e' }, 'initiator', TRANSCRIPT)).rejects.toThrow(/display name/);
    await expect(createIdentityMessage({ ...alice, displayName: '   ' }, 'initiator', TRANSCRIPT)).rejects.toThrow(/display name/);
  });
});

describe('verifyIdentityMessage refuses a profile that does not belong to this session, role, name or key', () => {
  it('the control: a profile forged exactly like the ones below, but covering the right values, verifies', async () => {
    const plaintext = await forgedProfile({ signer: alice, role: 'initiator', transcript: TRANSCRIPT, signedName: 'Alice' });
    expect((await verifyIdentityMessage(plaintext, 'initiator', TRANSCRIPT)).ok).toBe(true);
  });

  it('a signature over another session’s transcript (replayed)', async () => {
    const plaintext = await createIdentityMessage(alice, 'initiator', OTHER_TRANSCRIPT);
    expect(await reasonOf(plaintext, 'initiator')).toMatch(/signature does not match/);
  });

  it('a signature made as the other role (reflected back to its author)', async () => {
    const plaintext = await createIdentityMessage(alice, 'responder', TRANSCRIPT);
    expect(await reasonOf(plaintext, 'initiator')).toMatch(/signature does not match/);
  });

  it('a valid signature sent with another display name', async () => {
    // The code's own signed message with only the name replaced, so this fails only if the name is signed.
    const honest = await createIdentityMessage(alice, 'initiator', TRANSCRIPT);
    const renamed = concatBytes(honest.subarray(0, 2 + 91 + 64), utf8('Alicia'));
    expect(await reasonOf(renamed, 'initiator')).toMatch(/signature does not match/);
  });

  it('a valid signature sent with another key (someone else claiming Alice’s signature)', async () => {
    const honest = await createIdentityMessage(alice, 'initiator', TRANSCRIPT);
    const rekeyed = concatBytes(honest.subarray(0, 2), mallory.publicKeySpki, honest.subarray(2 + 91));
    expect(await reasonOf(rekeyed, 'initiator')).toMatch(/signature does not match/);
  });

  it('a flipped bit in the signature', async () => {
    const plaintext = await createIdentityMessage(alice, 'initiator', TRANSCRIPT);
    expect(await reasonOf(flipBit(plaintext, 2 + 91 + 10), 'initiator')).toMatch(/signature does not match/);
  });

  it('a key that is not a canonical P-256 key: hybrid point encoding, altered point, or another curve', async () => {
    const hybrid = alice.publicKeySpki.slice();
    hybrid[26] = 0x06 + ((alice.publicKeySpki[90] ?? 0) & 1);
    const altered = flipBit(alice.publicKeySpki, 60);
    for (const spki of [hybrid, altered]) {
      const plaintext = await forgedProfile({ signer: alice, role: 'initiator', transcript: TRANSCRIPT, signedName: 'Alice', sentSpki: spki });
      expect(await reasonOf(plaintext, 'initiator')).toMatch(/not an ECDSA P-256 public key/);
    }
    // A P-384 identity, signed properly with its own key: its SPKI (120 bytes) and signature (96 bytes) do
    // not fit the layout, and whatever bytes land where the P-256 key belongs are no P-256 key.
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
    const p384Spki = new Uint8Array(await crypto.subtle.exportKey('spki', p384.publicKey));
    const input = specSignedInput('initiator', TRANSCRIPT, 'Alice', p384Spki);
    const p384Signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, p384.privateKey, toBufferSource(input)));
    const plaintext = concatBytes(Uint8Array.of(0x01, 0x01), p384Spki, p384Signature, utf8('Alice'));
    expect(await reasonOf(plaintext, 'initiator')).toMatch(/malformed|not an ECDSA P-256/);
  });

  it('malformed plaintext is reported as such', async () => {
    expect(await reasonOf(Uint8Array.of(0x01, 0x00, 0x00), 'initiator')).toMatch(/malformed/);
    const oversized = await forgedProfile({ signer: alice, role: 'initiator', transcript: TRANSCRIPT, signedName: 'A'.repeat(65) });
    expect(await reasonOf(oversized, 'initiator')).toMatch(/malformed: the display name has 65 characters/);
    const control = await forgedProfile({ signer: alice, role: 'initiator', transcript: TRANSCRIPT, signedName: 'Ali\u0007ce' });
    expect(await reasonOf(control, 'initiator')).toMatch(/malformed: the display name has a control/);
  });
});

describe('samePeerIdentity', () => {
  it('is true only for the same kind, name and key bytes', () => {
    const profile = { kind: 'profile', displayName: 'Alice', publicKeySpki: alice.publicKeySpki } as const;
    const guest = { kind: 'guest', publicKeySpki: mallory.publicKeySpki } as const;
    expect(samePeerIdentity(guest, { kind: 'guest', publicKeySpki: mallory.publicKeySpki.slice() })).toBe(true);
    expect(samePeerIdentity(guest, { kind: 'guest', publicKeySpki: alice.publicKeySpki })).toBe(false);
    expect(samePeerIdentity(profile, { ...profile, publicKeySpki: alice.publicKeySpki.slice() })).toBe(true);
    expect(samePeerIdentity(profile, { kind: 'guest', publicKeySpki: alice.publicKeySpki })).toBe(false);
    expect(samePeerIdentity({ kind: 'guest', publicKeySpki: alice.publicKeySpki }, profile)).toBe(false);
    expect(samePeerIdentity(profile, { ...profile, displayName: 'Alicia' })).toBe(false);
    expect(samePeerIdentity(profile, { ...profile, publicKeySpki: mallory.publicKeySpki })).toBe(false);
  });
});
