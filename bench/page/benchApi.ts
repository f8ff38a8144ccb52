/** The contract between the bench page and the Node driver: what the page puts on `window`, as types both sides check. */
import type { RoomStatus } from '../../src/core/room/roomStatus.ts';
import type { TransferState } from '../../src/core/transfer/transferManager.ts';

/** Which transport an echo link uses: a bare RTCDataChannel, or the app's own peer adapter (webRtcPeer.ts) without crypto. */
export type EchoTransport = 'raw' | 'peer-adapter';

/**
 * Where the room's RSA session key pairs come from. 'app': the page-wide KeyPairPool, made while the page loads, with
 * the room started at once (as when a person opens a link). 'premade': the page waits until its first pair is made
 * before the room starts, and the next one comes a few seconds late, as if key generation cost nothing on the way
 * to Secure.
 */
export type KeyPairMode = 'app' | 'premade';

/** The page's rooms: the one named by its URL fragment, and a second one kept in the vault's history. */
export type RoomName = 'main' | 'history';

/** A change of a room's headline or of its member counts, as epoch ms (see StatusMark). */
export interface RoomMark {
  readonly atEpochMs: number;
  readonly headline: RoomStatus['kind'];
  /** Members whose direct connection is open (verifying, held or connected). */
  readonly open: number;
  readonly connected: number;
  /** Members the room knows of, in any state. */
  readonly members: number;
}

/** The signaling socket opened or closed, or a server frame of this type arrived (a run of signals is noted once). */
export interface SignalingMark {
  readonly atEpochMs: number;
  readonly event: string;
}

/** One message sent: Parley's message id, or `raw-<n>` for a baseline mark; when the send began (epoch ms). */
export interface SentMark {
  readonly key: string;
  readonly sentAtEpochMs: number;
  /** Parley only: per addressee (member id), when GroupChat handed the message to its session, before sealing. */
  readonly handedAtEpochMs?: Readonly<Record<string, number>>;
}

/** One message → delivered round trip, with its stages as epoch ms of the sending page. */
export interface RoundTrip {
  readonly key: string;
  readonly ms: number;
  readonly startedAtEpochMs: number;
  /** GroupChat handed the message to the addressee's session (its 'sent' event; sealing follows). */
  readonly handedAtEpochMs: number | null;
  readonly deliveredAtEpochMs: number;
}

/** The page-wide key pair pool's work, as epoch ms. */
export interface KeyPairMarks {
  readonly generations: readonly { readonly startedAtEpochMs: number; readonly doneAtEpochMs: number | null }[];
  /** Each session's take(): when it asked, and when it had its pair. */
  readonly takes: readonly { readonly atEpochMs: number; readonly gotAtEpochMs: number | null }[];
}

/** When the page loaded and its room started, as epoch ms; and whether it counts as seen by a person. */
export interface PageMarks {
  /** performance.timeOrigin: navigation start, i.e. the moment the link was opened. */
  readonly navigationAtEpochMs: number;
  readonly domContentLoadedAtEpochMs: number | null;
  readonly scriptStartAtEpochMs: number;
  readonly roomStartAtEpochMs: number | null;
  readonly visibility: DocumentVisibilityState;
  readonly focused: boolean;
}

/** A series of messages to everyone, sent from one page at a person's pace: through Parley or over raw mark links. */
export interface GroupBlock {
  readonly variant: 'parley' | 'raw';
  readonly count: number;
  readonly spacingMs: number;
  readonly text: string;
  /** Raw only: the mark links to send each mark on (one per other member), the message size, and the first mark number. */
  readonly markLinks: readonly string[];
  readonly markBytes: number;
  readonly firstMark: number;
}

/** The pinging side measures round trips; the echoing side answers every message with a fixed-size reply. */
export type EchoRole = 'pinger' | 'echoer';

/** One status change seen by the page, as epoch milliseconds (performance.timeOrigin + performance.now()). */
export interface StatusMark {
  readonly atEpochMs: number;
  readonly text: string;
}

/** The offer and first ICE candidate the app's peer adapter produces, as the JSON the room would seal. */
export interface SampleSignals {
  readonly offerJson: string;
  readonly candidateJson: string;
}

/**
 * What a bulk-link receiver does with the bytes: only count them; keep them all and build a Blob at the end; or, as
 * a correct file receiver must to keep its memory bounded, fold them into a Blob every few MiB and build the file
 * from those Blobs at the end.
 */
export type BulkReceiveMode = 'count' | 'keep' | 'parts';

