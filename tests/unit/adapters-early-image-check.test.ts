/**
 * EarlyImageChecks with Node's Blob and a counted stand-in for the image check: the check starts when the store makes
 * the file, is handed out once, and a discarded file's render is let go (or its check never started).
 */
import { describe, expect, it } from 'vitest';
import { EarlyImageChecks } from '../../src/adapters/transfer/earlyImageCheck.ts';
import type { ImageVerdict } from '../../src/core/transfer/imageSniff.ts';
import type { ReceiveSink } from '../../src/core/transfer/transferManager.ts';

interface FakeRender {
  readonly width: number;
  readonly height: number;
  closed: boolean;
  close(): void;
}

/** A check that says "image" with a render that notes being closed; it ends when the test says so. */
function countedCheck() {
  const started: { file: Blob; render: FakeRender; end: () => void }[] = [];
  const check = (file: Blob): Promise<ImageVerdict<ImageBitmap>> =>
    new Promise((resolve) => {
      const render: FakeRender = {
        width: 2,
        height: 2,
        closed: false,
        close() {
          render.closed = true;
        },
      };
      started.push({ file, render, end: () => resolve({ kind: 'image', mimeType: 'image/png', widthPx: 2, heightPx: 2, render }) });
    });
  return { started, check };
}

/** A store whose finish() waits until the test lets it. */
function heldSink() {
  let release = (): void => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const file = new Blob([new Uint8Array([1, 2, 3])]);
  const sink: ReceiveSink<Blob> = {
    append: async () => {},
    finish: async () => {
      await held;
      return file;
    },
    discard: async () => {},
  };
  return { sink, file, release };
}

describe('EarlyImageChecks', () => {
  it('starts the check when the store makes the file, and hands that same check out once', async () => {
    const { started, check } = countedCheck();
    const checks = new EarlyImageChecks(check);
    const { sink, file, release } = heldSink();
    release();
    expect(await checks.sink(sink).finish()).toBe(file);
    expect(started.map((entry) => entry.file)).toEqual([file]);
    const taken = checks.take(file);
    started[0]?.end();
    expect((await taken).kind).toBe('image');
    expect(started).toHaveLength(1);
    // Taken once: asking again checks again.
    void checks.take(file);
    expect(started).toHaveLength(2);
  });

  it('lets go of the render of a file that is discarded after it was made, and never hands that check out', async () => {
    const { started, check } = countedCheck();
    const checks = new EarlyImageChecks(check);
    const { sink, file, release } = heldSink();
    const wrapped = checks.sink(sink);
    release();
    await wrapped.finish();
    await wrapped.discard();
    started[0]?.end();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started[0]?.render.closed).toBe(true);
    void checks.take(file);
    expect(started).toHaveLength(2);
  });

  it('never starts a check for a file discarded while it was being made', async () => {
    const { started, check } = countedCheck();
    const checks = new EarlyImageChecks(check);
    const { sink, release } = heldSink();
    const wrapped = checks.sink(sink);
    const finishing = wrapped.finish();
    await wrapped.discard();
    release();
    await finishing;
    expect(started).toHaveLength(0);
  });
});
