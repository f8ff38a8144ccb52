/** Composition root: checks the page can do crypto, loads config.json, wires adapters into the app. */
import { mount } from 'svelte';
import './ui/app.css';
import App from './ui/App.svelte';
import Notice from './ui/Notice.svelte';
import { loadConfig } from './adapters/config/loadConfig.ts';
import { simplePeerFactory } from './adapters/webrtc/simplePeerAdapter.ts';
import { webSocketSignaling } from './adapters/webrtc/signalingSocket.ts';
import { resolveSignalingUrls } from './core/protocol/appConfig.ts';
import { systemClock, systemRandom } from './core/ports.ts';
import { removeAbandonedSpills } from './adapters/storage/spillCleanup.ts';
import { blobSink } from './adapters/transfer/blobSink.ts';
import { checkRasterImage } from './adapters/transfer/imageCheck.ts';
import { fileSource } from './adapters/transfer/fileSource.ts';
import { claimProfileForThisTab, openBrowserVault } from './adapters/vault/browserVault.ts';
import type { AppPlatform } from './ui/roomState.svelte.ts';
import { KeyPairPool } from './core/room/keyPairPool.ts';
import { generateSessionKeyPair } from './core/crypto/handshake.ts';

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
  // What older versions spilled to IndexedDB is deleted once no page holds it; never blocks start-up.
  void removeAbandonedSpills().catch(() => {});
  const platform: AppPlatform = {
    // RSA-3072 takes a noticeable moment: the first pair is made now, while the page loads, not when someone joins.
    keyPairs: new KeyPairPool({ generate: generateSessionKeyPair, clock: systemClock }),
    room: {
      connectSignaling: webSocketSignaling(resolveSignalingUrls(loaded.config.signaling, location.href)),
      createPeer: simplePeerFactory(loaded.config.iceServers),
      clock: systemClock,
      random: systemRandom,
    },
    transfers: {
      clock: systemClock,
      random: systemRandom,
      openSink: async () => blobSink(),
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
