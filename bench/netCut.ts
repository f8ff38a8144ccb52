/**
 * Cuts one bench page off the network for real, outside the browser: inside the bench's private network namespace
 * every packet between the pages crosses the loopback device, so a traffic-control filter on `lo` that steers the
 * page's UDP ports (its WebRTC), its TCP connections to the server (its signaling socket) and any new connection to
 * the server into a class that never sends silences that page and no other; removing the filters and discarding
 * what was held gives its network back. Packets are held rather than dropped so that neither end's TCP sees a local
 * error, only silence, as with an outage further away. Chromium's own offline emulation (CDP
 * Network.emulateNetworkConditions) leaves WebRTC untouched, so it cannot cut a data channel.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The namespace tests/run-in-netns.ts makes: one veth pair, 10.77.0.1 and 10.77.0.2, nothing else. */
const NAMESPACE_ADDRESSES = ['10.77.0.1', '10.77.0.2'];
const HOLD_CLASS = '1:20';
const CUT_PRIORITY = '1';
const BURN_PRIORITY = '2';
/** Room for everything a page sends in a cut (STUN checks, SCTP retransmissions, TCP retries): nothing overflows. */
const HOLD_PACKETS = '100000';

async function tc(...args: readonly string[]): Promise<string> {
  const { stdout } = await run('tc', args);
  return stdout;
}

/** Only inside the bench's own namespace: on a real machine a filter on `lo` would touch everything else too. */
function inBenchNamespace(): boolean {
  const interfaces = os.networkInterfaces();
  const external = Object.entries(interfaces).filter(([name]) => name !== 'lo');
  const addresses = external.flatMap(([, entries]) => (entries ?? []).filter((entry) => entry.family === 'IPv4').map((entry) => entry.address));
  return external.length === 2 && addresses.length === 2 && addresses.every((address) => NAMESPACE_ADDRESSES.includes(address));
}

/** Local ports of the established IPv4 TCP connections to 127.0.0.1:`serverPort` (the clients' ends). */
export function clientPortsTo(serverPort: number): Set<number> {
  const ports = new Set<number>();
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return ports;
  }
  for (const line of table.split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (local === undefined || remote === undefined || state !== '01') continue;
    const remotePort = Number.parseInt(remote.split(':')[1] ?? '', 16);
    const localPort = Number.parseInt(local.split(':')[1] ?? '', 16);
    if (remotePort === serverPort && Number.isInteger(localPort)) ports.add(localPort);
  }
  return ports;
}

/** Discards whatever the hold class holds (replacing its queue drops the packets in it). */
async function discardHeld(): Promise<void> {
  await tc('qdisc', 'replace', 'dev', 'lo', 'parent', HOLD_CLASS, 'handle', '20:', 'pfifo', 'limit', HOLD_PACKETS);
}

/**
 * An htb class lets its first packet through on the tokens it starts with; one large datagram of our own spends
 * them, after which the class's 8 bit/s would take over twenty minutes to send anything again.
 */
async function spendStartingTokens(): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port;
    await tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', BURN_PRIORITY, 'u32', 'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'dport', String(port), '0xffff', 'flowid', HOLD_CLASS);
    for (let i = 0; i < 2; i++) await new Promise<void>((resolve, reject) => socket.send(Buffer.alloc(1400), port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await tc('filter', 'del', 'dev', 'lo', 'parent', '1:', 'prio', BURN_PRIORITY);
    await discardHeld();
  } finally {
    socket.close();
  }
}

export class LoopbackCut {
  private constructor(private readonly serverPort: number) {}

  /** Installs the hold class on `lo`; a string says why a cut is not possible here. */
  static async prepare(serverPort: number): Promise<LoopbackCut | string> {
    if (process.getuid?.() !== 0) return 'not root, so no traffic control';
    if (!inBenchNamespace()) return "not inside the bench's private network namespace (see tests/run-in-netns.ts)";
    try {
      await tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
      await tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '100gbit');
      await tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', HOLD_CLASS, 'htb', 'rate', '8bit', 'ceil', '8bit', 'burst', '1', 'cburst', '1');
      await tc('qdisc', 'add', 'dev', 'lo', 'parent', HOLD_CLASS, 'handle', '20:', 'pfifo', 'limit', HOLD_PACKETS);
      await spendStartingTokens();
    } catch (error) {
      await tc('qdisc', 'del', 'dev', 'lo', 'root').catch(() => '');
      return `traffic control on lo failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
    }
    return new LoopbackCut(serverPort);
  }

  /**
   * Holds every packet from or to these local ports from now on, and every new connection to the server (only the
   * cut page opens one during a cut: its old socket may be given up while it is cut). One `tc -batch` for all.
   */
  async cut(udpPorts: readonly number[], tcpPorts: readonly number[]): Promise<void> {
    const ports: [string, number][] = [...udpPorts.map((port): [string, number] => ['17', port]), ...tcpPorts.map((port): [string, number] => ['6', port])];
    const filter = `filter add dev lo parent 1: protocol ip prio ${CUT_PRIORITY} u32`;
    const lines = [
      ...ports.flatMap(([protocol, port]) => ['sport', 'dport'].map((end) => `${filter} match ip protocol ${protocol} 0xff match ip ${end} ${port} 0xffff flowid ${HOLD_CLASS}`)),
      // A SYN (SYN set, ACK clear; TCP flags at byte 33 behind a 20-byte IP header) to the server.
      `${filter} match ip protocol 6 0xff match ip dport ${this.serverPort} 0xffff match u8 0x02 0x12 at 33 flowid ${HOLD_CLASS}`,
    ];
    const directory = await mkdtemp(path.join(os.tmpdir(), 'parley-cut-'));
    try {
      const batch = path.join(directory, 'filters');
      await writeFile(batch, `${lines.join('\n')}\n`);
      await tc('-batch', batch);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  /** Packets held so far (and any the queue could not hold). */
  async held(): Promise<number> {
    const stats = await tc('-s', 'qdisc', 'show', 'dev', 'lo', 'parent', HOLD_CLASS);
    const backlog = Number(/backlog \S+ (\d+)p/.exec(stats)?.[1] ?? NaN);
    const dropped = Number(/dropped (\d+)/.exec(stats)?.[1] ?? NaN);
    return backlog + dropped;
  }

  /** Gives the network back: the filters go and what was held is discarded, as if lost on the way. */
  async restore(): Promise<void> {
    await tc('filter', 'del', 'dev', 'lo', 'parent', '1:', 'prio', CUT_PRIORITY).catch(() => '');
    await discardHeld();
  }

  /** Takes the hold class and its queue off `lo` again. */
  async dispose(): Promise<void> {
    await tc('qdisc', 'del', 'dev', 'lo', 'root').catch(() => '');
  }
}
