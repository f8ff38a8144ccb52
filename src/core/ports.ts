/** The platform that core logic needs, passed in so core runs unchanged in Node tests and in browsers. */

export interface Clock {
  nowMs(): number;
  /** Runs `callback` once after `delayMs`; the returned function cancels it. */
  setTimer(delayMs: number, callback: () => void): () => void;
}

export interface Random {
  bytes(length: number): Uint8Array;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimer(delayMs, callback) {
    const handle = setTimeout(callback, delayMs);
    return () => clearTimeout(handle);
  },
};

/** WebCrypto's CSPRNG exists in browsers (secure contexts) and in Node >= 19 as `globalThis.crypto`. */
export const systemRandom: Random = {
  bytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
};
