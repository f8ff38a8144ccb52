/** Shared fixtures for the core unit tests: deterministic randomness, room secrets, SDP text, AES keys. */
import type { Random } from '../../../src/core/ports.ts';

/**
 * Deterministic byte source (SplitMix32-style). Only for values whose reuse is harmless in a test
 * (room secrets, message ids); never use it for IVs of two seals under one key within one test.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return {
    bytes(length) {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        state = (state + 0x9e3779b9) >>> 0;
        let z = state;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        out[i] = (z ^ (z >>> 16)) & 0xff;
      }
      return out;
    },
  };
}

/** A 32-byte room secret that is different for every distinct seed. */
export function secretFromSeed(seed: number): Uint8Array {
  return seededRandom(seed).bytes(32);
}

/** Flips one bit of a copy; the original is left untouched. */
export function flipBit(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const copy = bytes.slice();
  if (index < 0 || index >= copy.length) throw new Error(`index ${index} outside 0..${copy.length - 1}`);
  copy[index] = (copy[index] ?? 0) ^ mask;
  return copy;
}

export async function aesKey(usages: KeyUsage[] = ['encrypt', 'decrypt']): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, usages);
}

export const FINGERPRINT_A =
  'sha-256 8B:3E:10:6C:52:AF:9D:01:77:C4:E2:5A:90:1F:3D:B8:46:0E:CA:21:7F:58:93:D2:BB:0C:64:19:A7:E5:3F:88';
export const FINGERPRINT_B =
  'sha-256 1C:D7:4A:93:0F:E8:25:B6:71:3C:9E:02:D4:88:5F:A1:36:C9:7B:E0:14:6D:A2:59:F3:0B:87:2E:C5:1A:64:DD';
export const FINGERPRINT_M =
  'sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF';

/** An SDP shaped like what Chromium produces for a data-channel-only offer (CRLF line endings). */
export function chromiumDataChannelSdp(options: { readonly fingerprintLine?: string; readonly setup?: 'actpass' | 'active' } = {}): string {
  const fingerprintLine = options.fingerprintLine ?? `a=fingerprint:${FINGERPRINT_A}`;
  return [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    'a=ice-ufrag:3bLk',
    'a=ice-pwd:G0ZxMpBo+4XqYI5jV1xG3jH1',
    'a=ice-options:trickle',
    fingerprintLine,
    `a=setup:${options.setup ?? 'actpass'}`,
    'a=mid:0',
    'a=sctp-port:5000',
    'a=max-message-size:262144',
    '',
  ].join('\r\n');
}

export const CHROMIUM_HOST_CANDIDATE =
  'candidate:1467250027 1 udp 2122260223 4f8e6f9a-2c1d-4b0e-9a51-6f3c2d7e8b90.local 54321 typ host generation 0 ufrag 3bLk network-id 1';
export const CHROMIUM_SRFLX_CANDIDATE =
  'candidate:842163049 1 udp 1677729535 192.0.2.10 49203 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag 3bLk network-cost 999';
