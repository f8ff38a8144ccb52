/** DeferredTransfers: the transfer engine loaded on first use, with nothing the room handed it lost or reordered. */
import { describe, expect, it } from 'vitest';
import { DeferredTransfers, type TransferEngine } from '../../src/core/transfer/deferredTransfers.ts';
import type { FileSource, TransferChannel } from '../../src/core/transfer/transferManager.ts';
import type { TransferControl } from '../../src/core/transfer/transferMessages.ts';

/** An engine that writes down every call, naming channels by the label the test gave them. */
function recordingEngine(calls: string[], names: Map<TransferChannel, string>): TransferEngine {
  return {
    attach: (memberId, channel) => calls.push(`attach ${memberId} ${names.get(channel) ?? '?'}`),
    detach: (memberId) => calls.push(`detach ${memberId}`),
    onControl: (memberId, message) => calls.push(`control ${memberId} ${message.type}`),
    onChunk: (memberId, header) => calls.push(`chunk ${memberId} ${header.index}`),
    send: (memberIds) => {
      calls.push(`send ${memberIds.join(',')}`);
      return new Map(memberIds.map((memberId) => [memberId, `t-${memberId}`]));
    },
    cancel: (memberId, transferId) => calls.push(`cancel ${memberId} ${transferId}`),
  };
}

function channel(names: Map<TransferChannel, string>, name: string): TransferChannel {
  const made: TransferChannel = { sendControl: () => {}, sendChunk: async () => {}, writable: async () => {} };
  names.set(made, name);
  return made;
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((done, fail) => {
    resolve = done;
    reject = fail;
  });
  return { promise, resolve, reject };
}

const ack: TransferControl = { type: 'ack', id: 'x', receivedBytes: 1 };
const source: FileSource = { name: 'a', mimeType: 'text/plain', sizeBytes: 1, read: async () => new Uint8Array(1) };
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('DeferredTransfers', () => {
  it('does not load the engine for sessions coming and going: only a file does', async () => {
    const names = new Map<TransferChannel, string>();
    let loads = 0;
    const transfers = new DeferredTransfers(async () => {
      loads += 1;
      return recordingEngine([], names);
    }, () => {});
    transfers.attach('bob', channel(names, 'one'));
    transfers.detach('bob');
    transfers.attach('bob', channel(names, 'two'));
    transfers.cancel('bob', 'nothing');
    await settle();
    expect(loads).toBe(0);
  });

  it('hands the engine the live sessions, then what peers sent meanwhile, in order', async () => {
    const names = new Map<TransferChannel, string>();
    const calls: string[] = [];
    const engine = deferred<TransferEngine>();
    const transfers = new DeferredTransfers(() => engine.promise, () => {});
    transfers.attach('bob', channel(names, 'old'));
    transfers.attach('carol', channel(names, 'carol'));
    transfers.detach('bob');
    transfers.attach('bob', channel(names, 'new'));
    transfers.onControl('bob', ack);
    transfers.onChunk('carol', { id: 'y', index: 3, isLast: false }, new Uint8Array(2));
    transfers.onControl('carol', ack);
    expect(calls).toEqual([]);
    engine.resolve(recordingEngine(calls, names));
    await settle();
    expect(calls).toEqual(['attach carol carol', 'attach bob new', 'control bob ack', 'chunk carol 3', 'control carol ack']);
    // Loaded: everything now goes straight through.
    transfers.detach('carol');
    transfers.cancel('bob', 't-1');
    expect(calls.slice(5)).toEqual(['detach carol', 'cancel bob t-1']);
  });

  it('sends once the engine is there, loading it once for calls that come together', async () => {
    const names = new Map<TransferChannel, string>();
    const calls: string[] = [];
    let loads = 0;
    const transfers = new DeferredTransfers(async () => {
      loads += 1;
      return recordingEngine(calls, names);
    }, () => {});
    transfers.attach('bob', channel(names, 'live'));
    const [ids] = await Promise.all([transfers.send(['bob'], () => source), transfers.ready()]);
    expect([...ids]).toEqual([['bob', 't-bob']]);
    expect(calls).toEqual(['attach bob live', 'send bob']);
    expect(loads).toBe(1);
  });

  it('when the engine does not load, says so, drops what waited, and tries again on the next call', async () => {
    const names = new Map<TransferChannel, string>();
    const calls: string[] = [];
    const failures: unknown[] = [];
    let attempt = 0;
    const transfers = new DeferredTransfers(
      async () => {
        attempt += 1;
        if (attempt === 1) throw new Error('offline');
        return recordingEngine(calls, names);
      },
      (error) => failures.push(error),
    );
    transfers.attach('bob', channel(names, 'live'));
    transfers.onControl('bob', ack);
    await settle();
    expect(failures).toHaveLength(1);
    await expect(transfers.send(['bob'], () => source)).resolves.toBeInstanceOf(Map);
    // The session stays attached across the failure; the control that waited for the failed load is gone.
    expect(calls).toEqual(['attach bob live', 'send bob']);
  });
});
