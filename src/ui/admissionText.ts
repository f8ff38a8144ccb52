/** The words for a held newcomer: what happened, in plain terms, and what accepting them means. */
import { assertNever } from '../core/assertNever.ts';
import type { PeerIdentity } from '../core/crypto/identityProof.ts';
import { heldFromVerified, type Admission, type KnownContact } from '../core/room/admission.ts';

export interface HeldWarning {
  readonly heading: string;
  readonly body: string;
  /** The accept button's label; it always starts with "Accept". */
  readonly accept: string;
}

/** "Bob", "Bob and Carol", "Bob, Carol and Dave". */
export function namesOf(contacts: readonly KnownContact[]): string {
  const names = contacts.map((contact) => contact.displayName);
  if (names.length <= 1) return names[0] ?? 'Someone';
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

const WAITING = 'Nothing has been sent to them, and nothing they sent is shown, until you decide.';

export function heldWarning(admission: Admission & { decision: 'hold' }, peer: PeerIdentity): HeldWarning {
  const expected = namesOf(admission.expected);
  const profileKind = heldFromVerified(admission) ? 'a verified profile' : 'a profile';
  const peerName = peer.kind === 'profile' ? peer.displayName : 'this person';
  switch (admission.reason) {
    case 'guest-for-profile':
      return {
        heading: `${expected} used ${profileKind} here before; this person arrived without one`,
        body: `Anyone who has this room’s link can arrive as a guest, so this may not be ${expected}. ${WAITING} Ask ${expected} over another channel (in person, or on a call) whether this is them.`,
        accept: 'Accept the guest and continue',
      };
    case 'key-changed':
    case 'key-change-unaccepted':
      return {
        heading: `${expected}’s identity key has changed`,
        body: `This room’s contact arrived with a different key than before. It may be a new browser or a reinstall, or it may be someone else who has the link. ${WAITING} Compare the new safety number with them over another channel (in person, or on a call) before trusting it.`,
        accept: 'Accept the new key and continue',
      };
    case 'newcomer':
      return {
        heading: `${peerName} is new in this room`,
        body: `${expected} ${admission.expected.length === 1 ? 'was' : 'were'} here before; this person, with a profile nobody here has seen, has the room’s link too. ${WAITING} Ask the others over another channel whether they invited ${peerName}.`,
        accept: `Accept ${peerName} and continue`,
      };
    case 'other-contact':
      return {
        heading: `${admission.contact?.displayName ?? peerName} arrived where ${expected} was before`,
        body: `Someone you know from another room has this room’s link. ${WAITING}`,
        accept: `Accept ${admission.contact?.displayName ?? peerName} and continue`,
      };
    case 'undecided':
      return {
        heading: 'Parley could not check who this is',
        body: `Your contacts could not be read, so Parley cannot tell whether this person is someone you met here before. ${WAITING}`,
        accept: 'Accept them and continue',
      };
    default:
      return assertNever(admission.reason, 'hold reason');
  }
}
