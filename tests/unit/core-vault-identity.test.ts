import { afterEach, describe, expect, it, vi } from 'vitest';
import { framedConcat, toBufferSource, utf8 } from '../../src/core/encoding.ts';
import { systemRandom } from '../../src/core/ports.ts';
import {
  generateIdentity,
  IDENTITY_SIGNATURE_BYTES,
  IDENTITY_SPKI_BYTES,
  importIdentityPublicKey,
  signTranscript,
  verifyTranscript,
  verifyTranscriptWithKey,
} from '../../src/core/vault/identity.ts';
import { generateIdentityForStorage, unwrapIdentity } from '../../src/core/vault/identityStorage.ts';
import { openRecord, sealRecord } from '../../src/core/vault/records.ts';
import { aesKey, flipBit } from './support/coreFixtures.ts';

const TRANSCRIPT = utf8('parley test transcript: both hellos and both fingerprints');

afterEach(() => {
  vi.restoreAllMocks();
});

async function spkiOf(algorithm: RsaHashedKeyGenParams | EcKeyGenParams, usages: KeyUsage[]): Promise<Uint8Array> {
  const pair = await crypto.subtle.generateKey(algorithm, true, usages);
  if (!('publicKey' in pair)) throw new Error('expected a key pair');
  return new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
}

