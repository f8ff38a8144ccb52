/**
 * Time to first preview of a 5 MiB photo: a real PNG (1280 × 1024 random RGBA pixels, stored uncompressed, built by
 * tests/fixtures/images.ts) sent from page A to page B through Parley, timed from send() until B's checkRasterImage
 * says it is an image and a frame showing its render in a canvas was painted, as the app shows it. The baseline is the same
 * bytes over a raw RTCDataChannel between the same two pages (receiver counts), in alternating runs; "raw done well"
 * (the File read in slices, the receiver keeping Blob parts) is shown beside it. The hop table splits Parley's time
 * from send() to the first preview at every point where the transfer engine meets the session, in both pages.
 */
import { makePng } from '../../tests/fixtures/images.ts';
import { openBenchPair } from '../benchPages.ts';
import type { BenchContext, Check, JsonObject, Section, SectionResult } from '../harness.ts';
import { median, round } from '../stats.ts';
import { mbPerSecond, parleyRun, rawRun, type ParleyRun, type RawRun, type RunOptions } from '../transferRuns.ts';

const WIDTH_PX = 1280;
const HEIGHT_PX = 1024;
const PIECE_BYTES = 64 * 1024;
/** "Raw done well", as in fileTransfer: the least any correct file transfer does (reads the File, keeps a Blob). */
const WELL_MESSAGE_BYTES = 256 * 1024;
const WELL_READ_BYTES = 4 * 1024 * 1024;
const RUNS = 9;
const TRANSFER_TIMEOUT_MS = 30_000;
const SETTLE_AFTER_SECURE_MS = 1500;

interface PreviewTimes {
  /** send() → B's view 'done'. */
  readonly transferMs: number;
  /** send() → checkRasterImage said 'image' (it decodes the file once, with createImageBitmap, and renders the preview). */
  readonly verdictMs: number;
  /** send() → a frame showing the render was painted. */
  readonly previewMs: number;
  readonly hashMs: number;
  /** 'sending' → every byte acknowledged. */
  readonly streamMs: number;
  /** B: every byte stored → 'done'. */
  readonly finishMs: number;
}

/** One moment of a Parley run, as epoch ms of the page that saw it; null if that page never saw it. */
type Moment = (run: ParleyRun) => number | null | undefined;

const moments = {
  sendCalled: (run) => run.sender.sendCalledAtEpochMs,
  offerSent: (run) => run.sender.hops.offerSent,
  offerArrived: (run) => run.receiver.hops.offerArrived,
  acceptSent: (run) => run.receiver.hops.acceptSent,
  acceptArrived: (run) => run.sender.hops.acceptArrived,
  firstChunkSent: (run) => run.sender.hops.firstChunkSent,
  firstChunkDelivered: (run) => run.receiver.hops.firstChunkDelivered,
  firstChunkArrived: (run) => run.receiver.hops.firstChunkArrived,
  lastChunkSent: (run) => run.sender.hops.lastChunkSent,
  lastChunkDelivered: (run) => run.receiver.hops.lastChunkDelivered,
  lastChunkArrived: (run) => run.receiver.hops.lastChunkArrived,
  lastChunkStored: (run) => run.receiver.allBytesAtEpochMs,
  digestVerified: (run) => run.receiver.stateAtEpochMs.verifying,
  done: (run) => run.receiver.stateAtEpochMs.done,
  imageChecked: (run) => run.receiver.preview?.verdictAtEpochMs,
  painted: (run) => run.receiver.preview?.shownAtEpochMs,
} satisfies Record<string, Moment>;

type MomentName = keyof typeof moments;

