/**
 * What GroupChat accepts from a member's session (spec §12.5): only that member's own messages, each shown
 * once and never out of order, within the per-pair limits; cumulative receipts that never go backwards.
 * A raw member plays the modified client.
 */
import { describe, expect, it } from 'vitest';
import { bytesToBase64url } from '../../src/core/encoding.ts';
import type { ConversationStore } from '../../src/core/group/conversationStore.ts';
import { INBOUND_CONTROL_BURST, INBOUND_MESSAGE_BURST } from '../../src/core/group/groupLimits.ts';
import { MemoryConversationStore } from '../../src/core/group/memoryConversationStore.ts';
import { MESSAGE_ID_BYTES, type GroupMessage, messageText, textBody } from '../../src/core/protocol/groupMessages.ts';
import { seededRandom } from './support/coreFixtures.ts';
import { deliveryStates, GroupWorld } from './support/groupFakes.ts';

const random = seededRandom(1207);

function messageFrom(author: string, seq: number, text = `message ${seq}`, stream: GroupMessage['stream'] = 'group'): { type: 'message'; message: GroupMessage } {
  return { type: 'message', message: { id: bytesToBase64url(random.bytes(MESSAGE_ID_BYTES)), author, seq, writtenAtMs: 1_700_000_000_000, stream, body: textBody(text) } };
}

class ReceiptsRecordingStore extends MemoryConversationStore {
  readonly receipts: [string, number, number][] = [];
  override recordReceipts(member: string, deliveredSeq: number, readSeq: number): Promise<void> {
    this.receipts.push([member, deliveredSeq, readSeq]);
    return super.recordReceipts(member, deliveredSeq, readSeq);
  }
}

/** Alice (a GroupChat) with a raw member "mallory" connected to her, and Bob for company. */
async function aliceAndMallory(aliceStore: ConversationStore = new MemoryConversationStore()): Promise<{ world: GroupWorld; mallory: string }> {
  const world = new GroupWorld();
  await world.addChat('alice', { store: aliceStore });
  await world.addChat('bob');
  const mallory = world.addRaw('mallory').id;
  world.meet('alice', 'mallory');
  world.meet('alice', 'bob');
  await world.settle();
  return { world, mallory };
}

describe('authorship', () => {
  it('refuses a message naming another author and ends that session; nothing of it is shown', async () => {
    const { world } = await aliceAndMallory();
    world.inject('mallory', 'alice', messageFrom(world.idOf('bob'), 1, 'I am Bob'));
    world.inject('mallory', 'alice', messageFrom(world.idOf('mallory'), 1, 'after the refusal'));
    await world.settle();
    expect(world.shown('alice')).toEqual([]);
    expect(world.violations).toEqual([
      { at: 'alice', from: 'mallory', violation: { reason: 'frame-rejected', detail: 'a frame naming another author is refused' } },
    ]);
  });

  it('keeps refusing that session’s frames even if the mesh passes more of them, until a new session', async () => {
    const { world, mallory } = await aliceAndMallory();
    const alice = world.member('alice');
    const violation = alice.chat.receive(mallory, messageFrom(world.idOf('bob'), 1));
    expect(violation).toEqual({ reason: 'frame-rejected', detail: 'a frame naming another author is refused' });
    expect(alice.chat.receive(mallory, messageFrom(mallory, 1))).toEqual(violation);
    expect(world.shown('alice')).toEqual([]);

    world.connect('alice', 'mallory');
    expect(alice.chat.receive(mallory, messageFrom(mallory, 1, 'a new session'))).toBeNull();
    expect(world.shown('alice').map((message) => messageText(message))).toEqual(['a new session']);
  });

  it('shows a private message as private to us', async () => {
    const { world, mallory } = await aliceAndMallory();
    world.inject('mallory', 'alice', messageFrom(mallory, 1, 'between us', 'private'));
    await world.settle();
    expect(world.shown('alice')).toMatchObject([{ body: { type: 'text', text: 'between us' }, stream: 'private', author: mallory }]);
    expect(world.violations).toEqual([]);
  });
});

