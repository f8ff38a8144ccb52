/**
 * The per-message work of Parley's secure path without any network: the message frame encoded, sealed, parsed,
 * opened and read, the consistency digest GroupChat takes of every group message on both sides, then the same
 * for the receipts frame that answers it. Tells crypto cost apart from transport cost.
 */
import { messageDigest } from '../../src/core/group/messageDigest.ts';
import { carry, sampleMessage, sealerOpenerPair } from '../frames.ts';

export async function cryptoPath(count: number, text: string): Promise<number[]> {
  const forward = await sealerOpenerPair('initiator-to-responder');
  const backward = await sealerOpenerPair('responder-to-initiator');
  const times: number[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const startedAt = performance.now();
    const message = sampleMessage(text, seq);
    // The author holds the digest of what it sent; the receiver takes one of what it showed.
    await messageDigest(message);
    await carry({ type: 'message', message }, forward);
    await messageDigest(message);
    await carry({ type: 'receipts', deliveredSeq: seq, readSeq: seq }, backward);
    times.push(performance.now() - startedAt);
  }
  return times;
}
