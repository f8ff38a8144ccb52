/**
 * CPU time used while something runs, per Chromium process that matters (the sending and receiving pages'
 * renderers, the browser process, everything else Chromium runs) and for the whole machine, from /proc. On a
 * machine with few cores a transfer is CPU-bound long before it is link-bound, so this says who spent the time.
 * Figures are null where there is no /proc.
 */
import { readFileSync } from 'node:fs';
import type { Browser } from '@playwright/test';

/** Linux reports process times in clock ticks; 100 per second on every common configuration. */
const TICKS_PER_SECOND = 100;

export interface CpuPids {
  readonly sender: number;
  readonly receiver: number;
  readonly browser: number;
  /** Every other Chromium process (GPU, network, storage, spare renderers, earlier sections' leftovers). */
  readonly others: readonly number[];
}

export interface CpuUse {
  readonly wallMs: number;
  readonly senderMs: number | null;
  readonly receiverMs: number | null;
  readonly browserMs: number | null;
  readonly otherChromiumMs: number | null;
  /** Busy time of every core together, whoever used it (other work on a shared machine included). */
  readonly machineBusyMs: number | null;
  /** Cores × wall time. */
  readonly machineCapacityMs: number | null;
}

/** utime + stime of one process, in ms; null if it is gone or there is no /proc. */
export function processMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}

function sumMs(pids: readonly number[]): number | null {
  const values = pids.map(processMs);
  return values.some((value) => value !== null) ? values.reduce<number>((sum, value) => sum + (value ?? 0), 0) : null;
}

/** Busy and total ms of all cores together, from the first line of /proc/stat. */
export function machineMs(): { busy: number; total: number; cores: number } | null {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const ticks = (lines[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((sum, value) => sum + value, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    const cores = lines.filter((line) => /^cpu\d+ /.test(line)).length;
    return { busy: ((total - idle) * 1000) / TICKS_PER_SECOND, total: (total * 1000) / TICKS_PER_SECOND, cores };
  } catch {
    return null;
  }
}

/** Every Chromium process the browser reports, minus the ones named in `known`. */
export async function otherChromiumPids(browser: Browser, known: readonly number[]): Promise<number[]> {
  const session = await browser.newBrowserCDPSession();
  try {
    const info = await session.send('SystemInfo.getProcessInfo');
    return info.processInfo.map((entry) => entry.id).filter((pid) => !known.includes(pid));
  } finally {
    await session.detach();
  }
}

interface Reading {
  readonly atMs: number;
  readonly sender: number | null;
  readonly receiver: number | null;
  readonly browser: number | null;
  readonly others: number | null;
  readonly machine: { busy: number; total: number; cores: number } | null;
}

function diff(after: number | null, before: number | null): number | null {
  return after === null || before === null ? null : after - before;
}

export class CpuMeter {
  constructor(private readonly pids: CpuPids) {}

  read(): Reading {
    return {
      atMs: performance.now(),
      sender: processMs(this.pids.sender),
      receiver: processMs(this.pids.receiver),
      browser: processMs(this.pids.browser),
      others: sumMs(this.pids.others),
      machine: machineMs(),
    };
  }

  since(start: Reading): CpuUse {
    const end = this.read();
    const wallMs = end.atMs - start.atMs;
    const machine = end.machine !== null && start.machine !== null ? end.machine : null;
    return {
      wallMs,
      senderMs: diff(end.sender, start.sender),
      receiverMs: diff(end.receiver, start.receiver),
      browserMs: diff(end.browser, start.browser),
      otherChromiumMs: diff(end.others, start.others),
      machineBusyMs: machine === null || start.machine === null ? null : machine.busy - start.machine.busy,
      machineCapacityMs: machine === null ? null : machine.cores * wallMs,
    };
  }
}
