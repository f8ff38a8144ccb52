/**
 * Entry of the bench page: opens the room named by the URL fragment (at once, or on startRoom() with
 * `?start=manual`), with key pairs as `?keys=` says, and puts the bench API on `window`.
 */
import { generateSessionKeyPair, type SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import { parseRoomFragment } from '../../src/core/crypto/roomSecret.ts';
import type { BenchApi } from './benchApi.ts';
import { cryptoPath } from './cryptoPath.ts';
import { EchoLink } from './echoLinks.ts';
import { keyPairSource, parseKeyPairMode } from './keyPairs.ts';
import { BenchRoom } from './parleyRoom.ts';
import { sampleSignals } from './sampleSignals.ts';

const link = parseRoomFragment(location.hash);
const params = new URLSearchParams(location.search);
const keyPairMode = parseKeyPairMode(params.get('keys'));
// Made while the page loads, before the room's clock starts: that is the point of 'premade'.
const premade: Promise<SessionKeyPair> | null = keyPairMode === 'premade' ? generateSessionKeyPair() : null;
let room: BenchRoom | null = null;
const echoLinks = new Map<string, EchoLink>();

async function startRoom(): Promise<void> {
  if (link.kind !== 'room') throw new Error('this bench page was opened without a room secret in its fragment');
  if (room !== null) throw new Error('the room has already started');
  const pair = premade === null ? null : await premade;
  room = new BenchRoom(link.secret, keyPairSource(keyPairMode, pair));
}

if (params.get('start') !== 'manual' && link.kind === 'room') void startRoom();

function echo(linkId: string): EchoLink {
  const found = echoLinks.get(linkId);
  if (found === undefined) throw new Error(`no echo link ${linkId} in this page`);
  return found;
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
  openEcho(linkId, transport, initiator, role, replyBytes) {
    if (echoLinks.has(linkId)) throw new Error(`echo link ${linkId} is already open`);
    echoLinks.set(linkId, new EchoLink(linkId, transport, initiator, role, replyBytes));
  },
  deliverSignal: (linkId, json) => echo(linkId).deliver(json),
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
};
window.parleyBench = api;
