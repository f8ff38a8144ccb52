/**
 * Registers the site's service worker (src/serviceWorker.ts, built as /sw.js) and reports a new version once it is
 * installed and waiting; it takes over only when the person asks (a reload they chose), never under an open page.
 */

const WORKER_URL = '/sw.js';

/**
 * serviceWorker.register() is a Trusted Types sink under the CSP (signaling/securityHeaders.ts): this policy vouches
 * for exactly one script, our worker.
 */
const workerUrlPolicy = globalThis.trustedTypes?.createPolicy('parley-service-worker', {
  createScriptURL: (url) => {
    if (url !== WORKER_URL) throw new TypeError(`parley-service-worker vouches only for ${WORKER_URL}, not for ${url}`);
    return url;
  },
});

/** register() as browsers with Trusted Types define it; TypeScript's DOM types do not know TrustedScriptURL yet. */
type TrustedRegister = (scriptUrl: TrustedScriptURL | string, options: RegistrationOptions) => Promise<ServiceWorkerRegistration>;

/** Calls `onUpdate` with a function that switches to the waiting version and reloads, once one is waiting. */
export function registerServiceWorker(onUpdate: (apply: () => void) => void): void {
  const container = navigator.serviceWorker;
  if (container === undefined) return;
  const register = container.register.bind(container) as unknown as TrustedRegister;
  void register(workerUrlPolicy?.createScriptURL(WORKER_URL) ?? WORKER_URL, { scope: '/' })
    .then((registration) => {
      const announce = (worker: ServiceWorker): void =>
        onUpdate(() => {
          // Only this page asked: another tab's choice to update must not reload this one under its conversation.
          container.addEventListener('controllerchange', () => location.reload(), { once: true });
          worker.postMessage('skip-waiting');
        });
      // A waiting worker is a new version only when an older one controls this page (else it is the first install).
      if (registration.waiting !== null && container.controller !== null) announce(registration.waiting);
      registration.addEventListener('updatefound', () => {
        const installing = registration.installing;
        installing?.addEventListener('statechange', () => {
          if (installing.state === 'installed' && container.controller !== null) announce(installing);
        });
      });
    })
    // Without the worker Parley still works online; it only cannot start offline.
    .catch(() => {});
}
