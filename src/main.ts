/** Composition root: checks the page can do crypto, loads config.json, wires adapters into the app. */
import { mount } from 'svelte';
import './ui/app.css';
import App from './ui/App.svelte';
import Notice from './ui/Notice.svelte';
import { loadConfig } from './adapters/config/loadConfig.ts';
import { simplePeerFactory } from './adapters/webrtc/simplePeerAdapter.ts';
import { webSocketSignaling } from './adapters/webrtc/signalingSocket.ts';
import { resolveSignalingUrls, type SignalingConfig } from './core/protocol/appConfig.ts';
import { assertNever } from './core/assertNever.ts';
import type { RoomPlatform } from './core/room/roomPorts.ts';
import { systemClock, systemRandom } from './core/ports.ts';
import { SpillStore } from './adapters/storage/spillSink.ts';
import { checkRasterImage } from './adapters/transfer/imageCheck.ts';
import { fileSource } from './adapters/transfer/fileSource.ts';
import { createSha256 } from './adapters/transfer/sha256.ts';
import { claimProfileForThisTab, openBrowserVault } from './adapters/vault/browserVault.ts';
import type { AppPlatform } from './ui/roomState.svelte.ts';
import { KeyPairPool } from './core/room/keyPairPool.ts';
import { generateSessionKeyPair } from './core/crypto/handshake.ts';

/** Parley's own server by default; the PeerJS client is fetched only by a site configured for a broker. */
async function signalingFor(signaling: SignalingConfig): Promise<RoomPlatform['connectSignaling']> {
  switch (signaling.mode) {
    case 'parley':
      return webSocketSignaling(resolveSignalingUrls(signaling, location.href));
    case 'peerjs': {
      const adapter = await import('./adapters/peerjs/peerjsSignaling.ts');
      return adapter.peerjsSignaling(signaling, systemClock, systemRandom);
    }
    default:
      return assertNever(signaling, 'signaling mode');
  }
}

async function main(target: HTMLElement): Promise<void> {
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
  const loaded = await loadConfig();
  if (!loaded.ok) {
    mount(Notice, { target, props: { title: 'Parley is not configured correctly', body: `Its configuration file is broken: ${loaded.reason}.` } });
    return;
  }
  let connectSignaling: RoomPlatform['connectSignaling'];
  try {
    connectSignaling = await signalingFor(loaded.config.signaling);
  } catch (error) {
    mount(Notice, { target, props: { title: 'Parley could not load', body: `Part of the app did not load (${String(error)}). Reload the page to try again.` } });
    return;
  }
  const spill = new SpillStore();
  // What a crashed or closed page spilled is deleted once nobody holds it; never blocks start-up.
  void SpillStore.removeAbandoned().catch(() => {});
  const platform: AppPlatform = {
    // RSA-3072 takes a noticeable moment: the first pair is made now, while the page loads, not when someone joins.
    keyPairs: new KeyPairPool({ generate: generateSessionKeyPair, clock: systemClock }),
    room: {
      connectSignaling,
      createPeer: simplePeerFactory(loaded.config.iceServers),
      clock: systemClock,
      random: systemRandom,
    },
    transfers: {
      clock: systemClock,
      random: systemRandom,
      createHasher: createSha256,
      openSink: async (offer) => spill.sink(offer),
      maxFileBytes: loaded.config.maxFileBytes,
    },
    fileSource,
    checkImage: checkRasterImage,
    // The profile's vault: IndexedDB, with argon2id in a worker so unlocking never freezes the page.
    profile: { vault: await openBrowserVault(), clock: systemClock, activity: window, claimProfile: claimProfileForThisTab },
  };
  mount(App, { target, props: { platform } });
}

const target = document.getElementById('app');
if (target !== null) void main(target);
