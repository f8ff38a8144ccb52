/** Composition root: checks the page can do crypto, loads config.json, wires adapters into the app. */
import { mount } from 'svelte';
import './ui/app.css';
import App from './ui/App.svelte';
import Notice from './ui/Notice.svelte';
import { loadConfig } from './adapters/config/loadConfig.ts';
import { webRtcPeerFactory } from './adapters/webrtc/webRtcPeer.ts';
import { credentialEndpoints, RelayCredentials } from './adapters/webrtc/relayCredentials.ts';
import { RelayPreference } from './adapters/webrtc/relayPreference.ts';
import { webSocketSignaling } from './adapters/webrtc/signalingSocket.ts';
import { resolveSignalingUrls, type IceServerConfig, type SignalingConfig } from './core/protocol/appConfig.ts';
import { assertNever } from './core/assertNever.ts';
import type { RoomPlatform } from './core/room/roomPorts.ts';
import { systemClock, systemRandom } from './core/ports.ts';
import { fileSource } from './adapters/transfer/fileSource.ts';
import { claimProfileForThisTab, mayHoldProfile } from './adapters/vault/profilePresence.ts';
import { admissionText, afterStartUp, fileItem, loadOnce, prefetchWhenIdle, profilePanel, profileRooms, storedFileItem, transferEngine } from './ui/lazyParts.ts';
import type { AppPlatform } from './ui/roomState.svelte.ts';
import { KeyPairPool } from './core/room/keyPairPool.ts';
import { startRoomHeadStart } from './core/room/roomHeadStart.ts';
import { parseRoomFragment } from './core/crypto/roomSecret.ts';
import { generateSessionKeyPair } from './core/crypto/handshake.ts';
import { applyThemeChoice, loadThemeChoice } from './ui/theme.ts';
import { Attention } from './ui/attention.svelte.ts';
import { browserNotifier } from './adapters/notify/browserNotifier.ts';
import { AppUpdate } from './ui/appUpdate.svelte.ts';

interface Signaling {
  readonly connect: RoomPlatform['connectSignaling'];
  /** Opens the connection a room link will need while the page draws (Parley's servers; a broker is met later). */
  readonly preconnect: () => void;
  /** Where to ask for short-lived TURN credentials: our own servers; a PeerServer hands out none. */
  readonly credentialEndpoints: readonly string[];
}

/**
 * Parley's own servers by default (failing over along the configured list); the PeerJS client is fetched only by a
 * site configured for a broker. The room gets a `connectSignaling` either way and never learns which.
 */
async function signalingFor(signaling: SignalingConfig): Promise<Signaling> {
  switch (signaling.mode) {
    case 'parley': {
      const urls = resolveSignalingUrls(signaling, location.href);
      const { connect, preconnect } = webSocketSignaling(urls, location.href);
      return { connect, preconnect, credentialEndpoints: credentialEndpoints(urls) };
    }
    case 'peerjs': {
      const adapter = await import('./adapters/peerjs/peerjsSignaling.ts');
      return { connect: adapter.peerjsSignaling(signaling, systemClock, systemRandom), preconnect: () => {}, credentialEndpoints: [] };
    }
    default:
      return assertNever(signaling, 'signaling mode');
  }
}

/** Without the worker Parley still works online (it only cannot start offline): a failed fetch of its code is let be. */
async function registerWorker(update: AppUpdate): Promise<void> {
  try {
    const module = await import('./adapters/offline/registerServiceWorker.ts');
    module.registerServiceWorker((apply) => (update.apply = apply));
  } catch {
    // Tried again on the next start.
  }
}

