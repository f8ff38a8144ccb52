/**
 * Signaling under load, side by side in one run: Parley on one instance, Parley on two instances sharing rooms
 * through a real redis-server, and PeerServer (the `peer` package), each in processes of their own, each driven by
 * the same cheap load generator spread over several processes (bench/load/loadClient.ts). Half the connections sit
 * in rooms of 2 and half in rooms of 8; once all are in, signals are relayed at a fixed total rate for a fixed
 * window. Per server: connections held, time to open them, relay latency p50/p99 by room size, server memory per
 * connection, and the CPU the servers and the generator used. Everything is bounded in count and time.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { InstanceProcess } from '../../tests/fixtures/instanceProcess.ts';
import { RedisServer } from '../../tests/fixtures/redisServer.ts';
import { machineMs, processMs } from '../cpuMeter.ts';
import { REPO_ROOT, type Check, type Json, type JsonObject, type Section, type SectionResult } from '../harness.ts';
import type { ChildMessage, ConnectReport, LoadKind, LoadPlan, MeasureReport, ParentMessage } from '../load/loadClient.ts';
import { residentBytes } from '../processMemory.ts';
import { round, summarize } from '../stats.ts';

/**
 * 19 000 connections: one process may hold about 20 000 descriptors here, and a single server process holds one per
 * connection (the figure the reference measurements used). BENCH_LOAD_CONNECTIONS lowers it while working.
 */
const MAX_CONNECTIONS = 19_000;
const GENERATOR_PROCESSES = 4;
const SIGNALS_PER_SECOND = 2_000;
const WINDOW_MS = 10_000;
const CONNECT_TIMEOUT_MS = 60_000;
const PHASE_TIMEOUT_MS = 240_000;
const SETTLE_MS = 2_000;
const MAX_IN_FLIGHT_PER_PROCESS = 100;

