/**
 * A received image in a real browser, without the app's UI: two TransferManagers joined by an in-page wire (so a test
 * can play a sender whose content digest does not match what it sent, which no honest client does), the receiver with
 * the app's store and image checks (blobSink, EarlyImageChecks over checkRasterImage). Puts its one entry point on
 * `window` for tests/e2e/receivedImage.spec.ts.
 */
import { blobSink } from '../../../../src/adapters/transfer/blobSink.ts';
import { EarlyImageChecks } from '../../../../src/adapters/transfer/earlyImageCheck.ts';
import { checkRasterImage } from '../../../../src/adapters/transfer/imageCheck.ts';
import { systemClock, systemRandom } from '../../../../src/core/ports.ts';
import type { ImageVerdict } from '../../../../src/core/transfer/imageSniff.ts';
import { TransferManager, type TransferChannel, type TransferView } from '../../../../src/core/transfer/transferManager.ts';
import type { ChunkHeader, TransferControl } from '../../../../src/core/transfer/transferMessages.ts';

export interface ReceivedImageResult {
  /** The receiver's last view of the transfer: its state, and whether it carried a file. */
  readonly receiverState: string;
  readonly senderState: string;
  /** Views of the receiver that carried a file (only a 'done' one may). */
  readonly viewsWithFile: number;
  /** Image checks started in the receiving page, and what each found. */
  readonly checksStarted: number;
  readonly checks: readonly { readonly verdict: string; readonly renderWidthAfter: number | null }[];
  /** For a file handed out: the verdict take() gave, and whether it was the check started early (no second check). */
  readonly taken: null | { readonly verdict: string; readonly widthPx: number | null };
}

type Wire = { readonly control: TransferControl } | { readonly header: ChunkHeader; readonly data: Uint8Array };

function describe(view: TransferView<Blob> | undefined): string {
  if (view === undefined) return 'none';
  return view.state.kind === 'failed' ? `failed: ${view.state.reason}` : view.state.kind;
}

async function run(base64: string, tamperDigest: boolean): Promise<ReceivedImageResult> {
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  const checks: { verdict: ImageVerdict<ImageBitmap> | null }[] = [];
  // The real check, counted as it runs.
  const imageChecks = new EarlyImageChecks(async (file) => {
    const entry: { verdict: ImageVerdict<ImageBitmap> | null } = { verdict: null };
    checks.push(entry);
    entry.verdict = await checkRasterImage(file);
    return entry.verdict;
  });
  let receiverView: TransferView<Blob> | undefined;
  let senderView: TransferView<Blob> | undefined;
  let viewsWithFile = 0;
  let wake = (): void => {};
  const settled = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const final = new Set(['done', 'failed', 'cancelled']);
  const onView = (): void => {
    if (final.has(receiverView?.state.kind ?? '') && final.has(senderView?.state.kind ?? '')) wake();
  };
  const receiver = new TransferManager<Blob>(
    { clock: systemClock, random: systemRandom, maxFileBytes: 64 * 1024 * 1024, openSink: async () => imageChecks.sink(blobSink()) },
    (view) => {
      receiverView = view;
      if (view.file !== null) viewsWithFile += 1;
      onView();
    },
  );
  const sender = new TransferManager<Blob>({ clock: systemClock, random: systemRandom, maxFileBytes: 64 * 1024 * 1024, openSink: async () => blobSink() }, (view) => {
    senderView = view;
    onView();
  });
  // Each message is delivered on a later task, in order, as a data channel would.
  const channelTo = (deliver: (wire: Wire) => void): TransferChannel => ({
    sendControl: (message) => setTimeout(() => deliver({ control: message })),
    sendChunk: async (header, data) => {
      const copy = data.slice();
      // A sender whose trailing content digest does not match what it sent: one bit of the digest flipped.
      if (tamperDigest && header.isLast) copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0x01;
      setTimeout(() => deliver({ header, data: copy }));
    },
    writable: async () => {},
  });
  const toManager = (manager: TransferManager<Blob>) => (wire: Wire) => {
    if ('control' in wire) manager.onControl(wire.control);
    else manager.onChunk(wire.header, wire.data);
  };
  receiver.attach(channelTo(toManager(sender)));
  sender.attach(channelTo(toManager(receiver)));
  sender.send({ name: 'photo.png', mimeType: 'image/png', sizeBytes: bytes.length, read: async (start, end) => bytes.slice(start, end) });
  await settled;
  const file = receiverView?.file ?? null;
  let taken: ReceivedImageResult['taken'] = null;
  if (file !== null) {
    const verdict = await imageChecks.take(file);
    taken = { verdict: verdict.kind, widthPx: verdict.kind === 'image' ? verdict.render.width : null };
  }
  // Every check started has ended by now or soon; wait for them, then look at what each left.
  for (let round = 0; round < 200 && checks.some((entry) => entry.verdict === null); round++) await new Promise((resolve) => setTimeout(resolve, 10));
  return {
    receiverState: describe(receiverView),
    senderState: describe(senderView),
    viewsWithFile,
    checksStarted: checks.length,
    checks: checks.map((entry) => ({
      verdict: entry.verdict?.kind ?? 'unfinished',
      renderWidthAfter: entry.verdict?.kind === 'image' ? entry.verdict.render.width : null,
    })),
    taken,
  };
}

declare global {
  interface Window {
    receivedImageTest?: { run(base64: string, tamperDigest: boolean): Promise<ReceivedImageResult> };
  }
}

window.receivedImageTest = { run };
