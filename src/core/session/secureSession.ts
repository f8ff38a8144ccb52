/**
 * One end-to-end encrypted session over an open data channel: runs the handshake, exchanges identities
 * (guest or signed profile), then seals outgoing and opens incoming frames. No message is sent before the
 * peer and its identity are verified, and any frame that fails ends the session: a message that cannot be
 * authenticated is never delivered.
 */
import { assertNever } from '../assertNever.ts';
import { concatBytes } from '../encoding.ts';
import {
  buildTranscript,
  createConfirm,
  createHello,
  encodeHello,
  importPeerPublicKey,
  openConfirm,
  otherRole,
  parseHello,
  type Hello,
  type Role,
  type SessionKeyPair,
} from '../crypto/handshake.ts';
import { createIdentityMessage, verifyIdentityMessage, type LocalIdentity, type PeerIdentity } from '../crypto/identityProof.ts';
import { FrameOpener, FrameSealer, type Direction, type OpenResult } from '../crypto/sessionCipher.ts';
import { encodeFrameHeader, FrameType, parseFrame, type Frame, type HandshakeFrameType, type SealedFrameType } from '../protocol/frames.ts';
import { encodeGroupFrame, parseGroupFrame, type GroupFrame, type GroupFrameType } from '../protocol/groupMessages.ts';
import {
  CHUNK_HEADER_BYTES,
  encodeChunkHeader,
  encodeTransferControl,
  parseChunkHeader,
  parseTransferControl,
  type ChunkHeader,
  type TransferControl,
} from '../transfer/transferMessages.ts';
import type { Random } from '../ports.ts';

export type SessionFailure =
  | { readonly kind: 'verification-failed'; readonly detail: string }
  | { readonly kind: 'frame-rejected'; readonly detail: string };

export type SessionEvent =
  | { readonly type: 'secure'; readonly peer: PeerIdentity }
  | { readonly type: 'group'; readonly frame: GroupFrame }
  | { readonly type: 'transfer-control'; readonly message: TransferControl }
  | { readonly type: 'transfer-chunk'; readonly header: ChunkHeader; readonly data: Uint8Array }
  | { readonly type: 'failed'; readonly failure: SessionFailure };

export interface SecureSessionOptions {
  readonly role: Role;
  readonly authKey: CryptoKey;
  readonly keyPair: SessionKeyPair;
  /** DTLS fingerprints of this side's and the peer's certificates, as found in the exchanged SDPs. */
  readonly localFingerprint: string;
  readonly remoteFingerprint: string;
  readonly send: (frame: Uint8Array) => void;
  readonly random: Random;
  readonly onEvent: (event: SessionEvent) => void;
  /** This side's identity (a profile, or a guest's key for this room session), proven to the peer after the handshake. */
  readonly identity: LocalIdentity;
}

type State =
  | { readonly kind: 'awaiting-hello' }
  /** `ownIdentity` is the plaintext of our identity frame, signed while the confirm was being made. */
  | { readonly kind: 'awaiting-confirm'; readonly transcript: Uint8Array; readonly ownIdentity: Uint8Array }
  /** The peer knows the room secret; it is not secure until its identity frame (its first sealed frame) verifies. */
  | { readonly kind: 'awaiting-identity'; readonly transcript: Uint8Array; readonly sealer: FrameSealer; readonly opener: FrameOpener }
  | { readonly kind: 'secure'; readonly sealer: FrameSealer; readonly opener: FrameOpener; readonly peer: PeerIdentity }
  | { readonly kind: 'ended' };

/** A sealed frame whose opening started as it arrived (SecureSession.openEarly). */
interface EarlyOpen {
  readonly frame: Frame;
  readonly opened: Promise<OpenResult>;
}

function directionOf(sender: Role): Direction {
  return sender === 'initiator' ? 'initiator-to-responder' : 'responder-to-initiator';
}

export class SecureSession {
  private state: State = { kind: 'awaiting-hello' };
  private readonly ownHello: Hello;
  private sendKey: CryptoKey | null = null;
  // Both chains keep async crypto from reordering frames: sequence numbers must match wire order.
  private inbound: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();
  /** Received messages in the inbound chain that were not opened early: later frames must wait for them. */
  private waitingToOpen = 0;

