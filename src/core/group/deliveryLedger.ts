/**
 * Where each of our messages stands with each addressee (spec §12.5 delivery states, §12.7 outbox): the
 * outbox is the entries still `sending` or `sent`; delivered ones are kept until read so a read receipt can
 * be reported. Enforces the outbox bounds and says which entries it gave up.
 */
import type { GroupMessage } from '../protocol/groupMessages.ts';
import type { ExpiryReason } from './conversationStore.ts';
import { MAX_UNREAD_TRACKED, OUTBOX_MAX_ENTRIES } from './groupLimits.ts';

export interface DeliveryChange {
  readonly message: GroupMessage;
  readonly member: string;
  readonly state: 'sent' | 'delivered' | 'read';
}

export interface Expiry {
  readonly message: GroupMessage;
  readonly member: string;
  readonly reason: ExpiryReason;
}

interface Entry {
  readonly message: GroupMessage;
  state: 'sending' | 'sent' | 'delivered';
}

function isPending(entry: Entry): boolean {
  return entry.state !== 'delivered';
}

export class DeliveryLedger {
  /** Per addressee, in ascending seq. */
  private readonly byMember = new Map<string, Entry[]>();

  /** A new outbox entry (`sending`); returns what the count bound pushed out of that addressee's outbox. */
  add(member: string, message: GroupMessage): Expiry[] {
    const entries = this.byMember.get(member) ?? [];
    if (entries.some((entry) => entry.message.id === message.id)) return [];
    this.byMember.set(member, entries);
    // Loaded outboxes come in any order, new messages in seq order: insert from the end.
    let at = entries.length;
    while (at > 0 && (entries[at - 1]?.message.seq ?? 0) > message.seq) at--;
    entries.splice(at, 0, { message, state: 'sending' });
    const pending = entries.filter(isPending);
    const excess = pending.slice(0, Math.max(0, pending.length - OUTBOX_MAX_ENTRIES));
    this.remove(member, excess);
    return excess.map((entry) => ({ message: entry.message, member, reason: 'too-many' }));
  }

  /** `member`'s outbox, in seq order. */
  outbox(member: string): GroupMessage[] {
    return (this.byMember.get(member) ?? []).filter(isPending).map((entry) => entry.message);
  }

  isPending(member: string, message: GroupMessage): boolean {
    const entry = this.byMember.get(member)?.find((candidate) => candidate.message.id === message.id);
    return entry !== undefined && isPending(entry);
  }

  /** The message was handed to `member`'s channel; a change only the first time. */
  markSent(member: string, message: GroupMessage): DeliveryChange | null {
    const entry = this.byMember.get(member)?.find((candidate) => candidate.message.id === message.id);
    if (entry?.state !== 'sending') return null;
    entry.state = 'sent';
    return { message, member, state: 'sent' };
  }

  /** Applies `member`'s cumulative receipts (`readSeq ≤ deliveredSeq`); read entries are done with. */
  acknowledge(member: string, deliveredSeq: number, readSeq: number): DeliveryChange[] {
    const entries = this.byMember.get(member) ?? [];
    const changes: DeliveryChange[] = [];
    for (const entry of entries) {
      if (entry.message.seq > deliveredSeq) break;
      if (entry.state !== 'delivered') {
        entry.state = 'delivered';
        changes.push({ message: entry.message, member, state: 'delivered' });
      }
      if (entry.message.seq <= readSeq) changes.push({ message: entry.message, member, state: 'read' });
    }
    const read = entries.filter((entry) => entry.message.seq <= readSeq);
    const delivered = entries.filter((entry) => entry.message.seq > readSeq && entry.state === 'delivered');
    this.remove(member, [...read, ...delivered.slice(0, Math.max(0, delivered.length - MAX_UNREAD_TRACKED))]);
    return changes;
  }

  /** Gives up every outbox entry written before `cutoffMs`. */
  expireWrittenBefore(cutoffMs: number): Expiry[] {
    const expired: Expiry[] = [];
    for (const [member, entries] of this.byMember) {
      const old = entries.filter((entry) => isPending(entry) && entry.message.writtenAtMs < cutoffMs);
      this.remove(member, old);
      expired.push(...old.map((entry): Expiry => ({ message: entry.message, member, reason: 'too-old' })));
    }
    return expired;
  }

  /** Gives up `member`'s whole outbox and forgets it. */
  giveUp(member: string): Expiry[] {
    const entries = this.byMember.get(member) ?? [];
    this.byMember.delete(member);
    return entries.filter(isPending).map((entry) => ({ message: entry.message, member, reason: 'member-left' }));
  }

  /** When the oldest outbox entry was written; null when every outbox is empty. */
  oldestPendingWrittenAtMs(): number | null {
    let oldest: number | null = null;
    for (const entries of this.byMember.values()) {
      for (const entry of entries) if (isPending(entry) && (oldest === null || entry.message.writtenAtMs < oldest)) oldest = entry.message.writtenAtMs;
    }
    return oldest;
  }

  private remove(member: string, gone: readonly Entry[]): void {
    if (gone.length === 0) return;
    const drop = new Set(gone);
    const kept = (this.byMember.get(member) ?? []).filter((entry) => !drop.has(entry));
    if (kept.length === 0) this.byMember.delete(member);
    else this.byMember.set(member, kept);
  }
}
