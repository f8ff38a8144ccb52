/**
 * The digests of the newest group messages per author (spec §12.8): what this side reports to others, and
 * what it compares their reports with. A mismatch names the members who hold a different version, never who
 * is to blame: the author may have sent two versions, or the reporter may lie.
 */
import { MAX_DIGEST_ENTRIES, type DigestEntry } from '../protocol/groupMessages.ts';
import { DIGESTS_PER_AUTHOR } from './groupLimits.ts';

export interface Inconsistency {
  readonly author: string;
  readonly seq: number;
  /** Every member that reported a version of this message other than ours, so far. */
  readonly members: readonly string[];
}

interface Held {
  readonly seq: number;
  readonly digest: string;
  /** Reporters that disagreed about this message. */
  readonly disagreeing: Set<string>;
}

export class ConsistencyLedger {
  /** Per author, the newest group messages we showed (or, for ourselves, sent), ascending seq. */
  private readonly byAuthor = new Map<string, Held[]>();

  constructor(private readonly self: string) {}

  /** A group message shown (or sent by us), with its digest; messages arrive in ascending seq per author. */
  hold(author: string, seq: number, digest: string): void {
    const held = this.byAuthor.get(author) ?? [];
    held.push({ seq, digest, disagreeing: new Set() });
    this.byAuthor.set(author, held.slice(-DIGESTS_PER_AUTHOR));
  }

  /**
   * What to report: every author's newest messages but our own (others have those from us directly), the
   * receiver's own included so it can check them against what it sent. With more authors than one frame has
   * room for at 8 each, fewer per author.
   */
  report(): DigestEntry[] {
    const lists = [...this.byAuthor].filter(([author]) => author !== this.self);
    if (lists.length === 0) return [];
    const perAuthor = Math.min(DIGESTS_PER_AUTHOR, Math.floor(MAX_DIGEST_ENTRIES / lists.length));
    return lists.flatMap(([author, held]) => held.slice(-perAuthor).map(({ seq, digest }) => ({ author, seq, digest })));
  }

  /** Compares `reporter`'s entries with ours; returns one finding per message whose set of disagreeing members grew. */
  compare(reporter: string, entries: readonly DigestEntry[]): Inconsistency[] {
    const found: Inconsistency[] = [];
    for (const entry of entries) {
      const held = this.byAuthor.get(entry.author)?.find((candidate) => candidate.seq === entry.seq);
      if (held === undefined || held.digest === entry.digest || held.disagreeing.has(reporter)) continue;
      held.disagreeing.add(reporter);
      found.push({ author: entry.author, seq: entry.seq, members: [...held.disagreeing] });
    }
    return found;
  }
}