  constructor(private readonly options: SecureSessionOptions) {
    this.ownHello = createHello(options.keyPair, options.random);
  }

  get isSecure(): boolean {
    return this.state.kind === 'secure';
  }

  /**
   * Call once, as soon as the data channel opens. The initiator sends its hello now; the responder only when the
   * initiator's hello arrives (spec §5.3). Chromium was seen to lose, rarely and under load, a message that reached
   * the initiator's channel just before that channel opened on its side: a responder that spoke at once could have
   * its hello lost and its confirm taken as an attack. A side that has sent on its channel has it open, so
   * nothing the responder sends in answer can arrive too early.
   */
  start(): void {
    if (this.options.role === 'initiator') this.sendHello();
  }

  private sendHello(): void {
    this.options.send(concatBytes(encodeFrameHeader(FrameType.hello, 0n), encodeHello(this.ownHello)));
  }

  /**
   * Feeds one message from the data channel. Processing is strictly one message at a time, in arrival order; only
   * the decryption of a sealed frame that arrives once secure starts at once (openEarly), so a burst of file chunks
   * is being decrypted while earlier ones are still handled.
   */
  receive(bytes: Uint8Array): void {
    const early = this.openEarly(bytes);
    if (early === null) this.waitingToOpen += 1;
    this.inbound = this.inbound
      .then(() => {
        if (early === null) this.waitingToOpen -= 1;
        return this.handle(bytes, early);
      })
      .catch((error: unknown) => this.failFor(`receiving failed: ${String(error)}`));
  }

  /**
   * Starts opening a sealed frame now, when that is exactly what handling it in turn would do: the session is
   * secure, it is a sealed frame other than an identity, and no earlier message still waits to be opened in turn
   * (the opener takes sequence numbers in call order). Anything else is left to handle().
   */
  private openEarly(bytes: Uint8Array): EarlyOpen | null {
    if (this.state.kind !== 'secure' || this.waitingToOpen > 0) return null;
    const parsed = parseFrame(bytes);
    if (!parsed.ok) return null;
    const frame = parsed.frame;
    if (frame.type === FrameType.hello || frame.type === FrameType.confirm || frame.type === FrameType.identity) return null;
    const opened = this.state.opener.open(frame, frame.type === FrameType.transferChunk ? CHUNK_HEADER_BYTES : 0);
    return { frame, opened };
  }

  /** Ends the session without an error (the peer left or the user closed the room). */
  end(): void {
    this.state = { kind: 'ended' };
  }

  /** Sends a transfer control message (offer, accept, ack, cancel, complete) once the session is verified. */
  sendControl(message: TransferControl): void {
    if (this.state.kind !== 'secure') throw new Error('The conversation is not secure yet; nothing was sent.');
    void this.enqueueFrame(FrameType.transferControl, encodeTransferControl(message));
  }

  /**
   * Sends one file chunk; resolves once it is sealed and handed to the channel, so a sender can bound how
   * much it has queued. The chunk header travels in the clear but is authenticated with the frame.
   */
  sendChunk(header: ChunkHeader, data: Uint8Array): Promise<void> {
    if (this.state.kind !== 'secure') return Promise.reject(new Error('The conversation is not secure; the chunk was not sent.'));
    return this.enqueueFrame(FrameType.transferChunk, data, encodeChunkHeader(header));
  }

  /** Our identity frame goes out while awaiting the peer's; everything else only once secure (the public senders check). */
  private currentSealer(): FrameSealer | null {
    return this.state.kind === 'awaiting-identity' || this.state.kind === 'secure' ? this.state.sealer : null;
  }

  /**
   * Seals at once and sends in call order: the sealer numbers frames as they are handed to it, so several seals may
   * run at the same time (WebCrypto works off the main thread) while the frames still leave in sequence order.
   */
  private enqueueFrame(type: SealedFrameType, plaintext: Uint8Array, associated?: Uint8Array): Promise<void> {
    const sealer = this.currentSealer();
    const sealing = sealer === null ? null : sealer.seal(type, plaintext, associated);
    // Awaited in turn below; until then a failure must not count as unhandled.
    sealing?.catch(() => {});
    const sent = this.outbound.then(async () => {
      if (sealing === null) return;
      const frame = await sealing;
      if (this.currentSealer() === sealer) this.options.send(frame);
    });
    // A throw inside the chain would otherwise wedge every later send silently; end the session instead.
    this.outbound = sent.catch((error: unknown) => this.failFor(`sending failed: ${String(error)}`));
    return this.outbound;
  }

