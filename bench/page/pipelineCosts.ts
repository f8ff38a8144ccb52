/**
 * What each stage of Parley's file pipeline costs for one file, in this page alone with no network: the sender's
 * chunk reads and their hashing, sealing and opening every chunk frame, the receiver's per-chunk hashing, and the
 * IndexedDB spill. Tells CPU and storage cost apart from what the data channel costs.
 */
import { SpillStore } from '../../src/adapters/storage/spillSink.ts';
import { fileSource } from '../../src/adapters/transfer/fileSource.ts';
import { createSha256 } from '../../src/adapters/transfer/sha256.ts';
import { sealerOpenerPair } from '../frames.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { FrameType, parseFrame } from '../../src/core/protocol/frames.ts';
import { chunkRange, isLastChunk, planChunks } from '../../src/core/transfer/chunkPlan.ts';
import { DEFAULT_CHUNK_BYTES } from '../../src/core/transfer/transferLimits.ts';
import { CHUNK_HEADER_BYTES, encodeChunkHeader, newTransferId } from '../../src/core/transfer/transferMessages.ts';
import type { PipelineCosts } from './benchApi.ts';

async function timed(work: () => Promise<void>): Promise<number> {
  const startedAt = performance.now();
  await work();
  return performance.now() - startedAt;
}

export async function pipelineCosts(file: File): Promise<PipelineCosts> {
  const source = fileSource(file);
  const plan = planChunks(source.sizeBytes, DEFAULT_CHUNK_BYTES);
  const id = newTransferId(systemRandom);

  const chunks: Uint8Array[] = [];
  const readChunksMs = await timed(async () => {
    for (let index = 0; index < plan.chunkCount; index++) {
      const { startByte, endByte } = chunkRange(plan, index);
      chunks.push(await source.read(startByte, endByte));
    }
  });

  const hashSentMs = await timed(async () => {
    const hasher = await createSha256();
    for (const data of chunks) hasher.update(data);
    hasher.digest();
  });

  const { sealer, opener } = await sealerOpenerPair();
  const frames: Uint8Array[] = [];
  const sealMs = await timed(async () => {
    for (const [index, data] of chunks.entries()) {
      const header = encodeChunkHeader({ id, index, isLast: isLastChunk(plan, index) });
      frames.push(await sealer.seal(FrameType.transferChunk, data, header));
    }
  });
  chunks.length = 0;

  const opened: Uint8Array[] = [];
  const openMs = await timed(async () => {
    for (const frame of frames) {
      const parsed = parseFrame(frame);
      if (!parsed.ok) throw new Error(parsed.reason);
      const result = await opener.open(parsed.frame, CHUNK_HEADER_BYTES);
      if (!result.ok) throw new Error(result.reason);
      opened.push(result.plaintext);
    }
  });
  frames.length = 0;

  const hashChunksMs = await timed(async () => {
    const hasher = await createSha256();
    for (const data of opened) hasher.update(data);
    hasher.digest();
  });

  const spill = new SpillStore();
  const spillMs = await timed(async () => {
    const sink = spill.sink({ id, name: file.name, mimeType: source.mimeType, sizeBytes: source.sizeBytes, chunkBytes: plan.chunkBytes, chunkCount: plan.chunkCount });
    for (const data of opened) await sink.append(data);
    await sink.finish();
  });
  opened.length = 0;

  return { sizeBytes: source.sizeBytes, chunkBytes: plan.chunkBytes, hashSentMs, readChunksMs, sealMs, openMs, hashChunksMs, spillMs };
}
