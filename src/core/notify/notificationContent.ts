/**
 * What a system notification about a new message says: by default only that something arrived, because a
 * notification is shown outside the app (lock screen, notification centre, screen sharing) where anyone may read it.
 */

/** 'private': "New message in Parley" and nothing else; 'names-and-text': who wrote, and what (or the file's name). */
export type NotificationDetail = 'private' | 'names-and-text';

export type Arrival =
  | { readonly kind: 'text'; readonly authorName: string; readonly text: string }
  | { readonly kind: 'file'; readonly authorName: string; readonly fileName: string };

export interface NotificationContent {
  readonly title: string;
  readonly body: string;
}

export const PRIVATE_NOTIFICATION: NotificationContent = { title: 'New message in Parley', body: '' };

/** Long enough to read at a glance; the rest waits in the app. */
const MAX_BODY_CHARS = 140;

function shortened(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_BODY_CHARS ? `${oneLine.slice(0, MAX_BODY_CHARS)}…` : oneLine;
}

export function notificationContent(detail: NotificationDetail, arrival: Arrival): NotificationContent {
  if (detail === 'private') return PRIVATE_NOTIFICATION;
  const title = `${shortened(arrival.authorName)} in Parley`;
  return arrival.kind === 'text' ? { title, body: shortened(arrival.text) } : { title, body: `Sent a file: ${shortened(arrival.fileName)}` };
}
