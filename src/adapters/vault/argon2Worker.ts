/** The Web Worker that runs Argon2id (hash-wasm), so the page stays responsive for the second or so it takes. */
import { handleArgon2WorkerMessage } from './argon2WorkerProtocol.ts';
import { hashWasmArgon2id } from './hashWasmArgon2id.ts';

addEventListener('message', (event: MessageEvent<unknown>) => {
  // Copied rather than transferred: 32 bytes, and the hash may be a view into hash-wasm's memory.
  void handleArgon2WorkerMessage(event.data, hashWasmArgon2id).then((response) => postMessage(response));
});