/** The hops from send() to the first preview, in the order they happen (A = sender, B = receiver). */
const HOPS: readonly { readonly label: string; readonly from: MomentName; readonly to: MomentName }[] = [
  { label: 'A: send() → offer handed to the session', from: 'sendCalled', to: 'offerSent' },
  { label: 'offer sealed, on the wire, opened by B', from: 'offerSent', to: 'offerArrived' },
  { label: 'B: offer admitted, sink opened → accept handed to the session', from: 'offerArrived', to: 'acceptSent' },
  { label: 'accept sealed, on the wire, opened by A', from: 'acceptSent', to: 'acceptArrived' },
  { label: 'A: first chunk read, hashed, sealed, handed to the channel', from: 'acceptArrived', to: 'firstChunkSent' },
  { label: 'first chunk on the wire, delivered to B', from: 'firstChunkSent', to: 'firstChunkDelivered' },
  { label: 'B: first chunk opened', from: 'firstChunkDelivered', to: 'firstChunkArrived' },
  { label: 'B: first chunk opened → last chunk delivered (the stream)', from: 'firstChunkArrived', to: 'lastChunkDelivered' },
  { label: 'B: last chunk opened', from: 'lastChunkDelivered', to: 'lastChunkArrived' },
  { label: 'B: last chunk hashed and stored', from: 'lastChunkArrived', to: 'lastChunkStored' },
  { label: 'B: content digest computed and compared', from: 'lastChunkStored', to: 'digestVerified' },
  { label: "B: Blob parts made one file → 'done'", from: 'digestVerified', to: 'done' },
  { label: 'B: image check (sniff, decode, render)', from: 'done', to: 'imageChecked' },
  { label: 'B: render drawn into a canvas, frame painted', from: 'imageChecked', to: 'painted' },
];

/** Ms from send() to each moment, per run; throws if a run lacks one (the marks are part of the bench's contract). */
function momentsOf(run: ParleyRun): Record<MomentName, number> {
  const sentAt = moments.sendCalled(run);
  if (sentAt === null || sentAt === undefined) throw new Error('the run has no send() time');
  const result: Partial<Record<MomentName, number>> = {};
  for (const name of Object.keys(moments) as MomentName[]) {
    const at = moments[name](run);
    if (at === null || at === undefined) throw new Error(`the run has no mark '${name}'`);
    result[name] = at - sentAt;
  }
  return result as Record<MomentName, number>;
}

function previewTimes(run: ParleyRun): PreviewTimes {
  const preview = run.receiver.preview;
  const sentAt = run.sender.sendCalledAtEpochMs;
  if (preview === null || sentAt === null) throw new Error('the receiver made no preview');
  if (preview.verdict !== 'image' || preview.shownAtEpochMs === null) throw new Error(`the photo was not previewed: ${preview.verdict} ${preview.error ?? ''}`);
  return {
    transferMs: run.totalMs,
    verdictMs: preview.verdictAtEpochMs - sentAt,
    previewMs: preview.shownAtEpochMs - sentAt,
    hashMs: run.phases.hashMs,
    streamMs: run.phases.streamMs,
    finishMs: run.phases.finishMs,
  };
}