describe('each message once, in the author’s order', () => {
  it('never shows an old or repeated seq; gaps are fine', async () => {
    const { world, mallory } = await aliceAndMallory();
    const five = messageFrom(mallory, 5, 'five');
    for (const frame of [five, messageFrom(mallory, 3, 'three'), five, messageFrom(mallory, 5, 'five again, other id'), messageFrom(mallory, 6, 'six'), messageFrom(mallory, 1, 'one')]) {
      world.inject('mallory', 'alice', frame);
    }
    await world.advance(500);
    expect(world.shown('alice').map((message) => messageText(message))).toEqual(['five', 'six']);
    expect(world.violations).toEqual([]);
    // Every duplicate is answered with the current receipts.
    expect(world.framesSent('alice', 'mallory', 'receipts').at(-1)).toEqual({ type: 'receipts', deliveredSeq: 6, readSeq: 0 });
  });

  it('answers a duplicate with receipts even when they have not changed', async () => {
    const { world, mallory } = await aliceAndMallory();
    const one = messageFrom(mallory, 1);
    world.inject('mallory', 'alice', one);
    await world.advance(500);
    expect(world.framesSent('alice', 'mallory', 'receipts')).toEqual([{ type: 'receipts', deliveredSeq: 1, readSeq: 0 }]);
    world.inject('mallory', 'alice', one);
    await world.advance(500);
    expect(world.framesSent('alice', 'mallory', 'receipts')).toEqual([
      { type: 'receipts', deliveredSeq: 1, readSeq: 0 },
      { type: 'receipts', deliveredSeq: 1, readSeq: 0 },
    ]);
    expect(world.shown('alice')).toHaveLength(1);
  });

  it('does not show again after a reload what was shown before it', async () => {
    const { world, mallory } = await aliceAndMallory();
    const one = messageFrom(mallory, 1);
    world.inject('mallory', 'alice', one);
    await world.settle();
    const store = world.member('alice').store;
    world.member('alice').chat.close();
    await world.addChat('alice', { store });
    world.meet('alice', 'mallory');
    await world.settle();
    // The reloaded page acknowledges what it holds as soon as the session is up.
    expect(world.framesSent('alice', 'mallory', 'receipts')).toEqual([
      { type: 'receipts', deliveredSeq: 1, readSeq: 0 },
      { type: 'receipts', deliveredSeq: 1, readSeq: 0 },
    ]);
    world.inject('mallory', 'alice', one);
    world.inject('mallory', 'alice', messageFrom(mallory, 2));
    await world.settle();
    expect(world.shown('alice').map((message) => message.seq)).toEqual([2]);
  });
});