async function main(target: HTMLElement): Promise<void> {
  // First, so that nothing is ever drawn in the other theme.
  applyThemeChoice(loadThemeChoice(), false);
  // WebCrypto exists only in secure contexts; without it nothing can be encrypted, so say so plainly.
  if (!window.isSecureContext || globalThis.crypto?.subtle === undefined) {
    mount(Notice, {
      target,
      props: {
        title: 'This page needs a secure connection',
        body: `Parley encrypts in your browser, which browsers allow only on https:// pages (or on this computer at http://localhost). Open it at https://${location.host}${location.pathname}, or ask whoever runs this server to enable HTTPS (see the README: TLS_CERT and TLS_KEY).`,
      },
    });
    return;
  }
  // RSA-3072 takes a noticeable moment: the first pair is started before anything else (it runs off the main thread
  // while config.json loads and the page draws), so that joining a room never waits for one.
  const keyPairs = new KeyPairPool({ generate: generateSessionKeyPair, clock: systemClock });
  // What joining the room in the link needs from the link alone (its keys, a guest identity) is begun now too, and so
  // is the question whether a profile may exist: both are answered while config.json is on its way.
  const link = parseRoomFragment(location.hash);
  const roomHeadStart = link.kind === 'room' ? startRoomHeadStart(link.secret) : () => null;
  let earlyPresence: Promise<boolean> | null = mayHoldProfile();
  const profilePresence = (): Promise<boolean> => {
    const early = earlyPresence;
    earlyPresence = null;
    return early ?? mayHoldProfile();
  };
  const update = new AppUpdate();
  // Only the built site has a worker (the dev server serves sources); it lets the shell start with no network. Its
  // installation fetches every file of the site, so it waits until the page is up and idle, and so does its code.
  if (import.meta.env.PROD) afterStartUp(() => void registerWorker(update));
  const loaded = await loadConfig();
  if (!loaded.ok && !navigator.onLine) {
    // config.json is never kept (it may change), so with no network Parley cannot start: say so, and start when it can.
    window.addEventListener('online', () => location.reload(), { once: true });
    mount(Notice, {
      target,
      props: {
        title: 'You are offline',
        body: 'Parley needs the network to reach the people you talk to. It will start by itself as soon as this device is back online.',
      },
    });
    return;
  }
  if (!loaded.ok) {
    mount(Notice, { target, props: { title: 'Parley is not configured correctly', body: `Its configuration file is broken: ${loaded.reason}.` } });
    return;
  }
  let signaling: Signaling;
  try {
    signaling = await signalingFor(loaded.config.signaling);
  } catch (error) {
    mount(Notice, { target, props: { title: 'Parley could not load', body: `Part of the app did not load (${String(error)}). Reload the page to try again.` } });
    return;
  }
  // A room link joins as soon as the room has started: its socket connects meanwhile (nothing is sent on it until then).
  if (link.kind === 'room') signaling.preconnect();
  // TURN credentials are short-lived and come from our own server; config.json's ICE servers are used as they are.
  const relayCredentials = new RelayCredentials(signaling.credentialEndpoints);
  relayCredentials.start();
  const relayPreference = new RelayPreference();
  const iceServers = (): readonly IceServerConfig[] => {
    const servers = relayCredentials.servers;
    return servers.kind === 'available' ? [...loaded.config.iceServers, ...servers.iceServers] : loaded.config.iceServers;
  };
  // The vault's code (IndexedDB, Argon2id, the records) is not in the first load: fetched on first use or when idle.
  const vaultCode = loadOnce(async () => {
    const module = await import('./adapters/vault/browserVault.ts');
    return module;
  });
  // Receiving files and checking images: the same, their code comes with the first file.
  const sinkCode = loadOnce(async () => {
    const module = await import('./adapters/transfer/blobSink.ts');
    return module;
  });
  const imageCheckCode = loadOnce(async () => {
    const module = await import('./adapters/transfer/imageCheck.ts');
    return module;
  });
  const earlyCheckCode = loadOnce(async () => {
    const module = await import('./adapters/transfer/earlyImageCheck.ts');
    return module;
  });
  // One per page: a received file's check starts when its store makes it, and is taken when the file is shown.
  const imageChecks = loadOnce(async () => {
    const [early, check] = await Promise.all([earlyCheckCode(), imageCheckCode()]);
    return new early.EarlyImageChecks(check.checkRasterImage);
  });
  const openVault = loadOnce(async () => (await vaultCode()).openBrowserVault());
  const platform: AppPlatform = {
    keyPairs,
    roomHeadStart,
    room: {
      connectSignaling: signaling.connect,
      createPeer: webRtcPeerFactory(() => ({ iceServers: iceServers(), relayOnly: relayPreference.on })),
      clock: systemClock,
      random: systemRandom,
      relayRoute: () => ({ relayServer: iceServers().some((server) => server.urls.some((url) => /^turns?:/.test(url))), relayOnly: relayPreference.on }),
    },
    transfers: {
      clock: systemClock,
      random: systemRandom,
      openSink: async () => {
        const [sink, checks] = await Promise.all([sinkCode(), imageChecks()]);
        return checks.sink(sink.blobSink());
      },
      maxFileBytes: loaded.config.maxFileBytes,
    },
    fileSource,
    checkImage: async (file) => (await imageChecks()).take(file),
    // The profile's vault: IndexedDB, with argon2id in a worker so unlocking never freezes the page.
    profile: { vault: openVault, mayHoldProfile: profilePresence, clock: systemClock, activity: window, claimProfile: claimProfileForThisTab },
    attention: new Attention(browserNotifier),
    update,
    relay: {
      alwaysRelay: () => relayPreference.on,
      setAlwaysRelay: (on) => relayPreference.set(on),
      watchRelayServer: (listener) =>
        relayCredentials.watch((servers) => listener(servers.kind === 'unknown' ? null : servers.kind === 'available' || loaded.config.iceServers.some((server) => server.urls.some((url) => /^turns?:/.test(url))))),
    },
  };
  mount(App, { target, props: { platform } });
  // Nothing here is needed to draw the page or to join a room, so it waits until that is done.
  prefetchWhenIdle([
    profilePanel,
    vaultCode,
    profileRooms,
    admissionText,
    transferEngine,
    fileItem,
    storedFileItem,
    sinkCode,
    imageChecks,
    // What older versions spilled to IndexedDB is deleted once no page holds it; never in the way of start-up.
    async () => {
      const module = await import('./adapters/storage/spillCleanup.ts');
      await module.removeAbandonedSpills().catch(() => {});
    },
  ]);
}

const target = document.getElementById('app');
if (target !== null) void main(target);
