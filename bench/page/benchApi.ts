/** The contract between the bench page and the Node driver: what the page puts on `window`, as types both sides check. */

/** Which transport an echo link uses: a bare RTCDataChannel, or the app's own simple-peer adapter without crypto. */
export type EchoTransport = 'raw' | 'simple-peer';

/**
 * Where the room's RSA session key pairs come from. 'app': generated on demand, as the app does (the first one at
 * room start, the next one as soon as a session takes the first). 'premade': the first pair was made before the
 * room started and the next one waits a few seconds, as if key generation cost nothing on the way to Secure.
 */
export type KeyPairMode = 'app' | 'premade';

/** The pinging side measures round trips; the echoing side answers every message with a fixed-size reply. */
export type EchoRole = 'pinger' | 'echoer';

/** One status change seen by the page, as epoch milliseconds (performance.timeOrigin + performance.now()). */
export interface StatusMark {
  readonly atEpochMs: number;
  readonly text: string;
}

/** The offer and first ICE candidate the app's simple-peer adapter produces, as the JSON the room would seal. */
export interface SampleSignals {
  readonly offerJson: string;
  readonly candidateJson: string;
}

export interface BenchApi {
  /** Starts the room of a page opened with `?start=manual`, once its premade key pair (if any) is ready. */
  startRoom(): Promise<void>;
  /** Milliseconds from the room's start to its first 'secure' status, by the page's clock; null until then. */
  secureAfterMs(): number | null;
  /** Status kind of the Parley room opened from the URL fragment ('none' without a fragment; 'failed: …' with a reason). */
  status(): string;
  /** `count` chat messages sent one at a time through RoomSession; each RTT runs from `send()` to its receipt event. */
  roundTrips(count: number, text: string): Promise<number[]>;
  /** Opens one end of echo link `linkId`; its signals leave through `window.parleyBenchRelay`. */
  openEcho(linkId: string, transport: EchoTransport, initiator: boolean, role: EchoRole, replyBytes: number): void;
  /** Hands a signal relayed by Node from the other page to echo link `linkId`. */
  deliverSignal(linkId: string, json: string): void;
  /** Resolves once echo link `linkId` can carry data. */
  echoOpen(linkId: string): Promise<void>;
  /** `count` sequential ping/reply round trips of `pingBytes` each on echo link `linkId` (pinger side only). */
  echoRoundTrips(linkId: string, count: number, pingBytes: number): Promise<number[]>;
  closeEcho(linkId: string): void;
  /** The seal/open/encode/parse work of one chat + receipt round trip, done `count` times in this page alone. */
  cryptoPath(count: number, text: string): Promise<number[]>;
  /** Real signals from the app's peer adapter, for sizing the sealed signaling blobs. */
  sampleSignals(): Promise<SampleSignals>;
  /** Times the app's RSA-3072 session key pair generation, `count` times in a row (ms each). */
  keyPairTimes(count: number): Promise<number[]>;
  /** Whether this page got fine timers (cross-origin isolated): 5 µs instead of 100 µs performance.now(). */
  isolated(): boolean;
}

declare global {
  interface Window {
    parleyBench?: BenchApi;
    /** Exposed by Node (Playwright exposeFunction): forwards a signal of echo link `linkId` to the other page. */
    parleyBenchRelay?: (linkId: string, json: string) => Promise<void>;
    /** Filled by an init script in the real app's pages: every change of the role="status" text. */
    parleyStatusMarks?: StatusMark[];
  }
}
