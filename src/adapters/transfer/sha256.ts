/** Incremental SHA-256 (WebCrypto has no streaming digest), from hash-wasm's WebAssembly build. */
import { createSHA256 } from 'hash-wasm';
import type { IncrementalHasher } from '../../core/transfer/incomingTransfer.ts';

export async function createSha256(): Promise<IncrementalHasher> {
  const hasher = await createSHA256();
  hasher.init();
  return {
    update: (bytes) => {
      hasher.update(bytes);
    },
    digest: () => hasher.digest('binary'),
  };
}
