/**
 * Starts the image check of a received file (sniff, decode, render) as soon as its receiving store has made it, while
 * the transfer engine still compares the content digest, so the first preview does not wait for the two one after
 * the other (§7.14). The verdict is taken only once the engine hands the file out, i.e. after the digest matched
 * (§7.10); a file the engine discards instead has its render let go as soon as its check ends.
 */
import type { ImageVerdict } from '../../core/transfer/imageSniff.ts';
import type { ReceiveSink } from '../../core/transfer/transferManager.ts';

export type ImageCheck = (file: Blob) => Promise<ImageVerdict<ImageBitmap>>;

function letGo(verdict: Promise<ImageVerdict<ImageBitmap>>): void {
  verdict.then(
    (result) => {
      if (result.kind === 'image') result.render.close();
    },
    () => {},
  );
}

export class EarlyImageChecks {
  /** Checks started on files not yet taken; keyed by the file, so a file nobody takes goes with its check. */
  private readonly started = new WeakMap<Blob, Promise<ImageVerdict<ImageBitmap>>>();

  constructor(private readonly check: ImageCheck) {}

  /** `inner`, with the check of the file it makes started at once. */
  sink(inner: ReceiveSink<Blob>): ReceiveSink<Blob> {
    let discarded = false;
    let made: { readonly file: Blob; readonly verdict: Promise<ImageVerdict<ImageBitmap>> } | null = null;
    return {
      append: (bytes) => inner.append(bytes),
      finish: async () => {
        const file = await inner.finish();
        // Discarded while the file was being made: it is never checked, let alone shown.
        if (discarded) return file;
        const verdict = this.check(file);
        // Taken, and its failure reported, only when the file is handed out; until then nobody awaits it.
        verdict.catch(() => {});
        this.started.set(file, verdict);
        made = { file, verdict };
        return file;
      },
      discard: async () => {
        discarded = true;
        if (made !== null && this.started.get(made.file) === made.verdict) {
          this.started.delete(made.file);
          letGo(made.verdict);
        }
        made = null;
        await inner.discard();
      },
    };
  }

  /** The check of `file`: the one started when its store made it, handed out once; otherwise a check starts now. */
  take(file: Blob): Promise<ImageVerdict<ImageBitmap>> {
    const started = this.started.get(file);
    if (started === undefined) return this.check(file);
    this.started.delete(file);
    return started;
  }
}
