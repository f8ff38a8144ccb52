/**
 * The signaling port over a browser WebSocket, to one of the configured servers: first the one that served the page
 * if it is listed (it is up, and the site chose it), else a random one so that pages spread over the instances;
 * then the next one in the list each time a socket has to be opened again, so that a page whose instance went away
 * (or could not place it) reaches another. The room decides when to reconnect, with back-off and jitter; this only
 * decides where.
 */
import type { RoomPlatform, SignalingHandlers } from '../../core/room/roomPorts.ts';

export interface WebSocketSignaling {
  readonly connect: RoomPlatform['connectSignaling'];
  /**
   * Opens the first socket now, before any room asks for one (spec §9, "Link to Secure"): a page opened on a room
   * link connects while it draws and the room starts. Nothing is sent on it until a room takes it, and the room's
   * join goes out then, as it would on a socket of its own.
   */
  readonly preconnect: () => void;
}

/** A socket opened ahead; `spoiled` once anything came or went on it before a room took it (the server timed it out). */
type EarlySocket = { readonly socket: WebSocket; readonly watching: AbortController; readonly openedAtMs: number; spoiled: boolean };

/**
 * A room that starts later than this (a person unlocking their profile first) opens a socket of its own: the server
 * closes a socket that joins no room within its JOIN_TIMEOUT_MS (10 s by default, §3.3), and a join must never race
 * that close. A room link's guest room takes the early socket within a few hundred milliseconds.
 */
const EARLY_SOCKET_MAX_AGE_MS = 3000;

function hand(socket: WebSocket, handlers: SignalingHandlers): ReturnType<RoomPlatform['connectSignaling']> {
  // A socket taken already open announced it before this room listened: the room hears it now, after this returns.
  if (socket.readyState === WebSocket.OPEN) queueMicrotask(() => handlers.onOpen());
  else socket.addEventListener('open', () => handlers.onOpen());
  socket.addEventListener('message', (event: MessageEvent<unknown>) => handlers.onMessage(event.data));
  // 'error' is always followed by 'close', which is where the room decides what to do.
  socket.addEventListener('close', () => handlers.onClose());
  return {
    send: (text) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(text);
    },
    close: () => socket.close(),
  };
}

export function webSocketSignaling(urls: readonly string[], pageUrl: string, random: () => number = Math.random): WebSocketSignaling {
  if (urls.length === 0) throw new Error('no signaling server to connect to');
  const pageHost = new URL(pageUrl).host;
  const own = urls.findIndex((url) => new URL(url).host === pageHost);
  let index = own >= 0 ? own : Math.floor(random() * urls.length);
  let opened = 0;
  let early: EarlySocket | null = null;

  const open = (): WebSocket => {
    // Every socket after the first replaces one that closed: the server it was on is the one to avoid now.
    if (opened > 0) index = (index + 1) % urls.length;
    opened += 1;
    return new WebSocket(urls[index] ?? urls[0] ?? '');
  };

  const takeEarly = (): WebSocket | null => {
    const ahead = early;
    early = null;
    if (ahead === null) return null;
    ahead.watching.abort();
    const fresh = performance.now() - ahead.openedAtMs < EARLY_SOCKET_MAX_AGE_MS;
    if (fresh && !ahead.spoiled && ahead.socket.readyState <= WebSocket.OPEN) return ahead.socket;
    ahead.socket.close();
    // Never used by a room: the next socket goes to the same server, as the first.
    opened -= 1;
    return null;
  };

  return {
    connect: (handlers) => hand(takeEarly() ?? open(), handlers),
    preconnect: () => {
      if (early !== null || opened > 0) return;
      const ahead: EarlySocket = { socket: open(), watching: new AbortController(), openedAtMs: performance.now(), spoiled: false };
      const spoil = (): void => {
        ahead.spoiled = true;
      };
      ahead.socket.addEventListener('message', spoil, { signal: ahead.watching.signal });
      ahead.socket.addEventListener('close', spoil, { signal: ahead.watching.signal });
      early = ahead;
    },
  };
}
