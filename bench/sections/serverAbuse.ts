/**
 * Attacks on the real signaling server, each for a bounded time with a fixed number of sockets, against a fresh
 * server in a child process of its own (so its resident memory is the server's alone, read from /proc). Per attack:
 * the server's RSS and log lines at the start and the end of the attack window, how many connections the attacker
 * holds at the end, and whether a second address can still join a room. "Flat" means end/start stays near 1.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { WebSocket, type ClientOptions } from 'ws';
import { TestClient, newNonce, newRoomId } from '../../tests/fixtures/signalingClient.ts';
import { errorText, REPO_ROOT, type Check, type JsonObject, type Section, type SectionResult } from '../harness.ts';
import { residentBytes } from '../processMemory.ts';
import { round } from '../stats.ts';

/** The attacker is 127.0.0.1; the neighbour is another loopback address, so to the server another host. */
const ATTACKER_ADDRESS = '127.0.0.1';
const SECOND_ADDRESS = '127.0.0.2';
/** After the attacker's sockets are in place: time for the attack to reach its steady state, then the measured window. */
const WARM_UP_MS = 1_000;
const WINDOW_MS = 4_000;
const SAMPLE_EVERY_MS = 250;
/** Samples at each end of the window whose median stands for it, so one garbage collection does not decide. */
const SAMPLES_PER_END = 3;
const STARTUP_TIMEOUT_MS = 15_000;
const JOIN_TIMEOUT_MS = 2_000;
/** What "flat" must mean here: memory within 10 % over the window, and not one more log line. */
const MAX_RSS_RATIO = 1.1;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** The real server, started as `npm run serve` would start it, with its log on stdout counted line by line. */
class ServerProcess {
  #lines = 0;

  private constructor(
    private readonly child: ChildProcessByStdio<null, Readable, Readable>,
    readonly url: string,
    private readonly exited: Promise<void>,
  ) {}

