/**
 * One process of the signaling load generator (bench/sections/signalingLoad.ts starts several, so no process holds
 * more than its share of descriptors): opens its rooms' WebSockets against a Parley server (join, then signals) or a
 * PeerServer (id in the URL, then OFFER/CANDIDATE messages), then relays signals between members of its own rooms
 * at a fixed rate and times each from send to receipt, on one clock. Driven over IPC; bounded in count and time.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { assertNever } from '../../src/core/assertNever.ts';

export type LoadKind = 'parley' | 'peerjs';

export type LoadPlan = {
  readonly kind: LoadKind;
  /** WebSocket base URLs; member k of a room uses urls[k % urls.length], so rooms span instances. */
  readonly urls: readonly string[];
  readonly rooms: readonly { readonly size: number; readonly count: number }[];
  /** Loopback address to connect from, so processes spread over source ports of different addresses. */
  readonly localAddress: string;
  readonly maxInFlight: number;
  readonly connectTimeoutMs: number;
};

export type ParentMessage =
  | { readonly type: 'connect'; readonly plan: LoadPlan }
  | { readonly type: 'measure'; readonly signalsPerSecond: number; readonly windowMs: number }
  | { readonly type: 'close' };

export type ConnectReport = {
  readonly type: 'connected';
  readonly opened: number;
  readonly failed: number;
  readonly wallMs: number;
  /** Per connection, from creating the socket to being in its room (joined / OPEN). */
  readonly openMs: readonly number[];
  readonly firstError: string | null;
};

export type MeasureReport = {
  readonly type: 'measured';
  readonly sent: number;
  readonly received: number;
  readonly latencyMsBySize: Readonly<Record<string, readonly number[]>>;
  readonly stillOpen: number;
};

export type ChildMessage = ConnectReport | MeasureReport;

type Member = { socket: WebSocket; id: string; room: Room };
type Room = { readonly size: number; readonly members: Member[] };

/** A realistic sealed ICE candidate is a few hundred base64url characters. */
const PADDING = 'x'.repeat(240);

const rooms: Room[] = [];
/** Signal id → (send time, room size). */
const inFlight = new Map<string, { readonly sentAt: number; readonly size: number }>();
let measuring: { latencies: Map<number, number[]>; received: number } | null = null;

function send(message: ChildMessage): void {
  process.send?.(message);
}

function onRelayed(id: string): void {
  const sent = inFlight.get(id);
  if (sent === undefined || measuring === null) return;
  inFlight.delete(id);
  measuring.received += 1;
  const list = measuring.latencies.get(sent.size) ?? [];
  list.push(performance.now() - sent.sentAt);
  measuring.latencies.set(sent.size, list);
}

/** Opens one member's socket and resolves once it is in its room. */
function openMember(plan: LoadPlan, room: Room, index: number, roomId: string): Promise<Member> {
  const url = plan.urls[index % plan.urls.length] ?? '';
  return new Promise((resolve, reject) => {
    const peerId = randomBytes(12).toString('base64url');
    const target = plan.kind === 'parley' ? url : `${url}?key=peerjs&id=${peerId}&token=${randomBytes(6).toString('hex')}`;
    const socket = new WebSocket(target, { localAddress: plan.localAddress, perMessageDeflate: false });
    const member: Member = { socket, id: plan.kind === 'parley' ? '' : peerId, room };
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('not in its room in time'));
    }, plan.connectTimeoutMs);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('open', () => {
      if (plan.kind === 'parley') socket.send(JSON.stringify({ v: 1, type: 'join', room: roomId, nonce: randomBytes(16).toString('base64url') }));
    });
    socket.on('message', (data) => {
      // Our own generator's traffic from a server under test: read only what we need, cheaply.
      const text = data.toString();
      if (plan.kind === 'parley') {
        if (text.startsWith('{"v":1,"type":"signal"')) {
          onRelayed(/"blob":"s([0-9a-z]+)_/.exec(text)?.[1] ?? '');
        } else if (text.startsWith('{"v":1,"type":"joined"')) {
          member.id = /"self":"([^"]+)"/.exec(text)?.[1] ?? '';
          clearTimeout(timer);
          resolve(member);
        } else if (text.includes('"type":"error"')) {
          clearTimeout(timer);
          reject(new Error(`refused: ${text.slice(0, 120)}`));
        }
        return;
      }
      if (text.includes('"type":"CANDIDATE"')) {
        onRelayed(/"sig":"([0-9a-z]+)"/.exec(text)?.[1] ?? '');
      } else if (text.includes('"type":"OPEN"')) {
        clearTimeout(timer);
        resolve(member);
      } else if (text.includes('"type":"ERROR"') || text.includes('ID-TAKEN')) {
        clearTimeout(timer);
        reject(new Error(`refused: ${text.slice(0, 120)}`));
      }
    });
  });
}

