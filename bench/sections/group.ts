/**
 * Groups (issue 9): up to eight bench pages, each in its own browser context of one Chromium, join one room through
 * the real server, composed as the app composes a room. Measured against baselines of the same run: the time from
 * opening the link to being connected with everyone (joins of the 2nd to 8th member, the 4th and 8th three times)
 * against seven raw data channels opened at once; a message to everyone, to its last recipient, against raw
 * RTCDataChannel sends of the same size between the same pages; CPU per message and page memory as the room grows;
 * and, with the room full, one member cut off the network for real and the time from its return until everyone is
 * connected again. groupReport.ts turns the figures into tables.
 */
import type { CDPSession, JSHandle, Page } from '@playwright/test';
import { generateRoomSecret, roomFragment } from '../../src/core/crypto/roomSecret.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { loadBenchPage, SignalRouter } from '../benchPages.ts';
import { machineMs, otherChromiumPids, processMs } from '../cpuMeter.ts';
import { frameSizes } from '../frames.ts';
import { clientPortsTo, LoopbackCut } from '../netCut.ts';
import type { BenchApi, GroupBlock, RoomMark, SentMark } from '../page/benchApi.ts';
import { processIdsOf, residentBytes } from '../processMemory.ts';
import { errorText, type BenchContext, type Section, type SectionResult } from '../harness.ts';
import { reportGroup, type ClockProbe, type CpuBlock, type GroupFigures, type JoinRecord, type LatencyRun, type MemorySnapshot, type Reconnect, type ReconnectMember } from './groupReport.ts';

const MAX_MEMBERS = 8;
/** How many times a newcomer joins a room of this size, leaving in between; other sizes are joined once. */
const JOINS_AT: ReadonlyMap<number, number> = new Map([
  [4, 3],
  [8, 3],
]);
/** Room sizes at which messages, CPU and memory are measured. */
const MESSAGE_SIZES: ReadonlySet<number> = new Set([2, 4, 8]);
const MEMORY_SIZES: ReadonlySet<number> = new Set([1, 2, 4, 8]);
const MESSAGES_PER_BLOCK: ReadonlyMap<number, number> = new Map([
  [2, 40],
  [4, 40],
  [8, 60],
]);
/** Blocks of each variant per size, taking turns so load from elsewhere falls on both alike. */
const BLOCKS_PER_VARIANT = 2;
/** A person's pace, and inside GroupChat's own pacing of a pair (25 at once, then 10 per second). */
const SPACING_MS = 110;
/** After a block's last send: time for its last arrivals, receipts and digests. */
const BLOCK_TAIL_MS = 500;
const TEXT = 'The quick brown fox jumps over the lazy dog. '.repeat(3).slice(0, 100);
const JOIN_TIMEOUT_MS = 20_000;
/** Between joins: a person needs seconds to pass the link on; the newcomer's next key pair is made meanwhile. */
const SETTLE_MS = 1500;
/** Longer than a session's dead time (15 s of silence, noticed within 2.5 s), so every pair with the member breaks. */
const OUTAGE_MS = 20_000;
const RECONNECT_TIMEOUT_MS = 90_000;
/** Cuts, each of another member: how soon the network's return is noticed varies a lot (see the notes). */
const CUTS = 2;
const CLOCK_PROBES = 15;

interface Member {
  readonly index: number;
  readonly page: Page;
  readonly api: JSHandle<BenchApi>;
  readonly cdp: CDPSession;
  readonly rendererPid: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Waits until every member's room has exactly `connected` members connected. */
async function allConnected(members: readonly Pick<Member, 'page' | 'api'>[], connected: number, timeoutMs: number): Promise<void> {
  try {
    await Promise.all(
      members.map((member) => member.page.waitForFunction((n) => window.parleyBench?.connectedCount() === n, connected, { timeout: timeoutMs, polling: 50 })),
    );
  } catch (error) {
    const counts = await Promise.all(members.map((member) => member.api.evaluate((api) => `${api.status()}/${api.connectedCount()}`).catch(() => 'gone')));
    throw new Error(`not every member got to ${connected} connected: ${counts.join(', ')}`, { cause: error });
  }
}

/** First mark at or after `fromEpochMs` at which `connected` members were connected. */
function reachedAt(timeline: readonly RoomMark[], connected: number, fromEpochMs: number): number | null {
  return timeline.find((mark) => mark.atEpochMs >= fromEpochMs && mark.connected >= connected)?.atEpochMs ?? null;
}

class GroupRun {
  private readonly router = new SignalRouter();
  private readonly fragment = roomFragment(generateRoomSecret(systemRandom));
  private readonly benchPort: number;
  readonly members: Member[] = [];
  readonly joins: JoinRecord[] = [];
  /** Per member page, its TCP connections to the bench server (signaling socket, page loads): what a cut must silence besides its WebRTC. */
  private readonly tcpPorts = new Map<number, number[]>();
  private nextIndex = 1;

