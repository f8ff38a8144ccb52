/**
 * Where a received file accumulates: its bytes become a Blob every 4 MiB, and the finished file is one Blob made of
 * those parts. Blob bytes live in the browser process, not in the page (Chromium moves them to disk when blobs take
 * too much memory), so a 256 MiB file never sits in the page's memory, and nothing is written to the origin's storage.
 */
import { toBufferSource } from '../../core/encoding.ts';
import type { ReceiveSink } from '../../core/transfer/transferManager.ts';

/** At most this much (plus one chunk) waits in the page's memory before it becomes a Blob part. */
const PART_BYTES = 4 * 1024 * 1024;

export function blobSink(): ReceiveSink<Blob> {
  let parts: Blob[] = [];
  let pending: Uint8Array<ArrayBuffer>[] = [];
  let pendingBytes = 0;
  const closePart = (): void => {
    if (pending.length === 0) return;
    parts.push(new Blob(pending));
    pending = [];
    pendingBytes = 0;
  };
  return {
    append: async (bytes) => {
      pending.push(toBufferSource(bytes));
      pendingBytes += bytes.length;
      if (pendingBytes >= PART_BYTES) closePart();
    },
    finish: async () => {
      closePart();
      const file = new Blob(parts);
      parts = [];
      return file;
    },
    discard: async () => {
      parts = [];
      pending = [];
      pendingBytes = 0;
    },
  };
}
