/** A ConversationStore in memory: a guest's conversation, lost with the page (spec §12.7), and the tests' store. */
import type { GroupMessage } from '../protocol/groupMessages.ts';
import type { ConversationStore, ExpiredEntry, OutboxEntry, StoredConversation } from './conversationStore.ts';

export class MemoryConversationStore implements ConversationStore {
  private lastOwnSeq = 0;
  private readonly lastShown = new Map<string, number>();
  /** Keyed by addressee, then message id. */
  private readonly outbox = new Map<string, Map<string, GroupMessage>>();

  load(): Promise<StoredConversation> {
    const outbox: OutboxEntry[] = [...this.outbox].flatMap(([addressee, messages]) => [...messages.values()].map((message) => ({ message, addressee })));
    return Promise.resolve({ lastOwnSeq: this.lastOwnSeq, lastShown: new Map(this.lastShown), outbox });
  }

  recordOutgoing(message: GroupMessage, addressees: readonly string[]): Promise<void> {
    this.lastOwnSeq = Math.max(this.lastOwnSeq, message.seq);
    for (const addressee of addressees) this.entriesOf(addressee).set(message.id, message);
    return Promise.resolve();
  }

  recordShown(message: GroupMessage): Promise<void> {
    this.lastShown.set(message.author, Math.max(this.lastShown.get(message.author) ?? 0, message.seq));
    return Promise.resolve();
  }

  /** Keeps no history, so only the outbox changes; `readSeq` has nothing to update here. */
  recordReceipts(member: string, deliveredSeq: number, _readSeq: number): Promise<void> {
    const entries = this.outbox.get(member);
    for (const [id, message] of entries ?? []) if (message.seq <= deliveredSeq) entries?.delete(id);
    return Promise.resolve();
  }

  recordExpired(entries: readonly ExpiredEntry[]): Promise<void> {
    for (const entry of entries) this.outbox.get(entry.addressee)?.delete(entry.messageId);
    return Promise.resolve();
  }

  private entriesOf(addressee: string): Map<string, GroupMessage> {
    let entries = this.outbox.get(addressee);
    if (entries === undefined) {
      entries = new Map();
      this.outbox.set(addressee, entries);
    }
    return entries;
  }
}
