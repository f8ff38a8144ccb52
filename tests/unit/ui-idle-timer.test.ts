import { describe, expect, it } from 'vitest';
import { watchIdle } from '../../src/ui/idleTimer.ts';
import { FakeClock } from './support/roomFakes.ts';

function setUp(idleMs: number) {
  const clock = new FakeClock();
  const target = new EventTarget();
  let fired = 0;
  const stop = watchIdle(target, clock.for('idle'), idleMs, () => {
    fired += 1;
  });
  return { clock, target, stop, fired: () => fired };
}

describe('watchIdle', () => {
  it('fires once after the idle time with no activity', () => {
    const idle = setUp(60_000);
    idle.clock.advance(59_999);
    expect(idle.fired()).toBe(0);
    idle.clock.advance(1);
    expect(idle.fired()).toBe(1);
    idle.clock.advance(600_000);
    expect(idle.fired()).toBe(1);
  });

  it('starts counting again on activity', () => {
    const idle = setUp(60_000);
    idle.clock.advance(50_000);
    idle.target.dispatchEvent(new Event('keydown'));
    idle.clock.advance(50_000);
    expect(idle.fired()).toBe(0);
    idle.clock.advance(10_000);
    expect(idle.fired()).toBe(1);
  });

  it('ignores activity after it fired, and never fires once stopped', () => {
    const idle = setUp(60_000);
    idle.stop();
    idle.target.dispatchEvent(new Event('pointerdown'));
    idle.clock.advance(120_000);
    expect(idle.fired()).toBe(0);
    expect(idle.clock.pending('idle')).toEqual([]);
  });

  it('restarts at most once a second for a stream of pointer moves', () => {
    const idle = setUp(60_000);
    idle.clock.advance(2_000);
    for (let i = 0; i < 100; i++) idle.target.dispatchEvent(new Event('pointermove'));
    expect(idle.clock.pending('idle')).toEqual([{ owner: 'idle', dueInMs: 60_000 }]);
  });
});