describe('limits per pair', () => {
  it('ends a session that floods messages; nothing beyond the bucket is shown', async () => {
    const { world, mallory } = await aliceAndMallory();
    for (let seq = 1; seq <= INBOUND_MESSAGE_BURST + 5; seq++) world.inject('mallory', 'alice', messageFrom(mallory, seq));
    await world.settle();
    expect(world.shown('alice').map((message) => message.seq)).toEqual(Array.from({ length: INBOUND_MESSAGE_BURST }, (_, index) => index + 1));
    expect(world.violations).toMatchObject([{ at: 'alice', from: 'mallory', violation: { reason: 'flooded' } }]);
    expect(world.violations[0]?.violation.detail).toBe('it sent more than 50 messages at once, or more than 20 a second');
  });

  it('lets a member send 20 messages a second for as long as it likes', async () => {
    const { world, mallory } = await aliceAndMallory();
    for (let seq = 1; seq <= INBOUND_MESSAGE_BURST; seq++) world.inject('mallory', 'alice', messageFrom(mallory, seq));
    await world.settle();
    for (let seq = INBOUND_MESSAGE_BURST + 1; seq <= 150; seq++) {
      await world.advance(50, 50);
      world.inject('mallory', 'alice', messageFrom(mallory, seq));
    }
    await world.settle();
    expect(world.violations).toEqual([]);
    expect(world.shown('alice')).toHaveLength(150);
    // Keeping that pace has used the bucket up: one more at once is too many.
    world.inject('mallory', 'alice', messageFrom(mallory, 151));
    await world.settle();
    expect(world.violations).toMatchObject([{ violation: { reason: 'flooded' } }]);
    expect(world.shown('alice')).toHaveLength(150);
  });

  it('ends a session that floods receipts and digests (one bucket for both)', async () => {
    const { world, mallory } = await aliceAndMallory();
    for (let index = 0; index < INBOUND_CONTROL_BURST / 2; index++) {
      world.inject('mallory', 'alice', { type: 'receipts', deliveredSeq: 0, readSeq: 0 });
      world.inject('mallory', 'alice', { type: 'digests', entries: [{ author: mallory, seq: 1, digest: bytesToBase64url(new Uint8Array(16)) }] });
    }
    await world.settle();
    expect(world.violations).toEqual([]);
    world.inject('mallory', 'alice', { type: 'receipts', deliveredSeq: 0, readSeq: 0 });
    await world.settle();
    expect(world.violations).toEqual([
      { at: 'alice', from: 'mallory', violation: { reason: 'flooded', detail: 'it sent more than 50 receipts, digests and typing notices at once, or more than 20 a second' } },
    ]);
    // Messages have their own bucket, so they were not what tripped it.
    expect(world.shown('alice')).toEqual([]);
  });
});

describe('receipts from an addressee', () => {
  it('are cumulative: a lower one changes nothing, and none counts beyond what we wrote', async () => {
    const store = new ReceiptsRecordingStore();
    const { world, mallory } = await aliceAndMallory(store);
    const alice = world.member('alice');
    const sent: GroupMessage[] = [];
    for (let index = 1; index <= 3; index++) sent.push(await world.send('alice', `to mallory ${index}`));
    await world.settle();
    const statesOf = (message: GroupMessage | undefined): string[] | undefined => (message === undefined ? undefined : deliveryStates(alice, message.id).get(mallory));

    world.inject('mallory', 'alice', { type: 'receipts', deliveredSeq: 2, readSeq: 1 });
    world.inject('mallory', 'alice', { type: 'receipts', deliveredSeq: 1, readSeq: 0 });
    await world.settle();
    expect(sent.map(statesOf)).toEqual([['sent', 'delivered', 'read'], ['sent', 'delivered'], ['sent']]);

    // A claim beyond our last message counts only up to it, so the next message still waits for its own receipt.
    world.inject('mallory', 'alice', { type: 'receipts', deliveredSeq: 1_000, readSeq: 0 });
    await world.settle();
    expect(statesOf(sent[2])).toEqual(['sent', 'delivered']);
    const fourth = await world.send('alice', 'to mallory 4');
    await world.settle();
    expect(statesOf(fourth)).toEqual(['sent']);
    world.inject('mallory', 'alice', { type: 'receipts', deliveredSeq: 4, readSeq: 0 });
    await world.settle();
    expect(statesOf(fourth)).toEqual(['sent', 'delivered']);
    // What reached the store only ever rose.
    expect(store.receipts.filter(([member]) => member === mallory)).toEqual([
      [mallory, 2, 1],
      [mallory, 3, 1],
      [mallory, 4, 1],
    ]);
  });

  it('never count as read beyond what was delivered', async () => {
    const { world, mallory } = await aliceAndMallory();
    const message = await world.send('alice', 'hi');
    await world.settle();
    world.inject('mallory', 'alice', { type: 'receipts', deliveredSeq: 0, readSeq: 1 });
    await world.settle();
    expect(deliveryStates(world.member('alice'), message.id).get(mallory)).toEqual(['sent']);
    world.inject('mallory', 'alice', { type: 'receipts', deliveredSeq: 1, readSeq: 1 });
    await world.settle();
    expect(deliveryStates(world.member('alice'), message.id).get(mallory)).toEqual(['sent', 'delivered', 'read']);
  });
});
