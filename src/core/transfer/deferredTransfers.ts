/**
 * A room's transfer endpoint whose engine (MemberTransfers) is loaded on first use, so that its code is not in the
 * page's first load (spec §9, "First load"): what the room hands it before then is kept, in order, and given to the
 * engine as soon as it is there.
 */
import type { TransferEndpoint } from '../room/roomSession.ts';
import type { FileSource, TransferChannel } from './transferManager.ts';
import type { ChunkHeader, TransferControl } from './transferMessages.ts';

/** What of MemberTransfers a room uses: the endpoint its sessions feed, and sending and cancelling files. */
export interface TransferEngine extends TransferEndpoint {
  send(memberIds: readonly string[], openSource: () => FileSource): ReadonlyMap<string, string>;
  cancel(memberId: string, transferId: string): void;
}

export class DeferredTransfers implements TransferEndpoint {
  private engine: TransferEngine | null = null;
  private loading: Promise<TransferEngine> | null = null;
  /**
   * The members' live sessions while there is no engine: a session becoming secure is no reason to fetch the engine
   * (most rooms never send a file), so only the latest channel per member is kept, and handed over on load.
   */
  private readonly channels = new Map<string, TransferChannel>();
  /**
   * What the peers sent while the engine loads, in order. Bounded without a count of its own: chunks flow only for a
   * transfer the engine accepted, so before it exists a peer sends at most control messages, one frame each.
   */
  private waiting: ((engine: TransferEngine) => void)[] = [];

  constructor(
    private readonly load: () => Promise<TransferEngine>,
    /** The engine did not load (its code could not be fetched): what waited is dropped, the next call tries again. */
    private readonly onLoadFailure: (error: unknown) => void,
  ) {}

  attach(memberId: string, channel: TransferChannel): void {
    if (this.engine !== null) this.engine.attach(memberId, channel);
    else this.channels.set(memberId, channel);
  }

  detach(memberId: string): void {
    if (this.engine !== null) this.engine.detach(memberId);
    else this.channels.delete(memberId);
  }

  onControl(memberId: string, message: TransferControl): void {
    this.use((engine) => engine.onControl(memberId, message));
  }

  onChunk(memberId: string, header: ChunkHeader, data: Uint8Array): void {
    this.use((engine) => engine.onChunk(memberId, header, data));
  }

  /** As the engine's send, once it is there. */
  async send(memberIds: readonly string[], openSource: () => FileSource): Promise<ReadonlyMap<string, string>> {
    const engine = await this.ready();
    return engine.send(memberIds, openSource);
  }

  cancel(memberId: string, transferId: string): void {
    // A transfer to cancel exists only in a loaded engine.
    this.engine?.cancel(memberId, transferId);
  }

  /** The engine, loading it if it is not there yet. */
  ready(): Promise<TransferEngine> {
    if (this.engine !== null) return Promise.resolve(this.engine);
    this.loading ??= this.load().then(
      (engine) => {
        this.engine = engine;
        for (const [memberId, channel] of this.channels) engine.attach(memberId, channel);
        this.channels.clear();
        for (const call of this.waiting.splice(0)) call(engine);
        return engine;
      },
      (error: unknown) => {
        this.loading = null;
        this.waiting = [];
        this.onLoadFailure(error);
        throw error;
      },
    );
    return this.loading;
  }

  private use(call: (engine: TransferEngine) => void): void {
    if (this.engine !== null) {
      call(this.engine);
      return;
    }
    this.waiting.push(call);
    this.ready().catch(() => {});
  }
}
