/**
 * The messages between the page and the Argon2id worker, each checked on arrival (structured clone carries
 * any shape), and the worker's handling of a request, kept here so it runs in Node tests as well.
 */
import type { Argon2idParams, Argon2idPort } from '../../core/vault/kdf.ts';

export interface Argon2WorkerRequest {
  readonly type: 'argon2id';
  readonly password: Uint8Array;
  readonly salt: Uint8Array;
  readonly params: Argon2idParams;
  readonly hashLengthBytes: number;
}

export type Argon2WorkerResponse = { readonly type: 'hash'; readonly hash: Uint8Array } | { readonly type: 'error'; readonly message: string };

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Reflect.get(value, key) : undefined;
}

function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

export function parseArgon2WorkerRequest(value: unknown): Argon2WorkerRequest | null {
  const password = field(value, 'password');
  const salt = field(value, 'salt');
  const params = field(value, 'params');
  const memoryKiB = field(params, 'memoryKiB');
  const iterations = field(params, 'iterations');
  const parallelism = field(params, 'parallelism');
  const hashLengthBytes = field(value, 'hashLengthBytes');
  if (field(value, 'type') !== 'argon2id' || !(password instanceof Uint8Array) || !(salt instanceof Uint8Array)) return null;
  if (!isWholeNumber(memoryKiB) || !isWholeNumber(iterations) || !isWholeNumber(parallelism) || !isWholeNumber(hashLengthBytes)) return null;
  return { type: 'argon2id', password, salt, params: { memoryKiB, iterations, parallelism }, hashLengthBytes };
}

export function parseArgon2WorkerResponse(value: unknown): Argon2WorkerResponse | null {
  const type = field(value, 'type');
  if (type === 'hash') {
    const hash = field(value, 'hash');
    return hash instanceof Uint8Array ? { type, hash } : null;
  }
  if (type === 'error') {
    const message = field(value, 'message');
    return typeof message === 'string' ? { type, message } : null;
  }
  return null;
}

/** What the worker does with one message: hash, wipe its copy of the password, answer. */
export async function handleArgon2WorkerMessage(data: unknown, argon2: Argon2idPort): Promise<Argon2WorkerResponse> {
  const request = parseArgon2WorkerRequest(data);
  if (request === null) return { type: 'error', message: 'malformed Argon2id request' };
  try {
    const hash = await argon2(request.password, request.salt, request.params, request.hashLengthBytes);
    return { type: 'hash', hash };
  } catch (error) {
    return { type: 'error', message: error instanceof Error ? error.message : String(error) };
  } finally {
    request.password.fill(0);
  }
}
