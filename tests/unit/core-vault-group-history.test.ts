/**
 * The group history's own records: what waits in each conversation's outbox and for whom, strict parsing of
 * conversations, messages and outbox entries (an authentic record that does not parse is unreadable, never
 * guessed at), and what the engine is handed when stored entries were altered.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import { sealJsonRecord } from '../../src/core/vault/records.ts';
import { messageRecordId } from '../../src/core/vault/recordIds.ts';
import { parseMessageRow, parseOutboxRow } from '../../src/core/vault/storePort.ts';
import { parseConversation, parseMessageRecord, parseOutboxRecord } from '../../src/core/vault/vaultRecords.ts';
import { GUEST_ID, groupMessage, selfIdOf, storeFor } from './support/groupVaultFakes.ts';
import { dataKeyOf, idFor, roomSecret, unlockedFixture, valueOf } from './support/vaultFakes.ts';

const GUEST = { type: 'guest', label: 'Guest 1', memberId: GUEST_ID } as const;

describe('pendingOutbox', () => {
  it('lists each conversation whose outbox holds undelivered messages, with its room secret and a count per addressee', async () => {
    const { unlocked } = await unlockedFixture();
    const work = valueOf(await unlocked.openConversation(roomSecret(1), 'Work'));
    const quiet = valueOf(await unlocked.openConversation(roomSecret(2), 'Quiet'));
    const done = valueOf(await unlocked.openConversation(roomSecret(3), 'Done'));
    const bobKey = (await generateIdentity()).publicKeySpki;
    valueOf(await unlocked.observePeer(work.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: bobKey }));
    const bob = await memberIdOf(bobKey);
    const self = await selfIdOf(unlocked);
    const workStore = await storeFor(unlocked, work.id);
    workStore.nameGuest(GUEST_ID, 'Guest 1');
    await workStore.load();
    for (const n of [1, 2, 3]) await workStore.recordOutgoing(groupMessage(n, self), n === 3 ? [bob] : [bob, GUEST_ID]);
    await workStore.recordReceipts(GUEST_ID, 1, 1);
    await (await storeFor(unlocked, quiet.id)).recordShown(groupMessage(1, GUEST_ID));
    const doneStore = await storeFor(unlocked, done.id);
    await doneStore.load();
    await doneStore.recordOutgoing(groupMessage(1, self), [GUEST_ID]);
    await doneStore.recordReceipts(GUEST_ID, 1, 0);

    expect(await unlocked.pendingOutbox()).toEqual([
      {
        conversationId: work.id,
        roomSecret: roomSecret(1),
        title: 'Work',
        waiting: [
          { to: { type: 'contact', contactId: expect.any(String) }, name: 'Bob', count: 3 },
          { to: GUEST, name: 'Guest 1', count: 1 },
        ],
      },
    ]);
    // The person renames Bob: the list says what the person calls him.
    const [contact] = await unlocked.contacts();
    valueOf(await unlocked.renameContact(contact?.id ?? '', 'Robert'));
    expect((await unlocked.pendingOutbox())[0]?.waiting[0]).toMatchObject({ name: 'Robert', count: 3 });
    // Once everything is delivered, nothing waits.
    await workStore.recordReceipts(bob, 3, 0);
    await workStore.recordExpired([{ messageId: idFor(2), seq: 2, addressee: GUEST_ID, reason: 'member-left' }]);
    expect(await unlocked.pendingOutbox()).toEqual([]);
  });
});

describe('what the store follows', () => {
  it('follows a message until every addressee has read it, then forgets it: its entry goes, and no later expiry can touch it', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    const groupStore = await storeFor(unlocked, conversation.id);
    const carol = idFor(301);
    await groupStore.load();
    await groupStore.recordOutgoing(groupMessage(1, await selfIdOf(unlocked)), [GUEST_ID, carol]);
    await groupStore.recordReceipts(GUEST_ID, 1, 1);
    expect(store.counts().outbox).toBe(1);
    await groupStore.recordReceipts(carol, 1, 0);
    expect(store.counts().outbox).toBe(1);
    await groupStore.recordReceipts(carol, 1, 1);
    expect(store.counts().outbox).toBe(0);
    await groupStore.recordExpired([{ messageId: idFor(1), seq: 1, addressee: GUEST_ID, reason: 'too-old' }]);
    const [message] = await unlocked.latestMessages(conversation.id, 1);
    expect(message).toMatchObject({ delivery: [{ state: 'read' }, { state: 'read' }] });
  });

  it('follows at most 1 000 messages that wait only to be reported read; the oldest stay delivered', { timeout: 60_000 }, async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    const groupStore = await storeFor(unlocked, conversation.id);
    await groupStore.load();
    const self = await selfIdOf(unlocked);
    for (let n = 1; n <= 1_002; n++) await groupStore.recordOutgoing(groupMessage(n, self), [GUEST_ID]);
    await groupStore.recordReceipts(GUEST_ID, 1_002, 0);
    expect(store.counts().outbox).toBe(1_000);
    await groupStore.recordReceipts(GUEST_ID, 1_002, 1_002);
    expect(store.counts().outbox).toBe(0);
    const states = (await unlocked.latestMessages(conversation.id, 500)).concat(await unlocked.messagesBefore(conversation.id, 503, 500), await unlocked.messagesBefore(conversation.id, 3, 2));
    const byState = new Map<string, number>();
    for (const entry of states) if (entry.kind === 'message') for (const { state } of entry.delivery) byState.set(state, (byState.get(state) ?? 0) + 1);
    expect(Object.fromEntries(byState)).toEqual({ delivered: 2, read: 1_000 });
  });

  it('names an author that became one of the room’s contacts after the store loaded as that contact, not as a guest', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    const groupStore = await storeFor(unlocked, conversation.id);
    await groupStore.load();
    const bobKey = (await generateIdentity()).publicKeySpki;
    valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: bobKey }));
    await groupStore.recordShown(groupMessage(1, await memberIdOf(bobKey)));
    const [entry] = await unlocked.latestMessages(conversation.id, 1);
    expect(entry).toMatchObject({ author: { type: 'contact' } });
  });

  it('keeps the last shown seq of every contact of the room, and of the 64 others heard from last', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    const bobKey = (await generateIdentity()).publicKeySpki;
    valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: bobKey }));
    const bob = await memberIdOf(bobKey);
    const groupStore = await storeFor(unlocked, conversation.id);
    await groupStore.load();
    await groupStore.recordShown(groupMessage(1, bob));
    for (let guest = 1; guest <= 70; guest++) await groupStore.recordShown(groupMessage(1, idFor(1_000 + guest), { id: idFor(guest) }));
    const lastShown = (await (await unlocked.conversationStore(conversation.id)).load()).lastShown;
    expect(lastShown.size).toBe(65);
    expect(lastShown.get(bob)).toBe(1);
    expect(lastShown.has(idFor(1_006))).toBe(false);
    expect(lastShown.has(idFor(1_007))).toBe(true);
  });
});

describe('altered group records', () => {
  it('show as unreadable, and an altered outbox entry is never sent', async () => {
    const fixture = await unlockedFixture();
    const { store, unlocked } = fixture;
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    const groupStore = await storeFor(unlocked, conversation.id);
    groupStore.nameGuest(GUEST_ID, 'Guest 1');
    await groupStore.load();
    const self = await selfIdOf(unlocked);
    await groupStore.recordOutgoing(groupMessage(1, self, { text: 'first' }), [GUEST_ID]);
    await groupStore.recordOutgoing(groupMessage(2, self, { text: 'second' }), [GUEST_ID]);
    const [one, two] = (await store.readOutbox(conversation.id)).map(parseOutboxRow);
    if (one === null || two === null || one === undefined || two === undefined) throw new Error('entries missing');
    // One entry takes the other's sealed bytes: it does not open under its own id, so its message is not resent,
    // and the other message is resent once, from its own entry.
    await store.write([{ type: 'put-outbox', row: { ...one, sealed: two.sealed } }]);
    const loaded = await (await unlocked.conversationStore(conversation.id)).load();
    expect(loaded.outbox).toHaveLength(1);
    expect(store.counts().outbox).toBe(2);

    // A message whose delivery list was flipped by a bit reads as unreadable, not as some other state.
    const [raw] = await store.readMessages(conversation.id, { direction: 'forward', afterSeq: 1 }, 1);
    const row = parseMessageRow(raw);
    if (row === null) throw new Error('no row');
    await store.write([{ type: 'put-message', row: { ...row, sealed: row.sealed.map((byte, index) => (index === row.sealed.length - 20 ? byte ^ 4 : byte)) } }]);
    expect(await unlocked.latestMessages(conversation.id, 10)).toMatchObject([{ kind: 'message', seq: 1 }, { kind: 'unreadable', seq: 2 }]);

    // Authentic, but not a record this version writes: unreadable too.
    const dataKey = await dataKeyOf(fixture);
    const key = { conversationId: conversation.id, seq: 1, messageId: row.messageId };
    const notOurs = {
      v: 2,
      author: GUEST,
      stream: { type: 'group' },
      authorSeq: 1,
      writtenAtMs: 1,
      atMs: 1,
      content: { type: 'text', text: 'a guest’s message with addressees' },
      delivery: [{ to: GUEST, state: 'sending', atMs: 1 }],
    };
    const sealed = await sealJsonRecord(dataKey, 'message', messageRecordId(key.conversationId, key.seq, key.messageId), notOurs, systemRandom);
    await store.write([{ type: 'put-message', row: { ...key, sealed } }]);
    expect(await unlocked.latestMessages(conversation.id, 10)).toMatchObject([{ kind: 'unreadable', seq: 1 }, { kind: 'unreadable', seq: 2 }]);
  });
});

describe('group record parsers', () => {
  const contact = { type: 'contact', contactId: idFor(7) };
  const message = {
    v: 2,
    author: { type: 'me' },
    stream: { type: 'private', with: contact },
    authorSeq: 3,
    writtenAtMs: 10,
    atMs: 11,
    content: { type: 'text', text: 'hello' },
    delivery: [{ to: contact, state: 'expired', atMs: 12, reason: 'too-old' }],
  };
  const conversation = {
    v: 2,
    roomSecret: Buffer.from(roomSecret(1)).toString('base64url'),
    title: '',
    contactIds: [idFor(7)],
    pairContactId: null,
    createdAtMs: 1,
    updatedAtMs: 2,
    lastSeq: 1,
    unreadCount: 0,
    lastMessage: { seq: 1, author: { type: 'me' }, atMs: 11, preview: { type: 'text', text: 'hello' } },
    receivedFileBytes: 0,
    lastOwnSeq: 3,
    lastShown: [{ memberId: idFor(8), seq: 4 }],
    outbox: [{ to: contact, count: 1 }],
  };

  it('read the records this version writes', () => {
    expect(parseMessageRecord(message, null)).not.toBeNull();
    expect(parseConversation(conversation)).not.toBeNull();
    expect(parseOutboxRecord({ v: 1, seq: 1, messageId: idFor(1) })).not.toBeNull();
    expect(parseOutboxRecord({ v: 1, seq: 0, messageId: idFor(1) })).toBeNull();
  });

  it('refuse any record with a field changed to a value of the wrong kind, missing, or added', () => {
    const wrongValues = fc.oneof(fc.constant(null), fc.constant(-1), fc.constant(1.5), fc.constant(''), fc.constant('x'), fc.constant([]), fc.constant({}), fc.constant(true));
    for (const [record, parse] of [
      [message, (value: unknown) => parseMessageRecord(value, null)],
      [conversation, parseConversation],
    ] as const) {
      const keys = Object.keys(record).filter((key) => key !== 'pairContactId' && key !== 'receivedFileBytes');
      // Values some fields take besides the ones above: those are not wrong.
      const alsoValid: Record<string, readonly unknown[]> = { authorSeq: [null], lastMessage: [null], title: ['', 'x'], contactIds: [[]], lastShown: [[]], outbox: [[]], delivery: [[]] };
      fc.assert(
        fc.property(fc.constantFrom(...keys), wrongValues, fc.boolean(), (key, value, drop) => {
          fc.pre(drop || !(alsoValid[key] ?? []).some((valid) => JSON.stringify(valid) === JSON.stringify(value)));
          const changed: Record<string, unknown> = { ...record };
          if (drop) delete changed[key];
          else changed[key] = value;
          expect(parse(changed)).toBeNull();
        }),
      );
      expect(parse({ ...record, extra: 1 })).toBeNull();
    }
  });

  it('refuse what this version never writes: addressees on someone else’s message, a private message whose addressee is not its one, a repeated party', () => {
    const refused: [string, unknown][] = [
      ['a guest’s message with a delivery list', { ...message, author: { type: 'guest', label: 'Guest 1', memberId: null }, stream: { type: 'group' } }],
      ['an own private message delivered to someone else', { ...message, delivery: [{ to: { type: 'contact', contactId: idFor(9) }, state: 'sending', atMs: 1 }] }],
      ['someone’s private message with another', { ...message, author: { type: 'contact', contactId: idFor(9) }, delivery: [] }],
      ['a private message with oneself', { ...message, stream: { type: 'private', with: { type: 'me' } } }],
      ['an addressee twice', { ...message, stream: { type: 'group' }, delivery: [message.delivery[0], message.delivery[0]] }],
      ['an expiry without its reason', { ...message, delivery: [{ to: contact, state: 'expired', atMs: 1 }] }],
      ['a reason without an expiry', { ...message, delivery: [{ to: contact, state: 'read', atMs: 1, reason: 'too-old' }] }],
      ['an unknown state', { ...message, delivery: [{ to: contact, state: 'lost', atMs: 1 }] }],
      ['a guest label with a control character', { ...message, author: { type: 'guest', label: 'Guest\u0007', memberId: null }, stream: { type: 'group' }, delivery: [] }],
      ['an author seq of 0', { ...message, authorSeq: 0 }],
    ];
    for (const [what, value] of refused) expect(parseMessageRecord(value, null), what).toBeNull();
    expect(parseConversation({ ...conversation, contactIds: [idFor(7), idFor(7)] }), 'a contact twice').toBeNull();
    expect(parseConversation({ ...conversation, outbox: [{ to: contact, count: 0 }] }), 'a count of nothing').toBeNull();
    expect(parseConversation({ ...conversation, lastShown: [conversation.lastShown[0], conversation.lastShown[0]] }), 'a member twice').toBeNull();
    expect(parseConversation({ ...conversation, contactIds: Array.from({ length: 257 }, (_, n) => idFor(n)) }), 'too many contacts').toBeNull();
    // A two-person message needs to know who the other person was; without that it is not read at all.
    expect(parseMessageRecord({ v: 1, direction: 'incoming', atMs: 1, content: { type: 'text', text: 'old' }, deliveredAtMs: null }, null)).toBeNull();
  });
});
