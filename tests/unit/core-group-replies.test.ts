/**
 * Replies and deletions for everyone (spec §12.5): their frames and strict parsers, their digests, and what the
 * history does with them: a reply keeps the id it answers; a deletion erases only its own author's message, here
 * and after a reload, and our own deletion waits in the outbox like any message.
 */
import { describe, expect, it } from 'vitest';
import { bytesToBase64url, concatBytes, utf8 } from '../../src/core/encoding.ts';
import { messageDigest } from '../../src/core/group/messageDigest.ts';
import { FrameType } from '../../src/core/protocol/frames.ts';
import { encodeGroupFrame, parseGroupFrame, textBody, type GroupMessage } from '../../src/core/protocol/groupMessages.ts';
import { GUEST_ID, groupMessage, selfIdOf, storeFor } from './support/groupVaultFakes.ts';
import { memberIdOfName } from './support/groupFakes.ts';
import { idFor, roomSecret, unlockedFixture, valueOf } from './support/vaultFakes.ts';

const ID = new Uint8Array(16).fill(1);
const AUTHOR = new Uint8Array(16).fill(2);
const TARGET = new Uint8Array(16).fill(3);

function fixed(stream = 0): Uint8Array {
  const numbers = new Uint8Array(16);
  numbers[7] = 1; // seq 1, written at 0
  return concatBytes(ID, AUTHOR, numbers, Uint8Array.of(stream));
}

function base(): Omit<GroupMessage, 'body'> {
  return { id: bytesToBase64url(ID), author: bytesToBase64url(AUTHOR), seq: 1, writtenAtMs: 0, stream: 'group' };
}

describe('reply and deletion frames', () => {
  it('lay a reply out as a message with the answered id before its text, and a deletion as a message with only the deleted id', () => {
    const reply = encodeGroupFrame({ type: 'message', message: { ...base(), body: textBody('yes', bytesToBase64url(TARGET)) } });
    expect(reply).toEqual({ type: FrameType.reply, plaintext: concatBytes(fixed(), TARGET, utf8('yes')) });
    const deletion = encodeGroupFrame({ type: 'message', message: { ...base(), body: { type: 'deletion', target: bytesToBase64url(TARGET) } } });
    expect(deletion).toEqual({ type: FrameType.deletion, plaintext: concatBytes(fixed(), TARGET) });
    expect(parseGroupFrame(FrameType.reply, reply.plaintext)).toEqual({ ok: true, frame: { type: 'message', message: { ...base(), body: textBody('yes', bytesToBase64url(TARGET)) } } });
    expect(parseGroupFrame(FrameType.deletion, deletion.plaintext)).toEqual({
      ok: true,
      frame: { type: 'message', message: { ...base(), body: { type: 'deletion', target: bytesToBase64url(TARGET) } } },
    });
  });

  it.each([
    ['a reply without text', FrameType.reply, concatBytes(fixed(), TARGET)],
    ['a reply shorter than the id it answers', FrameType.reply, concatBytes(fixed(), TARGET.subarray(0, 15))],
    ['a reply whose text is not UTF-8', FrameType.reply, concatBytes(fixed(), TARGET, Uint8Array.of(0xff))],
    ['a reply with an unknown stream', FrameType.reply, concatBytes(fixed(2), TARGET, utf8('x'))],
    ['a deletion of 15 bytes', FrameType.deletion, concatBytes(fixed(), TARGET.subarray(0, 15))],
    ['a deletion with words after the id', FrameType.deletion, concatBytes(fixed(), TARGET, utf8('x'))],
    ['a deletion without an id', FrameType.deletion, fixed()],
    ['a deletion shorter than its fixed fields', FrameType.deletion, fixed().subarray(0, 40)],
  ] as const)('refuse %s', (_, type, plaintext) => {
    expect(parseGroupFrame(type, plaintext)).toMatchObject({ ok: false, reason: expect.any(String) });
  });

  it('give each kind its own digest: a reply is not its text alone, a deletion not another deletion', async () => {
    const text = await messageDigest({ ...base(), body: textBody('yes') });
    const reply = await messageDigest({ ...base(), body: textBody('yes', bytesToBase64url(TARGET)) });
    const otherReply = await messageDigest({ ...base(), body: textBody('yes', bytesToBase64url(ID)) });
    const deletion = await messageDigest({ ...base(), body: { type: 'deletion', target: bytesToBase64url(TARGET) } });
    const otherDeletion = await messageDigest({ ...base(), body: { type: 'deletion', target: bytesToBase64url(ID) } });
    expect(new Set([text, reply, otherReply, deletion, otherDeletion]).size).toBe(5);
  });
});

