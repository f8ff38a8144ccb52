/**
 * GroupChat over a fake mesh: fan-out to everyone, private messages, refusals, delivery states and read
 * receipts, and catching up a member that was cut off (spec §12.5–§12.7).
 */
import { describe, expect, it } from 'vitest';
import { OUTBOUND_MESSAGE_BURST } from '../../src/core/group/groupLimits.ts';
import { MAX_MESSAGE_TEXT_BYTES, type GroupMessage, messageText } from '../../src/core/protocol/groupMessages.ts';
import { deliveryStates, expectSent, GroupWorld } from './support/groupFakes.ts';

const FOUR = ['alice', 'bob', 'carol', 'dave'] as const;

async function fourMembers(): Promise<GroupWorld> {
  const world = new GroupWorld();
  for (const name of FOUR) await world.addChat(name);
  world.meetAll(...FOUR);
  await world.settle();
  return world;
}

/** Per author (by id), the texts shown, in the order shown. */
function textsByAuthor(shown: readonly GroupMessage[]): Map<string, string[]> {
  const byAuthor = new Map<string, string[]>();
  for (const message of shown) byAuthor.set(message.author, [...(byAuthor.get(message.author) ?? []), messageText(message) ?? '']);
  return byAuthor;
}

describe('sending to everyone', () => {
  it('reaches each of three others once, and each delivery is reported', async () => {
    const world = await fourMembers();
    const alice = world.member('alice');
    const outcome = await alice.chat.sendToEveryone('hello everyone');
    const message = expectSent(outcome);
    expect(outcome.ok && [...outcome.addressees].sort()).toEqual(['bob', 'carol', 'dave'].map((name) => world.idOf(name)).sort());
    expect(message).toMatchObject({ author: alice.id, seq: 1, stream: 'group', body: { type: 'text', text: 'hello everyone', replyTo: null }, writtenAtMs: world.clock.nowMs() });
    await world.advance(200);

    for (const name of ['bob', 'carol', 'dave']) {
      expect(world.shown(name)).toEqual([message]);
      expect(world.framesSent('alice', name, 'message')).toHaveLength(1);
      expect(deliveryStates(alice, message.id).get(world.idOf(name))).toEqual(['sent', 'delivered']);
    }
    expect(world.shown('alice')).toEqual([]);
    expect(world.violations).toEqual([]);
  });

  it('numbers one author’s messages 1, 2, 3 across both streams', async () => {
    const world = await fourMembers();
    const alice = world.member('alice');
    const first = await world.send('alice', 'one');
    const second = expectSent(await alice.chat.sendPrivately(world.idOf('bob'), 'two'));
    const third = await world.send('alice', 'three');
    expect([first.seq, second.seq, third.seq]).toEqual([1, 2, 3]);
    expect(new Set([first.id, second.id, third.id]).size).toBe(3);
    await world.settle();
    expect(world.shown('bob').map((message) => message.seq)).toEqual([1, 2, 3]);
    expect(world.shown('carol').map((message) => message.seq)).toEqual([1, 3]);
  });

  it('shows "read" only for the member who had the conversation in view', async () => {
    const world = await fourMembers();
    const alice = world.member('alice');
    const message = await world.send('alice', 'did you read this?');
    await world.advance(200);
    world.member('bob').chat.markRead();
    await world.advance(200);
    expect(deliveryStates(alice, message.id).get(world.idOf('bob'))).toEqual(['sent', 'delivered', 'read']);
    expect(deliveryStates(alice, message.id).get(world.idOf('carol'))).toEqual(['sent', 'delivered']);
  });
});

describe('private messages', () => {
  it('reach only their addressee: no other member receives any frame of them', async () => {
    const world = await fourMembers();
    const message = expectSent(await world.member('alice').chat.sendPrivately(world.idOf('bob'), 'just for you'));
    await world.advance(3_000);

    expect(world.shown('bob')).toEqual([{ ...message, stream: 'private' }]);
    for (const name of ['carol', 'dave']) {
      expect(world.shown(name)).toEqual([]);
      expect(world.framesSent('alice', name, 'message')).toEqual([]);
      // Not compared either: nobody reports digests of a private message.
      expect(world.framesSent('bob', name, 'digests')).toEqual([]);
    }
    expect(deliveryStates(world.member('alice'), message.id)).toEqual(new Map([[world.idOf('bob'), ['sent', 'delivered']]]));
  });
});

