/**
 * Entry of the bench page: makes the page-wide key pair pool as src/main.ts does, opens the room
 * named by the URL fragment (at once, or on startRoom() with `?start=manual`), and puts the bench API on `window`:
 * round trips, group messages, echo, bulk and mark baseline links, bench files, Parley transfers, the vault.
 */
import { generateSessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { parseRoomFragment } from '../../src/core/crypto/roomSecret.ts';
import type { BenchApi, GroupBlock, RoomName, SentMark } from './benchApi.ts';
import { adoptPickedFile, benchFile, makeRandomFile, putFile, sha256Hex } from './benchFiles.ts';
import { BenchTransfers } from './benchTransfers.ts';
import { BulkLink } from './bulkLink.ts';
import { cryptoPath } from './cryptoPath.ts';
import { EchoLink } from './echoLinks.ts';
import { epochNowMs } from './epoch.ts';
import { parseKeyPairMode, TimedKeyPairs } from './keyPairs.ts';
import { MarkLink } from './markLinks.ts';
import { BenchRoom } from './parleyRoom.ts';
import { localUdpPorts, trackPeerConnections } from './peerConnections.ts';
import { prepareStages, releaseStages, runStage } from './pipelineCosts.ts';
import { sampleSignals } from './sampleSignals.ts';
import { historyProblems, openRoomHistory, vaultCreate, vaultFill, vaultGroupCosts, vaultLock, vaultUnlockAndShowLatest } from './vaultBench.ts';

// Imports make no connections; this runs before anything here can, so every connection is known (peerConnections.ts).
trackPeerConnections();
const scriptStartAtEpochMs = epochNowMs();
const link = parseRoomFragment(location.hash);
const params = new URLSearchParams(location.search);
const keyPairMode = parseKeyPairMode(params.get('keys'));
// As src/main.ts: one pool for the page, generating its first pair while the page loads.
const keyPairs = new TimedKeyPairs(keyPairMode);
const rooms = new Map<RoomName, BenchRoom>();
const echoLinks = new Map<string, EchoLink>();
const bulkLinks = new Map<string, BulkLink>();
const markLinks = new Map<string, MarkLink>();
/** Raw marks that arrived here since the driver last took them, by `raw-<n>`. */
const markArrivals = new Map<string, number>();
let roomStartAtEpochMs: number | null = null;

async function startRoom(): Promise<void> {
  if (link.kind !== 'room') throw new Error('this bench page was opened without a room secret in its fragment');
  if (rooms.has('main') || roomStartAtEpochMs !== null) throw new Error('the room has already started');
  if (keyPairMode === 'premade') await keyPairs.firstReady();
  roomStartAtEpochMs = epochNowMs();
  rooms.set('main', await BenchRoom.open(link.secret, keyPairs, new BenchTransfers(), null));
}

if (params.get('start') !== 'manual' && link.kind === 'room') void startRoom();

function found<T>(map: ReadonlyMap<string, T>, id: string, what: string): T {
  const value = map.get(id);
  if (value === undefined) throw new Error(`no ${what} ${id} in this page`);
  return value;
}

function room(name: RoomName = 'main'): BenchRoom {
  const open = rooms.get(name);
  if (open === undefined) throw new Error(`the ${name} room has not started`);
  return open;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Messages to everyone at a steady pace; each send starts on its own slot, whatever the one before cost. */
async function groupBlock(block: GroupBlock): Promise<SentMark[]> {
  const sent: SentMark[] = [];
  const startedAt = performance.now();
  for (let i = 0; i < block.count; i++) {
    await sleep(startedAt + i * block.spacingMs - performance.now());
    if (block.variant === 'parley') {
      const mark = await room().sendToEveryone(block.text);
      sent.push({ key: mark.key, sentAtEpochMs: mark.sentAtEpochMs, handedAtEpochMs: mark.handedAtEpochMs ?? {} });
    } else {
      const n = block.firstMark + i;
      const sentAtEpochMs = epochNowMs();
      for (const id of block.markLinks) found(markLinks, id, 'mark link').send(n, block.markBytes);
      sent.push({ key: `raw-${n}`, sentAtEpochMs });
    }
  }
  return sent;
}

const api: BenchApi = {
  startRoom,
  secureAfterMs: () => rooms.get('main')?.secureAfterMs ?? null,
  status: () => (link.kind === 'malformed' ? `failed: ${link.reason}` : (rooms.get('main')?.describeStatus() ?? 'none')),
  connectedCount: () => rooms.get('main')?.connectedMembers().length ?? 0,
  memberId: () => rooms.get('main')?.memberId ?? null,
  leave: () => room().stop(),
  roomTimeline: () => rooms.get('main')?.timeline() ?? [],
  signalingLog: () => [...(rooms.get('main')?.signaling ?? [])],
  pageMarks() {
    const navigation = performance.getEntriesByType('navigation')[0];
    return {
      navigationAtEpochMs: performance.timeOrigin,
      domContentLoadedAtEpochMs: navigation instanceof PerformanceNavigationTiming ? performance.timeOrigin + navigation.domContentLoadedEventEnd : null,
      scriptStartAtEpochMs,
      roomStartAtEpochMs,
      visibility: document.visibilityState,
      focused: document.hasFocus(),
    };
  },
  keyPairMarks: () => keyPairs.report(),
  roomProblems: () => [...(rooms.get('main')?.problems ?? [])],
  roundTrips: (count, text, spacingMs, name) => room(name).roundTrips(count, text, spacingMs),
  setInView(inView) {
    for (const open of rooms.values()) open.setInView(inView);
  },
  groupBlock,
  takeArrivals() {
    const taken = { ...Object.fromEntries(markArrivals), ...(rooms.get('main')?.takeShown() ?? {}) };
    markArrivals.clear();
    return taken;
  },
  openMark(linkId) {
    if (markLinks.has(linkId)) throw new Error(`mark link ${linkId} is already open`);
    markLinks.set(linkId, new MarkLink(linkId, false, (n, atEpochMs) => markArrivals.set(`raw-${n}`, atEpochMs)));
  },
  markOpen: (linkId) => found(markLinks, linkId, 'mark link').opened,
  async openMarkSenders(linkIds) {
    const startedAt = performance.now();
    const opened = linkIds.map((linkId) => {
      if (markLinks.has(linkId)) throw new Error(`mark link ${linkId} is already open`);
      const mark = new MarkLink(linkId, true, () => {});
      markLinks.set(linkId, mark);
      return mark.opened;
    });
    await Promise.all(opened);
    return performance.now() - startedAt;
  },
  closeMark(linkId) {
    markLinks.get(linkId)?.close();
    markLinks.delete(linkId);
  },
  udpPorts: localUdpPorts,
  vaultCreate,
  vaultFill,
  vaultLock,
  vaultUnlockAndShowLatest,
  vaultGroupCosts,
  async openHistoryRoom(fragment) {
    const other = parseRoomFragment(fragment);
    if (other.kind !== 'room') throw new Error(`not a room fragment: ${fragment}`);
    if (rooms.has('history')) throw new Error('the history room is already open');
    rooms.set('history', await BenchRoom.open(other.secret, keyPairs, new BenchTransfers(), await openRoomHistory(other.secret)));
  },
  historyStatus: () => rooms.get('history')?.describeStatus() ?? 'none',
  historySettled: () => room('history').historySettled(),
  historyProblems: () => [...historyProblems, ...(rooms.get('history')?.problems ?? [])],
  openEcho(linkId, transport, initiator, role, replyBytes) {
    if (echoLinks.has(linkId)) throw new Error(`echo link ${linkId} is already open`);
    echoLinks.set(linkId, new EchoLink(linkId, transport, initiator, role, replyBytes));
  },
  deliverSignal(linkId, json) {
    const target = echoLinks.get(linkId) ?? bulkLinks.get(linkId) ?? markLinks.get(linkId);
    if (target === undefined) throw new Error(`no link ${linkId} in this page`);
    target.deliver(json);
  },
  echoOpen: (linkId) => found(echoLinks, linkId, 'echo link').opened,
  echoRoundTrips: (linkId, count, pingBytes, spacingMs) => found(echoLinks, linkId, 'echo link').roundTrips(count, pingBytes, spacingMs),
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
  prepareStages: (key) => prepareStages(benchFile(key).file),
  runStage,
  releaseStages,
  sendFile(key) {
    const [recipient, ...others] = room().connectedMembers();
    if (recipient === undefined || others.length > 0) throw new Error('sendFile needs exactly one connected member');
    return room().transfers.send(benchFile(key).file, recipient);
  },
  transferSettled: (id, timeoutMs) => room().transfers.settled(id, timeoutMs),
  receivedDigest: (id) => sha256Hex(room().transfers.receivedFile(id)),
  releaseTransfer: (id) => room().transfers.release(id),
  openBulk(linkId, initiator) {
    if (bulkLinks.has(linkId)) throw new Error(`bulk link ${linkId} is already open`);
    bulkLinks.set(linkId, new BulkLink(linkId, initiator));
  },
  bulkOpen: (linkId) => found(bulkLinks, linkId, 'bulk link').opened,
  bulkExpect: (linkId, totalBytes, mode) => found(bulkLinks, linkId, 'bulk link').expect(totalBytes, mode),
  bulkSend: (linkId, key) => found(bulkLinks, linkId, 'bulk link').send(benchFile(key).pieces),
  bulkSendFile: (linkId, key, pieceBytes) => found(bulkLinks, linkId, 'bulk link').sendFile(benchFile(key).file, pieceBytes),
  bulkSendFileSlices: (linkId, key, messageBytes, readBytes) => found(bulkLinks, linkId, 'bulk link').sendFileSlices(benchFile(key).file, messageBytes, readBytes),
  bulkReceived: (linkId) => found(bulkLinks, linkId, 'bulk link').received(),
  bulkReceivedDigest: (linkId) => sha256Hex(found(bulkLinks, linkId, 'bulk link').receivedBlob()),
  bulkRelease: (linkId) => found(bulkLinks, linkId, 'bulk link').releaseReceived(),
  closeBulk(linkId) {
    bulkLinks.get(linkId)?.close();
    bulkLinks.delete(linkId);
  },
};
window.parleyBench = api;
