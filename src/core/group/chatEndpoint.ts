/** The mesh's hand-over to the messaging engine: each admitted member's session goes to the chat, once it is open. */
import type { GroupEndpoint } from '../room/roomSession.ts';
import type { GroupChat } from './groupChat.ts';

/**
 * `chat` is read at each call (null until the engine is open: nothing is fed before); `isRemembered` says whether
 * a member is a contact this room keeps, for whom messages wait while it is away.
 */
export function chatEndpoint(chat: () => GroupChat | null, isRemembered: (memberId: string) => boolean): GroupEndpoint {
  return {
    connected: (channel) => {
      const open = chat();
      if (open === null) return;
      open.admitted(channel.memberId, { durable: isRemembered(channel.memberId) });
      open.connected(channel);
    },
    disconnected: (memberId) => chat()?.disconnected(memberId),
    receive: (memberId, frame) => chat()?.receive(memberId, frame) ?? null,
  };
}