/** The sending end of a raw bulk transfer; times are epoch ms (see StatusMark). */
export interface BulkSendResult {
  readonly startedAtEpochMs: number;
  /** When the last message was handed to the channel (it may still sit in the channel's buffer). */
  readonly handedOverAtEpochMs: number;
  readonly bytes: number;
  readonly messages: number;
  /** How often the sender waited for 'bufferedamountlow'. */
  readonly backpressureWaits: number;
}

export interface BulkReceiveResult {
  readonly bytes: number;
  readonly messages: number;
  readonly firstByteAtEpochMs: number;
  readonly lastByteAtEpochMs: number;
  /** 'count': the last byte; 'keep': the Blob built from every message is readable. */
  readonly readyAtEpochMs: number;
}

export type TransferStateKind = TransferState['kind'];

/** The receiver's inline preview, as the app makes it: checkRasterImage, then its render drawn into a canvas on the page. */
export interface PreviewMarks {
  readonly verdict: 'image' | 'not-image' | 'error';
  readonly startedAtEpochMs: number;
  readonly verdictAtEpochMs: number;
  /** A frame with the render's canvas was painted; null unless the verdict was 'image'. */
  readonly shownAtEpochMs: number | null;
  readonly widthPx: number | null;
  readonly heightPx: number | null;
  readonly error: string | null;
}

/**
 * The hops of one transfer as one page sees them (epoch ms, first occurrence), taken where the transfer engine meets
 * the session: what it hands to the channel and what the session delivers to it. A control message counts as sent
 * when it is handed to the session (sealing follows), a chunk when its sealed frame was handed to the data channel.
 */
export type HopMark =
  // sender
  | 'offerSent'
  | 'acceptArrived'
  | 'firstChunkSent'
  | 'lastChunkSent'
  | 'completeArrived'
  // receiver
  | 'offerArrived'
  | 'acceptSent'
  /** The data channel delivered the chunk's frame (before it was opened). */
  | 'firstChunkDelivered'
  | 'lastChunkDelivered'
  /** The session opened the chunk and handed it to the engine. */
  | 'firstChunkArrived'
  | 'lastChunkArrived'
  | 'completeSent';

/** One transfer as one page's TransferManager reported it; times are epoch ms, first entry into each state. */
export interface TransferTimeline {
  readonly id: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly sizeBytes: number;
  /** 'done', or the state it ended in with its reason ('failed: hash-mismatch', 'cancelled by peer'). */
  readonly finalState: string;
  /** Just before TransferManager.send() (sender only). */
  readonly sendCalledAtEpochMs: number | null;
  readonly stateAtEpochMs: Partial<Record<TransferStateKind, number>>;
  /** First view with transferredBytes == size: acknowledged (sender) or stored (receiver). */
  readonly allBytesAtEpochMs: number | null;
  /** How many views onChange delivered for this transfer. */
  readonly views: number;
  /** Receiver only, for a transfer that ended 'done'. */
  readonly preview: PreviewMarks | null;
  /** Sender only: ms spent waiting on the data channel's backpressure (writable()), and how many such waits. */
  readonly channelWaitMs: number | null;
  readonly channelWaits: number;
  /** Where the engine met the session, as this page saw it. */
  readonly hops: Partial<Record<HopMark, number>>;
  /** Each chunk's marks by index: handed to the channel (sender), delivered by the channel and opened (receiver). */
  readonly chunkTimes: { readonly Sent: readonly number[]; readonly Delivered: readonly number[]; readonly Arrived: readonly number[] } | null;
}

/**
 * One stage of a file pipeline, timed alone over the whole prepared file (see pipelineCosts.ts): reads of the File
 * in slices of 64 KiB, 1 MiB, 4 MiB or as File.stream(); SHA-256 by hash-wasm over 64 KiB updates, or by WebCrypto
 * per piece then over the list of digests (one at a time, or four in flight); sealing chunk frames of 64 or 255 KiB
 * and opening the frames of the seal stage just before; keeping opened chunks as a Blob every 4 MiB.
 */
export type PipelineStage =
  | 'read-64k'
  | 'read-1m'
  | 'read-4m'
  | 'read-stream'
  | 'hash-wasm-64k'
  | 'hash-list-64k'
  | 'hash-list-256k'
  | 'hash-list-256k-x4'
  | 'seal-64k'
  | 'seal-255k'
  | 'seal-255k-x4'
  | 'open'
  | 'open-overlapped'
  | 'keep-blobs-64k'
  | 'keep-blobs-255k';

