/** The receiving store: chunks in, one Blob of exactly those bytes out, with Node's own Blob. */
import { describe, expect, it } from 'vitest';
import { blobSink } from '../../src/adapters/transfer/blobSink.ts';

function bytesOf(sizeBytes: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: sizeBytes }, (_, i) => (i * 31 + seed) & 0xff);
}

describe('blobSink', () => {
  it('gives back exactly the appended bytes, in order, across several 4 MiB parts', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => bytesOf(255 * 1024, i));
    const sink = blobSink();
    for (const chunk of chunks) await sink.append(chunk);
    // The last chunk of a transfer is a view that leaves out the digest behind it: only the view is kept.
    const last = new Uint8Array(1000);
    last.set(bytesOf(1000, 99));
    await sink.append(last.subarray(0, 700));
    const file = await sink.finish();
    const expected = Buffer.concat([...chunks, last.subarray(0, 700)]);
    expect(file.size).toBe(expected.length);
    expect(Buffer.from(await file.arrayBuffer()).equals(expected)).toBe(true);
  });

  it('an empty file is an empty Blob', async () => {
    const sink = blobSink();
    await sink.append(new Uint8Array(0));
    expect((await sink.finish()).size).toBe(0);
  });
});
