/**
 * The page's RSA session key pairs for the bench rooms: the app's page-wide KeyPairPool (made while the page loads,
 * as src/main.ts makes it), or one whose first pair was made before the room started (see KeyPairMode); either
 * way every generation and every take is timed, so a join can say how long it waited for a key pair.
 */
import { generateSessionKeyPair, type SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { KeyPairPool, type KeyPairSource } from '../../src/core/room/keyPairPool.ts';
import { systemClock } from '../../src/core/ports.ts';
import type { KeyPairMarks, KeyPairMode } from './benchApi.ts';
import { epochNowMs } from './epoch.ts';

/** Long enough that the next pair is not competing for the CPU while the handshakes run. */
const DEFER_NEXT_MS = 5000;

export function parseKeyPairMode(value: string | null): KeyPairMode {
  switch (value) {
    case null:
    case 'app':
      return 'app';
    case 'premade':
      return value;
    default:
      throw new Error(`unknown key pair mode ${value}`);
  }
}

/** A pool that notes when each pair generation started and ended and when each session took a pair and got it. */
export class TimedKeyPairs implements KeyPairSource {
  private readonly pool: KeyPairPool;
  /** The pool's first generation, which it starts in its constructor. */
  private first: Promise<unknown> | null = null;
  private readonly marks: { generations: { startedAtEpochMs: number; doneAtEpochMs: number | null }[]; takes: { atEpochMs: number; gotAtEpochMs: number | null }[] } = {
    generations: [],
    takes: [],
  };

  constructor(mode: KeyPairMode) {
    let generated = 0;
    const timed = (generate: () => Promise<SessionKeyPair>) => (): Promise<SessionKeyPair> => {
      const mark = { startedAtEpochMs: epochNowMs(), doneAtEpochMs: null as number | null };
      this.marks.generations.push(mark);
      const pair = generate();
      this.first ??= pair;
      void pair.then(() => {
        mark.doneAtEpochMs = epochNowMs();
      });
      return pair;
    };
    const generate =
      mode === 'app'
        ? generateSessionKeyPair
        : (): Promise<SessionKeyPair> =>
            // 'premade': the first pair at once (the page waits for it before starting the room), later ones late.
            generated++ === 0 ? generateSessionKeyPair() : new Promise((resolve) => setTimeout(resolve, DEFER_NEXT_MS)).then(() => generateSessionKeyPair());
    // As src/main.ts: the pool starts its first pair now, while the page loads.
    this.pool = new KeyPairPool({ generate: timed(generate), clock: systemClock });
  }

  take(): Promise<SessionKeyPair> {
    const mark = { atEpochMs: epochNowMs(), gotAtEpochMs: null as number | null };
    this.marks.takes.push(mark);
    const pair = this.pool.take();
    void pair.then(() => {
      mark.gotAtEpochMs = epochNowMs();
    });
    return pair;
  }

  /** Resolves once the first pair is ready, without taking it (for 'premade': the room starts after this). */
  async firstReady(): Promise<void> {
    await this.first;
  }

  report(): KeyPairMarks {
    return { generations: this.marks.generations.map((mark) => ({ ...mark })), takes: this.marks.takes.map((mark) => ({ ...mark })) };
  }
}
