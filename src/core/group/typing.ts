/**
 * The typing indicator (spec §12.5): when to tell whom that the person is writing, at most once per refresh
 * interval and only to the members the message is for, and for how long to show that a member is writing.
 */
import type { Clock } from '../ports.ts';
import { TYPING_IDLE_MS, TYPING_REFRESH_MS, TYPING_SHOWN_MS } from './groupLimits.ts';

/** Who a message (or a draft) is for: everyone on the roster, or one member privately. */
export type MessageAudience = { readonly kind: 'everyone' } | { readonly kind: 'private'; readonly member: string };

function sameAudience(a: MessageAudience, b: MessageAudience): boolean {
  return a.kind === b.kind && (a.kind === 'everyone' || (b.kind === 'private' && a.member === b.member));
}

export class OwnTyping {
  private audience: MessageAudience | null = null;
  private lastSentAtMs = -Infinity;
  private cancelIdle: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    /** Sends typing (or stopped) to the members of `audience` that are connected now. */
    private readonly send: (audience: MessageAudience, typing: boolean) => void,
  ) {}

  /** The person typed something for `audience`: tells them, unless they were told within the refresh interval. */
  typed(audience: MessageAudience): void {
    if (this.audience !== null && !sameAudience(this.audience, audience)) this.stopped();
    const nowMs = this.clock.nowMs();
    if (this.audience === null || nowMs - this.lastSentAtMs >= TYPING_REFRESH_MS) {
      this.send(audience, true);
      this.lastSentAtMs = nowMs;
    }
    this.audience = audience;
    this.cancelIdle?.();
    this.cancelIdle = this.clock.setTimer(TYPING_IDLE_MS, () => this.stopped());
  }

  /** The draft was sent, emptied or left alone long enough: those told are told it stopped. */
  stopped(): void {
    this.cancelIdle?.();
    this.cancelIdle = null;
    const audience = this.audience;
    this.audience = null;
    this.lastSentAtMs = -Infinity;
    if (audience !== null) this.send(audience, false);
  }
}

/** Which members are shown as typing; each stops being shown after TYPING_SHOWN_MS without a refresh. */
export class OthersTyping {
  private readonly expiries = new Map<string, () => void>();

  constructor(
    private readonly clock: Clock,
    private readonly changed: (member: string, typing: boolean) => void,
  ) {}

  set(member: string, typing: boolean): void {
    const wasShown = this.expiries.has(member);
    this.expiries.get(member)?.();
    this.expiries.delete(member);
    if (typing) this.expiries.set(member, this.clock.setTimer(TYPING_SHOWN_MS, () => this.set(member, false)));
    if (wasShown !== typing) this.changed(member, typing);
  }

  clear(): void {
    for (const member of [...this.expiries.keys()]) this.set(member, false);
  }
}
