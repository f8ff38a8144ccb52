/** The argon2id port over hash-wasm's WebAssembly build; runs in Node (tests) and in a browser worker. */
import { argon2id } from 'hash-wasm';
import type { Argon2idPort } from '../../core/vault/kdf.ts';

export const hashWasmArgon2id: Argon2idPort = (password, salt, params, hashLengthBytes) =>
  argon2id({
    password,
    salt,
    parallelism: params.parallelism,
    iterations: params.iterations,
    memorySize: params.memoryKiB,
    hashLength: hashLengthBytes,
    outputType: 'binary',
  });