  private fail(failure: SessionFailure): void {
    if (this.state.kind === 'ended') return;
    this.state = { kind: 'ended' };
    this.options.onEvent({ type: 'failed', failure });
  }

  private async handle(bytes: Uint8Array, early: EarlyOpen | null): Promise<void> {
    if (this.state.kind === 'ended') return;
    const parsed = early === null ? parseFrame(bytes) : ({ ok: true, frame: early.frame } as const);
    if (!parsed.ok) {
      this.failFor(parsed.reason);
      return;
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case FrameType.hello:
      case FrameType.confirm:
        await this.handleHandshake(frame.type, frame);
        return;
      case FrameType.identity:
        await this.handleIdentity(frame);
        return;
      case FrameType.message:
      case FrameType.receipts:
      case FrameType.ping:
      case FrameType.pong:
      case FrameType.bye:
      case FrameType.digests:
      case FrameType.reply:
      case FrameType.deletion:
      case FrameType.typing:
        await this.handleGroupFrame(frame.type, frame, early);
        return;
      case FrameType.transferControl:
        await this.handleTransferControl(frame, early);
        return;
      case FrameType.transferChunk:
        await this.handleTransferChunk(frame, early);
        return;
      default:
        assertNever(frame.type, 'frame type');
    }
  }

  /** Before the session is verified a bad frame is a failed verification; afterwards it is a rejected frame. */
  private failFor(detail: string): void {
    this.fail(this.state.kind === 'secure' ? { kind: 'frame-rejected', detail } : { kind: 'verification-failed', detail });
  }

  private async handleHandshake(type: HandshakeFrameType, frame: Frame): Promise<void> {
    if (frame.seq !== 0n) {
      this.failFor('handshake frame with a non-zero sequence number');
      return;
    }
    if (type === FrameType.hello && this.state.kind === 'awaiting-hello') {
      // The responder answers with its own hello before any work, so the initiator's confirm is made meanwhile.
      if (this.options.role === 'responder') this.sendHello();
      await this.acceptHello(frame.body);
    } else if (type === FrameType.confirm && this.state.kind === 'awaiting-confirm') {
      await this.acceptConfirm(this.state.transcript, this.state.ownIdentity, frame.body);
    } else {
      this.failFor(`unexpected handshake frame ${type} while ${this.state.kind}`);
    }
  }

  private async acceptHello(body: Uint8Array): Promise<void> {
    const { role, authKey, random, localFingerprint, remoteFingerprint } = this.options;
    const peerHello = parseHello(body);
    const peerKey = peerHello === null ? null : await importPeerPublicKey(peerHello.spki);
    if (peerHello === null || peerKey === null) {
      this.fail({ kind: 'verification-failed', detail: 'the peer hello is malformed or its key is not RSA-OAEP-3072' });
      return;
    }
    const transcript = buildTranscript({ role, own: this.ownHello, peer: peerHello, localFingerprint, remoteFingerprint });
    // The signature is made now, alongside the confirm, so it is ready when the peer's confirm arrives;
    // it is sent only after that confirm verifies, so nobody without the room secret learns who we are.
    const [confirm, ownIdentity] = await Promise.all([
      createConfirm(authKey, role, transcript, peerKey, random),
      createIdentityMessage(this.options.identity, role, transcript),
    ]);
    if (this.state.kind === 'ended') return;
    this.sendKey = confirm.sendKey;
    this.state = { kind: 'awaiting-confirm', transcript, ownIdentity };
    this.options.send(concatBytes(encodeFrameHeader(FrameType.confirm, 0n), confirm.body));
  }

