import { describe, expect, it } from 'vitest';
import {
  handleArgon2WorkerMessage,
  parseArgon2WorkerRequest,
  parseArgon2WorkerResponse,
  type Argon2WorkerResponse,
} from '../../src/adapters/vault/argon2WorkerProtocol.ts';
import { hashWasmArgon2id } from '../../src/adapters/vault/hashWasmArgon2id.ts';
import { workerArgon2id, type Argon2Worker } from '../../src/adapters/vault/workerArgon2id.ts';
import { utf8 } from '../../src/core/encoding.ts';
import type { Argon2idParams } from '../../src/core/vault/kdf.ts';

const TINY: Argon2idParams = { memoryKiB: 64, iterations: 1, parallelism: 1 };
const SALT = Uint8Array.from({ length: 16 }, (_, i) => i);

/**
 * A worker that runs the real message handler in this thread, after a structured clone each way, as a
 * browser would. `answer` replaces the handler's answer, to test what the page does with a bad one.
 */
class InThreadWorker extends EventTarget {
  terminated = false;
  received: unknown[] = [];

  constructor(private readonly answer?: (data: unknown) => unknown) {
    super();
  }

  postMessage(message: unknown, options?: StructuredSerializeOptions | Transferable[]): void {
    const transfer = Array.isArray(options) ? options : (options?.transfer ?? []);
    const data = structuredClone(message, { transfer });
    this.received.push(data);
    void (async () => {
      const response = this.answer === undefined ? await handleArgon2WorkerMessage(data, hashWasmArgon2id) : this.answer(data);
      if (!this.terminated) this.dispatchEvent(new MessageEvent('message', { data: structuredClone(response) }));
    })();
  }

  terminate(): void {
    this.terminated = true;
  }
}

describe('the Argon2id worker protocol', () => {
  it('accepts a well-formed request and refuses anything else', () => {
    const request = { type: 'argon2id', password: utf8('pw'), salt: SALT, params: TINY, hashLengthBytes: 32 };
    expect(parseArgon2WorkerRequest(request)).toEqual(request);
    for (const bad of [
      null,
      'argon2id',
      { ...request, type: 'scrypt' },
      { ...request, password: 'pw' },
      { ...request, salt: [1, 2, 3] },
      { ...request, params: { ...TINY, memoryKiB: -1 } },
      { ...request, params: { ...TINY, iterations: 1.5 } },
      { ...request, params: null },
      { ...request, hashLengthBytes: 0 },
    ]) {
      expect(parseArgon2WorkerRequest(bad)).toBeNull();
    }
    expect(parseArgon2WorkerResponse({ type: 'hash', hash: new Uint8Array(32) })).toEqual({ type: 'hash', hash: new Uint8Array(32) });
    expect(parseArgon2WorkerResponse({ type: 'error', message: 'x' })).toEqual({ type: 'error', message: 'x' });
    for (const bad of [null, { type: 'hash', hash: 'abc' }, { type: 'error' }, { type: 'other' }]) expect(parseArgon2WorkerResponse(bad)).toBeNull();
  });

  it('hashes as hash-wasm does, wipes its copy of the password, and answers an error for a bad request', async () => {
    const password = utf8('correct horse');
    const expected = await hashWasmArgon2id(utf8('correct horse'), SALT, TINY, 32);
    const response = await handleArgon2WorkerMessage({ type: 'argon2id', password, salt: SALT, params: TINY, hashLengthBytes: 32 }, hashWasmArgon2id);
    expect(response).toEqual({ type: 'hash', hash: expected });
    expect(password.every((byte) => byte === 0)).toBe(true);
    expect(await handleArgon2WorkerMessage({ type: 'nonsense' }, hashWasmArgon2id)).toEqual({ type: 'error', message: 'malformed Argon2id request' });
    // Argon2 needs 8 KiB per lane: hash-wasm throws, and the worker answers with the error.
    const unrunnable = { type: 'argon2id', password: utf8('pw'), salt: SALT, params: { memoryKiB: 8, iterations: 1, parallelism: 4 }, hashLengthBytes: 32 };
    const failing = await handleArgon2WorkerMessage(unrunnable, hashWasmArgon2id);
    expect(failing).toMatchObject({ type: 'error' });
  });
});

describe('workerArgon2id', () => {
  it('gives the same hash as hash-wasm, in a worker it terminates afterwards, without touching the caller’s bytes', async () => {
    const workers: InThreadWorker[] = [];
    const port = workerArgon2id((): Argon2Worker => {
      const worker = new InThreadWorker();
      workers.push(worker);
      return worker;
    });
    const password = utf8('correct horse');
    const hash = await port(password, SALT, TINY, 32);
    expect(hash).toEqual(await hashWasmArgon2id(utf8('correct horse'), SALT, TINY, 32));
    expect(workers).toHaveLength(1);
    expect(workers[0]?.terminated).toBe(true);
    // The caller still holds its bytes (to wipe them itself): a copy went to the worker.
    expect(password).toEqual(utf8('correct horse'));
    // A new worker for every call: nothing of one derivation is left for the next.
    await port(password, SALT, TINY, 32);
    expect(workers).toHaveLength(2);
  });

  it('rejects, and terminates the worker, on an error or a malformed answer', async () => {
    const answers: ((data: unknown) => unknown)[] = [
      (): Argon2WorkerResponse => ({ type: 'error', message: 'out of memory' }),
      () => ({ type: 'hash', hash: 'not bytes' }),
    ];
    for (const answer of answers) {
      const worker = new InThreadWorker(answer);
      await expect(workerArgon2id(() => worker)(utf8('pw'), SALT, TINY, 32)).rejects.toThrow(/Argon2id/);
      expect(worker.terminated).toBe(true);
    }
  });

  it('rejects when the worker cannot run at all', async () => {
    const worker = new InThreadWorker(() => undefined);
    worker.postMessage = (): void => {
      // What a browser fires when the worker script cannot load (Node has no ErrorEvent, so a bare Event).
      worker.dispatchEvent(new Event('error'));
    };
    await expect(workerArgon2id(() => worker)(utf8('pw'), SALT, TINY, 32)).rejects.toThrow(/worker failed to run: it could not start/);
    expect(worker.terminated).toBe(true);
  });
});
