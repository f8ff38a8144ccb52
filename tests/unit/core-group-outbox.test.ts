/**
 * GroupChat's outbox (spec §12.7) and its store: resent after a reload, bounded in age and count, given up
 * for a guest that said goodbye; remembered contacts addressed while away; store failures reported.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationStore } from '../../src/core/group/conversationStore.ts';
import { OUTBOX_MAX_AGE_MS, OUTBOX_MAX_ENTRIES } from '../../src/core/group/groupLimits.ts';
import { MemoryConversationStore } from '../../src/core/group/memoryConversationStore.ts';
import { messageText, type GroupMessage } from '../../src/core/protocol/groupMessages.ts';
import { deliveryStates, expectSent, GroupWorld } from './support/groupFakes.ts';

/** Alice and Bob met, then Bob's session broke. */
async function bobAway(options: { readonly aliceStore?: ConversationStore } = {}): Promise<GroupWorld> {
  const world = new GroupWorld();
  await world.addChat('alice', options.aliceStore === undefined ? {} : { store: options.aliceStore });
  await world.addChat('bob');
  world.meet('alice', 'bob');
  await world.settle();
  world.cut('alice', 'bob');
  return world;
}

async function outboxOf(store: ConversationStore, addressee: string): Promise<number[]> {
  return (await store.load()).outbox.filter((entry) => entry.addressee === addressee).map((entry) => entry.message.seq).sort((a, b) => a - b);
}

function expiredEvents(world: GroupWorld, name: string): { seq: number; member: string; reason: string }[] {
  return world.member(name).events.flatMap((event) => (event.type === 'expired' ? [{ seq: event.seq, member: event.member, reason: event.reason }] : []));
}

describe('the outbox across a reload', () => {
  it('resends what the addressee has not acknowledged, and the seq counter continues', async () => {
    const store = new MemoryConversationStore();
    const world = await bobAway({ aliceStore: store });
    const first = await world.send('alice', 'written before the reload');
    await world.settle();
    expect(await outboxOf(store, world.idOf('bob'))).toEqual([1]);

    world.member('alice').chat.close();
    await world.addChat('alice', { store });
    world.meet('alice', 'bob');
    await world.advance(200);
    expect(world.shown('bob')).toEqual([first]);
    expect(await outboxOf(store, world.idOf('bob'))).toEqual([]);
    expect(deliveryStates(world.member('alice'), first.id).get(world.idOf('bob'))).toEqual(['sent', 'delivered']);

    const second = await world.send('alice', 'after the reload');
    expect(second.seq).toBe(2);
    await world.settle();
    expect(world.shown('bob').map((message) => message.seq)).toEqual([1, 2]);
  });

  it('addresses remembered contacts who are not here, and catches them up when they come', async () => {
    const world = new GroupWorld();
    const carolId = world.idOf('carol');
    await world.addChat('alice', { rememberedContacts: [carolId] });
    const outcome = await world.member('alice').chat.sendToEveryone('Carol, when you come');
    expect(outcome).toMatchObject({ ok: true, addressees: [carolId] });
    await world.addChat('carol');
    world.meet('alice', 'carol');
    await world.settle();
    expect(world.shown('carol').map((message) => messageText(message))).toEqual(['Carol, when you come']);
  });
});

describe('outbox bounds', () => {
  it('gives up an entry older than 7 days, tells which message did not reach whom, and no longer sends it', async () => {
    const world = await bobAway();
    const old = await world.send('alice', 'old news');
    await world.settle();
    world.clock.advance(OUTBOX_MAX_AGE_MS - 1_000);
    const fresh = await world.send('alice', 'fresh');
    world.clock.advance(1_000);
    await world.settle();
    expect(expiredEvents(world, 'alice')).toEqual([]);
    world.clock.advance(1);
    await world.settle();
    expect(expiredEvents(world, 'alice')).toEqual([{ seq: old.seq, member: world.idOf('bob'), reason: 'too-old' }]);
    expect(await outboxOf(world.member('alice').store, world.idOf('bob'))).toEqual([fresh.seq]);

    world.connect('alice', 'bob');
    await world.advance(200);
    expect(world.shown('bob')).toEqual([fresh]);
  });

  it('never gives up a message that was delivered, however old', async () => {
    const world = await bobAway();
    await world.addChat('carol');
    world.meet('alice', 'carol');
    await world.settle();
    const message = await world.send('alice', 'Carol reads it, Bob is away');
    await world.settle();
    world.clock.advance(OUTBOX_MAX_AGE_MS + 1);
    await world.settle();
    expect(expiredEvents(world, 'alice')).toEqual([{ seq: message.seq, member: world.idOf('bob'), reason: 'too-old' }]);
  });

  it('still sends an entry exactly 7 days old when its addressee connects', async () => {
    const world = await bobAway();
    const message = await world.send('alice', 'just in time');
    world.clock.advance(OUTBOX_MAX_AGE_MS);
    world.connect('alice', 'bob');
    await world.settle();
    expect(expiredEvents(world, 'alice')).toEqual([]);
    expect(world.shown('bob')).toEqual([message]);
  });

  it('gives up, at load, entries that aged past 7 days while the page was closed', async () => {
    const store = new MemoryConversationStore();
    const world = await bobAway({ aliceStore: store });
    await world.send('alice', 'before a long holiday');
    await world.settle();
    world.member('alice').chat.close();
    world.clock.advance(OUTBOX_MAX_AGE_MS + 1);
    await world.addChat('alice', { store });
    await world.settle();
    expect(expiredEvents(world, 'alice')).toEqual([{ seq: 1, member: world.idOf('bob'), reason: 'too-old' }]);
    expect(await outboxOf(store, world.idOf('bob'))).toEqual([]);
  });

  it(`keeps only the ${OUTBOX_MAX_ENTRIES} newest entries per addressee`, async () => {
    const world = await bobAway();
    const sent: GroupMessage[] = [];
    for (let index = 1; index <= OUTBOX_MAX_ENTRIES + 2; index++) sent.push(await world.send('alice', `note ${index}`));
    await world.settle();
    expect(expiredEvents(world, 'alice')).toEqual([
      { seq: 1, member: world.idOf('bob'), reason: 'too-many' },
      { seq: 2, member: world.idOf('bob'), reason: 'too-many' },
    ]);
    expect(await outboxOf(world.member('alice').store, world.idOf('bob'))).toEqual(sent.slice(2).map((message) => message.seq));

    world.connect('alice', 'bob');
    await world.advance(110_000, 500);
    expect(world.violations).toEqual([]);
    expect(world.shown('bob').map((message) => message.seq)).toEqual(sent.slice(2).map((message) => message.seq));
  });
});

