/**
 * Room membership: which peer ids share a room, each with a value of the caller's (its connection, its nonce), with
 * a size cap; lookups are always scoped to one room.
 */

export type JoinOutcome<Member> =
  | { readonly ok: true; readonly others: ReadonlyArray<readonly [peerId: string, member: Member]> }
  | { readonly ok: false; readonly reason: 'room-full' };

export class Rooms<Member> {
  readonly #rooms = new Map<string, Map<string, Member>>();
  readonly #maxMembers: number;

  constructor(maxMembers: number) {
    this.#maxMembers = maxMembers;
  }

  join(roomId: string, peerId: string, member: Member): JoinOutcome<Member> {
    const room = this.#rooms.get(roomId) ?? new Map<string, Member>();
    if (room.size >= this.#maxMembers) return { ok: false, reason: 'room-full' };
    const others = [...room.entries()];
    room.set(peerId, member);
    this.#rooms.set(roomId, room);
    return { ok: true, others };
  }

  /** Returns the members still in the room, so they can be told; an emptied room is forgotten. */
  leave(roomId: string, peerId: string): Member[] {
    const room = this.#rooms.get(roomId);
    if (room === undefined) return [];
    room.delete(peerId);
    if (room.size === 0) this.#rooms.delete(roomId);
    return [...room.values()];
  }

  /** The only way to find a peer is through a room id, so routing can never cross rooms. */
  find(roomId: string, peerId: string): Member | undefined {
    return this.#rooms.get(roomId)?.get(peerId);
  }

  /** Everyone in one room, with their values. */
  members(roomId: string): ReadonlyArray<readonly [peerId: string, member: Member]> {
    return [...(this.#rooms.get(roomId)?.entries() ?? [])];
  }

  get roomCount(): number {
    return this.#rooms.size;
  }
}