  static async start(env: Readonly<Record<string, string>>): Promise<ServerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'signaling', 'main.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: '0', HOST: ATTACKER_ADDRESS, LOG: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
    const lines = createInterface({ input: child.stdout });
    let server: ServerProcess | null = null;
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not start: ${stderr.trim()}`)), STARTUP_TIMEOUT_MS);
      void exited.then(() => reject(new Error(`the server exited: ${stderr.trim()}`)));
      lines.on('line', (line) => {
        if (server !== null) {
          server.#lines += 1;
          return;
        }
        const port = /^Parley is running at https?:\/\/[^:]+:(\d+)/.exec(line)?.[1];
        if (port === undefined) return;
        clearTimeout(timer);
        resolve(`http://${ATTACKER_ADDRESS}:${port}`);
      });
    });
    server = new ServerProcess(child, url, exited);
    return server;
  }

  get wsUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/ws`;
  }

  /** Log lines written since the server said it was running. */
  get logLines(): number {
    return this.#lines;
  }

  rssBytes(): number {
    return residentBytes(this.child.pid ?? null) ?? Number.NaN;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** An attack in progress: what the attacker holds right now, and how to call it off. */
interface AttackRun {
  /** Connections the attacker has open at this moment (WebSockets, or TCP connections for requests). */
  held(): number;
  /** Connections it has tried to open so far. */
  tried(): number;
  stop(): void;
}

interface Attack {
  readonly id: string;
  readonly what: string;
  /** Server settings for this attack, on top of the defaults. */
  readonly env: Readonly<Record<string, string>>;
  begin(server: ServerProcess): Promise<AttackRun>;
}

function quietly(socket: WebSocket): WebSocket {
  socket.on('error', () => {});
  return socket;
}

/** Resolves once the socket is open, or once the server has refused it; never rejects. */
function settled(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('open', () => resolve());
    socket.once('close', () => resolve());
    socket.once('unexpected-response', (request) => {
      request.destroy();
      resolve();
    });
  });
}

function joinFrame(): string {
  return JSON.stringify({ v: 1, type: 'join', room: newRoomId(), nonce: newNonce() });
}

/** A set of attacker WebSockets, counted while they are open. */
class Sockets {
  readonly all: WebSocket[] = [];

  open(url: string, options: ClientOptions = {}): WebSocket {
    const socket = quietly(new WebSocket(url, { localAddress: ATTACKER_ADDRESS, ...options }));
    this.all.push(socket);
    return socket;
  }

  held(): number {
    return this.all.filter((socket) => socket.readyState === WebSocket.OPEN).length;
  }

  closeAll(): void {
    for (const socket of this.all) socket.terminate();
  }
}

/** One host opens three times its share of WebSockets, joins a room on each, and keeps retrying. */
const slotHoarding: Attack = {
  id: 'slot-hoarding',
  what: '150 WebSockets from one address, each joined; one more every 20 ms',
  env: { MAX_CONNECTIONS: '100' },
  async begin(server) {
    const sockets = new Sockets();
    const openOne = (): WebSocket => {
      const socket = sockets.open(server.wsUrl);
      socket.once('open', () => socket.send(joinFrame()));
      return socket;
    };
    await Promise.all(Array.from({ length: 150 }, () => settled(openOne())));
    const retry = setInterval(openOne, 20);
    return {
      held: () => sockets.held(),
      tried: () => sockets.all.length,
      stop: () => {
        clearInterval(retry);
        sockets.closeAll();
      },
    };
  },
};

/** A page of another site making its visitors' browsers connect: upgrades that carry a foreign Origin. */
const foreignOrigin: Attack = {
  id: 'foreign-origin',
  what: '150 upgrades with Origin https://evil.example; one more every 10 ms',
  env: {},
  async begin(server) {
    const sockets = new Sockets();
    const openOne = (): WebSocket => sockets.open(server.wsUrl, { origin: 'https://evil.example' });
    await Promise.all(Array.from({ length: 150 }, () => settled(openOne())));
    const retry = setInterval(openOne, 10);
    return {
      held: () => sockets.held(),
      tried: () => sockets.all.length,
      stop: () => {
        clearInterval(retry);
        sockets.closeAll();
      },
    };
  },
};

/** Requests that never finish: a header line every half second, never the blank line that ends the headers. */
const unfinishedRequests: Attack = {
  id: 'unfinished-requests',
  what: '300 TCP connections sending an upgrade request one header at a time',
  env: {},
  async begin(server) {
    const port = Number(new URL(server.url).port);
    const connections = await Promise.all(
      Array.from(
        { length: 300 },
        () =>
          new Promise<{ socket: net.Socket; closed: () => boolean }>((resolve) => {
            let closed = false;
            const socket = net.connect({ host: ATTACKER_ADDRESS, port, localAddress: ATTACKER_ADDRESS });
            socket.on('error', () => {});
            socket.on('close', () => (closed = true));
            socket.once('connect', () => {
              socket.write(`GET /ws HTTP/1.1\r\nHost: ${ATTACKER_ADDRESS}:${port}\r\nUpgrade: websocket\r\n`);
              resolve({ socket, closed: () => closed });
            });
            socket.once('close', () => resolve({ socket, closed: () => true }));
          }),
      ),
    );
    const trickle = setInterval(() => {
      for (const { socket, closed } of connections) if (!closed()) socket.write('X-Slow: 1\r\n');
    }, 500);
    return {
      held: () => connections.filter(({ closed }) => !closed()).length,
      tried: () => connections.length,
      stop: () => {
        clearInterval(trickle);
        for (const { socket } of connections) socket.destroy();
      },
    };
  },
};

/**
 * Messages that never end: each socket parks as much of an unfinished message as the server will hold (seven 8 KiB
 * fragments, 56 KiB, just under the 64 KiB frame limit; one more fragment and it is closed with 1009) and keeps it.
 */
const halfSentMessages: Attack = {
  id: 'half-sent-messages',
  what: '50 WebSockets each parking 56 KiB of an unfinished message (one fragment more would be closed)',
  env: {},
  async begin(server) {
    const sockets = new Sockets();
    const fragment = Buffer.alloc(8 * 1024, 0x78).toString('latin1');
    const openOne = (): WebSocket => {
      const socket = sockets.open(server.wsUrl);
      socket.once('open', () => {
        for (let i = 0; i < 7; i++) socket.send(fragment, { fin: false });
      });
      return socket;
    };
    await Promise.all(Array.from({ length: 50 }, () => settled(openOne())));
    return {
      held: () => sockets.held(),
      tried: () => sockets.all.length,
      stop: () => sockets.closeAll(),
    };
  },
};

/**
 * Clients that stop reading, send bad frames just under the flood line (150 a second against a rate of 50: most
 * are refused) and answer the heartbeat blindly with pongs of their own: error replies must not pile up for them.
 */
const errorPileUp: Attack = {
  id: 'error-pile-up',
  what: '50 joined WebSockets that stop reading, send 150 bad frames/s each and unsolicited pongs',
  env: {},
  async begin(server) {
    const sockets = new Sockets();
    const timers: NodeJS.Timeout[] = [];
    const openOne = (): WebSocket => {
      const socket = sockets.open(server.wsUrl);
      socket.once('open', () => {
        socket.send(joinFrame());
        socket.pause();
        timers.push(
          setInterval(() => {
            if (socket.readyState !== WebSocket.OPEN) return;
            for (let i = 0; i < 3; i++) socket.send('not json');
            socket.pong();
          }, 20),
        );
      });
      return socket;
    };
    await Promise.all(Array.from({ length: 50 }, () => settled(openOne())));
    return {
      held: () => sockets.held(),
      tried: () => sockets.all.length,
      stop: () => {
        for (const timer of timers) clearInterval(timer);
        sockets.closeAll();
      },
    };
  },
};

const ATTACKS: readonly Attack[] = [slotHoarding, foreignOrigin, unfinishedRequests, halfSentMessages, errorPileUp];

/** Whether a client from the second address can connect and join a room while the attack goes on. */
async function secondAddressJoins(server: ServerProcess): Promise<string> {
  let client: TestClient | null = null;
  try {
    client = await TestClient.connect(server.wsUrl, { localAddress: SECOND_ADDRESS });
    client.send({ v: 1, type: 'join', room: newRoomId(), nonce: newNonce() });
    const frame = await client.next(JOIN_TIMEOUT_MS);
    return frame.type === 'joined' ? 'joined' : frame.type === 'error' ? `refused: ${frame.code}` : `got ${frame.type}`;
  } catch (error) {
    return `failed: ${errorText(error)}`;
  } finally {
    client?.close();
  }
}

type Measured = {
  readonly id: string;
  readonly what: string;
  readonly env: Readonly<Record<string, string>>;
  readonly attackerTried: number;
  readonly attackerHolds: number;
  readonly secondAddress: string;
  readonly rssBeforeBytes: number;
  readonly rssStartBytes: number;
  readonly rssEndBytes: number;
  readonly rssEndToStart: number;
  readonly logLinesBefore: number;
  readonly logLinesStart: number;
  readonly logLinesEnd: number;
  readonly logEndToStart: number;
};

async function runAttack(attack: Attack, log: (line: string) => void): Promise<Measured> {
  const server = await ServerProcess.start(attack.env);
  try {
    await sleep(500);
    const rssBefore = median([server.rssBytes(), (await sleep(100), server.rssBytes()), (await sleep(100), server.rssBytes())]);
    const logLinesBefore = server.logLines;
    const run = await attack.begin(server);
    try {
      await sleep(WARM_UP_MS);
      const rss: number[] = [];
      const logLinesStart = server.logLines;
      for (let elapsed = 0; elapsed <= WINDOW_MS; elapsed += SAMPLE_EVERY_MS) {
        rss.push(server.rssBytes());
        await sleep(SAMPLE_EVERY_MS);
      }
      const logLinesEnd = server.logLines;
      const rssStart = median(rss.slice(0, SAMPLES_PER_END));
      const rssEnd = median(rss.slice(-SAMPLES_PER_END));
      const attackerHolds = run.held();
      const secondAddress = await secondAddressJoins(server);
      log(`${attack.id}: attacker holds ${attackerHolds} of ${run.tried()}; second address ${secondAddress}`);
      return {
        id: attack.id,
        what: attack.what,
        env: attack.env,
        attackerTried: run.tried(),
        attackerHolds,
        secondAddress,
        rssBeforeBytes: rssBefore,
        rssStartBytes: rssStart,
        rssEndBytes: rssEnd,
        rssEndToStart: round(rssEnd / rssStart, 3),
        logLinesBefore,
        logLinesStart,
        logLinesEnd,
        logEndToStart: round(logLinesEnd / Math.max(1, logLinesStart), 3),
      };
    } finally {
      run.stop();
    }
  } finally {
    await server.stop();
  }
}

function checkOf(result: Measured): Check {
  const met = result.rssEndToStart <= MAX_RSS_RATIO && result.logLinesEnd === result.logLinesStart && result.secondAddress === 'joined';
  return {
    name: `server-abuse ${result.id}: memory and log flat, second address joins`,
    target: `RSS end/start ≤ ${MAX_RSS_RATIO}, no new log line in the window, second address joined`,
    measured: `RSS ${result.rssEndToStart.toFixed(2)}, log ${result.logLinesStart}→${result.logLinesEnd}, ${result.secondAddress}`,
    met,
  };
}

export const serverAbuse: Section = {
  id: 'server-abuse',
  title: 'Server abuse: attacks on the real signaling server (child process, default limits unless noted)',
  timeoutMs: 180_000,
  async run(ctx): Promise<SectionResult> {
    const results: Measured[] = [];
    for (const attack of ATTACKS) results.push(await runAttack(attack, ctx.log));
    const data: JsonObject = {
      warmUpMs: WARM_UP_MS,
      windowMs: WINDOW_MS,
      attacks: results.map((result) => ({ ...result, env: { ...result.env } })),
    };
    return {
      data,
      checks: results.map(checkOf),
      tables: [
        {
          title: `Per attack, over a ${WINDOW_MS / 1000} s window after ${WARM_UP_MS / 1000} s of warm-up (RSS in MiB, the server process alone)`,
          columns: ['attack', 'attacker tried', 'attacker holds', 'second address', 'RSS idle', 'RSS start', 'RSS end', 'end/start', 'log start', 'log end', 'end/start'],
          rows: results.map((result) => [
            result.id,
            String(result.attackerTried),
            String(result.attackerHolds),
            result.secondAddress,
            mib(result.rssBeforeBytes),
            mib(result.rssStartBytes),
            mib(result.rssEndBytes),
            result.rssEndToStart.toFixed(2),
            String(result.logLinesStart),
            String(result.logLinesEnd),
            result.logEndToStart.toFixed(2),
          ]),
        },
      ],
      notes: [
        ...ATTACKS.map((attack) => `${attack.id}: ${attack.what}${Object.keys(attack.env).length === 0 ? '' : ` (${Object.entries(attack.env).map(([name, value]) => `${name}=${value}`).join(', ')})`}.`),
        `The attacker is ${ATTACKER_ADDRESS}, the second address ${SECOND_ADDRESS}; log lines count from server start (opens, refusals, turned-away connections).`,
        'The operating system buffers the first few hundred KiB that a client leaves unread, so within seconds an error pile-up shows in the log lines before it shows in RSS.',
      ],
    };
  },
};
