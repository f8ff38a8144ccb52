/**
 * What each stage of a file pipeline costs for one file, in this page alone with no network, one stage at a time:
 * reading the File, hashing, sealing and opening chunk frames, and keeping the received bytes. Node times each stage
 * and reads the processes' CPU around it (WebCrypto runs on the renderer's worker threads, Blob reads and Blob
 * storage in the browser process), so CPU and storage costs are told apart from what the data channel costs.
 */
import { createSHA256 } from 'hash-wasm';
import { sealerOpenerPair, type SealedDirection } from '../frames.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { FrameType, parseFrame } from '../../src/core/protocol/frames.ts';
import { CHUNK_HEADER_BYTES, encodeChunkHeader, newTransferId } from '../../src/core/transfer/transferMessages.ts';
import type { PipelineStage } from './benchApi.ts';

const KIB = 1024;
const MIB = 1024 * KIB;

interface Prepared {
  readonly file: File;
  /** The whole file, read once, for the stages that do not read. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly id: string;
  /** The last seal stage's frames, for the matching open stage. */
  frames: Uint8Array[];
  direction: SealedDirection | null;
}

let prepared: Prepared | null = null;

function current(): Prepared {
  if (prepared === null) throw new Error('prepareStages first');
  return prepared;
}

function pieces(bytes: Uint8Array<ArrayBuffer>, pieceBytes: number): Uint8Array<ArrayBuffer>[] {
  const out: Uint8Array<ArrayBuffer>[] = [];
  for (let start = 0; start < bytes.length; start += pieceBytes) out.push(bytes.subarray(start, Math.min(bytes.length, start + pieceBytes)));
  return out;
}

/** Reads the whole File in slices of `sliceBytes`, one after another. */
async function readSlices(file: File, sliceBytes: number): Promise<void> {
  for (let start = 0; start < file.size; start += sliceBytes) await file.slice(start, Math.min(file.size, start + sliceBytes)).arrayBuffer();
}

async function readStream(file: File): Promise<void> {
  const reader = file.stream().getReader();
  for (let step = await reader.read(); !step.done; step = await reader.read());
}

async function hashWasm(bytes: Uint8Array<ArrayBuffer>, pieceBytes: number): Promise<void> {
  const hasher = await createSHA256();
  hasher.init();
  for (const piece of pieces(bytes, pieceBytes)) hasher.update(piece);
  hasher.digest('binary');
}

/** WebCrypto SHA-256 of every piece, `parallel` in flight at once, then of the list of their digests. */
async function hashList(bytes: Uint8Array<ArrayBuffer>, pieceBytes: number, parallel: number): Promise<void> {
  const all = pieces(bytes, pieceBytes);
  const digests = new Uint8Array(all.length * 32);
  for (let first = 0; first < all.length; first += parallel) {
    const batch = all.slice(first, first + parallel).map((piece) => crypto.subtle.digest('SHA-256', piece));
    (await Promise.all(batch)).forEach((digest, offset) => digests.set(new Uint8Array(digest), (first + offset) * 32));
  }
  await crypto.subtle.digest('SHA-256', digests);
}

/** Seals every piece, `inFlight` seals running at once (the sealer numbers frames as they are handed to it). */
async function seal(state: Prepared, pieceBytes: number, inFlight: number): Promise<void> {
  const direction = await sealerOpenerPair();
  state.direction = direction;
  const all = pieces(state.bytes, pieceBytes);
  const frames: Uint8Array[] = [];
  for (let first = 0; first < all.length; first += inFlight) {
    const batch = all.slice(first, first + inFlight).map((piece, offset) =>
      direction.sealer.seal(FrameType.transferChunk, piece, encodeChunkHeader({ id: state.id, index: first + offset, isLast: false })),
    );
    frames.push(...(await Promise.all(batch)));
  }
  state.frames = frames;
}

/** Opens the frames just sealed: one at a time, or all started at once, as a receiver does when they arrive together. */
async function open(state: Prepared, overlapped: boolean): Promise<void> {
  const opener = state.direction?.opener;
  if (opener === undefined) throw new Error('seal before open');
  const opening: Promise<void>[] = [];
  for (const frame of state.frames) {
    const parsed = parseFrame(frame);
    if (!parsed.ok) throw new Error(parsed.reason);
    const result = opener.open(parsed.frame, CHUNK_HEADER_BYTES).then((opened) => {
      if (!opened.ok) throw new Error(opened.reason);
    });
    if (overlapped) opening.push(result);
    else await result;
  }
  await Promise.all(opening);
  state.frames = [];
  state.direction = null;
}

/** What a receiver with bounded memory does with opened chunks: a Blob every `partBytes`, the file a Blob of those. */
async function keepAsBlobs(bytes: Uint8Array<ArrayBuffer>, pieceBytes: number, partBytes: number): Promise<void> {
  const parts: Blob[] = [];
  let pending: Uint8Array<ArrayBuffer>[] = [];
  let pendingBytes = 0;
  for (const piece of pieces(bytes, pieceBytes)) {
    // Each opened chunk is its own ArrayBuffer, as decrypt() returns it.
    pending.push(piece.slice());
    pendingBytes += piece.length;
    if (pendingBytes >= partBytes) {
      parts.push(new Blob(pending));
      pending = [];
      pendingBytes = 0;
    }
  }
  const file = new Blob([...parts, ...pending]);
  await file.slice(file.size - 1).arrayBuffer();
}

export async function prepareStages(file: File): Promise<number> {
  prepared = { file, bytes: new Uint8Array(await file.arrayBuffer()), id: newTransferId(systemRandom), frames: [], direction: null };
  return file.size;
}

export function releaseStages(): void {
  prepared = null;
}

/** Runs one stage over the prepared file; returns its wall-clock ms. */
export async function runStage(stage: PipelineStage): Promise<number> {
  const state = current();
  const startedAt = performance.now();
  switch (stage) {
    case 'read-64k':
      await readSlices(state.file, 64 * KIB);
      break;
    case 'read-1m':
      await readSlices(state.file, MIB);
      break;
    case 'read-4m':
      await readSlices(state.file, 4 * MIB);
      break;
    case 'read-stream':
      await readStream(state.file);
      break;
    case 'hash-wasm-64k':
      await hashWasm(state.bytes, 64 * KIB);
      break;
    case 'hash-list-64k':
      await hashList(state.bytes, 64 * KIB, 1);
      break;
    case 'hash-list-256k':
      await hashList(state.bytes, 256 * KIB, 1);
      break;
    case 'hash-list-256k-x4':
      await hashList(state.bytes, 256 * KIB, 4);
      break;
    case 'seal-64k':
      await seal(state, 64 * KIB, 1);
      break;
    case 'seal-255k':
      await seal(state, 255 * KIB, 1);
      break;
    case 'seal-255k-x4':
      await seal(state, 255 * KIB, 4);
      break;
    case 'open':
      await open(state, false);
      break;
    case 'open-overlapped':
      await open(state, true);
      break;
    case 'keep-blobs-64k':
      await keepAsBlobs(state.bytes, 64 * KIB, 4 * MIB);
      break;
    case 'keep-blobs-255k':
      await keepAsBlobs(state.bytes, 255 * KIB, 4 * MIB);
      break;
  }
  return performance.now() - startedAt;
}
