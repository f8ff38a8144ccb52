/** Backpressure on an RTCDataChannel: send while its buffer is under a high mark, else wait for the low mark. */

/** Far below Chromium's ~16 MiB send queue, and enough in flight to keep the channel busy. */
export const BUFFER_HIGH_BYTES = 4 * 1024 * 1024;
export const BUFFER_LOW_BYTES = 1024 * 1024;

/** Resolves when `channel` can take more (or is gone), on its own event: never by polling. */
export function whenWritable(channel: RTCDataChannel | null): Promise<void> {
  if (channel === null || channel.readyState !== 'open' || channel.bufferedAmount < BUFFER_HIGH_BYTES) return Promise.resolve();
  return new Promise((resolve) => {
    channel.bufferedAmountLowThreshold = BUFFER_LOW_BYTES;
    const done = (): void => {
      channel.removeEventListener('bufferedamountlow', done);
      channel.removeEventListener('close', done);
      resolve();
    };
    channel.addEventListener('bufferedamountlow', done);
    channel.addEventListener('close', done);
    // The event fires only on a downward crossing; the buffer may have drained before we listened.
    if (channel.bufferedAmount <= BUFFER_LOW_BYTES) done();
  });
}