  constructor(private readonly ctx: BenchContext) {
    this.benchPort = Number(new URL(ctx.benchUrl).port);
  }

  /** A fresh page opens the link (its room starts as it loads); resolves once everyone is connected with it. */
  async join(repeat: number): Promise<void> {
    const size = this.members.length + 1;
    const index = this.nextIndex++;
    const page = await this.ctx.newPage();
    await this.router.attach(page);
    const tcpBefore = clientPortsTo(this.benchPort);
    const api = await loadBenchPage(page, `${this.ctx.benchUrl}/?member=${index}#${this.fragment}`, { isolated: false });
    await allConnected([...this.members, { page, api }], size - 1, JOIN_TIMEOUT_MS);
    const tcpPorts = [...clientPortsTo(this.benchPort)].filter((port) => !tcpBefore.has(port));
    const marks = await api.evaluate((bench) => bench.pageMarks());
    const timeline = await api.evaluate((bench) => bench.roomTimeline());
    const keyPairs = await api.evaluate((bench) => bench.keyPairMarks());
    const othersAt = await Promise.all(this.members.map(async (member) => reachedAt(await member.api.evaluate((bench) => bench.roomTimeline()), size - 1, marks.navigationAtEpochMs)));
    const since = (at: number | null | undefined): number | null => (at === null || at === undefined ? null : at - marks.navigationAtEpochMs);
    const takes = keyPairs.takes.filter((take) => take.atEpochMs >= marks.navigationAtEpochMs);
    const record: JoinRecord = {
      size,
      repeat,
      member: index,
      visibility: marks.visibility,
      loadedMs: since(marks.domContentLoadedAtEpochMs),
      roomStartMs: since(marks.roomStartAtEpochMs),
      keyPairReadyMs: since(keyPairs.generations[0]?.doneAtEpochMs),
      keyPairWaitMs: takes.length === 0 ? null : Math.max(...takes.map((take) => (take.gotAtEpochMs ?? Infinity) - take.atEpochMs)),
      keyPairGenerations: keyPairs.generations.length,
      joinedMs: since(timeline.find((mark) => mark.members >= size - 1)?.atEpochMs),
      firstOpenMs: since(timeline.find((mark) => mark.open >= 1)?.atEpochMs),
      allOpenMs: since(timeline.find((mark) => mark.open >= size - 1)?.atEpochMs),
      connectedMs: since(reachedAt(timeline, size - 1, marks.navigationAtEpochMs)),
      othersConnectedMs: othersAt.some((at) => at === null) ? null : Math.max(0, ...othersAt.map((at) => (at ?? 0) - marks.navigationAtEpochMs)),
    };
    // Off the clock: the CDP session and the renderer's process id (a short trace).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const ids = await processIdsOf(this.ctx.browser, page);
    this.members.push({ index, page, api, cdp, rendererPid: ids.renderer });
    this.tcpPorts.set(index, tcpPorts);
    // The first member opens the room and waits in it alone: it has nobody to connect to.
    if (size > 1) {
      this.joins.push(record);
      this.ctx.log(`member ${size} (page ${index}) connected with everyone ${record.connectedMs?.toFixed(0) ?? '?'} ms after opening the link`);
    }
    await sleep(SETTLE_MS);
  }

  /** The newest member leaves as a closing tab does; resolves once the others see it gone. */
  async leaveLast(): Promise<void> {
    const last = this.members.pop();
    if (last === undefined) return;
    await last.api.evaluate((bench) => bench.leave());
    await this.ctx.closePages(last.page);
    await allConnected(this.members, this.members.length - 1, JOIN_TIMEOUT_MS);
    await sleep(SETTLE_MS);
  }

  /** After collecting garbage in every page: each member's renderer RSS and used JS heap. */
  async memory(size: number): Promise<MemorySnapshot> {
    await Promise.all(this.members.map((member) => member.cdp.send('HeapProfiler.collectGarbage')));
    await sleep(500);
    const pages = await Promise.all(
      this.members.map(async (member) => {
        const metrics = await member.cdp.send('Performance.getMetrics');
        return { member: member.index, rendererRss: residentBytes(member.rendererPid), jsHeapUsed: metrics.metrics.find((metric) => metric.name === 'JSHeapUsedSize')?.value ?? null };
      }),
    );
    return { size, pages };
  }