describe('generateIdentity', () => {
  it('makes a non-extractable ECDSA P-256 signing key and its SPKI', async () => {
    const { publicKeySpki, privateKey } = await generateIdentity();
    expect(privateKey.extractable).toBe(false);
    expect(privateKey.algorithm).toEqual({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(privateKey.usages).toEqual(['sign']);
    expect(publicKeySpki).toHaveLength(91);
    await expect(crypto.subtle.exportKey('pkcs8', privateKey)).rejects.toThrow();
  });
});

describe('signTranscript and verifyTranscript', () => {
  it('verifies a signature by the matching key', async () => {
    const { publicKeySpki, privateKey } = await generateIdentity();
    const signature = await signTranscript(privateKey, TRANSCRIPT);
    expect(signature).toHaveLength(IDENTITY_SIGNATURE_BYTES);
    expect(await verifyTranscript(publicKeySpki, TRANSCRIPT, signature)).toBe(true);
  });

  it('signs ECDSA-SHA-256 (r ‖ s) over framedConcat("parley/v1 identity signature", transcript), not the bare transcript', async () => {
    const { publicKeySpki, privateKey } = await generateIdentity();
    const signature = await signTranscript(privateKey, TRANSCRIPT);
    const publicKey = await crypto.subtle.importKey('spki', toBufferSource(publicKeySpki), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    const labelled = toBufferSource(framedConcat(utf8('parley/v1 identity signature'), TRANSCRIPT));
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, toBufferSource(signature), labelled)).toBe(true);
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, toBufferSource(signature), toBufferSource(TRANSCRIPT))).toBe(false);
  });

  it('refuses another key, an altered transcript or an altered signature', async () => {
    const alice = await generateIdentity();
    const mallory = await generateIdentity();
    const signature = await signTranscript(alice.privateKey, TRANSCRIPT);
    expect(await verifyTranscript(mallory.publicKeySpki, TRANSCRIPT, signature)).toBe(false);
    expect(await verifyTranscript(alice.publicKeySpki, flipBit(TRANSCRIPT, 3), signature)).toBe(false);
    expect(await verifyTranscript(alice.publicKeySpki, TRANSCRIPT.subarray(1), signature)).toBe(false);
    expect(await verifyTranscript(alice.publicKeySpki, TRANSCRIPT, flipBit(signature, 10))).toBe(false);
    expect(await verifyTranscript(alice.publicKeySpki, TRANSCRIPT, flipBit(signature, 63, 0x80))).toBe(false);
    expect(await verifyTranscript(alice.publicKeySpki, TRANSCRIPT, signature.subarray(0, 63))).toBe(false);
    expect(await verifyTranscript(alice.publicKeySpki, TRANSCRIPT, new Uint8Array(64))).toBe(false);
  });

  it('answers false, without throwing, for keys that are not P-256 ECDSA SPKIs', async () => {
    const { privateKey } = await generateIdentity();
    const signature = await signTranscript(privateKey, TRANSCRIPT);
    const rsa = await spkiOf({ name: 'RSA-PSS', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' }, ['sign', 'verify']);
    const p384 = await spkiOf({ name: 'ECDSA', namedCurve: 'P-384' }, ['sign', 'verify']);
    for (const spki of [rsa, p384, new Uint8Array(0), new Uint8Array(91), utf8('not a key at all')]) {
      expect(await verifyTranscript(spki, TRANSCRIPT, signature)).toBe(false);
    }
  });
});

/** The same P-256 public key as a compressed-point SPKI (SEC1 0x02/0x03 ‖ X), which WebCrypto also imports. */
async function compressedSpkiOf(spki: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('spki', toBufferSource(spki), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  const point = new Uint8Array(await crypto.subtle.exportKey('raw', key));
  const prefix = Uint8Array.from([0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00]);
  const y = point[64] ?? 0;
  return Uint8Array.from([...prefix, 0x02 + (y & 1), ...point.subarray(1, 33)]);
}

describe('importIdentityPublicKey and verifyTranscriptWithKey', () => {
  it('accepts a generated identity key (91 bytes) and verifies with the imported key', async () => {
    const { publicKeySpki, privateKey } = await generateIdentity();
    expect(publicKeySpki).toHaveLength(IDENTITY_SPKI_BYTES);
    const publicKey = await importIdentityPublicKey(publicKeySpki);
    if (publicKey === null) throw new Error('a generated key was refused');
    const signature = await signTranscript(privateKey, TRANSCRIPT);
    expect(await verifyTranscriptWithKey(publicKey, TRANSCRIPT, signature)).toBe(true);
    expect(await verifyTranscriptWithKey(publicKey, flipBit(TRANSCRIPT, 0), signature)).toBe(false);
    expect(await verifyTranscriptWithKey(publicKey, TRANSCRIPT, signature.subarray(0, 63))).toBe(false);
  });

  it('refuses the same key as a compressed or a hybrid point, so one key has exactly one SPKI', async () => {
    const { publicKeySpki, privateKey } = await generateIdentity();
    const signature = await signTranscript(privateKey, TRANSCRIPT);
    const compressed = await compressedSpkiOf(publicKeySpki);
    // SEC1 "hybrid" form: 0x06 or 0x07 (the parity of Y) instead of 0x04, same length as the canonical SPKI.
    const hybrid = publicKeySpki.slice();
    hybrid[26] = 0x06 + ((publicKeySpki[90] ?? 0) & 1);
    for (const spki of [compressed, hybrid]) {
      // WebCrypto itself takes both, which is why the check exists.
      await expect(crypto.subtle.importKey('spki', toBufferSource(spki), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify'])).resolves.toBeDefined();
      expect(await importIdentityPublicKey(spki)).toBeNull();
      expect(await verifyTranscript(spki, TRANSCRIPT, signature)).toBe(false);
    }
    expect(hybrid).toHaveLength(IDENTITY_SPKI_BYTES);
  });

  it('refuses other curves, RSA, truncated and garbage SPKIs', async () => {
    const { publicKeySpki } = await generateIdentity();
    const rsa = await spkiOf({ name: 'RSA-PSS', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' }, ['sign', 'verify']);
    const p384 = await spkiOf({ name: 'ECDSA', namedCurve: 'P-384' }, ['sign', 'verify']);
    const offCurve = publicKeySpki.slice();
    offCurve[90] = (offCurve[90] ?? 0) ^ 1;
    for (const spki of [rsa, p384, publicKeySpki.subarray(0, 90), offCurve, new Uint8Array(IDENTITY_SPKI_BYTES)]) {
      expect(await importIdentityPublicKey(spki)).toBeNull();
    }
  });
});

describe('generateIdentityForStorage and unwrapIdentity', () => {
  it('round-trips: the unwrapped key signs what the stored public key verifies', async () => {
    const dataKey = await aesKey();
    const stored = await generateIdentityForStorage(dataKey, systemRandom);
    expect(stored.privateKey.extractable).toBe(false);
    expect(stored.privateKey.usages).toEqual(['sign']);
    expect(await verifyTranscript(stored.publicKeySpki, TRANSCRIPT, await signTranscript(stored.privateKey, TRANSCRIPT))).toBe(true);

    const unwrapped = await unwrapIdentity(dataKey, stored.wrappedPrivateKey);
    if (unwrapped === null) throw new Error('identity did not unwrap');
    expect(unwrapped.extractable).toBe(false);
    expect(unwrapped.algorithm).toEqual({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(await verifyTranscript(stored.publicKeySpki, TRANSCRIPT, await signTranscript(unwrapped, TRANSCRIPT))).toBe(true);
  });

  it('stores the PKCS#8 as a sealed record of kind settings, id identity', async () => {
    const dataKey = await aesKey();
    const stored = await generateIdentityForStorage(dataKey, systemRandom);
    const opened = await openRecord(dataKey, 'settings', 'identity', stored.wrappedPrivateKey);
    if (!opened.ok) throw new Error('not a settings/identity record');
    const key = await crypto.subtle.importKey('pkcs8', toBufferSource(opened.plaintext), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    expect(await verifyTranscript(stored.publicKeySpki, TRANSCRIPT, await signTranscript(key, TRANSCRIPT))).toBe(true);
    expect((await openRecord(dataKey, 'settings', 'identity-2', stored.wrappedPrivateKey)).ok).toBe(false);
  });

  it('wipes the PKCS#8 bytes once they are sealed and re-imported', async () => {
    // A pass-through spy: it records each call's arguments, so the buffers can be inspected afterwards.
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    const dataKey = await aesKey();
    const stored = await generateIdentityForStorage(dataKey, systemRandom);
    expect(await unwrapIdentity(dataKey, stored.wrappedPrivateKey)).not.toBeNull();
    const imported = importKey.mock.calls.filter(([format]) => format === 'pkcs8').map(([, keyData]) => keyData);
    expect(imported).toHaveLength(2);
    for (const bytes of imported) {
      if (!(bytes instanceof Uint8Array)) throw new Error('expected PKCS#8 bytes');
      expect(bytes.length).toBeGreaterThan(100);
      expect(bytes.every((byte) => byte === 0)).toBe(true);
    }
  });

  it('answers null for another data key, an altered record, or a record that holds no P-256 key', async () => {
    const dataKey = await aesKey();
    const stored = await generateIdentityForStorage(dataKey, systemRandom);
    expect(await unwrapIdentity(await aesKey(), stored.wrappedPrivateKey)).toBeNull();
    expect(await unwrapIdentity(dataKey, flipBit(stored.wrappedPrivateKey, 40))).toBeNull();
    expect(await unwrapIdentity(dataKey, stored.wrappedPrivateKey.subarray(0, 20))).toBeNull();
    const garbage = await sealRecord(dataKey, 'settings', 'identity', utf8('not pkcs8'), systemRandom);
    expect(await unwrapIdentity(dataKey, garbage)).toBeNull();
    const elsewhere = await sealRecord(dataKey, 'contact', 'identity', new Uint8Array(stored.wrappedPrivateKey), systemRandom);
    expect(await unwrapIdentity(dataKey, elsewhere)).toBeNull();
  });
});