/** The latest page of a long conversation, right after unlocking (ms by the page's clock). */
export interface LatestShown {
  /** Vault.unlock: argon2id in its worker, then the profile and identity opened. */
  readonly unlockMs: number;
  /** From unlocked to the latest page read and opened. */
  readonly readMs: number;
  /** From unlocked to those messages painted (two animation frames after they were put in the page). */
  readonly shownMs: number;
  readonly messages: number;
}

/** What keeping a group conversation costs (ms by the page's clock): see vaultGroupCosts. */
export interface GroupCosts {
  /** sendToEveryone to 7 members until it resolved, with the vault's store. */
  readonly sendVaultMs: readonly number[];
  /** The same with the guest's in-memory store. */
  readonly sendMemoryMs: readonly number[];
  /** One IndexedDB transaction adding one message row of the same size: the floor of a durable write. */
  readonly bareWriteMs: readonly number[];
  /** Received messages kept per second, one transaction each, one after another. */
  readonly shownPerSecond: number;
}

export interface BenchApi {
  /** Starts the room of a page opened with `?start=manual`, once its premade key pair (if any) is ready. */
  startRoom(): Promise<void>;
  /** Milliseconds from the room's start to its first 'secure' status, by the page's clock; null until then. */
  secureAfterMs(): number | null;
  /** Status kind of the Parley room opened from the URL fragment ('none' without a fragment; 'failed: …' with a reason). */
  status(): string;
  /** Members connected in the main room. */
  connectedCount(): number;
  /** This page's member id in the main room (null until it is made). */
  memberId(): string | null;
  /** Leaves the main room as a closing tab does (RoomView stops the room on pagehide): goodbye on every session. */
  leave(): void;
  /** Every change of the main room's headline and member counts. */
  roomTimeline(): RoomMark[];
  /** The main room's signaling socket: opens, closes, server frames. */
  signalingLog(): SignalingMark[];
  pageMarks(): PageMarks;
  keyPairMarks(): KeyPairMarks;
  /** What the group engine reported going wrong in the main room, in words; empty when all went well. */
  roomProblems(): string[];
  /**
   * `count` messages to everyone in room `room`, sent at least `spacingMs` apart; each round trip runs from the send
   * until every addressee's `delivered` receipt.
   */
  roundTrips(count: number, text: string, spacingMs: number, room: RoomName): Promise<RoundTrip[]>;
  /** Whether this page's conversations count as in view (then, as in the app, what is shown is marked read at once). */
  setInView(inView: boolean): void;
  /** Messages to everyone in the main room, or marks on raw links, as `block` says; when each was sent. */
  groupBlock(block: GroupBlock): Promise<SentMark[]>;
  /** When each Parley message was shown, and each raw mark arrived, in this page since the last call. */
  takeArrivals(): Record<string, number>;
  /** Opens the receiving end of mark link `linkId` (before the sender opens its end). */
  openMark(linkId: string): void;
  markOpen(linkId: string): Promise<void>;
  /** Opens the sending ends of these mark links at once; resolves with the ms until all of them were open. */
  openMarkSenders(linkIds: readonly string[]): Promise<number>;
  closeMark(linkId: string): void;
  /** Local UDP ports of every RTCPeerConnection of this page that is not closed. */
  udpPorts(): Promise<number[]>;

  // ---- the vault (a profile in this page's IndexedDB, as src/main.ts composes it) ----
  /** Deletes any vault of this origin and creates a profile; ms taken. */
  vaultCreate(passphrase: string): Promise<number>;
  /** Writes `count` messages into a new conversation in bulk; its id and the ms taken. */
  vaultFill(passphrase: string, count: number, text: string): Promise<{ conversationId: string; fillMs: number }>;
  vaultLock(): void;
  vaultUnlockAndShowLatest(passphrase: string, conversationId: string, pageSize: number): Promise<LatestShown>;
  /** What keeping a group conversation costs: sends with and without the vault, received messages kept per second. */
  vaultGroupCosts(sends: number, received: number, text: string): Promise<GroupCosts>;
  /** Joins room `fragment` a second time from this page, kept in the unlocked vault's history as RoomState keeps it. */
  openHistoryRoom(fragment: string): Promise<void>;
  historyStatus(): string;
  /** Resolves once the history room's conversation and history writes so far are done. */
  historySettled(): Promise<void>;
  /** What the room history could not keep, in words; empty when all went well. */
  historyProblems(): string[];
  /** Opens one end of echo link `linkId`; its signals leave through `window.parleyBenchRelay`. */
  openEcho(linkId: string, transport: EchoTransport, initiator: boolean, role: EchoRole, replyBytes: number): void;
  /** Hands a signal relayed by Node from the other page to echo link `linkId`. */
  deliverSignal(linkId: string, json: string): void;
  /** Resolves once echo link `linkId` can carry data. */
  echoOpen(linkId: string): Promise<void>;
  /** `count` sequential ping/reply round trips of `pingBytes` each on echo link `linkId`, at least `spacingMs` apart (pinger side only). */
  echoRoundTrips(linkId: string, count: number, pingBytes: number, spacingMs: number): Promise<number[]>;
  closeEcho(linkId: string): void;
  /** The per-message work of one message + receipts round trip (encode, seal, parse, open, digest), `count` times in this page alone. */
  cryptoPath(count: number, text: string): Promise<number[]>;
  /** Real signals from the app's peer adapter, for sizing the sealed signaling blobs. */
  sampleSignals(): Promise<SampleSignals>;
  /** Times the app's RSA-3072 session key pair generation, `count` times in a row (ms each). */
  keyPairTimes(count: number): Promise<number[]>;
  /** Whether this page got fine timers (cross-origin isolated): 5 µs instead of 100 µs performance.now(). */
  isolated(): boolean;