type Target = {
  readonly id: string;
  readonly label: string;
  readonly kind: LoadKind;
  readonly urls: readonly string[];
  readonly serverPids: readonly number[];
  /** Other processes the setup needs (Redis), measured for memory but not counted per connection. */
  readonly helperPids: readonly number[];
  stop(): Promise<void>;
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function connectionCount(): number {
  const asked = Number(process.env['BENCH_LOAD_CONNECTIONS'] ?? MAX_CONNECTIONS);
  // Even, so that rooms of 2 take up what rooms of 8 leave; at least one room of each per process.
  const whole = Math.floor((Number.isFinite(asked) ? asked : MAX_CONNECTIONS) / 2) * 2;
  return Math.max(GENERATOR_PROCESSES * 10, Math.min(MAX_CONNECTIONS, whole));
}

/** Half the connections in rooms of 8, the rest in rooms of 2, dealt out to the processes room by room. */
function roomsFor(connections: number, processIndex: number): LoadPlan['rooms'] {
  const roomsOf8 = Math.floor(connections / 2 / 8);
  const roomsOf2 = (connections - 8 * roomsOf8) / 2;
  const share = (total: number): number => Math.floor(total / GENERATOR_PROCESSES) + (processIndex < total % GENERATOR_PROCESSES ? 1 : 0);
  return [
    { size: 2, count: share(roomsOf2) },
    { size: 8, count: share(roomsOf8) },
  ];
}

const PARLEY_LOAD_ENV = { MAX_CONNECTIONS: '100000', MAX_CONNECTIONS_PER_IP: '100000', LOG: 'silent' };

function wsUrlOf(instance: InstanceProcess): string {
  return `${instance.url.replace(/^http/, 'ws')}/ws`;
}

async function parleyOne(staticDir: string): Promise<Target> {
  const instance = await InstanceProcess.start({ ...PARLEY_LOAD_ENV, STATIC_DIR: staticDir });
  return {
    id: 'parley-1',
    label: 'Parley, one instance',
    kind: 'parley',
    urls: [wsUrlOf(instance)],
    serverPids: [instance.pid ?? -1],
    helperPids: [],
    stop: () => instance.kill(),
  };
}

async function parleyTwo(staticDir: string): Promise<Target> {
  const redis = await RedisServer.start();
  const instances = [
    await InstanceProcess.start({ ...PARLEY_LOAD_ENV, STATIC_DIR: staticDir, REDIS_URL: redis.url }),
    await InstanceProcess.start({ ...PARLEY_LOAD_ENV, STATIC_DIR: staticDir, REDIS_URL: redis.url }),
  ];
  return {
    id: 'parley-2-redis',
    label: 'Parley, two instances on Redis',
    kind: 'parley',
    urls: instances.map(wsUrlOf),
    serverPids: instances.map((instance) => instance.pid ?? -1),
    helperPids: [redis.pid ?? -1],
    async stop() {
      await Promise.all(instances.map((instance) => instance.kill()));
      await redis.stop();
    },
  };
}

async function peerServer(): Promise<Target> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench', 'load', 'peerServerMain.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('PeerServer did not start')), 20_000);
    void exited.then(() => reject(new Error('PeerServer exited')));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const found = /^PeerServer listening on (\d+)/.exec(line)?.[1];
      if (found === undefined) return;
      clearTimeout(timer);
      resolve(found);
    });
  });
  return {
    id: 'peerserver',
    label: 'PeerServer (peer 1.x)',
    kind: 'peerjs',
    urls: [`ws://127.0.0.1:${port}/peerjs`],
    serverPids: [child.pid ?? -1],
    helperPids: [],
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The generator processes, each answering one message per phase. */
class Generators {
  private constructor(private readonly children: readonly ChildProcess[]) {}

  static start(count: number): Generators {
    const script = path.join(REPO_ROOT, 'bench', 'load', 'loadClient.ts');
    return new Generators(Array.from({ length: count }, () => fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })));
  }

  get pids(): number[] {
    return this.children.map((child) => child.pid ?? -1);
  }

  /** Sends each child its message and collects one answer from each, or fails after `timeoutMs`. */
  ask<T extends ChildMessage>(messages: readonly ParentMessage[], type: T['type'], timeoutMs: number): Promise<T[]> {
    return Promise.all(
      this.children.map(
        (child, index) =>
          new Promise<T>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`a load generator did not answer ${type} within ${timeoutMs / 1000} s`)), timeoutMs);
            const onMessage = (message: ChildMessage): void => {
              if (message.type !== type) return;
              clearTimeout(timer);
              child.off('message', onMessage);
              // Our own child process, answering the message we sent it, with the type we asked for.
              resolve(message as T);
            };
            child.on('message', onMessage);
            child.send(messages[index] ?? messages[0] ?? { type: 'close' });
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) {
              resolve();
              return;
            }
            const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.send({ type: 'close' });
          }),
      ),
    );
  }
}

function sumRss(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (residentBytes(pid) ?? Number.NaN), 0);
}

function sumCpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (processMs(pid) ?? Number.NaN), 0);
}

/** The median of a few samples, so one garbage collection does not decide. */
async function steadyRss(pids: readonly number[]): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(sumRss(pids));
    await sleep(200);
  }
  return summarize(samples).p50;
}

type RunResult = {
  readonly target: Target;
  readonly connections: number;
  readonly connect: readonly ConnectReport[];
  readonly measure: readonly MeasureReport[];
  readonly idleRss: number;
  readonly loadedRss: number;
  readonly helperRss: number;
  readonly serverCpuMs: number;
  readonly generatorCpuMs: number;
  readonly machineBusyMs: number | null;
  readonly wallMs: number;
};

