/**
 * Asks the signaling server, over one socket, whether that socket still carries frames both ways (spec §3.1, §12.3):
 * a `ping` with a fresh token that the server echoes in a `pong`. A socket can die without an error (an outage
 * further away, a sleeping laptop's Wi-Fi): its frames then sit in TCP's retransmission back-off, and nothing tells
 * the page for as long as a minute. The room asks only when it has reason to doubt the socket, and never has more
 * than one question out.
 */
import { bytesToBase64url } from '../encoding.ts';
import type { Clock, Random } from '../ports.ts';
import { PROBE_TOKEN_BYTES } from '../protocol/signaling.ts';

/** How long the server has to answer before the socket counts as gone. */
export const PROBE_ANSWER_MS = 4_000;
/** While any member is out of reach, the socket is asked again this often, times a jitter of 1 to 1.5. */
export const PROBE_INTERVAL_MS = 10_000;
/** A socket that answered this recently is not asked again on a new doubt: one lost pair should not cost a ping each. */
export const PROBE_QUIET_MS = 2_000;

export interface SignalingProbeOptions {
  readonly clock: Clock;
  readonly random: Random;
  /** Sends the ping on the socket this probe watches. */
  readonly sendPing: (token: string) => void;
  /** No answer in time: the socket is gone, whatever the browser thinks. Called at most once. */
  readonly onSilent: () => void;
}

export class SignalingProbe {
  private outstanding: { readonly token: string; readonly cancel: () => void } | null = null;
  private lastAnsweredAtMs = Number.NEGATIVE_INFINITY;
  private watching = false;
  private cancelNext: () => void = () => {};
  private ended = false;

  constructor(private readonly options: SignalingProbeOptions) {}

  /** There is reason to doubt the socket: ask now, unless a question is out or an answer just came. */
  doubt(): void {
    const { clock } = this.options;
    if (this.ended || this.outstanding !== null || clock.nowMs() - this.lastAnsweredAtMs < PROBE_QUIET_MS) return;
    const token = bytesToBase64url(this.options.random.bytes(PROBE_TOKEN_BYTES));
    const cancel = clock.setTimer(PROBE_ANSWER_MS, () => {
      this.outstanding = null;
      this.end();
      this.options.onSilent();
    });
    this.outstanding = { token, cancel };
    this.options.sendPing(token);
  }

  /** A pong from the server: only the one echoing the question that is out answers it. */
  answered(token: string): void {
    if (this.outstanding?.token !== token) return;
    this.outstanding.cancel();
    this.outstanding = null;
    this.lastAnsweredAtMs = this.options.clock.nowMs();
  }

  /** While some member is out of reach, ask now and then again every PROBE_INTERVAL_MS or so. */
  watch(on: boolean): void {
    if (this.ended || on === this.watching) return;
    this.watching = on;
    this.cancelNext();
    this.cancelNext = () => {};
    if (!on) return;
    this.doubt();
    this.scheduleNext();
  }

  /** The socket is gone or replaced: no more questions, and no verdict. */
  end(): void {
    this.ended = true;
    this.outstanding?.cancel();
    this.outstanding = null;
    this.cancelNext();
  }

  private scheduleNext(): void {
    const [byte = 0] = this.options.random.bytes(1);
    const delayMs = PROBE_INTERVAL_MS * (1 + byte / 512);
    this.cancelNext = this.options.clock.setTimer(delayMs, () => {
      if (!this.watching || this.ended) return;
      this.doubt();
      this.scheduleNext();
    });
  }
}
