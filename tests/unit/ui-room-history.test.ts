/**
 * RoomHistory, the room's view of its kept conversation: what admission knows before anyone arrives, who the
 * room remembers (by member id), the engine's store behind it, and history pages that name every author and
 * every addressee's delivery state.
 */
import { describe, expect, it } from 'vitest';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import { textBody } from '../../src/core/protocol/groupMessages.ts';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import { RoomHistory, type RoomHistoryEntry } from '../../src/ui/roomHistory.ts';
import { GroupWorld } from './support/groupFakes.ts';
import { selfIdOf } from './support/groupVaultFakes.ts';
import { idFor, roomSecret, unlockedFixture, valueOf } from './support/vaultFakes.ts';

async function opened(fixture: Awaited<ReturnType<typeof unlockedFixture>>, problems: string[] = []): Promise<RoomHistory> {
  return valueOf(await RoomHistory.open(fixture.unlocked, fixture.clock.for('room'), roomSecret(1), (text) => problems.push(text)));
}

async function profile(name: string): Promise<{ readonly kind: 'profile'; readonly displayName: string; readonly publicKeySpki: Uint8Array; readonly memberId: string }> {
  const publicKeySpki = (await generateIdentity()).publicKeySpki;
  return { kind: 'profile', displayName: name, publicKeySpki, memberId: await memberIdOf(publicKeySpki) };
}

function texts(entries: readonly RoomHistoryEntry[]): string[] {
  return entries.map((entry) => (entry.kind === 'message' && entry.content.type === 'text' ? entry.content.text : entry.kind));
}

