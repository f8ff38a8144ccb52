/**
 * File transfers in a group (spec §12): one TransferManager per member, so every transfer runs over exactly
 * one pair's session, resumes only to that same member, and each member's incoming limits are its own. A file
 * for several members becomes one transfer per recipient, each reading the file on its own.
 */
import type { TransferEndpoint } from '../room/roomSession.ts';
import type { ChunkHeader, TransferControl } from './transferMessages.ts';
import { TransferManager, type FileSource, type TransferChannel, type TransferPlatform, type TransferView } from './transferManager.ts';

export interface MemberTransferView<F> {
  readonly memberId: string;
  readonly view: TransferView<F>;
}

export class MemberTransfers<F> implements TransferEndpoint {
  private readonly managers = new Map<string, TransferManager<F>>();

  constructor(
    private readonly platform: TransferPlatform<F>,
    private readonly onChange: (change: MemberTransferView<F>) => void,
  ) {}

  attach(memberId: string, channel: TransferChannel): void {
    this.managerOf(memberId).attach(channel);
  }

  detach(memberId: string): void {
    this.managers.get(memberId)?.detach();
  }

  onControl(memberId: string, message: TransferControl): void {
    this.managerOf(memberId).onControl(message);
  }

  onChunk(memberId: string, header: ChunkHeader, data: Uint8Array): void {
    this.managerOf(memberId).onChunk(header, data);
  }

  /** Queues `openSource()` once per recipient; each transfer starts when its member is connected. Returns the ids per member. */
  send(memberIds: readonly string[], openSource: () => FileSource): ReadonlyMap<string, string> {
    return new Map(memberIds.map((memberId) => [memberId, this.managerOf(memberId).send(openSource())]));
  }

  cancel(memberId: string, transferId: string): void {
    this.managers.get(memberId)?.cancel(transferId);
  }

  private managerOf(memberId: string): TransferManager<F> {
    let manager = this.managers.get(memberId);
    if (manager === undefined) {
      manager = new TransferManager(this.platform, (view) => this.onChange({ memberId, view }));
      this.managers.set(memberId, manager);
    }
    return manager;
  }
}