  private async acceptConfirm(transcript: Uint8Array, ownIdentity: Uint8Array, body: Uint8Array): Promise<void> {
    const { role, authKey, keyPair } = this.options;
    const opened = await openConfirm(authKey, otherRole(role), transcript, body, keyPair.privateKey);
    if (this.state.kind === 'ended') return;
    if (!opened.ok || this.sendKey === null) {
      this.fail({ kind: 'verification-failed', detail: opened.ok ? 'no sending key' : opened.reason });
      return;
    }
    this.state = {
      kind: 'awaiting-identity',
      transcript,
      sealer: new FrameSealer(this.sendKey, directionOf(role)),
      opener: new FrameOpener(opened.receiveKey, directionOf(otherRole(role))),
    };
    this.sendKey = null;
    void this.enqueueFrame(FrameType.identity, ownIdentity);
  }

  /** The peer's identity frame: accepted exactly once, as its first sealed frame; only then is the session secure. */
  private async handleIdentity(frame: Frame): Promise<void> {
    const state = this.state;
    if (state.kind !== 'awaiting-identity') {
      // Even after secure this is a failed verification, not a bad frame: the peer tries to be someone else.
      this.fail({
        kind: 'verification-failed',
        detail: state.kind === 'secure' ? 'the peer sent a second identity' : 'an identity frame arrived before the handshake finished',
      });
      return;
    }
    const opened = await state.opener.open(frame);
    if (!opened.ok) {
      this.failFor(`the peer's identity frame: ${opened.reason}`);
      return;
    }
    const verified = await verifyIdentityMessage(opened.plaintext, otherRole(this.options.role), state.transcript);
    if (this.state !== state) return;
    if (!verified.ok) {
      this.fail({ kind: 'verification-failed', detail: verified.reason });
      return;
    }
    this.state = { kind: 'secure', sealer: state.sealer, opener: state.opener, peer: verified.peer };
    this.options.onEvent({ type: 'secure', peer: verified.peer });
  }

  /** Opens a sealed frame, or ends the session; null means it failed and nothing may be delivered. */
  private async openSealed(frame: Frame, early: EarlyOpen | null, associatedBytes = 0): Promise<Uint8Array | null> {
    if (this.state.kind !== 'secure') {
      this.failFor(
        this.state.kind === 'awaiting-identity'
          ? "a message arrived before the peer's identity"
          : 'an encrypted frame arrived before the handshake finished',
      );
      return null;
    }
    // It may have started opening when it arrived (openEarly).
    const opened = await (early?.opened ?? this.state.opener.open(frame, associatedBytes));
    if (!opened.ok) {
      this.failFor(opened.reason);
      return null;
    }
    return opened.plaintext;
  }

  private async handleGroupFrame(type: GroupFrameType, frame: Frame, early: EarlyOpen | null): Promise<void> {
    const plaintext = await this.openSealed(frame, early);
    if (plaintext === null) return;
    const parsed = parseGroupFrame(type, plaintext);
    if (!parsed.ok) {
      this.fail({ kind: 'frame-rejected', detail: parsed.reason });
      return;
    }
    this.options.onEvent({ type: 'group', frame: parsed.frame });
  }

  /**
   * Sends one group frame (message, receipts, ping, pong, bye, digests) once the session is verified; resolves
   * once it is sealed and handed to the channel.
   */
  sendGroupFrame(frame: GroupFrame): Promise<void> {
    if (this.state.kind !== 'secure') throw new Error('The conversation is not secure yet; nothing was sent.');
    const { type, plaintext } = encodeGroupFrame(frame);
    return this.enqueueFrame(type, plaintext);
  }

  private async handleTransferControl(frame: Frame, early: EarlyOpen | null): Promise<void> {
    const plaintext = await this.openSealed(frame, early);
    if (plaintext === null) return;
    const parsed = parseTransferControl(plaintext);
    if (!parsed.ok) {
      this.fail({ kind: 'frame-rejected', detail: parsed.reason });
      return;
    }
    this.options.onEvent({ type: 'transfer-control', message: parsed.message });
  }

  private async handleTransferChunk(frame: Frame, early: EarlyOpen | null): Promise<void> {
    const data = await this.openSealed(frame, early, CHUNK_HEADER_BYTES);
    if (data === null) return;
    // The header was authenticated with the frame; parsing it can still find it nonsensical.
    const header = parseChunkHeader(frame.body.subarray(0, CHUNK_HEADER_BYTES));
    if (header === null) {
      this.fail({ kind: 'frame-rejected', detail: 'malformed chunk header' });
      return;
    }
    this.options.onEvent({ type: 'transfer-chunk', header, data });
  }
}
