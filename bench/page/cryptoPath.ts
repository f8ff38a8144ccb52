/**
 * The per-message work of Parley's secure path without any network: encode, seal, parse, open and parse a chat
 * frame, then the same for its receipt, as the two SecureSessions do. Tells crypto cost apart from transport cost.
 */
import { systemRandom } from '../../src/core/ports.ts';
import { FrameOpener, FrameSealer } from '../../src/core/crypto/sessionCipher.ts';
import { parseFrame } from '../../src/core/protocol/frames.ts';
import { encodeMessage, MESSAGE_ID_BYTES, parseMessage, type SessionMessage } from '../../src/core/protocol/messages.ts';
import { bytesToBase64url } from '../../src/core/encoding.ts';

interface Direction {
  readonly sealer: FrameSealer;
  readonly opener: FrameOpener;
}

/** One direction of a session, with both ends in this page; keys are imported as the handshake imports them. */
async function direction(name: 'initiator-to-responder' | 'responder-to-initiator'): Promise<Direction> {
  const raw = systemRandom.bytes(32);
  const [sealKey, openKey] = await Promise.all([
    crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, ['encrypt']),
    crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, ['decrypt']),
  ]);
  return { sealer: new FrameSealer(sealKey, name), opener: new FrameOpener(openKey, name) };
}

async function carry(message: SessionMessage, link: Direction): Promise<void> {
  const { type, plaintext } = encodeMessage(message);
  const frame = await link.sealer.seal(type, plaintext);
  const parsed = parseFrame(frame);
  if (!parsed.ok) throw new Error(parsed.reason);
  const opened = await link.opener.open(parsed.frame);
  if (!opened.ok) throw new Error(opened.reason);
  // The receiver dispatches on the frame's type byte; encodeMessage's `type` is that same byte, already narrowed.
  const read = parseMessage(type, opened.plaintext);
  if (!read.ok) throw new Error(read.reason);
}

export async function cryptoPath(count: number, text: string): Promise<number[]> {
  const forward = await direction('initiator-to-responder');
  const backward = await direction('responder-to-initiator');
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const startedAt = performance.now();
    const id = bytesToBase64url(systemRandom.bytes(MESSAGE_ID_BYTES));
    await carry({ type: 'chat', id, text }, forward);
    await carry({ type: 'receipt', id }, backward);
    times.push(performance.now() - startedAt);
  }
  return times;
}
