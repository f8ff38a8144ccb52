/**
 * What brings the person back to Parley: the count of unread messages in the tab title ("(3) Parley") until the
 * conversation is seen, and, once they turned them on, system notifications while the tab is hidden. The choice
 * is remembered in this browser's localStorage (like the theme): it must work before any profile is unlocked and
 * tells nothing about anyone.
 */
import { notificationContent, type Arrival, type NotificationDetail } from '../core/notify/notificationContent.ts';
import type { Notifier, NotificationPermissionState } from '../adapters/notify/browserNotifier.ts';

export type NotificationChoice = 'off' | NotificationDetail;

const STORAGE_KEY = 'parley.notifications';
const TITLE = 'Parley';

/** What was stored, if this version knows it; anything else is off (never more than the person chose). */
export function parseNotificationChoice(value: unknown): NotificationChoice {
  return value === 'private' || value === 'names-and-text' ? value : 'off';
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export class Attention {
  /** The person's choice; notifications show only when it is not 'off' and the browser allows them. */
  choice = $state<NotificationChoice>('off');
  permission = $state<NotificationPermissionState>('default');
  /** Unread messages and files per conversation (any object standing for it), for the tab title. */
  private readonly unread = new Map<object, number>();

  constructor(private readonly notifier: Notifier) {
    this.choice = parseNotificationChoice(storage()?.getItem(STORAGE_KEY));
    this.permission = notifier.permission();
  }

  /** Turns notifications on (asking the browser now, from the person's click) or changes what they show. */
  async choose(choice: NotificationChoice): Promise<void> {
    // Asked even after a refusal: the browser then answers at once without bothering the person, and an earlier
    // refusal may since have been lifted in its settings.
    this.permission = this.notifier.permission();
    if (choice !== 'off' && this.permission !== 'granted') this.permission = await this.notifier.requestPermission();
    this.choice = choice !== 'off' && this.permission !== 'granted' ? 'off' : choice;
    try {
      if (this.choice === 'off') storage()?.removeItem(STORAGE_KEY);
      else storage()?.setItem(STORAGE_KEY, this.choice);
    } catch {
      // A refused storage only means the choice lasts as long as the page.
    }
  }

  /** Something arrived in `conversation` that the person has not seen: count it, and notify if the tab is hidden. */
  arrived(conversation: object, arrival: Arrival): void {
    this.unread.set(conversation, (this.unread.get(conversation) ?? 0) + 1);
    this.showCount();
    // Permission can be withdrawn in the browser's settings at any time: ask it afresh.
    this.permission = this.notifier.permission();
    if (this.choice !== 'off' && this.permission === 'granted' && document.visibilityState === 'hidden') {
      this.notifier.show(notificationContent(this.choice, arrival));
    }
  }

  /** The person has `conversation` in front of them (or it closed): nothing in it counts as unread any more. */
  seen(conversation: object): void {
    if (this.unread.delete(conversation)) this.showCount();
  }

  private showCount(): void {
    const count = [...this.unread.values()].reduce((sum, n) => sum + n, 0);
    document.title = count === 0 ? TITLE : `(${count}) ${TITLE}`;
  }
}
