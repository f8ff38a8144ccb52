import { describe, expect, it } from 'vitest';
import { chunkRange, planChunks } from '../../src/core/transfer/chunkPlan.ts';
import { minWindowBytes, OutgoingWindow } from '../../src/core/transfer/outgoingWindow.ts';
import { ACK_EVERY_BYTES, DEFAULT_WINDOW_BYTES, MAX_CHUNK_BYTES } from '../../src/core/transfer/transferLimits.ts';

const CHUNK = 64 * 1024;
const MiB = 1024 * 1024;

/** Sends while the window allows; returns the indices sent. */
function sendAll(window: OutgoingWindow): number[] {
  const sent: number[] = [];
  while (window.canSend()) {
    const index = window.nextIndex;
    if (index === null) break;
    window.markSent(index);
    sent.push(index);
  }
  return sent;
}

describe('OutgoingWindow sending', () => {
  it('sends chunks in order until the window is full', () => {
    const window = new OutgoingWindow(planChunks(4 * MiB, CHUNK), MiB);
    expect(window.nextIndex).toBe(0);
    expect(sendAll(window)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(window.sentBytes).toBe(MiB);
    expect(window.inFlightBytes).toBe(MiB);
    expect(window.canSend()).toBe(false);
    expect(window.nextIndex).toBe(16);
  });

  it('counts the next chunk’s own length against the window', () => {
    // 1 300 KiB window, 255 KiB chunks: 5 chunks (1 275 KiB) fit, a sixth (1 530 KiB) would not.
    const window = new OutgoingWindow(planChunks(8 * MiB, MAX_CHUNK_BYTES), 1300 * 1024);
    expect(sendAll(window)).toHaveLength(5);
    expect(window.inFlightBytes + MAX_CHUNK_BYTES).toBeGreaterThan(window.windowBytes);
  });

  it('lets a short last chunk through where a full one would not fit', () => {
    const window = new OutgoingWindow(planChunks(MiB + 10, CHUNK), MiB + 10);
    expect(sendAll(window)).toHaveLength(17);
    expect(window.nextIndex).toBeNull();
    expect(window.canSend()).toBe(false);
  });

  it('always allows the first chunk after everything is acknowledged', () => {
    const window = new OutgoingWindow(planChunks(0, CHUNK), MiB);
    expect(window.canSend()).toBe(true);
    window.markSent(0);
    expect(window.nextIndex).toBeNull();
    expect(window.onAck(0)).toEqual({ ok: true });
    expect(window.allAcked).toBe(true);
  });

  it('throws when a chunk is sent out of order, twice, or into a full window', () => {
    const window = new OutgoingWindow(planChunks(4 * MiB, CHUNK), MiB);
    expect(() => window.markSent(1)).toThrow();
    window.markSent(0);
    expect(() => window.markSent(0)).toThrow();
    sendAll(window);
    expect(() => window.markSent(16)).toThrow();
    expect(window.sentBytes).toBe(MiB);
  });

  it('refuses a window that could wait forever for an ack', () => {
    const plan = planChunks(10 * MiB, CHUNK);
    expect(minWindowBytes(CHUNK)).toBe(ACK_EVERY_BYTES);
    expect(minWindowBytes(MAX_CHUNK_BYTES)).toBe(ACK_EVERY_BYTES + MAX_CHUNK_BYTES);
    expect(() => new OutgoingWindow(plan, ACK_EVERY_BYTES - 1)).toThrow();
    expect(() => new OutgoingWindow(planChunks(10 * MiB, MAX_CHUNK_BYTES), ACK_EVERY_BYTES)).toThrow();
    expect(() => new OutgoingWindow(plan, Number.NaN)).toThrow();
    expect(new OutgoingWindow(plan, DEFAULT_WINDOW_BYTES).windowBytes).toBe(DEFAULT_WINDOW_BYTES);
  });
});

describe('OutgoingWindow acknowledgements', () => {
  it('advance the window', () => {
    const window = new OutgoingWindow(planChunks(4 * MiB, CHUNK), MiB);
    sendAll(window);
    expect(window.onAck(MiB / 2)).toEqual({ ok: true });
    expect(window.ackedBytes).toBe(MiB / 2);
    expect(sendAll(window)).toHaveLength(8);
    expect(window.onAck(MiB / 2)).toEqual({ ok: true });
    expect(window.ackedBytes).toBe(MiB / 2);
  });

  it('refuse an ack beyond what was sent, going backwards, or inside a chunk, changing nothing', () => {
    const window = new OutgoingWindow(planChunks(4 * MiB, CHUNK), MiB);
    sendAll(window);
    expect(window.onAck(MiB / 2).ok).toBe(true);
    for (const bad of [MiB + CHUNK, MiB / 2 - CHUNK, 0, MiB / 2 + 1, -1, 1.5, Number.NaN]) {
      expect(window.onAck(bad).ok, String(bad)).toBe(false);
      expect(window.ackedBytes).toBe(MiB / 2);
    }
  });

  it('accept the end of a ragged file as the final ack', () => {
    const plan = planChunks(2 * MiB + 3, CHUNK);
    const window = new OutgoingWindow(plan, 4 * MiB);
    sendAll(window);
    expect(window.sentBytes).toBe(plan.sizeBytes);
    expect(window.allAcked).toBe(false);
    expect(window.onAck(2 * MiB).ok).toBe(true);
    expect(window.onAck(plan.sizeBytes).ok).toBe(true);
    expect(window.allAcked).toBe(true);
  });

  it('never let more than the window stay unacknowledged over a whole transfer fed by receiver-style acks', () => {
    const plan = planChunks(20 * MiB + 12_345, MAX_CHUNK_BYTES);
    const window = new OutgoingWindow(plan, minWindowBytes(MAX_CHUNK_BYTES));
    let received = 0;
    let maxInFlight = 0;
    for (let step = 0; step < 10_000 && !window.allAcked; step++) {
      const index = window.nextIndex;
      // Not all acknowledged yet nothing may be sent: the window is too small for the receiver's ack cadence.
      if (index === null || !window.canSend()) throw new Error(`stalled at ${window.sentBytes} sent, ${window.ackedBytes} acknowledged`);
      window.markSent(index);
      maxInFlight = Math.max(maxInFlight, window.inFlightBytes);
      const { startByte, endByte } = chunkRange(plan, index);
      received = endByte;
      const crossed = Math.floor(endByte / ACK_EVERY_BYTES) > Math.floor(startByte / ACK_EVERY_BYTES);
      if (crossed || endByte === plan.sizeBytes) expect(window.onAck(received).ok).toBe(true);
    }
    expect(window.allAcked).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(window.windowBytes);
  });
});

describe('OutgoingWindow resume', () => {
  it('sets sent and acknowledged bytes to the offset and reports what is sent again', () => {
    const window = new OutgoingWindow(planChunks(4 * MiB, CHUNK), 2 * MiB);
    sendAll(window);
    window.onAck(MiB);
    expect(window.resumeFrom(MiB + 3 * CHUNK)).toEqual({ ok: true, resentBytes: 2 * MiB - (MiB + 3 * CHUNK) });
    expect(window.sentBytes).toBe(MiB + 3 * CHUNK);
    expect(window.ackedBytes).toBe(MiB + 3 * CHUNK);
    expect(window.nextIndex).toBe(19);
  });

  it('allows an offset below the last ack (the receiver lost data) and 0 on a fresh window', () => {
    const window = new OutgoingWindow(planChunks(4 * MiB, CHUNK), 2 * MiB);
    expect(window.resumeFrom(0)).toEqual({ ok: true, resentBytes: 0 });
    sendAll(window);
    window.onAck(2 * MiB);
    expect(window.resumeFrom(CHUNK)).toEqual({ ok: true, resentBytes: 2 * MiB - CHUNK });
    expect(window.ackedBytes).toBe(CHUNK);
    expect(window.nextIndex).toBe(1);
  });

  it('refuses offsets inside a chunk, beyond what was sent, or at the end, changing nothing', () => {
    const plan = planChunks(2 * MiB, CHUNK);
    const window = new OutgoingWindow(plan, 2 * MiB);
    sendAll(window);
    window.onAck(MiB);
    const fresh = new OutgoingWindow(plan, 2 * MiB);
    expect(fresh.resumeFrom(CHUNK).ok).toBe(false);
    for (const bad of [1, CHUNK + 1, plan.sizeBytes, plan.sizeBytes + CHUNK, -CHUNK]) {
      expect(window.resumeFrom(bad).ok, String(bad)).toBe(false);
      expect([window.sentBytes, window.ackedBytes, window.nextIndex]).toEqual([2 * MiB, MiB, null]);
    }
  });
});
