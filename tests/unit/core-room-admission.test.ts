/**
 * The admission policy, case by case: who is let in at once and who is held until the person accepts, and why.
 * Every combination of peer kind (guest, profile), what the room remembers (nobody, a contact) and how the
 * peer's key relates to it (same, unknown, a contact from elsewhere), with verified and unverified contacts.
 */
import { describe, expect, it } from 'vitest';
import { admissionFor, heldFromVerified, type Admission, type KnownContact, type RoomKnowledge } from '../../src/core/room/admission.ts';
import type { PeerIdentity } from '../../src/core/crypto/identityProof.ts';

const key = (seed: number): Uint8Array => new Uint8Array(91).fill(seed);

const bob: KnownContact = { id: 'bob', displayName: 'Bob', publicKeySpki: key(1), verified: false, keyChanged: false };
const verifiedBob: KnownContact = { ...bob, verified: true };
const carol: KnownContact = { id: 'carol', displayName: 'Carol', publicKeySpki: key(2), verified: true, keyChanged: false };

const guest: PeerIdentity = { kind: 'guest', publicKeySpki: key(50) };
const profile = (displayName: string, seed: number): PeerIdentity => ({ kind: 'profile', displayName, publicKeySpki: key(seed) });

const nobody: RoomKnowledge = { roomContacts: [], allContacts: [] };
const roomOf = (contact: KnownContact, ...others: KnownContact[]): RoomKnowledge => ({ roomContacts: [contact], allContacts: [contact, ...others] });

describe('admissionFor: a room that remembers nobody', () => {
  it('admits a new guest', () => {
    expect(admissionFor(guest, nobody)).toEqual({ decision: 'admit', reason: 'new-guest', contact: null, announcedName: null });
  });

  it('admits a new profile (trust on first use)', () => {
    expect(admissionFor(profile('Dave', 9), nobody)).toEqual({ decision: 'admit', reason: 'new-profile', contact: null, announcedName: null });
  });

  it('admits a guest even when contacts exist elsewhere: this room never had one', () => {
    expect(admissionFor(guest, { roomContacts: [], allContacts: [bob, carol] }).decision).toBe('admit');
  });

  it('admits a contact met in another room, naming it, and notes a changed name', () => {
    const knowledge = { roomContacts: [], allContacts: [carol] };
    expect(admissionFor(profile('Carol', 2), knowledge)).toEqual({ decision: 'admit', reason: 'known-elsewhere', contact: carol, announcedName: null });
    expect(admissionFor(profile('Caz', 2), knowledge)).toEqual({ decision: 'admit', reason: 'known-elsewhere', contact: carol, announcedName: 'Caz' });
  });
});

describe('admissionFor: a room that remembers a contact', () => {
  it('admits the contact with the same key, verified or not', () => {
    expect(admissionFor(profile('Bob', 1), roomOf(bob))).toEqual({ decision: 'admit', reason: 'known', contact: bob, announcedName: null });
    expect(admissionFor(profile('Bob', 1), roomOf(verifiedBob))).toEqual({ decision: 'admit', reason: 'known', contact: verifiedBob, announcedName: null });
  });

  it('a known key announcing another name is still the contact (admitted), and the new name is reported, never adopted', () => {
    const admission = admissionFor(profile('Robert', 1), roomOf(verifiedBob));
    expect(admission).toEqual({ decision: 'admit', reason: 'known', contact: verifiedBob, announcedName: 'Robert' });
    expect(admission.contact?.displayName).toBe('Bob');
  });

  it('holds the same key while an earlier key change is not yet accepted', () => {
    const changed = { ...bob, keyChanged: true };
    expect(admissionFor(profile('Bob', 1), roomOf(changed))).toEqual({
      decision: 'hold',
      reason: 'key-change-unaccepted',
      expected: [changed],
      contact: changed,
      announcedName: null,
    });
  });

  it('holds a guest where the contact used a profile (the downgrade), verified or not', () => {
    for (const contact of [bob, verifiedBob]) {
      const admission = admissionFor(guest, roomOf(contact));
      expect(admission).toEqual({ decision: 'hold', reason: 'guest-for-profile', expected: [contact], contact: null, announcedName: null });
      expect(heldFromVerified(admission)).toBe(contact.verified);
    }
  });

  it('holds an unknown key under the contact’s own name as a key change (a new device, or an impostor)', () => {
    for (const contact of [bob, verifiedBob]) {
      const admission = admissionFor(profile('Bob', 7), roomOf(contact));
      expect(admission).toEqual({ decision: 'hold', reason: 'key-changed', expected: [contact], contact: null, announcedName: null });
      expect(heldFromVerified(admission)).toBe(contact.verified);
    }
  });

  it('holds an unknown key under a name nobody here has as a newcomer: the name decides the words, not the decision', () => {
    const carolNew = { ...carol, id: 'carol-here' };
    const room: RoomKnowledge = { roomContacts: [bob, carolNew], allContacts: [bob, carolNew] };
    expect(admissionFor(profile('Mallory', 7), room)).toEqual({ decision: 'hold', reason: 'newcomer', expected: [bob, carolNew], contact: null, announcedName: null });
    // Under one remembered member's name, the warning names only that member.
    expect(admissionFor(profile('Carol', 7), room)).toEqual({ decision: 'hold', reason: 'key-changed', expected: [carolNew], contact: null, announcedName: null });
  });
});

describe('admissionFor: back after a drop in the same room session', () => {
  it('admits a key admitted earlier here at once, guests and held-then-accepted newcomers included', () => {
    const guestKey = key(50);
    const room: RoomKnowledge = { ...roomOf(verifiedBob), admittedHere: [guestKey, key(7)] };
    expect(admissionFor(guest, room)).toEqual({ decision: 'admit', reason: 'rejoined', contact: null, announcedName: null });
    expect(admissionFor(profile('Mallory', 7), room)).toEqual({ decision: 'admit', reason: 'rejoined', contact: null, announcedName: null });
    // Another guest (another key) is still held.
    expect(admissionFor({ kind: 'guest', publicKeySpki: key(51) }, room).decision).toBe('hold');
  });

  it('names the remembered contact of a rejoining key, and a changed name', () => {
    const room: RoomKnowledge = { ...roomOf(verifiedBob), admittedHere: [key(1)] };
    expect(admissionFor(profile('Robert', 1), room)).toEqual({ decision: 'admit', reason: 'rejoined', contact: verifiedBob, announcedName: 'Robert' });
  });

  it('holds a contact from another room arriving where this room’s contact was expected', () => {
    expect(admissionFor(profile('Carol', 2), roomOf(bob, carol))).toEqual({
      decision: 'hold',
      reason: 'other-contact',
      expected: [bob],
      contact: carol,
      announcedName: null,
    });
  });
});

describe('admissionFor: never admits unasked once a room remembers a profile', () => {
  const peers: PeerIdentity[] = [guest, profile('Bob', 7), profile('Carol', 2), profile('Bob', 2), profile('Eve', 8)];
  it.each(peers.map((peer) => [peer.kind === 'guest' ? 'guest' : `${peer.displayName} with key ${peer.publicKeySpki[0]}`, peer] as const))(
    '%s is held unless it proves the contact’s key',
    (_label, peer) => {
      const admission: Admission = admissionFor(peer, roomOf(verifiedBob, carol));
      expect(admission.decision).toBe('hold');
      if (admission.decision === 'hold') expect(admission.expected).toEqual([verifiedBob]);
    },
  );
});
