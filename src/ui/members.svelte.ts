/**
 * The room's members as the Members panel shows them: each one's name (the remembered contact's, the one it
 * announces, or "Guest n" in the order guests were met), its connection state, why it was admitted or held, its
 * safety number, and (with a profile here) the contact it is. Nothing is written about a member until it is
 * admitted: a held newcomer leaves no trace.
 */
import type { PeerIdentity } from '../core/crypto/identityProof.ts';
import type { MemberView } from '../core/room/roomStatus.ts';
import type { Contact } from '../core/vault/contacts.ts';
import type { StoreResult } from '../core/vault/vaultContext.ts';
import type { RoomHistory } from './roomHistory.ts';
import { failureText } from './vaultText.ts';

export interface MemberEntry {
  readonly view: MemberView;
  readonly name: string;
  /** With a profile here: the contact this member is, once admitted and remembered. */
  readonly contact: Contact | null;
  /** For a member with a profile, with a profile here; null otherwise or until computed. */
  readonly safetyNumber: string | null;
  /** The name a remembered contact announces now, when it differs from the remembered one. */
  readonly announcedName: string | null;
}

export class Members {
  /** Raw: replaced whole on every change, never mutated in place. */
  list = $state.raw<readonly MemberEntry[]>([]);
  private readonly guestNumbers = new Map<string, number>();
  private readonly contacts = new Map<string, Contact>();
  private readonly safetyNumbers = new Map<string, string>();
  private readonly pending = new Set<string>();

  constructor(
    private readonly history: RoomHistory | null,
    private readonly onProblem: (text: string) => void,
    /** A member was remembered as a contact of this room: messages wait for it while it is away. */
    private readonly onRemembered: (memberId: string) => void,
  ) {}

  update(views: readonly MemberView[]): void {
    this.list = views.map((view) => this.entryOf(view));
    for (const view of views) if (view.peer?.kind === 'profile' && view.memberId !== null) this.computeSafetyNumber(view.memberId, view.peer);
  }

  byKey(key: string): MemberEntry | undefined {
    return this.list.find((member) => member.view.key === key);
  }

  /**
   * Who a member id is, in words: a member listed here by the name shown for it; one not (or no longer) here by
   * its remembered contact's name, its guest number, or the name the history kept (`keptName`).
   */
  nameOf(memberId: string, keptName?: string): string {
    const entry = this.list.find((member) => member.view.memberId === memberId);
    if (entry !== undefined) return entry.name;
    const contact = this.contacts.get(memberId) ?? this.history?.contactFor(memberId) ?? null;
    if (contact !== null) return contact.displayName;
    const guest = this.guestNumbers.get(memberId);
    if (guest !== undefined) return `Guest ${guest}`;
    return keptName ?? 'Someone';
  }

  /** Members that messages and files can be addressed to: admitted now, or admitted before and reconnecting. */
  addressable(): string[] {
    return this.list.flatMap((member) =>
      member.view.memberId !== null && (member.view.state === 'connected' || member.view.state === 'reconnecting') ? [member.view.memberId] : [],
    );
  }

  connectedCount(): number {
    return this.list.filter((member) => member.view.state === 'connected').length;
  }

  /** A member was admitted (first time, or back after leaving): number a guest, remember a profile. */
  async met(view: MemberView): Promise<void> {
    const { peer, memberId } = view;
    if (peer === null || memberId === null) return;
    if (peer.kind === 'guest') {
      if (!this.guestNumbers.has(memberId)) this.guestNumbers.set(memberId, this.guestNumbers.size + 1);
      // Its messages are kept under the name it is shown by.
      this.history?.nameGuest(memberId, `Guest ${this.guestNumbers.get(memberId)}`);
      this.refresh();
      return;
    }
    const history = this.history;
    if (history === null) return;
    const observed = await history.observe(peer);
    if (!observed.ok) {
      this.onProblem(failureText(observed));
      return;
    }
    const outcome = observed.value;
    if (outcome.kind === 'guest') return;
    let contact = outcome.contact;
    if (outcome.kind === 'key-changed' && view.admission?.decision === 'hold') {
      // The person already read the warning and accepted this key; only verifying it is left to do.
      const acknowledged = await history.acknowledgeKeyChange(contact);
      if (acknowledged.ok) contact = acknowledged.value;
    }
    this.contacts.set(memberId, contact);
    this.onRemembered(memberId);
    this.refresh();
  }

  async markVerified(key: string): Promise<void> {
    await this.updateContact(key, (history, contact) => history.markVerified(contact));
  }

  /** The person calls the contact by the name it announces now. */
  async adoptAnnouncedName(key: string): Promise<void> {
    const announced = this.byKey(key)?.announcedName;
    if (announced === null || announced === undefined) return;
    await this.updateContact(key, (history, contact) => history.renameContact(contact, announced));
  }

  private async updateContact(key: string, write: (history: RoomHistory, contact: Contact) => Promise<StoreResult<Contact>>): Promise<void> {
    const entry = this.byKey(key);
    const memberId = entry?.view.memberId ?? null;
    if (entry?.contact === null || entry === undefined || memberId === null || this.history === null) return;
    const written = await write(this.history, entry.contact);
    if (!written.ok) {
      this.onProblem(failureText(written));
      return;
    }
    this.contacts.set(memberId, written.value);
    this.refresh();
  }

  private refresh(): void {
    this.list = this.list.map((member) => this.entryOf(member.view));
  }

  private entryOf(view: MemberView): MemberEntry {
    const memberId = view.memberId;
    const peer = view.peer;
    const contact = memberId === null ? null : (this.contacts.get(memberId) ?? null);
    // Before it is remembered here, a known key is still named by the contact the policy matched.
    const known = contact?.displayName ?? view.admission?.contact?.displayName ?? null;
    const announced = peer?.kind === 'profile' ? peer.displayName : null;
    return {
      view,
      name: this.nameFor(view, known),
      contact,
      safetyNumber: memberId === null ? null : (this.safetyNumbers.get(memberId) ?? null),
      announcedName: known !== null && announced !== null && announced !== known ? announced : null,
    };
  }

  private nameFor(view: MemberView, known: string | null): string {
    const peer = view.peer;
    if (peer === null) return 'Someone (connecting)';
    if (peer.kind === 'profile') return known ?? peer.displayName;
    const number = view.memberId === null ? undefined : this.guestNumbers.get(view.memberId);
    // A held guest is not numbered yet: numbers go to guests as they are let in.
    return number === undefined ? 'A guest' : `Guest ${number}`;
  }

  private computeSafetyNumber(memberId: string, peer: PeerIdentity & { kind: 'profile' }): void {
    const history = this.history;
    if (history === null || this.safetyNumbers.has(memberId) || this.pending.has(memberId)) return;
    this.pending.add(memberId);
    void history.safetyNumber(peer).then((number) => {
      this.pending.delete(memberId);
      this.safetyNumbers.set(memberId, number);
      this.refresh();
    });
  }
}