  /** Each page's epoch clock against Node's, from the probe with the shortest round trip. */
  async clocks(): Promise<ClockProbe[]> {
    const probes: ClockProbe[] = [];
    for (const member of this.members) {
      let best: ClockProbe | null = null;
      for (let i = 0; i < CLOCK_PROBES; i++) {
        const before = epochNowMs();
        const inPage = await member.page.evaluate(() => performance.timeOrigin + performance.now());
        const after = epochNowMs();
        const probe = { member: member.index, offsetMs: inPage - (before + after) / 2, uncertaintyMs: (after - before) / 2 };
        if (best === null || probe.uncertaintyMs < best.uncertaintyMs) best = probe;
      }
      if (best !== null) probes.push(best);
    }
    return probes;
  }

  /** Messages to everyone from the first member, Parley and raw in turns, with every process's CPU per block. */
  async messages(size: number): Promise<{ latency: LatencyRun; cpu: CpuBlock[]; rawOpenMs: number }> {
    const [sender, ...recipients] = this.members;
    if (sender === undefined || recipients.length === 0) throw new Error('messages need at least two members');
    const linkIds = recipients.map((recipient) => `mark-${size}-${recipient.index}`);
    for (const [i, recipient] of recipients.entries()) {
      const linkId = linkIds[i] ?? '';
      this.router.connect(linkId, sender.page, recipient.page);
      await recipient.api.evaluate((bench, id) => bench.openMark(id), linkId);
    }
    let rawOpenMs: number;
    try {
      rawOpenMs = await sender.api.evaluate((bench, ids) => bench.openMarkSenders(ids), linkIds);
      await Promise.all(recipients.map((recipient, i) => recipient.api.evaluate((bench, id) => bench.markOpen(id), linkIds[i] ?? '')));
    } catch (error) {
      throw new Error(`opening raw mark links: ${errorText(error)}${this.router.hint()}`, { cause: error });
    }
    const markBytes = (await frameSizes(TEXT)).messageFrameBytes;
    const count = MESSAGES_PER_BLOCK.get(size) ?? 40;
    const chromium = await otherChromiumPids(this.ctx.browser, []);
    const memberPids = new Set(this.members.map((member) => member.rendererPid));
    const readCpu = () => ({
      atMs: performance.now(),
      sender: processMs(sender.rendererPid),
      recipients: recipients.reduce((sum, recipient) => sum + (processMs(recipient.rendererPid) ?? 0), 0),
      rest: chromium.filter((pid) => !memberPids.has(pid)).reduce((sum, pid) => sum + (processMs(pid) ?? 0), 0),
      machine: machineMs(),
    });
    await Promise.all(this.members.map((member) => member.api.evaluate((bench) => bench.takeArrivals())));
    const latency: LatencyRun = { size, parleyToLast: [], rawToLast: [], rawOneSend: [], parleyOneRecipient: [], parleyHandOff: [], parleyHandedToShown: [], missing: 0 };
    const recipientIds = await Promise.all(recipients.map((recipient) => recipient.api.evaluate((bench) => bench.memberId())));
    const cpu: CpuBlock[] = [];
    let nextMark = 0;
    // Idle blocks before and after, so the floor they give covers the whole run.
    const variants: readonly ('parley' | 'raw' | 'idle')[] = [
      'idle',
      ...Array.from({ length: BLOCKS_PER_VARIANT }, (_, block): ('parley' | 'raw')[] => (block % 2 === 0 ? ['parley', 'raw'] : ['raw', 'parley'])).flat(),
      'idle',
    ];
    for (const variant of variants) {
      const start = readCpu();
      let sent: SentMark[] = [];
      if (variant === 'idle') {
        await sleep(count * SPACING_MS);
      } else {
        const block: GroupBlock = { variant, count, spacingMs: SPACING_MS, text: TEXT, markLinks: linkIds, markBytes, firstMark: nextMark };
        nextMark += count;
        sent = await sender.api.evaluate((bench, plan) => bench.groupBlock(plan), block);
      }
      await sleep(BLOCK_TAIL_MS);
      const end = readCpu();
      cpu.push({
        size,
        variant,
        messages: sent.length,
        wallMs: end.atMs - start.atMs,
        senderMs: end.sender === null || start.sender === null ? null : end.sender - start.sender,
        recipientsMs: end.recipients - start.recipients,
        restMs: end.rest - start.rest,
        machineBusyMs: end.machine === null || start.machine === null ? null : end.machine.busy - start.machine.busy,
      });
      if (variant === 'idle') continue;
      const arrivals = await Promise.all(recipients.map((recipient) => recipient.api.evaluate((bench) => bench.takeArrivals())));
      for (const mark of sent) {
        const times = arrivals.map((arrived) => arrived[mark.key]);
        const present = times.filter((at): at is number => at !== undefined);
        if (present.length < times.length) {
          latency.missing += 1;
          continue;
        }
        const toLast = Math.max(...present) - mark.sentAtEpochMs;
        if (variant === 'parley') {
          latency.parleyToLast.push(toLast);
          latency.parleyOneRecipient.push(...present.map((at) => at - mark.sentAtEpochMs));
          const handed = mark.handedAtEpochMs ?? {};
          const handedTimes = Object.values(handed);
          if (handedTimes.length > 0) latency.parleyHandOff.push(Math.max(...handedTimes) - mark.sentAtEpochMs);
          for (const [r, id] of recipientIds.entries()) {
            const handedAt = id === null ? undefined : handed[id];
            const shownAt = times[r];
            if (handedAt !== undefined && shownAt !== undefined) latency.parleyHandedToShown.push(shownAt - handedAt);
          }
        } else {
          latency.rawToLast.push(toLast);
          latency.rawOneSend.push(...present.map((at) => at - mark.sentAtEpochMs));
        }
      }
    }
    for (const [i, recipient] of recipients.entries()) await recipient.api.evaluate((bench, id) => bench.closeMark(id), linkIds[i] ?? '');
    await sender.api.evaluate((bench, ids) => ids.forEach((id) => bench.closeMark(id)), linkIds);
    const problems = (await Promise.all(this.members.map((member) => member.api.evaluate((bench) => bench.roomProblems())))).flat();
    if (problems.length > 0) throw new Error(`the group engine reported problems: ${problems.slice(0, 3).join('; ')}`);
    this.ctx.log(`messages at ${size} members measured (${latency.parleyToLast.length} Parley, ${latency.rawToLast.length} raw, ${latency.missing} incomplete)`);
    return { latency, cpu, rawOpenMs };
  }