describe('refusals', () => {
  it('refuses empty and too long text, unknown members and a room with nobody to send to', async () => {
    const world = new GroupWorld();
    const alone = await world.addChat('alone');
    expect(await alone.chat.sendToEveryone('hi')).toEqual({ ok: false, refusal: { kind: 'no-addressees' } });
    await world.addChat('bob');
    world.meet('alone', 'bob');
    expect(await alone.chat.sendToEveryone(' \n\t ')).toEqual({ ok: false, refusal: { kind: 'empty' } });
    expect(await alone.chat.sendToEveryone('')).toEqual({ ok: false, refusal: { kind: 'empty' } });
    expect(await alone.chat.sendToEveryone('é'.repeat(MAX_MESSAGE_TEXT_BYTES / 2) + 'x')).toEqual({
      ok: false,
      refusal: { kind: 'too-long', sizeBytes: MAX_MESSAGE_TEXT_BYTES + 1, maxBytes: MAX_MESSAGE_TEXT_BYTES },
    });
    expect(await alone.chat.sendPrivately(world.idOf('stranger'), 'hi')).toEqual({ ok: false, refusal: { kind: 'unknown-member', member: world.idOf('stranger') } });
    expect(await alone.chat.sendPrivately(alone.id, 'hi')).toEqual({ ok: false, refusal: { kind: 'unknown-member', member: alone.id } });
    // The longest allowed text goes, and refusals used up no seq.
    expect(expectSent(await alone.chat.sendToEveryone('a'.repeat(MAX_MESSAGE_TEXT_BYTES))).seq).toBe(1);
    await world.settle();
    expect(world.shown('bob')).toHaveLength(1);
  });
});

describe('a member cut off while others talk', () => {
  it('gets everything exactly once, in each author’s order, and every author sees it delivered', async () => {
    const world = await fourMembers();
    for (const name of ['alice', 'bob', 'carol']) world.cut(name, 'dave');
    const sent: GroupMessage[] = [];
    for (let round = 1; round <= 4; round++) {
      for (const name of ['alice', 'bob', 'carol']) sent.push(await world.send(name, `${name} ${round}`));
      await world.advance(100);
    }
    expect(world.shown('dave')).toEqual([]);

    for (const name of ['alice', 'bob', 'carol']) world.connect(name, 'dave');
    await world.advance(3_000);

    const shown = world.shown('dave');
    expect(shown).toHaveLength(12);
    expect(new Set(shown.map((message) => message.id)).size).toBe(12);
    for (const name of ['alice', 'bob', 'carol']) {
      expect(textsByAuthor(shown).get(world.idOf(name))).toEqual([1, 2, 3, 4].map((round) => `${name} ${round}`));
      for (const message of sent.filter((candidate) => candidate.author === world.idOf(name))) {
        expect(deliveryStates(world.member(name), message.id).get(world.idOf('dave'))).toEqual(['sent', 'delivered']);
      }
    }
    // The others were never shown anything twice either.
    for (const name of ['alice', 'bob', 'carol']) expect(world.shown(name)).toHaveLength(8);
    expect(world.violations).toEqual([]);
  });

  it('gets a message lost in flight when the session breaks, after the next one connects', async () => {
    const world = await fourMembers();
    const message = await world.send('alice', 'lost on the way');
    expect(world.dropInFlight('alice', 'bob')).toBe(1);
    world.cut('alice', 'bob');
    await world.settle();
    expect(world.shown('bob')).toEqual([]);
    expect(deliveryStates(world.member('alice'), message.id).get(world.idOf('bob'))).toEqual(['sent']);

    world.connect('alice', 'bob');
    await world.advance(200);
    expect(world.shown('bob')).toEqual([message]);
    expect(deliveryStates(world.member('alice'), message.id).get(world.idOf('bob'))).toEqual(['sent', 'delivered']);
  });

  it('is never shown a resent message twice when its receipts were lost; the resend is answered with receipts', async () => {
    const world = await fourMembers();
    world.losing('bob', 'alice', (frame) => frame.type === 'receipts');
    const message = await world.send('alice', 'say you got it');
    await world.advance(500);
    expect(world.shown('bob')).toEqual([message]);
    expect(deliveryStates(world.member('alice'), message.id).get(world.idOf('bob'))).toEqual(['sent']);

    world.losing('bob', 'alice', () => false);
    world.cut('alice', 'bob');
    world.connect('alice', 'bob');
    await world.advance(500);
    expect(world.framesSent('alice', 'bob', 'message')).toEqual([{ type: 'message', message }, { type: 'message', message }]);
    expect(world.shown('bob')).toEqual([message]);
    expect(deliveryStates(world.member('alice'), message.id).get(world.idOf('bob'))).toEqual(['sent', 'delivered']);
  });

  it('gets a long outbox paced so that it never looks like a flood', async () => {
    const world = await fourMembers();
    world.cut('alice', 'bob');
    for (let index = 1; index <= 120; index++) await world.send('alice', `message ${index}`);
    await world.settle();
    world.connect('alice', 'bob');
    await world.advance(15_000, 50);
    expect(world.violations).toEqual([]);
    expect(world.shown('bob').map((message) => message.seq)).toEqual(Array.from({ length: 120 }, (_, index) => index + 1));
  });

  it('skips resending what the member acknowledges while the resend is under way', async () => {
    const world = await fourMembers();
    world.losing('bob', 'alice', (frame) => frame.type === 'receipts');
    for (let index = 1; index <= 60; index++) await world.send('alice', `message ${index}`);
    await world.advance(8_000, 50);
    expect(world.shown('bob')).toHaveLength(60);
    const before = world.framesSent('alice', 'bob', 'message').length;

    world.losing('bob', 'alice', () => false);
    world.cut('alice', 'bob');
    world.connect('alice', 'bob');
    await world.advance(8_000, 50);
    // The first burst left at once; Bob's receipts, sent as his side connected, stopped the rest.
    expect(world.framesSent('alice', 'bob', 'message').length - before).toBe(OUTBOUND_MESSAGE_BURST);
    expect(world.shown('bob')).toHaveLength(60);
  });
});

