/** The signaling port over a browser WebSocket, to the first of the configured servers. */
import type { RoomPlatform } from '../../core/room/roomPorts.ts';

export function webSocketSignaling(urls: readonly string[]): RoomPlatform['connectSignaling'] {
  const [url] = urls;
  if (url === undefined) throw new Error('no signaling server to connect to');
  return (handlers) => {
    const socket = new WebSocket(url);
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