async function connectAll(plan: LoadPlan): Promise<ConnectReport> {
  const started = performance.now();
  const jobs: (() => Promise<void>)[] = [];
  const openMs: number[] = [];
  let failed = 0;
  let firstError: string | null = null;
  for (const { size, count } of plan.rooms) {
    for (let r = 0; r < count; r++) {
      const room: Room = { size, members: [] };
      rooms.push(room);
      const roomId = randomBytes(16).toString('base64url');
      for (let index = 0; index < size; index++) {
        jobs.push(async () => {
          const begun = performance.now();
          try {
            room.members.push(await openMember(plan, room, index, roomId));
            openMs.push(performance.now() - begun);
          } catch (error) {
            failed += 1;
            firstError ??= error instanceof Error ? error.message : String(error);
          }
        });
      }
    }
  }
  // A bounded number of handshakes at a time, as a crowd arriving rather than one SYN flood.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next];
      next += 1;
      await job?.();
    }
  };
  await Promise.all(Array.from({ length: plan.maxInFlight }, worker));
  return { type: 'connected', opened: openMs.length, failed, wallMs: performance.now() - started, openMs, firstError };
}

function sendSignal(kind: LoadKind, room: Room, seq: number): void {
  if (room.members.length < 2) return;
  const from = room.members[Math.floor(Math.random() * room.members.length)];
  let to = room.members[Math.floor(Math.random() * room.members.length)];
  if (to === from) to = room.members[(room.members.indexOf(from as Member) + 1) % room.members.length];
  if (from === undefined || to === undefined || from.socket.readyState !== WebSocket.OPEN) return;
  const id = seq.toString(36);
  inFlight.set(id, { sentAt: performance.now(), size: room.size });
  if (kind === 'parley') from.socket.send(`{"v":1,"type":"signal","to":"${to.id}","blob":"s${id}_${PADDING}"}`);
  else from.socket.send(JSON.stringify({ type: 'CANDIDATE', dst: to.id, payload: { sig: id, candidate: PADDING } }));
}

async function measure(kind: LoadKind, signalsPerSecond: number, windowMs: number): Promise<MeasureReport> {
  measuring = { latencies: new Map(), received: 0 };
  const tickMs = 10;
  const perTick = (signalsPerSecond * tickMs) / 1000;
  let owed = 0;
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() - started >= windowMs) {
        clearInterval(timer);
        resolve();
        return;
      }
      owed += perTick;
      for (; owed >= 1; owed -= 1) {
        const room = rooms[Math.floor(Math.random() * rooms.length)];
        if (room !== undefined) sendSignal(kind, room, (sent += 1));
      }
    }, tickMs);
  });
  // Stragglers get a moment; what is still missing after it counts as not received.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const result = measuring;
  measuring = null;
  const latencyMsBySize: Record<string, number[]> = {};
  for (const [size, list] of result.latencies) latencyMsBySize[String(size)] = list;
  const stillOpen = rooms.reduce((sum, room) => sum + room.members.filter((member) => member.socket.readyState === WebSocket.OPEN).length, 0);
  return { type: 'measured', sent, received: result.received, latencyMsBySize, stillOpen };
}

let kind: LoadKind = 'parley';
process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'connect':
      kind = message.plan.kind;
      void connectAll(message.plan).then(send);
      return;
    case 'measure':
      void measure(kind, message.signalsPerSecond, message.windowMs).then(send);
      return;
    case 'close':
      for (const room of rooms) for (const member of room.members) member.socket.terminate();
      setTimeout(() => process.exit(0), 100);
      return;
    default:
      assertNever(message, 'message from the bench');
  }
});
// The parent going away ends us too: a load generator must never outlive its bench.
process.on('disconnect', () => process.exit(0));
