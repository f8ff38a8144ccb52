/**
 * The room start that needs nothing but the link (spec §9, "Link to Secure"): the room's keys and a guest identity
 * with its member id, begun as the page loads, while config.json is on its way, and taken by the first room that
 * opens with the same secret. Nothing here leaves the page: the room id is sent only when the room joins, as before.
 */
import { bytesEqual } from '../encoding.ts';
import { generateGuestIdentity, type LocalIdentity } from '../crypto/identityProof.ts';
import { memberIdOf } from '../crypto/memberId.ts';
import { deriveRoomKeys, type RoomKeys } from '../crypto/roomSecret.ts';

/** Who this side is in a room: its identity (a guest's or a profile's) and the member id derived from it. */
export interface RoomSelf {
  readonly identity: LocalIdentity;
  readonly memberId: string;
}

export interface RoomHeadStart {
  /** Derived from the secret alone, so the same for every room session of this room. */
  readonly keys: Promise<RoomKeys>;
  /** A guest key serves one room session only (spec §5.5): a room with a profile leaves it unused. */
  readonly guest: Promise<RoomSelf>;
}

/** A fresh guest identity for one room session, and its member id. */
export async function makeGuestSelf(): Promise<RoomSelf> {
  const identity = await generateGuestIdentity();
  return { identity, memberId: await memberIdOf(identity.publicKeySpki) };
}

/** Begins the work at once; what it returns hands that work to the first room opened with `secret`, and to no other. */
export function startRoomHeadStart(secret: Uint8Array): (secret: Uint8Array) => RoomHeadStart | null {
  let started: RoomHeadStart | null = { keys: deriveRoomKeys(secret), guest: makeGuestSelf() };
  // A failure is the room's to report when it awaits these; until then it must not count as unhandled.
  started.keys.catch(() => {});
  started.guest.catch(() => {});
  return (opened) => {
    const taken = started;
    if (taken === null || !bytesEqual(opened, secret)) return null;
    started = null;
    return taken;
  };
}