  // ---- files (sending page) ----
  /** Makes `sizeBytes` of random bytes as file `key`, in pieces of `pieceBytes`; returns the ms it took. */
  makeRandomFile(key: string, sizeBytes: number, pieceBytes: number): number;
  /** Takes the disk-backed file Node put into the page's file input as file `key` (and its pieces); returns its size. */
  adoptPickedFile(key: string, pieceBytes: number): Promise<number>;
  /** Stores bytes built by Node (base64) as file `key`; returns its size. */
  putFile(key: string, base64: string, name: string, mimeType: string, pieceBytes: number): number;
  /** WebCrypto SHA-256 (hex) of file `key`. */
  fileDigest(key: string): Promise<string>;
  /** Reads file `key` whole into memory for runStage; returns its size. */
  prepareStages(key: string): Promise<number>;
  /** Runs one pipeline stage over the prepared file; returns its wall-clock ms. */
  runStage(stage: PipelineStage): Promise<number>;
  releaseStages(): void;

  // ---- Parley transfers (the main room's MemberTransfers, composed as RoomState does) ----
  /** Sends file `key` to the one member connected, as RoomState.sendFiles; returns the transfer id both pages know it by. */
  sendFile(key: string): string;
  /** Resolves once transfer `id` reached a final state in this page (and, when received, its preview is settled). */
  transferSettled(id: string, timeoutMs: number): Promise<TransferTimeline>;
  /** WebCrypto SHA-256 (hex) of the Blob this page received as transfer `id`. */
  receivedDigest(id: string): Promise<string>;
  /** Drops this page's references to transfer `id`'s Blob, its preview's render and canvas. */
  releaseTransfer(id: string): void;

  // ---- raw bulk links (baselines; signals relayed like echo links') ----
  openBulk(linkId: string, initiator: boolean): void;
  bulkOpen(linkId: string): Promise<void>;
  bulkExpect(linkId: string, totalBytes: number, mode: BulkReceiveMode): void;
  /** Sends file `key`'s pieces on bulk link `linkId`. */
  bulkSend(linkId: string, key: string): Promise<BulkSendResult>;
  /** Sends file `key` itself on bulk link `linkId`, read from its File as the app reads one, in `pieceBytes` messages. */
  bulkSendFile(linkId: string, key: string, pieceBytes: number): Promise<BulkSendResult>;
  /** Sends file `key` read in slices of `readBytes` (the next read while one is sent), as messages of `messageBytes`. */
  bulkSendFileSlices(linkId: string, key: string, messageBytes: number, readBytes: number): Promise<BulkSendResult>;
  bulkReceived(linkId: string): Promise<BulkReceiveResult>;
  bulkReceivedDigest(linkId: string): Promise<string>;
  bulkRelease(linkId: string): void;
  closeBulk(linkId: string): void;
}

declare global {
  interface Window {
    parleyBench?: BenchApi;
    /** Exposed by Node (Playwright exposeFunction): forwards a signal of echo link `linkId` to the other page. */
    parleyBenchRelay?: (linkId: string, json: string) => Promise<void>;
    /** Filled by an init script in the real app's pages: every change of the role="status" text. */
    parleyStatusMarks?: StatusMark[];
    /** Filled by an init script in the page opening the link: epoch ms of its first key pair and its signaling socket's first events. */
    parleyPageStages?: Partial<Record<'keyPairAsked' | 'keyPairMade' | 'socketMade' | 'socket' | 'joined' | 'offerSent' | 'answerIn', number>>;
  }
}
