/**
 * Cuts one bench page off the network for real, outside the browser: inside the bench's private network namespace
 * every packet between the pages crosses the loopback device, so a traffic-control filter on `lo` that sends the
 * page's UDP ports (its WebRTC) and TCP ports (its signaling socket) to a class that drops everything silences that
 * page and no other; removing the filters gives its network back. Chromium's own offline emulation (CDP
 * Network.emulateNetworkConditions) leaves WebRTC untouched, so it cannot cut a data channel.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The namespace tests/run-in-netns.ts makes: one veth pair, 10.77.0.1 and 10.77.0.2, nothing else. */
const NAMESPACE_ADDRESSES = ['10.77.0.1', '10.77.0.2'];
const DROP_CLASS = '1:20';
const FILTER_PRIORITY = '1';

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

export class LoopbackCut {
  private constructor() {}

  /** Installs the drop class on `lo`; a string says why a cut is not possible here. */
  static async prepare(): Promise<LoopbackCut | string> {
    if (process.getuid?.() !== 0) return 'not root, so no traffic control';
    if (!inBenchNamespace()) return "not inside the bench's private network namespace (see tests/run-in-netns.ts)";
    try {
      await tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
      await tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '100gbit');
      await tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', DROP_CLASS, 'htb', 'rate', '8bit', 'ceil', '8bit');
      // A queue of length 0: whatever is classified here is dropped on arrival.
      await tc('qdisc', 'add', 'dev', 'lo', 'parent', DROP_CLASS, 'handle', '20:', 'pfifo', 'limit', '0');
    } catch (error) {
      await tc('qdisc', 'del', 'dev', 'lo', 'root').catch(() => '');
      return `traffic control on lo failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
    }
    return new LoopbackCut();
  }

  /** Drops every packet from or to these local ports from now on; all filters go in with one `tc -batch`. */
  async cut(udpPorts: readonly number[], tcpPorts: readonly number[]): Promise<void> {
    const ports: [string, number][] = [...udpPorts.map((port): [string, number] => ['17', port]), ...tcpPorts.map((port): [string, number] => ['6', port])];
    const lines = ports.flatMap(([protocol, port]) =>
      ['sport', 'dport'].map((end) => `filter add dev lo parent 1: protocol ip prio ${FILTER_PRIORITY} u32 match ip protocol ${protocol} 0xff match ip ${end} ${port} 0xffff flowid ${DROP_CLASS}`),
    );
    const directory = await mkdtemp(path.join(os.tmpdir(), 'parley-cut-'));
    try {
      const batch = path.join(directory, 'filters');
      await writeFile(batch, `${lines.join('\n')}\n`);
      await tc('-batch', batch);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  /** Packets dropped by the cut so far. */
  async dropped(): Promise<number> {
    const match = /dropped (\d+)/.exec(await tc('-s', 'class', 'show', 'dev', 'lo', 'classid', DROP_CLASS));
    return Number(match?.[1] ?? NaN);
  }

  /** Gives the network back: every filter goes, nothing more is dropped. */
  async restore(): Promise<void> {
    await tc('filter', 'del', 'dev', 'lo', 'parent', '1:', 'prio', FILTER_PRIORITY);
  }

  /** Takes the drop class and its queue off `lo` again. */
  async dispose(): Promise<void> {
    await tc('qdisc', 'del', 'dev', 'lo', 'root').catch(() => '');
  }
}
