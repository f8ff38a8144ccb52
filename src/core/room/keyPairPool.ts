/**
 * The page's supply of RSA-OAEP session key pairs (spec §12.3): generation is slow (hundreds of ms), so a
 * pair is made before anyone needs it, and one pair serves the handshakes that start close together (the
 * seven sessions of joining an 8-person room) instead of costing a generation each on the critical path.
 */
import type { SessionKeyPair } from '../crypto/handshake.ts';
import type { Clock } from '../ports.ts';

export interface KeyPairSource {
  /** A pair for one session's handshake; resolves at once when one is ready. */
  take(): Promise<SessionKeyPair>;
}

export interface KeyPairPoolOptions {
  readonly generate: () => Promise<SessionKeyPair>;
  readonly clock: Clock;
  /** Sessions one pair may serve. */
  readonly maxUses?: number;
  /** How long after its first use a pair may still be handed out. */
  readonly maxAgeMs?: number;
}

export const KEY_PAIR_MAX_USES = 16;
export const KEY_PAIR_MAX_AGE_MS = 60_000;

interface Current {
  readonly pair: Promise<SessionKeyPair>;
  uses: number;
  firstUsedAtMs: number | null;
}

export class KeyPairPool implements KeyPairSource {
  private current: Current;
  /** Generated in the background once the current pair is in use, so it is ready when that one retires. */
  private next: Promise<SessionKeyPair> | null = null;
  private readonly maxUses: number;
  private readonly maxAgeMs: number;

  /** Starts generating the first pair at once. */
  constructor(private readonly options: KeyPairPoolOptions) {
    this.maxUses = options.maxUses ?? KEY_PAIR_MAX_USES;
    this.maxAgeMs = options.maxAgeMs ?? KEY_PAIR_MAX_AGE_MS;
    this.current = this.fresh(this.generate());
  }

  take(): Promise<SessionKeyPair> {
    const nowMs = this.options.clock.nowMs();
    const current = this.current;
    const expired = current.firstUsedAtMs !== null && nowMs - current.firstUsedAtMs >= this.maxAgeMs;
    if (current.uses >= this.maxUses || expired) this.retire();
    const serving = this.current;
    serving.uses += 1;
    serving.firstUsedAtMs ??= nowMs;
    // The moment a pair is in use its successor starts, off the critical path of whoever comes next.
    this.next ??= this.generate();
    // A pair that failed to generate is not kept: the next take() tries a new one.
    serving.pair.catch(() => {
      if (this.current === serving) this.retire();
    });
    return serving.pair;
  }

  private retire(): void {
    this.current = this.fresh(this.next ?? this.generate());
    this.next = null;
  }

  private fresh(pair: Promise<SessionKeyPair>): Current {
    return { pair, uses: 0, firstUsedAtMs: null };
  }

  private generate(): Promise<SessionKeyPair> {
    const pending = this.options.generate();
    // Failure surfaces to whoever takes this pair; this only stops an unhandled-rejection report meanwhile.
    pending.catch(() => {});
    return pending;
  }
}
