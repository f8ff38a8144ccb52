/**
 * Who may talk in a room: the pure policy that decides, from a verified peer and what this person knows
 * (the room's remembered contacts and every contact's key), whether the peer is admitted at once or held
 * until the person accepts, and why. The why travels to the view so the warning names the real situation.
 */
import { assertNever } from '../assertNever.ts';
import { bytesEqual } from '../encoding.ts';
import type { PeerIdentity } from '../crypto/identityProof.ts';

/** What the policy needs to know of a remembered contact (the vault's Contact has these fields). */
export interface KnownContact {
  readonly id: string;
  /** The name the person saw when they met (and perhaps verified) this contact; a peer's later claim never changes it. */
  readonly displayName: string;
  readonly publicKeySpki: Uint8Array;
  readonly verified: boolean;
  /** The contact's key changed and the person has not yet accepted the change. */
  readonly keyChanged: boolean;
}

/** What this person knows when a verified peer arrives. */
export interface RoomKnowledge {
  /** Contacts remembered in this room (with a profile of one's own; a guest remembers nobody). */
  readonly roomContacts: readonly KnownContact[];
  /** Every remembered contact, in any room, to recognise a key met elsewhere. */
  readonly allContacts: readonly KnownContact[];
  /**
   * Keys admitted earlier in this room session (the room session supplies these, not the app): a member whose
   * pair broke and came back is let in again at once, guests included.
   */
  readonly admittedHere?: readonly Uint8Array[];
}

export type AdmitReason =
  /** A guest in a room where nobody with a profile was met: nothing to compare against. */
  | 'new-guest'
  /** A profile whose key nobody here has seen, in a room without remembered contacts: trust on first use. */
  | 'new-profile'
  /** One of this room's contacts, with the same key as before. */
  | 'known'
  /** A contact met in another room, arriving in a room that remembers nobody yet. */
  | 'known-elsewhere'
  /** The same key the person (or the policy) let in earlier in this room session, back after a drop. */
  | 'rejoined';

export type HoldReason =
  /** This room's contact used a profile here before; this person arrived as a guest (a downgrade). */
  | 'guest-for-profile'
  /** Someone arrived under a remembered contact's name with a key that contact never showed: a new device, or an impostor. */
  | 'key-changed'
  /** Someone with a key and a name nobody here remembers, in a room that remembers people: new to this room. */
  | 'newcomer'
  /** The contact's key changed earlier and the person has not accepted it yet. */
  | 'key-change-unaccepted'
  /** A contact known from another room arrived where this room's contact was expected. */
  | 'other-contact'
  /** What this person knows could not be read, so nobody can be let in unasked. */
  | 'undecided';

export type Admission =
  | {
      readonly decision: 'admit';
      readonly reason: AdmitReason;
      /** The remembered contact this peer is, if any. */
      readonly contact: KnownContact | null;
      /** The name the peer announces now, when it differs from the remembered one; null otherwise. */
      readonly announcedName: string | null;
    }
  | {
      readonly decision: 'hold';
      readonly reason: HoldReason;
      /** Who this room remembers: the people the warning names (empty only when 'undecided'). */
      readonly expected: readonly KnownContact[];
      /** The remembered contact this peer is (same key), if any. */
      readonly contact: KnownContact | null;
      readonly announcedName: string | null;
    };

function renamed(contact: KnownContact, peer: PeerIdentity & { kind: 'profile' }): string | null {
  return contact.displayName === peer.displayName ? null : peer.displayName;
}

/**
 * The decision, for every combination of peer kind, what the room remembers and what key the peer proves.
 * The rule behind it: once a room has remembered a profile, nobody gets in without the person's say-so
 * unless they prove that same key; a guest or an unknown key is held, not merely hinted at.
 */
export function admissionFor(peer: PeerIdentity, knowledge: RoomKnowledge): Admission {
  const expected = knowledge.roomContacts;
  if (knowledge.admittedHere?.some((key) => bytesEqual(key, peer.publicKeySpki)) === true) {
    const contact = peer.kind === 'profile' ? (knowledge.allContacts.find((known) => bytesEqual(known.publicKeySpki, peer.publicKeySpki)) ?? null) : null;
    return { decision: 'admit', reason: 'rejoined', contact, announcedName: contact !== null && peer.kind === 'profile' ? renamed(contact, peer) : null };
  }
  switch (peer.kind) {
    case 'guest':
      return expected.length === 0
        ? { decision: 'admit', reason: 'new-guest', contact: null, announcedName: null }
        : { decision: 'hold', reason: 'guest-for-profile', expected, contact: null, announcedName: null };
    case 'profile': {
      const sameKey = (contact: KnownContact): boolean => bytesEqual(contact.publicKeySpki, peer.publicKeySpki);
      const inRoom = expected.find(sameKey);
      if (inRoom !== undefined) {
        const announcedName = renamed(inRoom, peer);
        return inRoom.keyChanged
          ? { decision: 'hold', reason: 'key-change-unaccepted', expected, contact: inRoom, announcedName }
          : { decision: 'admit', reason: 'known', contact: inRoom, announcedName };
      }
      const elsewhere = knowledge.allContacts.find(sameKey) ?? null;
      const announcedName = elsewhere === null ? null : renamed(elsewhere, peer);
      if (expected.length === 0) {
        return elsewhere === null
          ? { decision: 'admit', reason: 'new-profile', contact: null, announcedName: null }
          : { decision: 'admit', reason: 'known-elsewhere', contact: elsewhere, announcedName };
      }
      if (elsewhere !== null) return { decision: 'hold', reason: 'other-contact', expected, contact: elsewhere, announcedName };
      // The name is only a claim; it decides the words, not the decision: both are held.
      const impersonated = expected.filter((contact) => contact.displayName === peer.displayName);
      return impersonated.length > 0
        ? { decision: 'hold', reason: 'key-changed', expected: impersonated, contact: null, announcedName: null }
        : { decision: 'hold', reason: 'newcomer', expected, contact: null, announcedName: null };
    }
    default:
      return assertNever(peer, 'peer identity');
  }
}

/** The hold for a peer whose admission could not be worked out (the app could not say what it knows). */
export const UNDECIDED: Admission = { decision: 'hold', reason: 'undecided', expected: [], contact: null, announcedName: null };

/** Whether any contact the hold names was verified: the warning is then stronger. */
export function heldFromVerified(admission: Admission): boolean {
  return admission.decision === 'hold' && admission.expected.some((contact) => contact.verified);
}
