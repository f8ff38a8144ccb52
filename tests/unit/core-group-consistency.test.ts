/**
 * Consistency digests (spec §12.8): members report digests of the group messages they were shown and compare
 * the reports with their own copies. A modified author who shows two versions is noticed on both sides; a
 * member who reports a false digest is named as disagreeing, never the author as the liar.
 */
import { describe, expect, it } from 'vitest';
import { bytesToBase64url } from '../../src/core/encoding.ts';
import type { SendOutcome } from '../../src/core/group/groupChat.ts';
import type { GroupEvent } from '../../src/core/group/groupEvents.ts';
import { DIGESTS_INTERVAL_MS, DIGESTS_PER_AUTHOR } from '../../src/core/group/groupLimits.ts';
import { messageDigest } from '../../src/core/group/messageDigest.ts';
import { MESSAGE_ID_BYTES, type GroupMessage, textBody } from '../../src/core/protocol/groupMessages.ts';
import { seededRandom } from './support/coreFixtures.ts';
import { GroupWorld } from './support/groupFakes.ts';

const random = seededRandom(812);
const WRONG_DIGEST = bytesToBase64url(new Uint8Array(16).fill(0xab));

function inconsistencies(world: GroupWorld, name: string): Extract<GroupEvent, { type: 'inconsistent' }>[] {
  return world.member(name).events.filter((event): event is Extract<GroupEvent, { type: 'inconsistent' }> => event.type === 'inconsistent');
}

describe('message digest', () => {
  it('follows the spec formula (a fixed vector) and depends on every field it covers', async () => {
    const message: GroupMessage = {
      id: bytesToBase64url(Uint8Array.from({ length: 16 }, (_, index) => index)),
      author: bytesToBase64url(Uint8Array.from({ length: 16 }, (_, index) => 0xf0 + index)),
      seq: 7,
      writtenAtMs: 1_700_000_000_000,
      stream: 'group',
      body: textBody('héllo'),
    };
    const digest = await messageDigest(message);
    // Computed independently (Python hashlib over the framed concatenation of §12.8).
    expect(digest).toBe('Gk1dONj-5-dVR0OUhTcuIg');
    const variants: GroupMessage[] = [
      { ...message, seq: 8 },
      { ...message, body: textBody('hello') },
      { ...message, writtenAtMs: message.writtenAtMs + 1 },
      { ...message, id: bytesToBase64url(new Uint8Array(16)) },
      { ...message, author: bytesToBase64url(new Uint8Array(16)) },
    ];
    for (const variant of variants) expect(await messageDigest(variant)).not.toBe(digest);
  });
});

describe('an author who shows different members different text', () => {
  it('is noticed by both members, each naming the author and the other member', async () => {
    const world = new GroupWorld();
    await world.addChat('bob');
    await world.addChat('carol');
    const mallory = world.addRaw('mallory').id;
    world.meetAll('bob', 'carol', 'mallory');
    await world.settle();
    const id = bytesToBase64url(random.bytes(MESSAGE_ID_BYTES));
    const version = (text: string): { type: 'message'; message: GroupMessage } => ({ type: 'message', message: { id, author: mallory, seq: 1, writtenAtMs: 5, stream: 'group', body: textBody(text) } });
    world.inject('mallory', 'bob', version('meet at noon'));
    world.inject('mallory', 'carol', version('meet at midnight'));
    await world.advance(DIGESTS_INTERVAL_MS);

    expect(inconsistencies(world, 'bob')).toEqual([{ type: 'inconsistent', author: mallory, seq: 1, members: [world.idOf('carol')] }]);
    expect(inconsistencies(world, 'carol')).toEqual([{ type: 'inconsistent', author: mallory, seq: 1, members: [world.idOf('bob')] }]);
    // Reported once, however many digests follow.
    const more = { ...version('more').message, id: bytesToBase64url(random.bytes(MESSAGE_ID_BYTES)), seq: 2 };
    world.inject('mallory', 'bob', { type: 'message', message: more });
    world.inject('mallory', 'carol', { type: 'message', message: more });
    await world.advance(2 * DIGESTS_INTERVAL_MS);
    expect(inconsistencies(world, 'bob')).toHaveLength(1);
    expect(inconsistencies(world, 'carol')).toHaveLength(1);
  });
});

