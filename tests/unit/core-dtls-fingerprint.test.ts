import { describe, expect, it } from 'vitest';
import { dtlsFingerprintFromSdp } from '../../src/core/crypto/dtlsFingerprint.ts';
import { chromiumDataChannelSdp, FINGERPRINT_A, FINGERPRINT_B } from './support/coreFixtures.ts';

describe('dtlsFingerprintFromSdp', () => {
  it('extracts the sha-256 fingerprint of a Chromium data-channel SDP', () => {
    expect(dtlsFingerprintFromSdp(chromiumDataChannelSdp())).toBe(FINGERPRINT_A);
  });

  it('works with LF-only line endings too', () => {
    expect(dtlsFingerprintFromSdp(chromiumDataChannelSdp().replace(/\r\n/g, '\n'))).toBe(FINGERPRINT_A);
  });

  it('canonicalises case: algorithm lower case, hex upper case', () => {
    const line = `a=fingerprint:SHA-256 ${FINGERPRINT_A.slice('sha-256 '.length).toLowerCase()}`;
    expect(dtlsFingerprintFromSdp(chromiumDataChannelSdp({ fingerprintLine: line }))).toBe(FINGERPRINT_A);
  });

  it('ignores trailing whitespace on the line', () => {
    expect(dtlsFingerprintFromSdp(chromiumDataChannelSdp({ fingerprintLine: `a=fingerprint:${FINGERPRINT_A}  ` }))).toBe(FINGERPRINT_A);
  });

  it('returns every fingerprint, sorted, one per line, regardless of SDP order', () => {
    const sha1 = 'sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB';
    const forward = chromiumDataChannelSdp({ fingerprintLine: `a=fingerprint:${FINGERPRINT_B}\r\na=fingerprint:${sha1}\r\na=fingerprint:${FINGERPRINT_A}` });
    const backward = chromiumDataChannelSdp({ fingerprintLine: `a=fingerprint:${FINGERPRINT_A}\r\na=fingerprint:${sha1}\r\na=fingerprint:${FINGERPRINT_B}` });
    const expected = [sha1, FINGERPRINT_A, FINGERPRINT_B].sort().join('\n');
    expect(dtlsFingerprintFromSdp(forward)).toBe(expected);
    expect(dtlsFingerprintFromSdp(backward)).toBe(expected);
    expect(expected.split('\n')).toHaveLength(3);
  });

  it('counts the same fingerprint once when it appears at session and media level, in either case', () => {
    const lower = `a=fingerprint:${FINGERPRINT_A.toLowerCase()}`;
    const sdp = chromiumDataChannelSdp({ fingerprintLine: `a=fingerprint:${FINGERPRINT_A}\r\n${lower}` });
    expect(dtlsFingerprintFromSdp(sdp)).toBe(FINGERPRINT_A);
  });

  it('different certificates give different canonical texts', () => {
    const a = dtlsFingerprintFromSdp(chromiumDataChannelSdp({ fingerprintLine: `a=fingerprint:${FINGERPRINT_A}` }));
    const b = dtlsFingerprintFromSdp(chromiumDataChannelSdp({ fingerprintLine: `a=fingerprint:${FINGERPRINT_B}` }));
    expect(a).not.toBeNull();
    expect(a).not.toBe(b);
  });

  it('returns null when there is no fingerprint', () => {
    expect(dtlsFingerprintFromSdp(chromiumDataChannelSdp({ fingerprintLine: 'a=ice-options:trickle' }))).toBeNull();
    expect(dtlsFingerprintFromSdp('')).toBeNull();
  });

  it('ignores malformed fingerprint lines', () => {
    const malformed = [
      'a=fingerprint:sha-256',
      'a=fingerprint:sha-256 ',
      'a=fingerprint:sha-256 8B',
      'a=fingerprint:sha-256 8B3E106C',
      'a=fingerprint:sha-256 8B:3E:1',
      'a=fingerprint:sha-256 8B:3E:ZZ',
      'a=fingerprint:sha-256 8B:3E:',
      'a=fingerprint: sha-256 8B:3E',
      'a=fingerprint:sha_256 8B:3E',
      ' a=fingerprint:sha-256 8B:3E',
      'x a=fingerprint:sha-256 8B:3E',
      'a=fingerprint:sha-256 8B:3E junk',
    ];
    for (const line of malformed) {
      expect(dtlsFingerprintFromSdp(chromiumDataChannelSdp({ fingerprintLine: line })), line).toBeNull();
    }
    // A malformed line next to a good one does not disturb the good one.
    const mixed = chromiumDataChannelSdp({ fingerprintLine: `a=fingerprint:sha-256 8B:3E:ZZ\r\na=fingerprint:${FINGERPRINT_B}` });
    expect(dtlsFingerprintFromSdp(mixed)).toBe(FINGERPRINT_B);
  });
});