  /**
   * Cuts members off the network for OUTAGE_MS one after another (the newest first), gives each its network back,
   * and times until everyone is connected again; a string says why no cut is possible here.
   */
  async reconnects(count: number): Promise<Reconnect[] | string> {
    const cut = await LoopbackCut.prepare(this.benchPort);
    if (typeof cut === 'string') return cut;
    try {
      const results: Reconnect[] = [];
      for (let round = 1; round <= count; round++) {
        const victim = this.members.at(-round);
        if (victim === undefined) break;
        const result = await this.reconnect(cut, victim, round);
        results.push(result);
        // A room that is not whole again cannot be cut the same way: the next figure would mean something else.
        if (result.timedOut) break;
        await sleep(SETTLE_MS);
      }
      return results;
    } finally {
      await cut.restore().catch(() => {});
      await cut.dispose();
    }
  }

  private async reconnect(cut: LoopbackCut, victim: Member, round: number): Promise<Reconnect> {
    const full = this.members.length - 1;
    const udpPorts = await victim.api.evaluate((bench) => bench.udpPorts());
    const tcpBefore = clientPortsTo(this.benchPort);
    // Its connections to the server as of now: the ones noted when it joined (or reconnected) that are still up.
    const tcpPorts = (this.tcpPorts.get(victim.index) ?? []).filter((port) => tcpBefore.has(port));
    const cutAtEpochMs = epochNowMs();
    await cut.cut(udpPorts, tcpPorts);
    this.ctx.log(`cut ${round}: member page ${victim.index} off the network (${udpPorts.length} UDP ports, ${tcpPorts.length} TCP connections) for ${OUTAGE_MS / 1000} s`);
    await sleep(OUTAGE_MS);
    const heldPackets = await cut.held();
    await cut.restore();
    const returnedAtEpochMs = epochNowMs();
    let timedOut = false;
    try {
      await allConnected(this.members, full, RECONNECT_TIMEOUT_MS);
    } catch {
      timedOut = true;
    }
    // A signaling socket it opened since is its own too (nobody else lost theirs): the next cut must silence it.
    const tcpAfter = clientPortsTo(this.benchPort);
    this.tcpPorts.set(victim.index, [...tcpPorts.filter((port) => tcpAfter.has(port)), ...[...tcpAfter].filter((port) => !tcpBefore.has(port))]);
    const timelines = await Promise.all(this.members.map((member) => member.api.evaluate((bench) => bench.roomTimeline())));
    const logs = await Promise.all(this.members.map((member) => member.api.evaluate((bench) => bench.signalingLog())));
    const members = this.members.map((member, i): ReconnectMember => {
      const timeline = timelines[i] ?? [];
      const during = timeline.filter((mark) => mark.atEpochMs >= cutAtEpochMs && mark.atEpochMs < returnedAtEpochMs);
      const lowest = Math.min(full, ...during.map((mark) => mark.connected));
      const broke = during.find((mark) => mark.connected < full);
      const healed = broke === undefined ? undefined : during.find((mark) => mark.atEpochMs > broke.atEpochMs && mark.connected >= full);
      const back = timeline.find((mark) => mark.atEpochMs >= returnedAtEpochMs && mark.connected >= full);
      const firstBack = timeline.find((mark) => mark.atEpochMs >= returnedAtEpochMs && mark.connected > lowest);
      return {
        member: member.index,
        cut: member === victim,
        lowestConnectedDuringCut: lowest,
        brokeAfterMs: broke === undefined ? null : broke.atEpochMs - cutAtEpochMs,
        healedDuringCut: healed !== undefined,
        firstBackAfterReturnMs: firstBack === undefined ? null : firstBack.atEpochMs - returnedAtEpochMs,
        allBackAfterReturnMs: lowest >= full ? 0 : back === undefined ? null : back.atEpochMs - returnedAtEpochMs,
        signalingAfterCut: (logs[i] ?? []).filter((mark) => mark.atEpochMs >= cutAtEpochMs).map((mark) => ({ event: mark.event, afterCutMs: mark.atEpochMs - cutAtEpochMs })),
        headlinesAfterCut: timeline
          .filter((mark) => mark.atEpochMs >= cutAtEpochMs)
          .map((mark) => ({ headline: mark.headline, connected: mark.connected, afterCutMs: mark.atEpochMs - cutAtEpochMs })),
      };
    });
    const others = members.filter((member) => !member.cut);
    return {
      round,
      outageMs: OUTAGE_MS,
      allowedMs: RECONNECT_TIMEOUT_MS,
      returnedAfterCutMs: returnedAtEpochMs - cutAtEpochMs,
      udpPorts: udpPorts.length,
      tcpConnections: tcpPorts.length,
      heldPackets,
      timedOut,
      othersStayedConnectedAmongThemselves: others.every((member) => member.lowestConnectedDuringCut >= full - 1),
      victim: victim.index,
      members,
    };
  }
}

async function emptyPageMemory(ctx: BenchContext): Promise<MemorySnapshot> {
  const page = await ctx.newPage();
  try {
    await loadBenchPage(page, `${ctx.benchUrl}/?empty`, { isolated: false });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const ids = await processIdsOf(ctx.browser, page);
    // Its key pair pool makes a pair as the page loads, as every page of the app does; let it finish.
    await sleep(SETTLE_MS);
    await cdp.send('HeapProfiler.collectGarbage');
    await sleep(500);
    const metrics = await cdp.send('Performance.getMetrics');
    return { size: 0, pages: [{ member: 0, rendererRss: residentBytes(ids.renderer), jsHeapUsed: metrics.metrics.find((metric) => metric.name === 'JSHeapUsedSize')?.value ?? null }] };
  } finally {
    await ctx.closePages(page);
  }
}

async function run(ctx: BenchContext): Promise<SectionResult> {
  const memory: MemorySnapshot[] = [await emptyPageMemory(ctx)];
  const group = new GroupRun(ctx);
  const latency: LatencyRun[] = [];
  const cpu: CpuBlock[] = [];
  const rawOpenMs: { size: number; ms: number }[] = [];
  let clocks: ClockProbe[] = [];
  for (let size = 1; size <= MAX_MEMBERS; size++) {
    const times = JOINS_AT.get(size) ?? 1;
    for (let repeat = 1; repeat <= times; repeat++) {
      if (repeat > 1) await group.leaveLast();
      await group.join(repeat);
    }
    if (MEMORY_SIZES.has(size)) memory.push(await group.memory(size));
    if (MESSAGE_SIZES.has(size)) {
      if (size === MAX_MEMBERS) clocks = await group.clocks();
      const measured = await group.messages(size);
      latency.push(measured.latency);
      cpu.push(...measured.cpu);
      rawOpenMs.push({ size, ms: measured.rawOpenMs });
    }
  }
  const reconnect = await group.reconnects(CUTS);
  const figures: GroupFigures = { maxMembers: MAX_MEMBERS, spacingMs: SPACING_MS, textChars: TEXT.length, outageMs: OUTAGE_MS, joins: group.joins, latency, cpu, memory, rawOpenMs, clocks, reconnect };
  return reportGroup(figures);
}

export const group: Section = {
  id: 'group',
  title: 'Groups: eight members in one room (bench pages, one Chromium, real server)',
  timeoutMs: 540_000,
  run,
};
