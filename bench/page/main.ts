/**
 * Entry of the bench page: opens the room named by the URL fragment (at once, or on startRoom() with
 * `?start=manual`), with key pairs as `?keys=` says and the app's file transfers, and puts the bench API on
 * `window`: round trips, echo and bulk baseline links, bench files, Parley transfers.
 */
import { generateSessionKeyPair, type SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { parseRoomFragment } from '../../src/core/crypto/roomSecret.ts';
import type { BenchApi } from './benchApi.ts';
import { adoptPickedFile, benchFile, makeRandomFile, putFile, sha256Hex } from './benchFiles.ts';
import { BenchTransfers } from './benchTransfers.ts';
import { BulkLink } from './bulkLink.ts';
import { cryptoPath } from './cryptoPath.ts';
import { EchoLink } from './echoLinks.ts';
import { keyPairSource, parseKeyPairMode } from './keyPairs.ts';
import { BenchRoom } from './parleyRoom.ts';
import type { RoomHistory } from '../../src/ui/roomHistory.ts';
import { pipelineCosts } from './pipelineCosts.ts';
import { sampleSignals } from './sampleSignals.ts';
import { historyProblems, openRoomHistory, vaultCreate, vaultFill, vaultGroupCosts, vaultLock, vaultUnlockAndShowLatest } from './vaultBench.ts';

const link = parseRoomFragment(location.hash);
const params = new URLSearchParams(location.search);
const keyPairMode = parseKeyPairMode(params.get('keys'));
// Made while the page loads, before the room's clock starts: that is the point of 'premade'.
const premade: Promise<SessionKeyPair> | null = keyPairMode === 'premade' ? generateSessionKeyPair() : null;
let room: BenchRoom | null = null;
let transfers: BenchTransfers | null = null;
const echoLinks = new Map<string, EchoLink>();
const bulkLinks = new Map<string, BulkLink>();
/** The room's kept history, opened on first use and reused as recording is switched on and off. */
let roomHistory: RoomHistory | null = null;

async function startRoom(): Promise<void> {
  if (link.kind !== 'room') throw new Error('this bench page was opened without a room secret in its fragment');
  if (room !== null) throw new Error('the room has already started');
  const pair = premade === null ? null : await premade;
  transfers = new BenchTransfers();
  room = new BenchRoom(link.secret, keyPairSource(keyPairMode, pair), transfers);
}

if (params.get('start') !== 'manual' && link.kind === 'room') void startRoom();

function echo(linkId: string): EchoLink {
  const found = echoLinks.get(linkId);
  if (found === undefined) throw new Error(`no echo link ${linkId} in this page`);
  return found;
}

function bulk(linkId: string): BulkLink {
  const found = bulkLinks.get(linkId);
  if (found === undefined) throw new Error(`no bulk link ${linkId} in this page`);
  return found;
}

function roomTransfers(): BenchTransfers {
  if (transfers === null) throw new Error('the room has not started');
  return transfers;
}

function openRoom(): BenchRoom {
  if (room === null) throw new Error('the room has not started');
  return room;
}

const api: BenchApi = {
  startRoom,
  secureAfterMs: () => room?.secureAfterMs ?? null,
  status: () => (link.kind === 'malformed' ? `failed: ${link.reason}` : (room?.describeStatus() ?? 'none')),
  roundTrips: (count, text) => openRoom().roundTrips(count, text),
  vaultCreate,
  vaultFill,
  vaultLock,
  vaultUnlockAndShowLatest,
  vaultGroupCosts,
  async keepHistory(on) {
    if (!on) {
      await openRoom().historySettled();
      openRoom().recordInto(null);
      return;
    }
    if (link.kind !== 'room') throw new Error('this bench page has no room');
    roomHistory ??= await openRoomHistory(link.secret);
    openRoom().recordInto(roomHistory);
  },
  historySettled: () => openRoom().historySettled(),
  historyProblems: () => [...historyProblems],
  openEcho(linkId, transport, initiator, role, replyBytes) {
    if (echoLinks.has(linkId)) throw new Error(`echo link ${linkId} is already open`);
    echoLinks.set(linkId, new EchoLink(linkId, transport, initiator, role, replyBytes));
  },
  deliverSignal(linkId, json) {
    const target = echoLinks.get(linkId) ?? bulkLinks.get(linkId);
    if (target === undefined) throw new Error(`no link ${linkId} in this page`);
    target.deliver(json);
  },
  echoOpen: (linkId) => echo(linkId).opened,
  echoRoundTrips: (linkId, count, pingBytes) => echo(linkId).roundTrips(count, pingBytes),
  closeEcho(linkId) {
    echoLinks.get(linkId)?.close();
    echoLinks.delete(linkId);
  },
  cryptoPath,
  sampleSignals,
  async keyPairTimes(count) {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const startedAt = performance.now();
      await generateSessionKeyPair();
      times.push(performance.now() - startedAt);
    }
    return times;
  },
  isolated: () => crossOriginIsolated,
  makeRandomFile,
  putFile,
  adoptPickedFile(key, pieceBytes) {
    const input = document.getElementById('bench-file');
    if (!(input instanceof HTMLInputElement)) throw new Error('the bench page has no file input');
    return adoptPickedFile(key, input, pieceBytes);
  },
  fileDigest: (key) => sha256Hex(benchFile(key).file),
  pipelineCosts: (key) => pipelineCosts(benchFile(key).file),
  sendFile: (key) => roomTransfers().send(benchFile(key).file),
  transferSettled: (id, timeoutMs) => roomTransfers().settled(id, timeoutMs),
  receivedDigest: (id) => sha256Hex(roomTransfers().receivedFile(id)),
  releaseTransfer: (id) => roomTransfers().release(id),
  openBulk(linkId, initiator) {
    if (bulkLinks.has(linkId)) throw new Error(`bulk link ${linkId} is already open`);
    bulkLinks.set(linkId, new BulkLink(linkId, initiator));
  },
  bulkOpen: (linkId) => bulk(linkId).opened,
  bulkExpect: (linkId, totalBytes, mode) => bulk(linkId).expect(totalBytes, mode),
  bulkSend: (linkId, key) => bulk(linkId).send(benchFile(key).pieces),
  bulkSendFile: (linkId, key, pieceBytes) => bulk(linkId).sendFile(benchFile(key).file, pieceBytes),
  bulkReceived: (linkId) => bulk(linkId).received(),
  bulkReceivedDigest: (linkId) => sha256Hex(bulk(linkId).receivedBlob()),
  bulkRelease: (linkId) => bulk(linkId).releaseReceived(),
  closeBulk(linkId) {
    bulkLinks.get(linkId)?.close();
    bulkLinks.delete(linkId);
  },
};
window.parleyBench = api;
