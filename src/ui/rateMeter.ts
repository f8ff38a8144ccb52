/** A transfer's speed for its progress line, kept by the room (the words for it come with the file lines' code). */

/** Smooths bytes/second so the figure does not jump with every acknowledgement. */
export class RateMeter {
  private lastBytes = 0;
  private lastAtMs = 0;
  bytesPerSecond = 0;

  sample(bytes: number, atMs: number): void {
    if (this.lastAtMs !== 0 && atMs > this.lastAtMs && bytes >= this.lastBytes) {
      const instant = ((bytes - this.lastBytes) * 1000) / (atMs - this.lastAtMs);
      this.bytesPerSecond = this.bytesPerSecond === 0 ? instant : this.bytesPerSecond * 0.7 + instant * 0.3;
    }
    this.lastBytes = bytes;
    this.lastAtMs = atMs;
  }
}