async function runAgainst(target: Target, connections: number, log: (line: string) => void): Promise<RunResult> {
  await sleep(1_000);
  const idleRss = await steadyRss(target.serverPids);
  const generators = Generators.start(GENERATOR_PROCESSES);
  try {
    const plans: ParentMessage[] = Array.from({ length: GENERATOR_PROCESSES }, (_, index) => {
      const plan: LoadPlan = {
        kind: target.kind,
        urls: target.urls,
        rooms: roomsFor(connections, index),
        localAddress: `127.0.0.${10 + index}`,
        maxInFlight: MAX_IN_FLIGHT_PER_PROCESS,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      };
      return { type: 'connect', plan };
    });
    const cpuStart = { server: sumCpuMs(target.serverPids), generators: sumCpuMs(generators.pids), machine: machineMs(), at: performance.now() };
    const connect = await generators.ask<ConnectReport>(plans, 'connected', PHASE_TIMEOUT_MS);
    const opened = connect.reduce((sum, report) => sum + report.opened, 0);
    log(`${target.label}: ${opened} of ${connections} in their rooms in ${(Math.max(...connect.map((report) => report.wallMs)) / 1000).toFixed(1)} s`);
    await sleep(SETTLE_MS);
    const loadedRss = await steadyRss(target.serverPids);
    const measure = await generators.ask<MeasureReport>(
      [{ type: 'measure', signalsPerSecond: SIGNALS_PER_SECOND / GENERATOR_PROCESSES, windowMs: WINDOW_MS }],
      'measured',
      WINDOW_MS + 30_000,
    );
    const machineEnd = machineMs();
    return {
      target,
      connections,
      connect,
      measure,
      idleRss,
      loadedRss,
      helperRss: sumRss(target.helperPids),
      serverCpuMs: sumCpuMs(target.serverPids) - cpuStart.server,
      generatorCpuMs: sumCpuMs(generators.pids) - cpuStart.generators,
      machineBusyMs: machineEnd === null || cpuStart.machine === null ? null : machineEnd.busy - cpuStart.machine.busy,
      wallMs: performance.now() - cpuStart.at,
    };
  } finally {
    await generators.close();
  }
}

function latencies(result: RunResult, size: number): number[] {
  return result.measure.flatMap((report) => [...(report.latencyMsBySize[String(size)] ?? [])]);
}

function describe(result: RunResult): JsonObject {
  const opened = result.connect.reduce((sum, report) => sum + report.opened, 0);
  const summaryOf = (samples: readonly number[]): Json =>
    samples.length === 0 ? null : (Object.fromEntries(Object.entries(summarize(samples)).map(([key, value]) => [key, round(value)])) as JsonObject);
  return {
    server: result.target.label,
    connectionsAsked: result.connections,
    connectionsHeld: opened,
    connectionsFailed: result.connect.reduce((sum, report) => sum + report.failed, 0),
    firstError: result.connect.find((report) => report.firstError !== null)?.firstError ?? null,
    stillOpenAfterRelay: result.measure.reduce((sum, report) => sum + report.stillOpen, 0),
    openAllSeconds: round(Math.max(...result.connect.map((report) => report.wallMs)) / 1000),
    openEachMs: summaryOf(result.connect.flatMap((report) => [...report.openMs])),
    signalsSent: result.measure.reduce((sum, report) => sum + report.sent, 0),
    signalsReceived: result.measure.reduce((sum, report) => sum + report.received, 0),
    relayMsRoomsOf2: summaryOf(latencies(result, 2)),
    relayMsRoomsOf8: summaryOf(latencies(result, 8)),
    serverIdleRssBytes: result.idleRss,
    serverLoadedRssBytes: result.loadedRss,
    serverBytesPerConnection: opened === 0 ? null : round((result.loadedRss - result.idleRss) / opened, 1),
    redisRssBytes: result.target.helperPids.length === 0 ? null : result.helperRss,
    serverCpuMs: round(result.serverCpuMs),
    generatorCpuMs: round(result.generatorCpuMs),
    machineBusyMs: result.machineBusyMs === null ? null : round(result.machineBusyMs),
    wallMs: round(result.wallMs),
  };
}

const kib = (bytes: number | null): string => (bytes === null || !Number.isFinite(bytes) ? '–' : (bytes / 1024).toFixed(1));
const ms = (value: number | undefined): string => (value === undefined ? '–' : value.toFixed(1));

