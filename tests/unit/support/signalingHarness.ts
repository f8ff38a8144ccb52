/**
 * For tests of the signaling server: real servers on ephemeral ports and real clients, all closed after each test,
 * plus helpers that build rooms and check relays.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { ClientOptions } from 'ws';
import { parseConfig, type Env } from '../../../signaling/config.ts';
import { startServer, type RunningServer } from '../../../signaling/server.ts';
import { TestClient, newBlob, newRoomId, wsUrl } from '../../fixtures/signalingClient.ts';

export interface SignalingHarness {
  /** A fresh directory for the test file, removed after it. */
  readonly scratchDir: () => string;
  /** Starts a server on 127.0.0.1, port 0, silent, serving an empty site unless `env` says otherwise. */
  start(env?: Env, writeLine?: (line: string) => void): Promise<RunningServer>;
  connect(server: RunningServer, options?: ClientOptions): Promise<TestClient>;
  /** Connects `count` clients into one fresh room and returns them with their peer ids, in join order. */
  roomOf(server: RunningServer, count: number, options?: ClientOptions): Promise<{ clients: TestClient[]; ids: string[] }>;
}

/** Registers the hooks that clean up after each test; call once at the top of a test file. */
export function signalingHarness(): SignalingHarness {
  let scratchDir = '';
  let emptyStaticDir = '';
  const servers: RunningServer[] = [];
  const clients: TestClient[] = [];

  beforeAll(() => {
    scratchDir = mkdtempSync(path.join(tmpdir(), 'parley-signaling-'));
    emptyStaticDir = path.join(scratchDir, 'empty');
    mkdirSync(emptyStaticDir);
  });

  afterAll(() => {
    rmSync(scratchDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  const connect = async (server: RunningServer, options: ClientOptions = {}): Promise<TestClient> => {
    const client = await TestClient.connect(wsUrl(server.url), { rejectUnauthorized: false, ...options });
    clients.push(client);
    return client;
  };

  return {
    scratchDir: () => scratchDir,
    async start(env = {}, writeLine) {
      const parsed = parseConfig({ PORT: '0', HOST: '127.0.0.1', LOG: 'silent', STATIC_DIR: emptyStaticDir, ...env });
      if (!parsed.ok) throw new Error(parsed.message);
      const server = await startServer(parsed.config, writeLine);
      servers.push(server);
      return server;
    },
    connect,
    async roomOf(server, count, options = {}) {
      const room = newRoomId();
      const members: TestClient[] = [];
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const client = await connect(server, options);
        const joined = await client.join(room);
        for (const earlier of members) expect(await earlier.nextOfType('peer-joined')).toMatchObject({ peer: joined.self });
        members.push(client);
        ids.push(joined.self);
      }
      return { clients: members, ids };
    },
  };
}

export function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`nothing at index ${index}`);
  return item;
}

export async function expectRelay(from: TestClient, fromId: string, to: TestClient, toId: string): Promise<void> {
  const blob = newBlob();
  from.signal(toId, blob);
  expect(await to.next()).toEqual({ v: 1, type: 'signal', from: fromId, blob });
}
