import { describe, expect, it } from 'vitest';
import { MAX_SDP_CHARS, parsePeerSignal } from '../../src/core/protocol/peerSignal.ts';
import { CHROMIUM_HOST_CANDIDATE, CHROMIUM_SRFLX_CANDIDATE, chromiumDataChannelSdp } from './support/coreFixtures.ts';

const goodCandidate = { candidate: CHROMIUM_HOST_CANDIDATE, sdpMLineIndex: 0, sdpMid: '0' };

describe('parsePeerSignal accepts what the WebRTC adapter emits for a data channel', () => {
  it('accepts an offer', () => {
    const sdp = chromiumDataChannelSdp();
    expect(parsePeerSignal({ type: 'offer', sdp })).toEqual({ type: 'offer', sdp });
  });

  it('accepts an answer', () => {
    const sdp = chromiumDataChannelSdp({ setup: 'active' });
    expect(parsePeerSignal({ type: 'answer', sdp })).toEqual({ type: 'answer', sdp });
  });

  it('accepts host and srflx candidates', () => {
    expect(parsePeerSignal({ type: 'candidate', candidate: goodCandidate })).toEqual({ type: 'candidate', candidate: goodCandidate });
    const srflx = { candidate: CHROMIUM_SRFLX_CANDIDATE, sdpMLineIndex: 0, sdpMid: '0' };
    expect(parsePeerSignal({ type: 'candidate', candidate: srflx })).toEqual({ type: 'candidate', candidate: srflx });
  });

  it('accepts a candidate with null index and mid, and the empty end-of-candidates string', () => {
    const init = { candidate: '', sdpMLineIndex: null, sdpMid: null };
    expect(parsePeerSignal({ type: 'candidate', candidate: init })).toEqual({ type: 'candidate', candidate: init });
  });

  it('accepts usernameFragment in a candidate but drops it from the result', () => {
    const parsed = parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, usernameFragment: '3bLk' } });
    expect(parsed).toEqual({ type: 'candidate', candidate: goodCandidate });
  });

  it('accepts an sdp of exactly the maximum length', () => {
    const sdp = 'v'.repeat(MAX_SDP_CHARS);
    expect(parsePeerSignal({ type: 'offer', sdp })).toEqual({ type: 'offer', sdp });
  });

  it('accepts sdpMLineIndex 15, the largest allowed', () => {
    expect(parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, sdpMLineIndex: 15 } })).not.toBeNull();
  });
});

describe('parsePeerSignal refuses', () => {
  it('renegotiate and transceiverRequest (one data channel only)', () => {
    expect(parsePeerSignal({ type: 'renegotiate', renegotiate: true })).toBeNull();
    expect(parsePeerSignal({ type: 'transceiverRequest', transceiverRequest: { kind: 'audio', init: {} } })).toBeNull();
  });

  it('unknown or missing types', () => {
    expect(parsePeerSignal({ type: 'pranswer', sdp: chromiumDataChannelSdp() })).toBeNull();
    expect(parsePeerSignal({ type: 'rollback', sdp: '' })).toBeNull();
    expect(parsePeerSignal({ sdp: chromiumDataChannelSdp() })).toBeNull();
    expect(parsePeerSignal({ type: 'OFFER', sdp: chromiumDataChannelSdp() })).toBeNull();
  });

  it('extra keys on an offer or answer', () => {
    const sdp = chromiumDataChannelSdp();
    expect(parsePeerSignal({ type: 'offer', sdp, renegotiate: true })).toBeNull();
    expect(parsePeerSignal({ type: 'answer', sdp, candidate: goodCandidate })).toBeNull();
    expect(parsePeerSignal(JSON.parse(`{"type":"offer","sdp":"x","__proto__":{"admin":true}}`))).toBeNull();
  });

  it('extra keys on a candidate, at either level', () => {
    expect(parsePeerSignal({ type: 'candidate', candidate: goodCandidate, sdp: 'x' })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, foundation: '1' } })).toBeNull();
  });

  it('wrong value types', () => {
    expect(parsePeerSignal({ type: 'offer', sdp: 42 })).toBeNull();
    expect(parsePeerSignal({ type: 'offer', sdp: null })).toBeNull();
    expect(parsePeerSignal({ type: 'offer', sdp: ['v=0'] })).toBeNull();
    expect(parsePeerSignal({ type: 'offer' })).toBeNull();
    expect(parsePeerSignal({ type: 1, sdp: 'v=0' })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: CHROMIUM_HOST_CANDIDATE })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: null })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: [goodCandidate] })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, candidate: 5 } })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, sdpMLineIndex: '0' } })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, sdpMid: 0 } })).toBeNull();
  });

  it('a candidate missing sdpMLineIndex or sdpMid', () => {
    expect(parsePeerSignal({ type: 'candidate', candidate: { candidate: CHROMIUM_HOST_CANDIDATE, sdpMid: '0' } })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: { candidate: CHROMIUM_HOST_CANDIDATE, sdpMLineIndex: 0 } })).toBeNull();
  });

  it('an empty or oversized sdp', () => {
    expect(parsePeerSignal({ type: 'offer', sdp: '' })).toBeNull();
    expect(parsePeerSignal({ type: 'offer', sdp: 'v'.repeat(MAX_SDP_CHARS + 1) })).toBeNull();
    expect(parsePeerSignal({ type: 'answer', sdp: chromiumDataChannelSdp().repeat(200) })).toBeNull();
  });

  it('an oversized candidate string or sdpMid', () => {
    expect(parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, candidate: 'c'.repeat(1025) } })).toBeNull();
    expect(parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, sdpMid: 'm'.repeat(65) } })).toBeNull();
  });

  it('sdpMLineIndex out of range or not an integer', () => {
    for (const index of [-1, 16, 1e9, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(parsePeerSignal({ type: 'candidate', candidate: { ...goodCandidate, sdpMLineIndex: index } })).toBeNull();
    }
  });

  it('non-objects', () => {
    for (const value of [null, undefined, 'offer', 1, true, [], [{ type: 'offer', sdp: 'v=0' }], () => undefined]) {
      expect(parsePeerSignal(value)).toBeNull();
    }
  });
});
