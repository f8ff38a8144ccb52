/**
 * TURN through Debian's real coturn, started inside the tests' network namespace with a shared secret: with "Always
 * relay" two people meet only through the relay (getStats shows relay candidates, and no other kind is ever
 * exchanged); wrong or expired credentials fail in plain words; a site without a relay server says so up front.
 */
import type { Page } from '@playwright/test';
import { parseConfig, type Env } from '../../signaling/config.ts';
import { startServer, type RunningServer } from '../../signaling/server.ts';
import { mintTurnCredential } from '../../signaling/turnCredentials.ts';
import { TurnServer } from '../fixtures/turnServer.ts';
import { createRoom, expect, expectSecure, messages, sendMessage, statusOf, test } from './fixtures.ts';

const SECRET = 'coturn-and-parley-share-this';
const ALWAYS_RELAY = 'Always relay (hides your IP address from the other person)';

/** Keeps every RTCPeerConnection of the page reachable, so a test can read its statistics. */
const KEEP_CONNECTIONS = () => {
  const connections: RTCPeerConnection[] = [];
  Object.assign(window, { __connections: connections });
  const Original = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Original {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args);
      connections.push(this);
    }
  };
};

type CandidateTypes = { readonly selected: readonly string[]; readonly local: readonly string[]; readonly remote: readonly string[] };

/** The candidate types of the selected pair (local, remote) and of every candidate the page gathered or was sent. */
function candidateTypes(page: Page): Promise<CandidateTypes> {
  return page.evaluate(async () => {
    const connections = (window as unknown as { __connections: RTCPeerConnection[] }).__connections;
    const selected: string[] = [];
    const local: string[] = [];
    const remote: string[] = [];
    for (const connection of connections) {
      if (connection.connectionState !== 'connected') continue;
      const stats = [...(await connection.getStats()).values()] as Record<string, unknown>[];
      const byId = new Map(stats.map((entry) => [entry['id'], entry]));
      for (const entry of stats) {
        if (entry['type'] === 'local-candidate') local.push(String(entry['candidateType']));
        if (entry['type'] === 'remote-candidate') remote.push(String(entry['candidateType']));
        if (entry['type'] === 'transport' && typeof entry['selectedCandidatePairId'] === 'string') {
          const pair = byId.get(entry['selectedCandidatePairId']);
          selected.push(String(byId.get(pair?.['localCandidateId'])?.['candidateType']), String(byId.get(pair?.['remoteCandidateId'])?.['candidateType']));
        }
      }
    }
    return { selected, local, remote };
  });
}

async function alwaysRelay(page: Page, baseUrl: string): Promise<void> {
  await page.addInitScript(KEEP_CONNECTIONS);
  await page.goto(baseUrl);
  await page.getByLabel(ALWAYS_RELAY).check();
}

const relay = test.extend<{ turn: TurnServer; startParley: (env: Env) => Promise<RunningServer> }>({
  turn: async ({}, use) => {
    const turn = await TurnServer.start(SECRET);
    try {
      await use(turn);
    } finally {
      await turn.stop();
    }
  },
  startParley: async ({}, use) => {
    const servers: RunningServer[] = [];
    await use(async (env) => {
      const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG: 'silent', ...env });
      if (!parsed.ok) throw new Error(parsed.message);
      const server = await startServer(parsed.config);
      servers.push(server);
      return server;
    });
    await Promise.all(servers.map((server) => server.close()));
  },
});

relay('with "Always relay" two people connect only through coturn, with credentials from our server', async ({ newPerson, turn, startParley }) => {
  const parley = await startParley({ TURN_URLS: turn.urls, TURN_SECRET: SECRET });
  const alice = await newPerson();
  const bob = await newPerson();
  await alwaysRelay(alice, parley.url);
  await alwaysRelay(bob, parley.url);
  const link = await createRoom(alice, parley.url);
  await bob.goto(link);
  await expectSecure(alice, bob);
  await sendMessage(alice, 'through the relay');
  await expect(messages(bob).filter({ hasText: 'through the relay' })).toBeVisible();
  for (const page of [alice, bob]) {
    const types = await candidateTypes(page);
    expect(types.selected).toEqual(['relay', 'relay']);
    // Nothing but relay candidates was gathered or received: neither side ever learned the other's addresses.
    expect(new Set([...types.local, ...types.remote])).toEqual(new Set(['relay']));
  }
});

relay('credentials made with the wrong secret fail visibly, in plain words', async ({ newPerson, turn, startParley }) => {
  test.slow();
  const parley = await startParley({ TURN_URLS: turn.urls, TURN_SECRET: 'not-the-secret-coturn-has' });
  const alice = await newPerson();
  const bob = await newPerson();
  await alwaysRelay(alice, parley.url);
  await alwaysRelay(bob, parley.url);
  const link = await createRoom(alice, parley.url);
  await bob.goto(link);
  for (const page of [alice, bob]) {
    await expect(statusOf(page)).toContainText('Could not connect through the relay server (you chose “Always relay”)', { timeout: 45_000 });
  }
});

relay('expired credentials fail visibly, in plain words', async ({ newPerson, turn, startParley }) => {
  test.slow();
  const parley = await startParley({ TURN_URLS: turn.urls, TURN_SECRET: SECRET });
  const expired = mintTurnCredential({ urls: [turn.urls], secret: SECRET, ttlSeconds: 3600 }, Date.now() - 2 * 3600 * 1000);
  const alice = await newPerson();
  const bob = await newPerson();
  for (const page of [alice, bob]) {
    // The right secret, but a lifetime that ended an hour ago: coturn is the one to refuse it.
    await page.route('**/turn-credentials', (route) => route.fulfill({ json: { iceServers: [expired], ttlSeconds: 3600 } }));
    await alwaysRelay(page, parley.url);
  }
  const link = await createRoom(alice, parley.url);
  await bob.goto(link);
  for (const page of [alice, bob]) {
    await expect(statusOf(page)).toContainText('Could not connect through the relay server (you chose “Always relay”)', { timeout: 45_000 });
  }
});

test('a site without a relay server says so as soon as "Always relay" is chosen', async ({ newPerson, parley }) => {
  const page = await newPerson();
  await page.goto(parley.url);
  await page.getByLabel(ALWAYS_RELAY).check();
  await expect(page.getByText('This site has no relay server, so with this on you cannot connect to anyone.')).toBeVisible();
  // The choice is kept for the next visit.
  await page.reload();
  await expect(page.getByLabel(ALWAYS_RELAY)).toBeChecked();
});
