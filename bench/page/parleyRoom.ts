/**
 * A real Parley RoomSession, wired with the app's own adapters and file transfers, plus a timer for chat → receipt
 * round trips.
 */
import { simplePeerFactory } from '../../src/adapters/webrtc/simplePeerAdapter.ts';
import { webSocketSignaling } from '../../src/adapters/webrtc/signalingSocket.ts';
import { DEFAULT_MAX_FILE_BYTES, resolveSignalingUrl } from '../../src/core/protocol/appConfig.ts';
import { systemClock, systemRandom } from '../../src/core/ports.ts';
import type { SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { RoomSession, type RoomEvent } from '../../src/core/room/roomSession.ts';
import type { RoomStatus } from '../../src/core/room/roomStatus.ts';
import type { BenchTransfers } from './benchTransfers.ts';
import type { RoomHistory } from '../../src/ui/roomHistory.ts';

interface PendingReceipt {
  readonly id: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

function describe(status: RoomStatus): string {
  // The whole failure, whatever its kind carries: this text only ever reaches the bench's error messages.
  return status.kind === 'failed' ? `failed: ${JSON.stringify(status.failure)}` : status.kind;
}

export class BenchRoom {
  private readonly session: RoomSession;
  private status: RoomStatus = { kind: 'preparing' };
  private pending: PendingReceipt | null = null;
  private readonly startedAt = performance.now();
  private secureAt: number | null = null;
  /** When set, what is said is kept exactly as the app's RoomState keeps it (the same RoomHistory calls). */
  private history: RoomHistory | null = null;

  constructor(secret: Uint8Array, generateKeyPair: () => Promise<SessionKeyPair>, transfers: BenchTransfers) {
    // The same composition as src/main.ts, minus config.json: the bench never uses ICE servers.
    this.session = new RoomSession({
      secret,
      platform: {
        connectSignaling: webSocketSignaling(resolveSignalingUrl({ signalingUrl: null, iceServers: [], maxFileBytes: DEFAULT_MAX_FILE_BYTES }, location.href), location.href),
        createPeer: simplePeerFactory(() => ({ iceServers: [], relayOnly: false })),
        clock: systemClock,
        random: systemRandom,
        relayRoute: () => ({ relayServer: false, relayOnly: false }),
      },
      onEvent: (event) => this.onEvent(event),
      generateKeyPair,
      // As RoomState does: transfers outlive sessions, so the manager is handed in.
      transfers: transfers.endpoint,
      // The round trips send one message per receipt as fast as the link allows, far above a person's pace and the
      // app's limit; the limiter still runs on every message, it just never trips.
      peerMessageLimit: { perSecond: 1_000_000, burst: 1_000_000 },
    });
    void this.session.start();
  }

  recordInto(history: RoomHistory | null): void {
    this.history = history;
  }

  /** Resolves once every write the history has queued is done. */
  async historySettled(): Promise<void> {
    await this.history?.settled();
  }

  get secureAfterMs(): number | null {
    return this.secureAt === null ? null : this.secureAt - this.startedAt;
  }

  describeStatus(): string {
    return describe(this.status);
  }

  async roundTrips(count: number, text: string): Promise<number[]> {
    const rtts: number[] = [];
    for (let i = 0; i < count; i++) {
      const startedAt = performance.now();
      const sent = this.session.send(text);
      if (!sent.ok) throw new Error(`RoomSession refused to send: ${sent.reason} (status ${this.describeStatus()})`);
      this.history?.recordText({ direction: 'outgoing', messageId: sent.id, atMs: sent.sentAtMs }, text);
      // The receipt cannot arrive before this line runs: it needs at least one trip through the data channel.
      await this.receiptFor(sent.id);
      rtts.push(performance.now() - startedAt);
    }
    return rtts;
  }

  private receiptFor(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject };
    });
  }

  private onEvent(event: RoomEvent): void {
    switch (event.type) {
      case 'status':
        this.status = event.status;
        if (event.status.kind === 'secure') this.secureAt ??= performance.now();
        // A room that fails mid-measurement would otherwise leave the waiting round trip hanging until Node's timeout.
        if (event.status.kind === 'failed' || event.status.kind === 'peer-left') this.pending?.reject(new Error(`room went ${describe(event.status)}`));
        return;
      case 'chat':
        // SecureSession sends the receipt by itself, as in the app; keeping the message is RoomState's part.
        this.history?.recordText({ direction: 'incoming', messageId: event.id, atMs: event.receivedAtMs }, event.text);
        this.history?.markRead();
        return;
      case 'receipt': {
        const pending = this.pending;
        if (pending === null) return;
        this.pending = null;
        this.history?.recordDelivered(event.id, systemClock.nowMs());
        if (pending.id === event.id) pending.resolve();
        else pending.reject(new Error(`receipt for ${event.id} while waiting for ${pending.id}`));
        return;
      }
    }
  }
}
