/**
 * The signaling port over a browser WebSocket, to one of the configured servers: first the one that served the page
 * if it is listed (it is up, and the site chose it), else a random one so that pages spread over the instances;
 * then the next one in the list each time a socket has to be opened again, so that a page whose instance went away
 * (or could not place it) reaches another. The room decides when to reconnect, with back-off and jitter; this only
 * decides where.
 */
import type { RoomPlatform } from '../../core/room/roomPorts.ts';

export function webSocketSignaling(urls: readonly string[], pageUrl: string, random: () => number = Math.random): RoomPlatform['connectSignaling'] {
  if (urls.length === 0) throw new Error('no signaling server to connect to');
  const pageHost = new URL(pageUrl).host;
  const own = urls.findIndex((url) => new URL(url).host === pageHost);
  let index = own >= 0 ? own : Math.floor(random() * urls.length);
  let opened = 0;
  return (handlers) => {
    // Every socket after the first replaces one that closed: the server it was on is the one to avoid now.
    if (opened > 0) index = (index + 1) % urls.length;
    opened += 1;
    const socket = new WebSocket(urls[index] ?? urls[0] ?? '');
    socket.addEventListener('open', () => handlers.onOpen());
    socket.addEventListener('message', (event: MessageEvent<unknown>) => handlers.onMessage(event.data));
    // 'error' is always followed by 'close', which is where the room decides what to do.
    socket.addEventListener('close', () => handlers.onClose());
    return {
      send: (text) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(text);
      },
      close: () => socket.close(),
    };
  };
}