describe('members who leave', () => {
  it('a guest that said goodbye is no longer addressed and its undelivered messages are given up', async () => {
    const world = await bobAway();
    await world.addChat('carol');
    world.meet('alice', 'carol');
    const pending = await world.send('alice', 'Bob will never see this');
    await world.settle();
    const alice = world.member('alice');
    alice.chat.left(world.idOf('bob'), { saidBye: true });
    await world.settle();
    expect(expiredEvents(world, 'alice')).toEqual([{ seq: pending.seq, member: world.idOf('bob'), reason: 'member-left' }]);
    expect(await outboxOf(alice.store, world.idOf('bob'))).toEqual([]);

    expect(await alice.chat.sendPrivately(world.idOf('bob'), 'hello?')).toEqual({ ok: false, refusal: { kind: 'member-left', member: world.idOf('bob') } });
    expect(await alice.chat.sendToEveryone('who is here')).toMatchObject({ ok: true, addressees: [world.idOf('carol')] });
  });

  it('a remembered member that said goodbye stays addressed, and a guest that only dropped does too', async () => {
    const world = await bobAway();
    const alice = world.member('alice');
    await world.addChat('carol');
    alice.chat.admitted(world.idOf('carol'), { durable: true });
    alice.chat.left(world.idOf('carol'), { saidBye: true });
    alice.chat.left(world.idOf('bob'), { saidBye: false });
    const outcome = await alice.chat.sendToEveryone('still for you both');
    expect(outcome.ok && [...outcome.addressees].sort()).toEqual([world.idOf('bob'), world.idOf('carol')].sort());
    expect(expiredEvents(world, 'alice')).toEqual([]);
  });
});

describe('store failures', () => {
  class FailingStore extends MemoryConversationStore {
    failOutgoing = false;
    failShown = false;
    override recordOutgoing(message: GroupMessage, addressees: readonly string[]): Promise<void> {
      return this.failOutgoing ? Promise.reject(new Error('the disk is full')) : super.recordOutgoing(message, addressees);
    }
    override recordShown(message: GroupMessage): Promise<void> {
      return this.failShown ? Promise.reject(new Error('the vault is locked')) : super.recordShown(message);
    }
  }

  it('a message that could not be stored is not sent, and the next one still goes', async () => {
    const store = new FailingStore();
    const world = new GroupWorld();
    await world.addChat('alice', { store });
    await world.addChat('bob');
    world.meet('alice', 'bob');
    store.failOutgoing = true;
    expect(await world.member('alice').chat.sendToEveryone('lost')).toEqual({ ok: false, refusal: { kind: 'not-stored', detail: 'the disk is full' } });
    await world.settle();
    expect(world.framesSent('alice', 'bob', 'message')).toEqual([]);
    store.failOutgoing = false;
    expectSent(await world.member('alice').chat.sendToEveryone('kept'));
    await world.settle();
    expect(world.shown('bob').map((message) => messageText(message))).toEqual(['kept']);
  });

  it('a received message that could not be stored is shown but not acknowledged, and the failure is told', async () => {
    const store = new FailingStore();
    const world = new GroupWorld();
    await world.addChat('alice');
    await world.addChat('bob', { store });
    world.meet('alice', 'bob');
    store.failShown = true;
    const message = await world.send('alice', 'not saved');
    await world.advance(500);
    expect(world.shown('bob')).toEqual([message]);
    expect(world.member('bob').events).toContainEqual({ type: 'failed', detail: 'saving a message you received: the vault is locked' });
    expect(world.framesSent('bob', 'alice', 'receipts')).toEqual([]);
    expect(deliveryStates(world.member('alice'), message.id).get(world.idOf('bob'))).toEqual(['sent']);

    // Alice resends it; Bob does not show it twice, and says he holds nothing.
    world.cut('alice', 'bob');
    world.connect('alice', 'bob');
    await world.advance(500);
    expect(world.shown('bob')).toEqual([message]);
    expect(world.framesSent('bob', 'alice', 'receipts')).toEqual([{ type: 'receipts', deliveredSeq: 0, readSeq: 0 }]);
    expect(deliveryStates(world.member('alice'), message.id).get(world.idOf('bob'))).toEqual(['sent']);
  });
});
