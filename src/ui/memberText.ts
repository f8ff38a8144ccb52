/** Words for members: who they are ("Bob", "Guest 2"), where their connection stands, and how far a message got. */
import { assertNever } from '../core/assertNever.ts';
import type { MemberState } from '../core/room/roomStatus.ts';

export type DeliveryState = 'sending' | 'sent' | 'delivered' | 'read' | 'expired' | 'gone';

export function memberStateText(state: MemberState): string {
  switch (state) {
    case 'connecting':
      return 'Connecting…';
    case 'verifying':
      return 'Verifying…';
    case 'held':
      return 'Waiting for you to accept';
    case 'connected':
      return 'Connected';
    case 'reconnecting':
      return 'Reconnecting…';
    case 'unreachable':
      return 'Unreachable';
    case 'left':
      return 'Left';
    case 'failed':
      return 'Disconnected';
    default:
      return assertNever(state, 'member state');
  }
}

export function deliveryStateText(state: DeliveryState): string {
  switch (state) {
    case 'sending':
      return 'Sending';
    case 'sent':
      return 'Sent';
    case 'delivered':
      return 'Delivered';
    case 'read':
      return 'Read';
    case 'expired':
      return 'Not delivered (gave up after 7 days)';
    case 'gone':
      return 'Not delivered (they left)';
    default:
      return assertNever(state, 'delivery state');
  }
}

const RANK: Readonly<Record<DeliveryState, number>> = { expired: 0, gone: 0, sending: 1, sent: 2, delivered: 3, read: 4 };

/**
 * One line for a message sent to one or more people: the plain state for one addressee; for several, the
 * furthest step any reached, counted ("Read by 2 of 4", "Delivered to 3 of 4"), or the least if none got further.
 */
export function deliverySummary(states: readonly DeliveryState[]): string {
  if (states.length === 0) return 'Only you are here';
  const [only] = states;
  if (states.length === 1 && only !== undefined) return deliveryStateText(only);
  const total = states.length;
  const atLeast = (state: DeliveryState): number => states.filter((each) => RANK[each] >= RANK[state]).length;
  const failed = states.filter((each) => RANK[each] === 0).length;
  const parts: string[] = [];
  if (atLeast('read') > 0) parts.push(`Read by ${atLeast('read')} of ${total}`);
  else if (atLeast('delivered') > 0) parts.push(`Delivered to ${atLeast('delivered')} of ${total}`);
  else if (atLeast('sent') > 0) parts.push(`Sent to ${atLeast('sent')} of ${total}`);
  else if (failed < total) parts.push('Sending');
  if (failed > 0) parts.push(`not delivered to ${failed}`);
  return parts.length === 0 ? 'Not delivered' : parts.join(', ');
}