describe('replies and deletions in the history', () => {
  async function room() {
    const { unlocked } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1), 'Room'));
    const store = await storeFor(unlocked, conversation.id);
    store.nameGuest(GUEST_ID, 'Guest 1');
    const mallory = memberIdOfName('mallory');
    store.nameGuest(mallory, 'Guest 2');
    await store.load();
    return { unlocked, conversation, store, mallory, self: await selfIdOf(unlocked) };
  }

  it('keeps the id a reply answers', async () => {
    const { unlocked, conversation, store } = await room();
    await store.recordShown(groupMessage(1, GUEST_ID, { text: 'lunch?' }));
    await store.recordShown(groupMessage(2, GUEST_ID, { body: textBody('at noon', idFor(1)) }));
    const [, reply] = await unlocked.latestMessages(conversation.id, 2);
    expect(reply).toMatchObject({ kind: 'message', content: { type: 'text', text: 'at noon', replyTo: idFor(1) } });
  });

  it('erases a message when its author deletes it, and never when another member claims to', async () => {
    const { unlocked, conversation, store, mallory } = await room();
    await store.recordShown(groupMessage(1, GUEST_ID, { text: 'my secret' }));
    // Mallory names the guest's message: nothing changes.
    await store.recordShown({ ...groupMessage(1, mallory), id: idFor(101), body: { type: 'deletion', target: idFor(1) } });
    expect(await unlocked.latestMessages(conversation.id, 10)).toMatchObject([{ content: { type: 'text', text: 'my secret' } }]);
    // The guest deletes it: its words are gone from the history, its place stays, and so does what Mallory said.
    await store.recordShown({ ...groupMessage(2, GUEST_ID), id: idFor(102), body: { type: 'deletion', target: idFor(1) } });
    const kept = await unlocked.latestMessages(conversation.id, 10);
    expect(kept).toMatchObject([{ kind: 'message', messageId: idFor(1), content: { type: 'deleted' } }]);
    expect(JSON.stringify(kept)).not.toContain('my secret');
    const [summary] = await unlocked.conversations();
    expect(summary).toMatchObject({ lastMessage: { preview: { type: 'deleted' } } });
    // The deletion counts as shown: it is not applied again, and the guest's next message is new.
    expect((await (await storeFor(unlocked, conversation.id)).load()).lastShown.get(GUEST_ID)).toBe(2);
  });

  it('erases our own message with our deletion, which waits in the outbox (and is resent after a reload) like any message', async () => {
    const { unlocked, conversation, store, self } = await room();
    await store.recordOutgoing(groupMessage(1, self, { text: 'oops' }), [GUEST_ID]);
    await store.recordOutgoing({ ...groupMessage(2, self), id: idFor(2), body: { type: 'deletion', target: idFor(1) } }, [GUEST_ID]);
    const kept = await unlocked.latestMessages(conversation.id, 10);
    expect(kept).toMatchObject([{ messageId: idFor(1), content: { type: 'deleted' } }, { messageId: idFor(2), content: { type: 'deletion', target: idFor(1) } }]);
    // After a reload only the deletion is sent: the words it deleted are not.
    const { outbox } = await store.load();
    expect(outbox.map((entry) => entry.message.body)).toEqual([{ type: 'deletion', target: idFor(1) }]);
  });
});
