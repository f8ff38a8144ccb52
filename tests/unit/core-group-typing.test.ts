/**
 * The typing indicator (spec §12.5): off unless the person shares it; a draft for everyone is announced at most once
 * per refresh interval, a private draft only to its addressee; "stopped" follows idling, sending or emptying; a
 * member is shown typing until it stops, writes, or goes quiet; a flood of typing notices ends the session.
 */
import { describe, expect, it } from 'vitest';
import { INBOUND_CONTROL_BURST, TYPING_IDLE_MS, TYPING_REFRESH_MS, TYPING_SHOWN_MS } from '../../src/core/group/groupLimits.ts';
import { GroupWorld } from './support/groupFakes.ts';

async function room(shareTyping = true): Promise<GroupWorld> {
  const world = new GroupWorld();
  for (const name of ['alice', 'bob', 'carol']) await world.addChat(name, { shareTyping: () => shareTyping });
  world.meetAll('alice', 'bob', 'carol');
  await world.settle();
  return world;
}

function typingShown(world: GroupWorld, name: string): boolean[] {
  return world.member(name).events.flatMap((event) => (event.type === 'typing' && event.member === world.idOf('alice') ? [event.typing] : []));
}

describe('typing', () => {
  it('tells everyone once per refresh interval while the person types, then that it stopped', async () => {
    const world = await room();
    const alice = world.member('alice').chat;
    for (let i = 0; i < 10; i++) {
      alice.draftChanged({ kind: 'everyone' }, false);
      await world.advance(TYPING_REFRESH_MS / 5);
    }
    // Two seconds of keystrokes at 600 ms: sent at 0 and after 3 s, not for each keystroke.
    expect(world.framesSent('alice', 'bob', 'typing')).toEqual([{ type: 'typing', typing: true }, { type: 'typing', typing: true }]);
    await world.advance(TYPING_IDLE_MS);
    expect(world.framesSent('alice', 'bob', 'typing').at(-1)).toEqual({ type: 'typing', typing: false });
    expect(typingShown(world, 'carol')).toEqual([true, false]);
  });

  it('announces a private draft only to its addressee', async () => {
    const world = await room();
    world.member('alice').chat.draftChanged({ kind: 'private', member: world.idOf('bob') }, false);
    world.member('alice').chat.draftChanged({ kind: 'private', member: world.idOf('bob') }, true);
    await world.settle();
    expect(world.framesSent('alice', 'bob', 'typing')).toEqual([{ type: 'typing', typing: true }, { type: 'typing', typing: false }]);
    expect(world.framesSent('alice', 'carol', 'typing')).toEqual([]);
    expect(typingShown(world, 'carol')).toEqual([]);
  });

  it('sends and shows nothing when the person does not share typing', async () => {
    const world = await room(false);
    world.member('alice').chat.draftChanged({ kind: 'everyone' }, false);
    await world.settle();
    expect(world.framesSent('alice', 'bob', 'typing')).toEqual([]);
    world.inject('alice', 'bob', { type: 'typing', typing: true });
    await world.settle();
    expect(typingShown(world, 'bob')).toEqual([]);
  });

  it('stops showing a member as typing when its message arrives, or when it goes quiet', async () => {
    const world = await room();
    world.inject('alice', 'bob', { type: 'typing', typing: true });
    await world.settle();
    await world.send('alice', 'done');
    await world.settle();
    expect(typingShown(world, 'bob')).toEqual([true, false]);
    world.inject('alice', 'bob', { type: 'typing', typing: true });
    await world.settle();
    await world.advance(TYPING_SHOWN_MS);
    expect(typingShown(world, 'bob')).toEqual([true, false, true, false]);
  });

  it('ends the session of a member that floods typing notices', async () => {
    const world = await room();
    for (let i = 0; i <= INBOUND_CONTROL_BURST; i++) world.inject('alice', 'bob', { type: 'typing', typing: i % 2 === 0 });
    await world.settle();
    expect(world.violations).toMatchObject([{ at: 'bob', from: 'alice', violation: { reason: 'flooded' } }]);
  });
});
