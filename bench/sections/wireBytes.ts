/**
 * Bytes on the wire per message, exactly, from Parley's own encoder: the data-channel frame of a group message and of
 * the receipts that answer it against the plaintext, what one message to everyone costs as the room grows, the other
 * group frames, and the sealed signaling blob of a real offer and candidate against their JSON.
 */
import { deriveRoomKeys, generateRoomSecret } from '../../src/core/crypto/roomSecret.ts';
import { openSignal, sealSignal, type SignalRoute } from '../../src/core/crypto/signalSeal.ts';
import { bytesToBase64url } from '../../src/core/encoding.ts';
import { parsePeerSignal } from '../../src/core/protocol/peerSignal.ts';
import { encodeFrame } from '../../src/core/protocol/signaling.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { frameSizes, groupFrameBytes, sampleMessage, type FrameSizes } from '../frames.ts';
import { DIGESTS_PER_AUTHOR } from '../../src/core/group/groupLimits.ts';
import { MAX_DIGEST_ENTRIES } from '../../src/core/protocol/groupMessages.ts';
import { loadBenchPage } from '../benchPages.ts';
import { round } from '../stats.ts';
import type { JsonObject, Section, SectionResult } from '../harness.ts';

const TEXT_LENGTHS = [1, 100, 1000] as const;
/** Room sizes for the cost of one message to everyone: the sender seals one frame per other member. */
const ROOM_SIZES = [2, 4, 8] as const;

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
    String(sizes.messageFrameBytes),
    `+${sizes.messageFrameBytes - sizes.textBytes}`,
    (sizes.messageFrameBytes / sizes.textBytes).toFixed(2),
    String(sizes.receiptsFrameBytes),
    ...ROOM_SIZES.map((members) => String((members - 1) * sizes.messageFrameBytes)),
  ];
}

export const wireBytes: Section = {
  id: 'wireBytes',
  title: 'Bytes on the wire per message',
  timeoutMs: 30_000,
  async run(ctx): Promise<SectionResult> {
    const frames: FrameSizes[] = [];
    for (const length of TEXT_LENGTHS) frames.push(await frameSizes('x'.repeat(length)));
    // In an 8-member room a member reports 8 digests for each of the 7 other authors (spec §12.8).
    const digestEntries = Math.min(MAX_DIGEST_ENTRIES, 7 * DIGESTS_PER_AUTHOR);
    const digestEntry = (): { author: string; seq: number; digest: string } => {
      const sample = sampleMessage('x');
      return { author: sample.author, seq: 1, digest: sample.id };
    };
    const otherFrames = {
      digestsFrameBytes: await groupFrameBytes({ type: 'digests', entries: Array.from({ length: digestEntries }, digestEntry) }),
      pingFrameBytes: await groupFrameBytes({ type: 'ping', n: 1 }),
      byeFrameBytes: await groupFrameBytes({ type: 'bye' }),
    };

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
        messageOverheadBytes: sizes.messageFrameBytes - sizes.textBytes,
        messageRatio: round(sizes.messageFrameBytes / sizes.textBytes, 3),
        toEveryoneBytes: Object.fromEntries(ROOM_SIZES.map((members) => [`members${members}`, (members - 1) * sizes.messageFrameBytes])),
      })),
      otherFrames: { ...otherFrames, digestEntries },
      signaling: signals.map((cost) => ({ ...cost, blobToPlainRatio: round(cost.blobChars / cost.plainJsonBytes, 3) })),
    };
    return {
      data,
      checks: [],
      tables: [
        {
          title: 'Data-channel bytes per message (the text is ASCII "x"s); a message to everyone is one frame per other member',
          columns: ['text chars', 'text bytes', 'message frame', 'overhead', 'frame/text', 'receipts frame', ...ROOM_SIZES.map((members) => `to all, ${members} members`)],
          rows: frames.map(frameRow),
        },
        {
          title: 'Other group frames (bytes on the data channel)',
          columns: ['frame', 'bytes', 'how often'],
          rows: [
            [`digests (${digestEntries} entries: 8-member room)`, String(otherFrames.digestsFrameBytes), 'at most once per 2 s per member, after messages were shown'],
            ['ping or pong', String(otherFrames.pingFrameBytes), 'after 5 s with nothing sent on a session'],
            ['bye', String(otherFrames.byeFrameBytes), 'once per session, when leaving'],
          ],
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
        'Message frame = 10-byte header + AES-GCM(16-byte id + 16-byte author + 8-byte seq + 8-byte time + 1-byte stream + text) + 16-byte tag; receipts = header + AES-GCM(8-byte delivered + 8-byte read) + tag. SCTP, DTLS, UDP and IP headers come on top for raw and Parley alike.',
        'A message to everyone is sealed once per addressee on its own pair session (no relaying, spec §12.6), so its cost grows with the room; each recipient answers with receipts at most every 100 ms.',
        'Sealed blob = base64url(12-byte IV + ciphertext + 16-byte tag) of {"seq":n,"signal":…}.',
      ],
    };
  },
};
