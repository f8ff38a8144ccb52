import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import { safetyNumber } from '../../src/core/vault/safetyNumber.ts';
import type { ConversationSummary } from '../../src/core/vault/history.ts';
import type { UnlockedVault } from '../../src/core/vault/vaultService.ts';
import { roomSecret, unlockedFixture, valueOf } from './support/vaultFakes.ts';

async function peerKey(): Promise<Uint8Array> {
  return (await generateIdentity()).publicKeySpki;
}

async function room(unlocked: UnlockedVault, seed: number): Promise<ConversationSummary> {
  return valueOf(await unlocked.openConversation(roomSecret(seed)));
}

describe('observePeer', () => {
  it('does not remember a guest', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = await room(unlocked, 1);
    const before = store.snapshot();
    expect(valueOf(await unlocked.observePeer(conversation.id, { kind: 'guest' }))).toEqual({ kind: 'guest' });
    expect(store.snapshot()).toEqual(before);
  });

  it('remembers a new peer as one of the room’s contacts; the same key later is known, and a new name is never taken silently', async () => {
    const { clock, store, unlocked } = await unlockedFixture();
    const conversation = await room(unlocked, 1);
    const key = await peerKey();
    const first = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: key }));
    if (first.kind !== 'new') throw new Error(`expected new, got ${first.kind}`);
    expect(first.contact).toMatchObject({ displayName: 'Bob', publicKeySpki: key, verified: false, keyChanged: false, previousKeySpki: null });
    expect(valueOf(await unlocked.conversation(conversation.id)).contactIds).toEqual([first.contact.id]);
    clock.advance(5000);
    const second = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Robert', publicKeySpki: key }));
    expect(second).toMatchObject({ kind: 'known', contact: { id: first.contact.id, displayName: 'Bob' } });
    expect(second.kind === 'known' && second.contact.lastSeenAtMs - first.contact.lastSeenAtMs).toBe(5000);
    expect(store.counts().contacts).toBe(1);
    expect(await unlocked.contacts()).toMatchObject([{ id: first.contact.id, displayName: 'Bob' }]);

    // Only the person adopts the new name; key and verification stay as they were.
    valueOf(await unlocked.markVerified(first.contact));
    const renamed = valueOf(await unlocked.renameContact(first.contact.id, 'Robert'));
    expect(renamed).toMatchObject({ id: first.contact.id, displayName: 'Robert', publicKeySpki: key, verified: true });
    expect(await unlocked.contacts()).toMatchObject([{ id: first.contact.id, displayName: 'Robert', verified: true }]);
    expect(await unlocked.renameContact(first.contact.id, 'a\u0000b')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await unlocked.renameContact('no such contact', 'Rob')).toEqual({ ok: false, reason: 'no-contact' });
  });

  it('takes a new key under the name of one of the room’s contacts as that contact’s key change: reported, stored, un-verified', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = await room(unlocked, 1);
    const oldKey = await peerKey();
    const first = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: oldKey }));
    if (first.kind !== 'new') throw new Error('expected new');
    valueOf(await unlocked.markVerified(first.contact));
    expect(valueOf(await unlocked.contact(first.contact.id)).verified).toBe(true);

    const newKey = await peerKey();
    const changed = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: newKey }));
    expect(changed).toEqual({
      kind: 'key-changed',
      previousKeySpki: oldKey,
      contact: expect.objectContaining({ id: first.contact.id, publicKeySpki: newKey, previousKeySpki: oldKey, verified: false, keyChanged: true }),
    });
    const stored = valueOf(await unlocked.contact(first.contact.id));
    expect(stored).toMatchObject({ publicKeySpki: newKey, verified: false, keyChanged: true });
    // The new key is now the one we know; the warning stays until the user deals with it.
    expect(valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: newKey }))).toMatchObject({
      kind: 'known',
      contact: { keyChanged: true },
    });
    expect(valueOf(await unlocked.acknowledgeKeyChange(first.contact.id))).toMatchObject({ keyChanged: false, verified: false });
  });

  it('knows a contact met in another room by its key, and binds the new room to it', async () => {
    const { store, unlocked } = await unlockedFixture();
    const one = await room(unlocked, 1);
    const two = await room(unlocked, 2);
    const key = await peerKey();
    const first = valueOf(await unlocked.observePeer(one.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: key }));
    if (first.kind !== 'new') throw new Error('expected new');
    const second = valueOf(await unlocked.observePeer(two.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: key }));
    expect(second).toMatchObject({ kind: 'known', contact: { id: first.contact.id } });
    expect(valueOf(await unlocked.conversation(two.id)).contactIds).toEqual([first.contact.id]);
    expect(store.counts().contacts).toBe(1);
  });

  it('remembers every profile admitted in a group room, each with its own key; a new name is a new contact, not a key change', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = await room(unlocked, 1);
    const bob = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: await peerKey() }));
    const carol = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Carol', publicKeySpki: await peerKey() }));
    // A key nobody remembers, under a name the room does not know: someone new (the admission policy held them first).
    const dave = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Dave', publicKeySpki: await peerKey() }));
    if (bob.kind !== 'new' || carol.kind !== 'new' || dave.kind !== 'new') throw new Error('expected three new contacts');
    expect(valueOf(await unlocked.conversation(conversation.id)).contactIds).toEqual([bob.contact.id, carol.contact.id, dave.contact.id]);
    expect(store.counts().contacts).toBe(3);

    // Carol on a new device: her name, a new key. Bob and Dave are untouched.
    const carolsNewKey = await peerKey();
    const changed = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Carol', publicKeySpki: carolsNewKey }));
    expect(changed).toMatchObject({ kind: 'key-changed', contact: { id: carol.contact.id, publicKeySpki: carolsNewKey, keyChanged: true } });
    for (const untouched of [bob.contact, dave.contact]) {
      expect(valueOf(await unlocked.contact(untouched.id))).toMatchObject({ publicKeySpki: untouched.publicKeySpki, keyChanged: false });
    }
    expect(valueOf(await unlocked.conversation(conversation.id)).contactIds).toHaveLength(3);
  });

  it('takes a name only as this room’s: someone under the name of a contact of another room is new here', async () => {
    const { unlocked } = await unlockedFixture();
    const one = await room(unlocked, 1);
    const two = await room(unlocked, 2);
    const bobOne = valueOf(await unlocked.observePeer(one.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: await peerKey() }));
    const bobTwo = valueOf(await unlocked.observePeer(two.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: await peerKey() }));
    if (bobOne.kind !== 'new') throw new Error('expected new');
    expect(bobTwo).toMatchObject({ kind: 'new' });
    expect(bobTwo.kind === 'new' && bobTwo.contact.id).not.toBe(bobOne.contact.id);
    expect(valueOf(await unlocked.contact(bobOne.contact.id)).keyChanged).toBe(false);
  });

  it('refuses a key that is not ECDSA P-256 and a name with control characters, writing nothing', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = await room(unlocked, 1);
    const before = store.snapshot();
    const rsa = await crypto.subtle.generateKey({ name: 'RSA-PSS', modulusLength: 1024, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' }, true, [
      'sign',
      'verify',
    ]);
    const rsaSpki = new Uint8Array(await crypto.subtle.exportKey('spki', rsa.publicKey));
    for (const publicKeySpki of [rsaSpki, new Uint8Array(91), new Uint8Array(0)]) {
      expect(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki })).toMatchObject({ ok: false, reason: 'invalid' });
    }
    const key = await peerKey();
    for (const displayName of ['', 'a\u0000b', 'x'.repeat(65), '\u202Eevil']) {
      expect(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName, publicKeySpki: key })).toMatchObject({ ok: false, reason: 'invalid' });
    }
    expect(await unlocked.observePeer('no such room', { kind: 'profile', displayName: 'Bob', publicKeySpki: key })).toEqual({ ok: false, reason: 'no-conversation' });
    expect(store.snapshot()).toEqual(before);
  });
});

