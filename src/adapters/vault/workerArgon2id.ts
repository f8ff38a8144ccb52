/**
 * The Argon2id port for the browser: each derivation runs in a fresh worker, which is terminated as soon as it
 * answers, so neither the passphrase bytes nor the Argon2 memory (64 MiB by default) outlive the call.
 */
import type { Argon2idPort } from '../../core/vault/kdf.ts';
import { parseArgon2WorkerResponse, type Argon2WorkerRequest } from './argon2WorkerProtocol.ts';
import argon2WorkerUrl from './argon2Worker.ts?worker&url';

/** The part of a Worker this port uses. */
export type Argon2Worker = Pick<Worker, 'postMessage' | 'terminate' | 'addEventListener'>;

/**
 * The server's CSP requires Trusted Types for scripts (require-trusted-types-for 'script'), so a Worker starts only
 * from a script URL that a policy vouched for. This policy vouches for exactly one: our own Argon2id worker. It is
 * named in the CSP's trusted-types list (signaling/securityHeaders.ts). Browsers without Trusted Types take the string.
 */
const workerUrlPolicy = globalThis.trustedTypes?.createPolicy('parley-worker', {
  createScriptURL: (url) => {
    if (url !== argon2WorkerUrl) throw new TypeError(`parley-worker vouches only for the Argon2id worker, not for ${url}`);
    return url;
  },
});

/** Worker as browsers with Trusted Types define it; TypeScript's DOM types do not know TrustedScriptURL yet. */
type TrustedWorkerConstructor = new (scriptUrl: TrustedScriptURL | string, options: WorkerOptions) => Worker;

export function spawnArgon2Worker(): Argon2Worker {
  const TrustedWorker = Worker as unknown as TrustedWorkerConstructor;
  const scriptUrl = workerUrlPolicy?.createScriptURL(argon2WorkerUrl) ?? argon2WorkerUrl;
  return new TrustedWorker(scriptUrl, { type: 'module', name: 'parley-argon2id' });
}

export function workerArgon2id(spawn: () => Argon2Worker = spawnArgon2Worker): Argon2idPort {
  return (password, salt, params, hashLengthBytes) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const worker = spawn();
      const finish = (outcome: () => void): void => {
        worker.terminate();
        outcome();
      };
      worker.addEventListener('message', (event: MessageEvent<unknown>) => {
        const response = parseArgon2WorkerResponse(event.data);
        if (response === null) finish(() => reject(new Error('the Argon2id worker sent a malformed answer')));
        else if (response.type === 'error') finish(() => reject(new Error(`Argon2id failed in its worker: ${response.message}`)));
        else finish(() => resolve(response.hash));
      });
      worker.addEventListener('error', (event: ErrorEvent) => {
        finish(() => reject(new Error(`the Argon2id worker failed to run: ${event.message || 'it could not start'}`)));
      });
      // A copy is transferred, so the caller can still wipe its own bytes; the worker wipes the copy.
      const passwordCopy = password.slice();
      const request: Argon2WorkerRequest = { type: 'argon2id', password: passwordCopy, salt: salt.slice(), params, hashLengthBytes };
      worker.postMessage(request, [passwordCopy.buffer]);
    });
}
