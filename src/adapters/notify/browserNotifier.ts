/** System notifications through the browser's Notification API: asking for permission only when told to, and showing one. */
import type { NotificationContent } from '../../core/notify/notificationContent.ts';

export type NotificationPermissionState = NotificationPermission | 'unsupported';

export interface Notifier {
  permission(): NotificationPermissionState;
  /** Asks the browser (which may ask the person); call only from the person's own action, never on load. */
  requestPermission(): Promise<NotificationPermissionState>;
  /** Shows `content`; clicking it brings this tab forward. */
  show(content: NotificationContent): void;
}

function supported(): boolean {
  return typeof window.Notification === 'function';
}

// One tag: a new notification replaces the last rather than piling up; the tab title carries the count.
const TAG = 'parley-message';

export const browserNotifier: Notifier = {
  permission: () => (supported() ? Notification.permission : 'unsupported'),
  requestPermission: async () => (supported() ? Notification.requestPermission() : 'unsupported'),
  show(content) {
    if (!supported() || Notification.permission !== 'granted') return;
    try {
      const shown = new Notification(content.title, { body: content.body, tag: TAG });
      shown.onclick = () => {
        window.focus();
        shown.close();
      };
    } catch {
      // Some browsers (Chrome on Android) allow notifications only through the service worker; its click handler
      // (public/sw.js) brings the tab forward there.
      void navigator.serviceWorker?.ready.then((registration) => registration.showNotification(content.title, { body: content.body, tag: TAG })).catch(() => {});
    }
  },
};
