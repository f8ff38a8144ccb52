/**
 * The room start begun from the link before config.json arrives (spec §9): it hands the first room of that secret
 * the same keys a room would derive itself and a guest identity whose member id is its key's, and hands nothing to
 * a room of another secret or to a second room (a guest key serves one room session only).
 */
import { describe, expect, it } from 'vitest';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import { deriveRoomKeys } from '../../src/core/crypto/roomSecret.ts';
import { startRoomHeadStart } from '../../src/core/room/roomHeadStart.ts';
import { secretFromSeed } from './support/coreFixtures.ts';

const SECRET = secretFromSeed(910);
const OTHER_SECRET = secretFromSeed(911);

describe('room head start', () => {
  it('gives the first room of its secret the keys that secret derives and a guest whose member id is its key’s', async () => {
    const take = startRoomHeadStart(SECRET);
    const started = take(Uint8Array.from(SECRET));
    expect(started).not.toBeNull();
    const [keys, derived, guest] = await Promise.all([started?.keys, deriveRoomKeys(SECRET), started?.guest]);
    expect(keys?.roomId).toBe(derived.roomId);
    expect(guest?.identity.kind).toBe('guest');
    expect(guest?.memberId).toBe(await memberIdOf(guest?.identity.publicKeySpki ?? new Uint8Array()));
  });

  it('gives nothing to a room of another secret, and nothing twice', () => {
    const take = startRoomHeadStart(SECRET);
    expect(take(OTHER_SECRET)).toBeNull();
    expect(take(SECRET)).not.toBeNull();
    expect(take(SECRET)).toBeNull();
  });
});
