/**
 * Calls `onIdle` once after `idleMs` without the person touching the page (keys, pointer, wheel, touch).
 * Used to lock the vault automatically; any activity restarts the count.
 */
import type { Clock } from '../core/ports.ts';

const ACTIVITY_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const;

export function watchIdle(target: EventTarget, clock: Clock, idleMs: number, onIdle: () => void): () => void {
  let cancel = clock.setTimer(idleMs, fire);
  let lastResetMs = clock.nowMs();
  function fire(): void {
    stop();
    onIdle();
  }
  function reset(): void {
    // pointermove fires many times a second; restarting the timer once a second is plenty.
    const nowMs = clock.nowMs();
    if (nowMs - lastResetMs < 1000) return;
    lastResetMs = nowMs;
    cancel();
    cancel = clock.setTimer(idleMs, fire);
  }
  function stop(): void {
    cancel();
    for (const type of ACTIVITY_EVENTS) target.removeEventListener(type, reset);
  }
  for (const type of ACTIVITY_EVENTS) target.addEventListener(type, reset, { passive: true });
  return stop;
}