describe('RoomHistory', () => {
  it('knows the room’s contacts the moment it opens, and every member it remembers by id', async () => {
    const fixture = await unlockedFixture();
    const first = await opened(fixture);
    expect(first.knowledge()).toEqual({ roomContacts: [], allContacts: [] });
    expect(first.rememberedMemberIds()).toEqual([]);
    const bob = await profile('Bob');
    const carol = await profile('Carol');
    const elsewhere = await profile('Eve');
    for (const peer of [bob, carol]) valueOf(await first.observe(peer));
    const other = valueOf(await fixture.unlocked.openConversation(roomSecret(2)));
    valueOf(await fixture.unlocked.observePeer(other.id, elsewhere));
    expect(first.contactFor(bob.memberId)).toMatchObject({ displayName: 'Bob' });
    expect(first.contactFor(elsewhere.memberId)).toBeNull();

    // Another page opening the room: no await between opening and answering.
    const again = await opened(fixture);
    const knowledge = again.knowledge();
    expect(knowledge.roomContacts.map((contact) => contact.displayName).sort()).toEqual(['Bob', 'Carol']);
    expect(knowledge.allContacts.map((contact) => contact.displayName).sort()).toEqual(['Bob', 'Carol', 'Eve']);
    expect([...again.rememberedMemberIds()].sort()).toEqual([bob.memberId, carol.memberId].sort());
    expect(again.contactFor(elsewhere.memberId)).toMatchObject({ displayName: 'Eve' });
    expect(again.conversation.title).toBe('Bob');
  });

  it('follows a contact’s new key: it is remembered, and addressed, under its new member id', async () => {
    const fixture = await unlockedFixture();
    const history = await opened(fixture);
    const carol = await profile('Carol');
    valueOf(await history.observe(carol));
    const carolsNewDevice = await profile('Carol');
    const changed = valueOf(await history.observe(carolsNewDevice));
    expect(changed.kind).toBe('key-changed');
    expect(history.rememberedMemberIds()).toEqual([carolsNewDevice.memberId]);
    expect(history.contactFor(carolsNewDevice.memberId)).toMatchObject({ displayName: 'Carol', keyChanged: true });
    expect(history.contactFor(carol.memberId)).toBeNull();
    // Her messages under the new key are hers.
    await history.conversationStore().recordShown({ id: idFor(1), author: carolsNewDevice.memberId, seq: 1, writtenAtMs: 5, stream: 'group', body: textBody('new phone') });
    const [entry] = await history.latest();
    expect(entry).toMatchObject({ author: { kind: 'contact', contact: { displayName: 'Carol' }, memberId: carolsNewDevice.memberId } });
  });

  it('names a member remembered a moment after its first message was kept as the contact it is from then on', async () => {
    const fixture = await unlockedFixture();
    const history = await opened(fixture);
    const bob = await profile('Bob');
    const store = history.conversationStore();
    await store.recordShown({ id: idFor(1), author: bob.memberId, seq: 1, writtenAtMs: 5, stream: 'group', body: textBody('before') });
    valueOf(await history.observe(bob));
    await store.recordShown({ id: idFor(2), author: bob.memberId, seq: 2, writtenAtMs: 6, stream: 'group', body: textBody('after') });
    expect((await history.latest()).map((entry) => (entry.kind === 'message' ? entry.author.kind : null))).toEqual(['guest', 'contact']);
  });

  it('pages the engine’s messages with their authors, streams and each addressee’s state', async () => {
    const fixture = await unlockedFixture();
    const history = await opened(fixture);
    const bob = await profile('Bob');
    valueOf(await history.observe(bob));
    const world = new GroupWorld();
    const self = await selfIdOf(fixture.unlocked);
    await world.addChat('ada', { id: self, store: history.conversationStore(), rememberedContacts: history.rememberedMemberIds() });
    await world.addChat('bob', { id: bob.memberId });
    const guest = await world.addChat('guest');
    history.nameGuest(guest.id, 'Guest 2');
    world.meet('ada', 'bob');
    world.meet('ada', 'guest');
    await world.settle();
    await world.send('ada', 'hello both');
    await world.member('ada').chat.sendPrivately(guest.id, 'just you');
    await world.send('bob', 'hi Ada');
    await world.advance(500);
    world.cut('ada', 'guest');
    await world.send('ada', 'guest is away');
    await world.advance(500);
    await world.member('ada').chat.whenIdle();
    await history.settled();

    const entries = await history.latest();
    expect(texts(entries)).toEqual(['hello both', 'just you', 'hi Ada', 'guest is away']);
    const bobAs = { kind: 'contact', contactId: expect.any(String), contact: expect.objectContaining({ displayName: 'Bob' }), memberId: bob.memberId };
    const guestAs = { kind: 'guest', label: 'Guest 2', memberId: guest.id };
    expect(entries).toMatchObject([
      { author: { kind: 'me' }, stream: { kind: 'group' }, authorSeq: 1, delivery: [{ to: bobAs, state: 'delivered', reason: null }, { to: guestAs, state: 'delivered' }] },
      { author: { kind: 'me' }, stream: { kind: 'private', with: guestAs }, authorSeq: 2, delivery: [{ to: guestAs, state: 'delivered' }] },
      { author: bobAs, stream: { kind: 'group' }, authorSeq: 1, delivery: [] },
      { author: { kind: 'me' }, authorSeq: 3, delivery: [{ to: bobAs, state: 'delivered' }, { to: guestAs, state: 'sending' }] },
    ]);
    // Paging back from the oldest on screen.
    const [, second] = entries;
    if (second?.kind !== 'message') throw new Error('no message');
    expect(texts(await history.before(second.seq))).toEqual(['hello both']);
  });

  it('keeps a file under its author and stream, and gathers "seen" into one write a moment later', async () => {
    const fixture = await unlockedFixture();
    const history = await opened(fixture);
    const bob = await profile('Bob');
    valueOf(await history.observe(bob));
    const kept = await history.recordFile(
      { messageId: idFor(9), author: { kind: 'member', memberId: bob.memberId }, stream: { kind: 'private', with: bob.memberId }, atMs: 77 },
      'notes.txt',
      'text/plain',
      new Blob(['a few notes']),
    );
    expect(kept).toBe('kept');
    const [entry] = await history.latest();
    expect(entry).toMatchObject({ author: { kind: 'contact', memberId: bob.memberId }, stream: { kind: 'private', with: { kind: 'contact' } }, atMs: 77, delivery: [] });
    if (entry?.kind !== 'message' || entry.content.type !== 'file') throw new Error('not a file');
    expect(await valueOf(await history.readFile(entry.content.file)).text()).toBe('a few notes');
    expect(valueOf(await fixture.unlocked.conversation(history.conversation.id)).unreadCount).toBe(1);

    const writes = fixture.store.writeCalls;
    history.markRead();
    history.markRead();
    // Nothing is written before the moment is over (real time passes; the room's clock does not).
    expect(fixture.clock.pending('room')).toEqual([{ owner: 'room', dueInMs: 200 }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fixture.store.writeCalls).toBe(writes);
    fixture.clock.advance(200);
    await history.settled();
    expect(fixture.store.writeCalls).toBe(writes + 1);
    expect(valueOf(await fixture.unlocked.conversation(history.conversation.id)).unreadCount).toBe(0);
  });

  it('deletes the room’s history after what was being written, and reports a write that failed in words', async () => {
    const fixture = await unlockedFixture();
    const problems: string[] = [];
    const history = await opened(fixture, problems);
    await history.conversationStore().recordShown({ id: idFor(1), author: idFor(500), seq: 1, writtenAtMs: 5, stream: 'group', body: textBody('soon gone') });
    valueOf(await history.deleteHistory());
    expect(fixture.store.counts()).toMatchObject({ conversations: 0, messages: 0 });
    expect(await history.recordFile({ messageId: idFor(2), author: { kind: 'me' }, stream: { kind: 'group' }, atMs: 1 }, 'a.txt', 'text/plain', new Blob(['x']))).toBe('not-kept');
    expect(problems).toEqual(['Not kept in your history: That conversation is no longer kept here.']);
  });
});