describe('receipts', () => {
  it('are sent at most once per 100 ms to one member, however many messages are shown', async () => {
    const world = await fourMembers();
    for (let index = 1; index <= 10; index++) await world.send('alice', `quick ${index}`);
    await world.settle();
    expect(world.shown('bob')).toHaveLength(10);
    const early = world.framesSent('bob', 'alice', 'receipts').length;
    expect(early).toBe(1);
    await world.advance(100);
    expect(world.framesSent('bob', 'alice', 'receipts')).toHaveLength(2);
    expect(world.framesSent('bob', 'alice', 'receipts').at(-1)).toEqual({ type: 'receipts', deliveredSeq: 10, readSeq: 0 });
  });

  it('with read receipts off, carry readSeq 0 and nobody is shown as having read', async () => {
    let bobSendsRead = false;
    const world = new GroupWorld();
    await world.addChat('alice');
    await world.addChat('bob', { readReceipts: () => bobSendsRead });
    world.meet('alice', 'bob');
    const fromAlice = await world.send('alice', 'read me');
    await world.advance(200);
    world.member('bob').chat.markRead();
    await world.advance(200);
    expect(world.framesSent('bob', 'alice', 'receipts').map((frame) => frame.readSeq)).toEqual([0]);
    expect(deliveryStates(world.member('alice'), fromAlice.id).get(world.idOf('bob'))).toEqual(['sent', 'delivered']);

    // Turned on: the next receipts say what was read.
    bobSendsRead = true;
    world.member('bob').chat.markRead();
    await world.send('alice', 'and this');
    await world.advance(200);
    world.member('bob').chat.markRead();
    await world.advance(200);
    expect(deliveryStates(world.member('alice'), fromAlice.id).get(world.idOf('bob'))).toEqual(['sent', 'delivered', 'read']);
  });

  it('with read receipts off, ignore the readSeq others send', async () => {
    const world = new GroupWorld();
    await world.addChat('alice', { readReceipts: () => false });
    await world.addChat('bob');
    world.meet('alice', 'bob');
    const fromAlice = await world.send('alice', 'read me');
    await world.advance(200);
    world.member('bob').chat.markRead();
    await world.advance(200);
    expect(world.framesSent('bob', 'alice', 'receipts').at(-1)).toEqual({ type: 'receipts', deliveredSeq: 1, readSeq: 1 });
    expect(deliveryStates(world.member('alice'), fromAlice.id).get(world.idOf('bob'))).toEqual(['sent', 'delivered']);
  });
});
