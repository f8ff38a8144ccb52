/**
 * Bytes on the wire per message, exactly, from Parley's own encoder: the data-channel frame of a chat message and of
 * its receipt against the plaintext, and the sealed signaling blob of a real offer and candidate against their JSON.
 */
import { deriveRoomKeys, generateRoomSecret } from '../../src/core/crypto/roomSecret.ts';
import { openSignal, sealSignal, type SignalRoute } from '../../src/core/crypto/signalSeal.ts';
import { bytesToBase64url } from '../../src/core/encoding.ts';
import { parsePeerSignal } from '../../src/core/protocol/peerSignal.ts';
import { encodeFrame } from '../../src/core/protocol/signaling.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { frameSizes, type FrameSizes } from '../frames.ts';
import { loadBenchPage } from '../benchPages.ts';
import { round } from '../stats.ts';
import type { JsonObject, Section, SectionResult } from '../harness.ts';

const TEXT_LENGTHS = [1, 100, 1000] as const;

type SignalCost = {
  readonly kind: string;
  readonly plainJsonBytes: number;
  /** What is encrypted: the signal with its sequence number. */
  readonly sealedPlaintextBytes: number;
  readonly blobChars: number;
  /** The whole WebSocket text frame the browser sends to the server. */
  readonly frameBytes: number;
};

async function signalCost(json: string, route: SignalRoute, signalKey: CryptoKey): Promise<SignalCost> {
  const value: unknown = JSON.parse(json);
  const signal = parsePeerSignal(value);
  if (signal === null) throw new Error(`the page sampled something that is not a signal: ${json.slice(0, 80)}`);
  const blob = await sealSignal(signalKey, route, 0, signal, systemRandom);
  const opened = await openSignal(signalKey, route, blob);
  if (!opened.ok) throw new Error(`our own sealed signal does not open: ${opened.reason}`);
  const frame = encodeFrame({ v: 1, type: 'signal', to: route.toPeerId, blob });
  return {
    kind: signal.type,
    plainJsonBytes: Buffer.byteLength(JSON.stringify(signal)),
    sealedPlaintextBytes: Buffer.byteLength(JSON.stringify({ seq: 0, signal })),
    blobChars: blob.length,
    frameBytes: Buffer.byteLength(frame),
  };
}

function frameRow(sizes: FrameSizes): string[] {
  return [
    String(sizes.textChars),
    String(sizes.textBytes),
    String(sizes.chatFrameBytes),
    `+${sizes.chatFrameBytes - sizes.textBytes}`,
    (sizes.chatFrameBytes / sizes.textBytes).toFixed(2),
    String(sizes.receiptFrameBytes),
  ];
}

export const wireBytes: Section = {
  id: 'wireBytes',
  title: 'Bytes on the wire per message',
  timeoutMs: 30_000,
  async run(ctx): Promise<SectionResult> {
    const frames: FrameSizes[] = [];
    for (const length of TEXT_LENGTHS) frames.push(await frameSizes('x'.repeat(length)));

    // Signals come from the app's own peer adapter in Chromium; the bench page without a fragment opens no room.
    const page = await ctx.newPage();
    const api = await loadBenchPage(page, `${ctx.benchUrl}/`);
    const sampled = await api.evaluate((bench) => bench.sampleSignals());
    await ctx.closePages(page);
    const keys = await deriveRoomKeys(generateRoomSecret(systemRandom));
    // Server peer ids and connection nonces are 16 random bytes in base64url; the sealed route depends on their length only.
    const randomId = (): string => bytesToBase64url(systemRandom.bytes(16));
    const route: SignalRoute = { roomId: keys.roomId, fromPeerId: randomId(), fromNonce: randomId(), toPeerId: randomId(), toNonce: randomId() };
    const signals = [await signalCost(sampled.offerJson, route, keys.signalKey), await signalCost(sampled.candidateJson, route, keys.signalKey)];

    const data: JsonObject = {
      dataChannelFrames: frames.map((sizes) => ({
        ...sizes,
        chatOverheadBytes: sizes.chatFrameBytes - sizes.textBytes,
        chatRatio: round(sizes.chatFrameBytes / sizes.textBytes, 3),
      })),
      signaling: signals.map((cost) => ({ ...cost, blobToPlainRatio: round(cost.blobChars / cost.plainJsonBytes, 3) })),
    };
    return {
      data,
      checks: [],
      tables: [
        {
          title: 'Data-channel message size per chat message (bytes; the text is ASCII "x"s)',
          columns: ['text chars', 'text bytes', 'chat frame', 'overhead', 'frame/text', 'receipt frame'],
          rows: frames.map(frameRow),
        },
        {
          title: 'Signaling: one sealed signal vs its plain JSON (bytes)',
          columns: ['signal', 'plain JSON', 'sealed plaintext', 'sealed blob', 'blob/plain', 'WebSocket frame'],
          rows: signals.map((cost) => [
            cost.kind,
            String(cost.plainJsonBytes),
            String(cost.sealedPlaintextBytes),
            String(cost.blobChars),
            (cost.blobChars / cost.plainJsonBytes).toFixed(2),
            String(cost.frameBytes),
          ]),
        },
      ],
      notes: [
        'Frame = 10-byte header + AES-GCM(16-byte message id + text) + 16-byte tag; SCTP, DTLS, UDP and IP headers come on top for raw and Parley alike.',
        'Sealed blob = base64url(12-byte IV + ciphertext + 16-byte tag) of {"seq":n,"signal":…}.',
      ],
    };
  },
};