describe('markVerified', () => {
  it('marks the contact verified and clears a key-change warning', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = await room(unlocked, 1);
    valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: await peerKey() }));
    const changed = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: await peerKey() }));
    if (changed.kind !== 'key-changed') throw new Error('expected key-changed');
    expect(valueOf(await unlocked.markVerified(changed.contact))).toMatchObject({ verified: true, keyChanged: false });
    expect(valueOf(await unlocked.contact(changed.contact.id))).toMatchObject({ verified: true, keyChanged: false });
  });

  it('refuses when the key changed after the user compared the safety number', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = await room(unlocked, 1);
    const first = valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: await peerKey() }));
    if (first.kind !== 'new') throw new Error('expected new');
    valueOf(await unlocked.observePeer(conversation.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: await peerKey() }));
    expect(await unlocked.markVerified(first.contact)).toEqual({ ok: false, reason: 'key-mismatch' });
    expect(valueOf(await unlocked.contact(first.contact.id)).verified).toBe(false);
  });
});

describe('safetyNumberFor', () => {
  it('is the safety number of our identity key and the contact’s, the same on both sides', async () => {
    const ada = await unlockedFixture();
    const bob = await unlockedFixture();
    const adaRoom = await room(ada.unlocked, 1);
    const bobRoom = await room(bob.unlocked, 1);
    const adaKey = ada.unlocked.profile.identity.publicKeySpki;
    const bobKey = bob.unlocked.profile.identity.publicKeySpki;
    const bobSeenByAda = valueOf(await ada.unlocked.observePeer(adaRoom.id, { kind: 'profile', displayName: 'Bob', publicKeySpki: bobKey }));
    const adaSeenByBob = valueOf(await bob.unlocked.observePeer(bobRoom.id, { kind: 'profile', displayName: 'Ada', publicKeySpki: adaKey }));
    if (bobSeenByAda.kind !== 'new' || adaSeenByBob.kind !== 'new') throw new Error('expected new contacts');
    const number = await ada.unlocked.safetyNumberFor(bobSeenByAda.contact);
    expect(number).toMatch(/^(\d{5} ){11}\d{5}$/);
    expect(number).toBe(await safetyNumber(adaKey, bobKey));
    expect(await bob.unlocked.safetyNumberFor(adaSeenByBob.contact)).toBe(number);
  });
});