export const signalingLoad: Section = {
  id: 'signaling-load',
  title: 'Signaling under load: Parley (one instance, two on Redis) and PeerServer, same generator',
  timeoutMs: 20 * 60_000,
  usesBrowser: false,
  async run(ctx): Promise<SectionResult> {
    const connections = connectionCount();
    const staticDir = mkdtempSync(path.join(tmpdir(), 'parley-load-'));
    const results: RunResult[] = [];
    try {
      for (const start of [() => parleyOne(staticDir), () => parleyTwo(staticDir), () => peerServer()]) {
        const target = await start();
        try {
          results.push(await runAgainst(target, connections, ctx.log));
        } finally {
          await target.stop();
        }
        // Sockets of the last run leave the kernel's tables before the next one starts.
        await sleep(3_000);
      }
    } finally {
      rmSync(staticDir, { recursive: true, force: true });
    }

    const described = results.map(describe);
    const rows = results.map((result) => {
      const data = describe(result);
      const of2 = latencies(result, 2);
      const of8 = latencies(result, 8);
      const p = (samples: number[], key: 'p50' | 'p99'): string => (samples.length === 0 ? '–' : ms(summarize(samples)[key]));
      const cpuShare = (cpuMs: number): string => `${Math.round((100 * cpuMs) / result.wallMs)}%`;
      return [
        result.target.label,
        `${String(data['connectionsHeld'])}/${result.connections}`,
        String(data['openAllSeconds']),
        `${p(of2, 'p50')} / ${p(of2, 'p99')}`,
        `${p(of8, 'p50')} / ${p(of8, 'p99')}`,
        `${String(data['signalsReceived'])}/${String(data['signalsSent'])}`,
        kib(typeof data['serverBytesPerConnection'] === 'number' ? data['serverBytesPerConnection'] : null),
        cpuShare(result.serverCpuMs),
        cpuShare(result.generatorCpuMs),
      ];
    });

    const byId = new Map(results.map((result) => [result.target.id, result]));
    const checks: Check[] = [];
    const held = (id: string): number => byId.get(id)?.connect.reduce((sum, report) => sum + report.opened, 0) ?? 0;
    const perConnection = (id: string): number => {
      const result = byId.get(id);
      return result === undefined ? Number.NaN : (result.loadedRss - result.idleRss) / Math.max(1, held(id));
    };
    const p99 = (id: string): number => {
      const result = byId.get(id);
      const all = result === undefined ? [] : [...latencies(result, 2), ...latencies(result, 8)];
      return all.length === 0 ? Number.NaN : summarize(all).p99;
    };
    for (const id of ['parley-1', 'parley-2-redis']) {
      checks.push({ name: `${id}: connections held`, target: `${connections} (all asked)`, measured: String(held(id)), met: held(id) === connections });
      checks.push({ name: `${id}: server memory per connection`, target: '< 10 KiB', measured: `${kib(perConnection(id))} KiB`, met: perConnection(id) < 10 * 1024 });
    }
    checks.push({ name: 'parley-1: relay p99 under load', target: '< 25 ms', measured: `${ms(p99('parley-1'))} ms`, met: p99('parley-1') < 25 });
    checks.push({ name: 'parley-2-redis: relay p99 under load', target: '< 30 ms', measured: `${ms(p99('parley-2-redis'))} ms`, met: p99('parley-2-redis') < 30 });

    return {
      data: { connections, generatorProcesses: GENERATOR_PROCESSES, signalsPerSecond: SIGNALS_PER_SECOND, windowMs: WINDOW_MS, runs: described },
      tables: [
        {
          title: `${connections} WebSocket clients (half in rooms of 2, half in rooms of 8) from ${GENERATOR_PROCESSES} generator processes; then ${SIGNALS_PER_SECOND} signals/s for ${WINDOW_MS / 1000} s`,
          columns: ['server', 'held', 'open all (s)', 'relay ms p50/p99, rooms of 2', 'rooms of 8', 'relayed/sent', 'server KiB/conn', 'server CPU', 'generator CPU'],
          rows,
        },
      ],
      checks,
      notes: [
        'CPU is the share of one core over the run (connect phase and relay window); the generator shares the two cores with the servers.',
        'Two instances: members of a room alternate between the instances, so every room of 2 and half of each room of 8 relays through Redis; Redis memory is in the JSON, not in KiB/conn.',
      ],
    };
  },
};