describe('a member who reports a false digest', () => {
  async function withLiar(): Promise<{ world: GroupWorld; message: GroupMessage; liar: string }> {
    const world = new GroupWorld();
    await world.addChat('alice');
    await world.addChat('bob');
    const liar = world.addRaw('liar').id;
    world.meetAll('alice', 'bob', 'liar');
    await world.settle();
    const message = await world.send('alice', 'the plan');
    await world.advance(DIGESTS_INTERVAL_MS);
    return { world, message, liar };
  }

  it('is named as disagreeing; the author is named only as the author', async () => {
    const { world, message, liar } = await withLiar();
    world.inject('liar', 'bob', { type: 'digests', entries: [{ author: message.author, seq: message.seq, digest: WRONG_DIGEST }] });
    await world.settle();
    expect(inconsistencies(world, 'bob')).toEqual([{ type: 'inconsistent', author: world.idOf('alice'), seq: 1, members: [liar] }]);
    expect(inconsistencies(world, 'bob')[0]?.members).not.toContain(world.idOf('alice'));
  });

  it('about the receiver’s own message is compared with what the receiver sent', async () => {
    const { world, message, liar } = await withLiar();
    world.inject('liar', 'alice', { type: 'digests', entries: [{ author: message.author, seq: message.seq, digest: WRONG_DIGEST }] });
    await world.settle();
    expect(inconsistencies(world, 'alice')).toEqual([{ type: 'inconsistent', author: world.idOf('alice'), seq: 1, members: [liar] }]);
  });

  it('raises nothing when the digest is true, or names a message the receiver does not hold', async () => {
    const { world, message } = await withLiar();
    const truth = await messageDigest(message);
    world.inject('liar', 'bob', {
      type: 'digests',
      entries: [
        { author: message.author, seq: message.seq, digest: truth },
        { author: message.author, seq: 99, digest: WRONG_DIGEST },
        { author: world.idOf('nobody'), seq: 1, digest: WRONG_DIGEST },
      ],
    });
    await world.settle();
    expect(inconsistencies(world, 'bob')).toEqual([]);
    expect(inconsistencies(world, 'alice')).toEqual([]);
  });

  it(`compares only the ${DIGESTS_PER_AUTHOR} newest group messages of each author`, async () => {
    const { world, liar } = await withLiar();
    for (let index = 2; index <= DIGESTS_PER_AUTHOR + 1; index++) await world.send('alice', `more ${index}`);
    await world.settle();
    const oldest = 1;
    const newest = DIGESTS_PER_AUTHOR + 1;
    world.inject('liar', 'bob', {
      type: 'digests',
      entries: [oldest, newest].map((seq) => ({ author: world.idOf('alice'), seq, digest: WRONG_DIGEST })),
    });
    await world.settle();
    expect(inconsistencies(world, 'bob')).toEqual([{ type: 'inconsistent', author: world.idOf('alice'), seq: newest, members: [liar] }]);
  });

  it('gathers every disagreeing member in the warning about one message', async () => {
    const world = new GroupWorld();
    await world.addChat('alice');
    await world.addChat('bob');
    world.addRaw('liar1');
    world.addRaw('liar2');
    world.meetAll('alice', 'bob', 'liar1', 'liar2');
    const message = await world.send('alice', 'x');
    await world.settle();
    for (const liar of ['liar1', 'liar2']) world.inject(liar, 'bob', { type: 'digests', entries: [{ author: message.author, seq: 1, digest: WRONG_DIGEST }] });
    await world.settle();
    expect(inconsistencies(world, 'bob').map((event) => event.members)).toEqual([[world.idOf('liar1')], [world.idOf('liar1'), world.idOf('liar2')]]);
  });
});

describe('digests sent', () => {
  it('go to every connected member at most once per 2 s, listing up to 8 newest group messages of every other author', async () => {
    const world = new GroupWorld();
    for (const name of ['alice', 'bob', 'carol']) await world.addChat(name);
    world.meetAll('alice', 'bob', 'carol');
    await world.settle();
    const fromAlice: GroupMessage[] = [];
    for (let index = 1; index <= 10; index++) fromAlice.push(await world.send('alice', `a${index}`));
    const fromBob = await world.send('bob', 'b1');
    // Carol's own messages are not in her reports: everyone has them from her directly.
    await world.send('carol', 'c1');
    expectPrivate(await world.member('bob').chat.sendPrivately(world.idOf('carol'), 'private, never compared'));
    await world.settle();
    // The first message shown sends digests at once; everything after waits for the interval.
    expect(world.framesSent('carol', 'alice', 'digests')).toHaveLength(1);
    await world.advance(DIGESTS_INTERVAL_MS - 20);
    expect(world.framesSent('carol', 'alice', 'digests')).toHaveLength(1);
    await world.advance(20);
    const expected = [
      ...(await Promise.all(fromAlice.slice(-DIGESTS_PER_AUTHOR).map(async (message) => ({ author: message.author, seq: message.seq, digest: await messageDigest(message) })))),
      { author: fromBob.author, seq: fromBob.seq, digest: await messageDigest(fromBob) },
    ];
    for (const receiver of ['alice', 'bob']) {
      const frames = world.framesSent('carol', receiver, 'digests');
      expect(frames).toHaveLength(2);
      expect(frames[1]?.entries).toEqual(expected);
    }
    await world.advance(3 * DIGESTS_INTERVAL_MS);
    expect(world.framesSent('carol', 'alice', 'digests')).toHaveLength(2);
    expect(inconsistencies(world, 'alice')).toEqual([]);
  });
});

function expectPrivate(outcome: SendOutcome): void {
  expect(outcome).toMatchObject({ ok: true, message: { stream: 'private' } });
}