async function run(ctx: BenchContext): Promise<SectionResult> {
  const png = makePng(WIDTH_PX, HEIGHT_PX);
  const pair = await openBenchPair(ctx);
  await pair.waitSecure(20_000);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_AFTER_SECURE_MS));
  const linkId = await pair.openBulkLink(20_000);
  const sizeBytes = await pair.pinger.evaluate((api, [base64, piece]) => api.putFile('photo', base64, 'photo.png', 'image/png', piece), [png.toString('base64'), PIECE_BYTES] as const);
  const expectedDigest = await pair.pinger.evaluate((api) => api.fileDigest('photo'));
  const options: RunOptions = { sampler: null, cpu: null, digest: true, timeoutMs: TRANSFER_TIMEOUT_MS };

  // Warm-up, not counted: JIT, first WebCrypto use, the PNG decoder.
  await rawRun(pair, linkId, 'photo', sizeBytes, 'count', { from: 'memory' }, options);
  await parleyRun(pair, 'photo', options);

  const raws: RawRun[] = [];
  const wells: RawRun[] = [];
  const parleys: ParleyRun[] = [];
  const rawWell = (): Promise<RawRun> => rawRun(pair, linkId, 'photo', sizeBytes, 'parts', { from: 'slices', messageBytes: WELL_MESSAGE_BYTES, readBytes: WELL_READ_BYTES }, options);
  for (let i = 0; i < RUNS; i++) {
    // Alternate the order, so none always follows another's leftovers.
    if (i % 2 === 0) raws.push(await rawRun(pair, linkId, 'photo', sizeBytes, 'count', { from: 'memory' }, options));
    if (i % 2 === 0) wells.push(await rawWell());
    parleys.push(await parleyRun(pair, 'photo', options));
    if (i % 2 === 1) wells.push(await rawWell());
    if (i % 2 === 1) raws.push(await rawRun(pair, linkId, 'photo', sizeBytes, 'count', { from: 'memory' }, options));
  }
  await pair.closeBulkLink(linkId);

  const times = parleys.map(previewTimes);
  const rawMs = median(raws.map((entry) => entry.totalMs));
  const wellMs = median(wells.map((entry) => entry.totalMs));
  const pick = (choose: (entry: PreviewTimes) => number): number => median(times.map(choose));
  const transferMs = pick((entry) => entry.transferMs);
  const verdictMs = pick((entry) => entry.verdictMs);
  const previewMs = pick((entry) => entry.previewMs);
  const hashMs = pick((entry) => entry.hashMs);
  const streamMs = pick((entry) => entry.streamMs);
  const finishMs = pick((entry) => entry.finishMs);
  const runMoments = parleys.map(momentsOf);
  const hopRows = HOPS.map((hop) => {
    const hopMs = median(runMoments.map((entry) => entry[hop.to] - entry[hop.from]));
    const atMs = median(runMoments.map((entry) => entry[hop.to]));
    return { label: hop.label, hopMs, atMs };
  });
  const rawFirstByteMs = median(raws.map((entry) => entry.receive.firstByteAtEpochMs - entry.send.startedAtEpochMs));
  const senderStreamMs = median(runMoments.map((entry) => entry.lastChunkSent - entry.firstChunkSent));
  const drainMs = median(runMoments.map((entry) => entry.lastChunkDelivered - entry.lastChunkSent));
  const medianRun = parleys[times.map((entry) => entry.previewMs).indexOf(previewMs)] ?? parleys[0];
  const sentAt = medianRun?.sender.sendCalledAtEpochMs ?? 0;
  const series = (marks: readonly number[] | undefined): string => (marks ?? []).map((at) => Math.round(at - sentAt)).join(' ');
  const chunkNote = `The median run's chunks, ms from send(): handed to A's channel ${series(medianRun?.sender.chunkTimes?.Sent)}; delivered to B ${series(medianRun?.receiver.chunkTimes?.Delivered)}; opened by B ${series(medianRun?.receiver.chunkTimes?.Arrived)}.`;
  const intact = parleys.every((entry) => entry.digest === expectedDigest);
  const sizeMib = (sizeBytes / 2 ** 20).toFixed(2);

  const checks: Check[] = [
    {
      name: 'Photo received intact (WebCrypto SHA-256), every run',
      target: 'all',
      measured: `${parleys.filter((entry) => entry.digest === expectedDigest).length} of ${parleys.length}`,
      met: intact,
    },
  ];
  const row = (label: string, ms: number): string[] => [label, ms.toFixed(0), (ms / rawMs).toFixed(2)];
  const data: JsonObject = {
    fineTimers: pair.fineTimers,
    widthPx: WIDTH_PX,
    heightPx: HEIGHT_PX,
    sizeBytes,
    runs: RUNS,
    medianMs: { raw: round(rawMs), rawDoneWell: round(wellMs), parleyHash: round(hashMs), parleyStream: round(streamMs), parleyFinish: round(finishMs), parleyTransfer: round(transferMs), parleyVerdict: round(verdictMs), parleyFirstPreview: round(previewMs) },
    firstPreviewVsRaw: round(previewMs / rawMs, 3),
    transferVsRaw: round(transferMs / rawMs, 3),
    rawMbPerSecond: round(mbPerSecond(sizeBytes, rawMs), 2),
    digestsMatch: intact,
    hopsMedianMs: Object.fromEntries(hopRows.map((hop) => [hop.label, round(hop.hopMs)])),
    rawFirstByteMs: round(rawFirstByteMs),
    senderStreamMs: round(senderStreamMs),
    lastChunkDrainMs: round(drainMs),
    runsMs: {
      raw: raws.map((entry) => round(entry.totalMs)),
      rawDoneWell: wells.map((entry) => round(entry.totalMs)),
      moments: runMoments.map((entry) => Object.fromEntries(Object.entries(entry).map(([name, ms]) => [name, round(ms)]))),
      parley: times.map((entry) => ({ hash: round(entry.hashMs), stream: round(entry.streamMs), finish: round(entry.finishMs), transfer: round(entry.transferMs), verdict: round(entry.verdictMs), preview: round(entry.previewMs) })),
    },
  };
  return {
    data,
    checks,
    tables: [
      {
        title: `${sizeMib} MiB PNG (${WIDTH_PX}×${HEIGHT_PX}) A→B, median of ${RUNS} alternating runs (ms from send(); ratio to the raw transfer)`,
        columns: ['step', 'ms', 'vs raw'],
        rows: [
          row('raw RTCDataChannel: last byte counted', rawMs),
          row("raw done well (File read in 4 MiB slices, 256 KiB messages, Blob parts): Blob ready", wellMs),
          row("Parley: sender ready, offer sent ('offered')", hashMs),
          row("Parley: B's transfer 'done'", transferMs),
          row('Parley: checkRasterImage says image', verdictMs),
          row('Parley: first preview (canvas painted)', previewMs),
        ],
      },
      {
        title: `Hops of the Parley transfer, median of ${RUNS} runs (hop ms; ms from send() to the hop's end, and that as a ratio to raw's last byte)`,
        columns: ['hop', 'hop ms', 'at ms', 'at / raw'],
        rows: [
          ['raw: first byte counted', '', rawFirstByteMs.toFixed(0), (rawFirstByteMs / rawMs).toFixed(2)],
          ['raw: last byte counted', '', rawMs.toFixed(0), '1.00'],
          ['raw done well: Blob ready', '', wellMs.toFixed(0), (wellMs / rawMs).toFixed(2)],
          ...hopRows.map((hop) => [hop.label, hop.hopMs.toFixed(0), hop.atMs.toFixed(0), (hop.atMs / rawMs).toFixed(2)]),
        ],
      },
    ],
    notes: [
      chunkNote,
      `A: first chunk → last chunk handed to the channel ${senderStreamMs.toFixed(0)} ms; last chunk handed to A's channel → delivered to B ${drainMs.toFixed(0)} ms (median). Marks of the two pages are epoch ms of two renderer processes on one machine.`,
      `Parley's phases (median ms): preparing the offer ${hashMs.toFixed(0)}, stream (accept → last byte acknowledged) ${streamMs.toFixed(0)}, B's finish (last byte stored → 'done': the content digest compared, the Blob parts made into one) ${finishMs.toFixed(0)}.`,
      `After 'done', B does what the app does: checkRasterImage (sniff, createImageBitmap: a full decode, which is the render for an image within 1280 px, else drawn scaled into a canvas of at most 1280 px), then the render drawn into a canvas on the page, awaited until a frame showing it was painted (two animation frames). Median check ${round(verdictMs - transferMs, 1)} ms, drawing and painting ${round(previewMs - verdictMs, 1)} ms.`,
      'The PNG is stored without compression (zlib level 0) so its size is predictable; a camera JPEG of the same size decodes to far more pixels.',
    ],
  };
}

export const photoPreview: Section = {
  id: 'photoPreview',
  title: 'Time to first preview of a 5 MiB photo, Parley vs raw transfer',
  timeoutMs: 180_000,
  run,
};
