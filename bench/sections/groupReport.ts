/**
 * Turns the group section's figures into its tables, targets, JSON and notes: joining against raw channels opened at
 * once, message latency to the last recipient against raw sends, CPU per message and page memory as the room grows,
 * and the reconnect after a member's network was cut.
 */
import type { Check, Json, JsonObject, SectionResult, Table } from '../harness.ts';
import { median, round, roundSummary, summarize, type Summary } from '../stats.ts';

const MIB = 1024 * 1024;
const JOIN_TARGET_MS = 2000;
const LATENCY_TARGET_DIFF_MS = 5;

export interface JoinRecord {
  /** Room size once it joined: it is the size-th member. */
  readonly size: number;
  readonly repeat: number;
  readonly member: number;
  readonly visibility: string;
  /** All ms from the newcomer's navigation start (opening the link), by its own clock. */
  readonly loadedMs: number | null;
  readonly roomStartMs: number | null;
  readonly keyPairReadyMs: number | null;
  /** The longest any of its sessions waited in take() for a key pair. */
  readonly keyPairWaitMs: number | null;
  readonly keyPairGenerations: number;
  /** The server listed everyone (the room knows every member). */
  readonly joinedMs: number | null;
  readonly firstOpenMs: number | null;
  readonly allOpenMs: number | null;
  /** Connected (secure and admitted) with every other member. */
  readonly connectedMs: number | null;
  /** Every other member connected with it, by their clocks. */
  readonly othersConnectedMs: number | null;
}

export interface LatencyRun {
  readonly size: number;
  /** Per message to everyone: send → shown by its last recipient. */
  readonly parleyToLast: number[];
  /** Per raw fan-out (the same bytes on every raw channel, one after another): send → last arrival. */
  readonly rawToLast: number[];
  /** Per raw message on one channel: send → arrival. */
  readonly rawOneSend: number[];
  /** Per Parley message per recipient: send → shown. */
  readonly parleyOneRecipient: number[];
  /** Per Parley message: send → GroupChat handed it to the last addressee's session (stored, queued; not yet sealed). */
  readonly parleyHandOff: number[];
  /** Per Parley message per recipient: handed to that session → shown there (seal, peer adapter, network, open, RoomSession, GroupChat). */
  readonly parleyHandedToShown: number[];
  /** Messages some recipient never reported. */
  missing: number;
}

export interface CpuBlock {
  readonly size: number;
  readonly variant: 'parley' | 'raw' | 'idle';
  readonly messages: number;
  readonly wallMs: number;
  readonly senderMs: number | null;
  /** All other members' renderers together. */
  readonly recipientsMs: number;
  /** Every other Chromium process: browser, network service (WebRTC's sockets live there), GPU, storage. */
  readonly restMs: number;
  readonly machineBusyMs: number | null;
}

export interface MemorySnapshot {
  /** Members in the room; 0 for a bench page that opened no room. */
  readonly size: number;
  readonly pages: readonly { readonly member: number; readonly rendererRss: number | null; readonly jsHeapUsed: number | null }[];
}

export interface ClockProbe {
  readonly member: number;
  /** The page's epoch clock minus Node's. */
  readonly offsetMs: number;
  /** Half the probe's round trip. */
  readonly uncertaintyMs: number;
}

export interface ReconnectMember {
  readonly member: number;
  readonly cut: boolean;
  readonly lowestConnectedDuringCut: number;
  /** From the cut until its first pair broke; null if none did. */
  readonly brokeAfterMs: number | null;
  /** Connected with everyone again before the network returned: the cut leaked. */
  readonly healedDuringCut: boolean;
  readonly firstBackAfterReturnMs: number | null;
  /** From the network's return until it was connected with everyone again (0 if it never lost anyone). */
  readonly allBackAfterReturnMs: number | null;
  /** Its signaling socket's events from the cut on (ms after the cut). */
  readonly signalingAfterCut: readonly { readonly event: string; readonly afterCutMs: number }[];
  readonly headlinesAfterCut: readonly { readonly headline: string; readonly connected: number; readonly afterCutMs: number }[];
}

export interface Reconnect {
  readonly round: number;
  readonly outageMs: number;
  /** How long after the return everyone had to be connected again. */
  readonly allowedMs: number;
  /** When the filters were gone, ms after the cut began. */
  readonly returnedAfterCutMs: number;
  readonly udpPorts: number;
  readonly tcpConnections: number;
  /** Packets the cut held back (and then discarded). */
  readonly heldPackets: number;
  readonly timedOut: boolean;
  readonly othersStayedConnectedAmongThemselves: boolean;
  readonly victim: number;
  readonly members: readonly ReconnectMember[];
}

export interface GroupFigures {
  readonly maxMembers: number;
  readonly spacingMs: number;
  readonly textChars: number;
  readonly outageMs: number;
  readonly joins: readonly JoinRecord[];
  readonly latency: readonly LatencyRun[];
  readonly cpu: readonly CpuBlock[];
  readonly memory: readonly MemorySnapshot[];
  /** Ms for the first member to open raw data channels to all the others at once (signals relayed by Node). */
  readonly rawOpenMs: readonly { readonly size: number; readonly ms: number }[];
  readonly clocks: readonly ClockProbe[];
  /** One per cut, or why no cut was made. */
  readonly reconnect: readonly Reconnect[] | string;
}

function cell(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function mib(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '-' : (bytes / MIB).toFixed(1);
}

function present(values: readonly (number | null)[]): number[] {
  return values.filter((value): value is number => value !== null && Number.isFinite(value));
}

function medianOrNull(values: readonly (number | null)[]): number | null {
  const kept = present(values);
  return kept.length === 0 ? null : median(kept);
}

function summaryOrNull(values: readonly number[]): Summary | null {
  return values.length === 0 ? null : roundSummary(summarize(values));
}

function latencyRow(size: number, label: string, values: readonly number[]): string[] {
  const summary = summaryOrNull(values);
  return [String(size), label, String(values.length), cell(summary?.p50, 2), cell(summary?.p90, 2), cell(summary?.p99, 2), cell(summary?.max, 2)];
}

/** CPU ms per message of one variant at one size, with the idle block's rate of the same size taken off. */
function cpuPerMessage(blocks: readonly CpuBlock[], size: number, variant: 'parley' | 'raw'): { sender: number | null; recipients: number; rest: number; total: number | null } | null {
  const idle = blocks.find((block) => block.size === size && block.variant === 'idle');
  const runs = blocks.filter((block) => block.size === size && block.variant === variant);
  const messages = runs.reduce((sum, block) => sum + block.messages, 0);
  if (idle === undefined || messages === 0) return null;
  const wallMs = runs.reduce((sum, block) => sum + block.wallMs, 0);
  const above = (pick: (block: CpuBlock) => number | null): number | null => {
    const used = runs.map(pick);
    const idleMs = pick(idle);
    if (used.some((value) => value === null) || idleMs === null) return null;
    return (present(used).reduce((sum, value) => sum + value, 0) - (idleMs * wallMs) / idle.wallMs) / messages;
  };
  const sender = above((block) => block.senderMs);
  const recipients = above((block) => block.recipientsMs) ?? 0;
  const rest = above((block) => block.restMs) ?? 0;
  return { sender, recipients, rest, total: sender === null ? null : sender + recipients };
}

/** From the network's return until the last member was connected with everyone again; null if one never was. */
function allBackAfterReturn(entry: Reconnect): number | null {
  const back = entry.members.map((member) => member.allBackAfterReturnMs);
  return back.some((ms) => ms === null) ? null : Math.max(...present(back));
}

function outageText(entries: readonly Reconnect[]): string {
  return `${((entries[0]?.outageMs ?? 0) / 1000).toFixed(0)} s`;
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

function joinsOf(joins: readonly JoinRecord[], size: number): JoinRecord[] {
  return joins.filter((join) => join.size === size);
}

export function reportGroup(figures: GroupFigures): SectionResult {
  const { joins, latency, cpu, memory, reconnect, maxMembers } = figures;
  const sizes = latency.map((run) => run.size);
  const connectedMedian = (size: number): number | null => medianOrNull(joinsOf(joins, size).map((join) => join.connectedMs));
  const eighth = connectedMedian(maxMembers);
  const fourth = connectedMedian(4);
  const full = latency.find((run) => run.size === maxMembers);
  const parleyFull = summaryOrNull(full?.parleyToLast ?? []);
  const rawOneFull = summaryOrNull(full?.rawOneSend ?? []);
  const latencyDiff = parleyFull === null || rawOneFull === null ? null : parleyFull.p50 - rawOneFull.p50;
  const rawOpenFull = figures.rawOpenMs.find((entry) => entry.size === maxMembers)?.ms ?? null;
  const sender = figures.clocks[0];
  const clockSpread = sender === undefined ? null : Math.max(...figures.clocks.map((probe) => Math.abs(probe.offsetMs - sender.offsetMs)));
  const clockUncertainty = figures.clocks.length === 0 ? null : Math.max(...figures.clocks.map((probe) => probe.uncertaintyMs));
  const missing = latency.reduce((sum, run) => sum + run.missing, 0);

  const checks: Check[] = [
    {
      name: `${ordinal(maxMembers)} member: opening the link → connected with all ${maxMembers - 1} others (median of ${joinsOf(joins, maxMembers).length})`,
      target: `< ${JOIN_TARGET_MS} ms`,
      measured: `${cell(eighth)} ms (4th member: ${cell(fourth)} ms; ${maxMembers - 1} raw channels opened at once: ${cell(rawOpenFull)} ms)`,
      met: eighth !== null && eighth < JOIN_TARGET_MS,
    },
    {
      name: `Message to all ${maxMembers - 1} others, p50 to the last recipient minus one raw send's p50`,
      target: `<= ${LATENCY_TARGET_DIFF_MS} ms`,
      measured: latencyDiff === null ? 'not measured' : `${latencyDiff.toFixed(2)} ms (${parleyFull?.p50.toFixed(2)} vs ${rawOneFull?.p50.toFixed(2)} ms)`,
      met: latencyDiff !== null && latencyDiff <= LATENCY_TARGET_DIFF_MS,
    },
    {
      name: 'Every message to everyone reached every recipient, Parley and raw',
      target: 'all',
      measured: `${missing} incomplete`,
      met: missing === 0,
    },
  ];
  if (typeof reconnect !== 'string') {
    const everyone = reconnect.map(allBackAfterReturn);
    const leaked = reconnect.some((entry) => entry.members.some((member) => member.healedDuringCut));
    checks.push({
      name: `After a ${outageText(reconnect)} network cut of one member, everyone connected again (${reconnect.length} cuts, each of another member)`,
      target: 'every time',
      measured: leaked
        ? 'the cut leaked: a pair came back before the network did'
        : `${everyone.map((ms, i) => (ms === null ? `not within ${((reconnect[i]?.allowedMs ?? 0) / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`)).join(', ')} after the network returned`,
      met: !leaked && everyone.every((ms) => ms !== null),
    });
  }

  const tables: Table[] = [
    {
      title: "Joining: ms from opening the link (navigation start, the newcomer's clock) until each step",
      columns: ['member', 'run', 'page loaded', 'room started', 'key pair ready', 'everyone listed', 'first channel open', 'all channels open', 'connected with all', 'all with it', 'waited for key pair'],
      rows: joins.map((join) => [
        ordinal(join.size),
        String(join.repeat),
        cell(join.loadedMs),
        cell(join.roomStartMs),
        cell(join.keyPairReadyMs),
        cell(join.joinedMs),
        cell(join.firstOpenMs),
        cell(join.allOpenMs),
        cell(join.connectedMs),
        cell(join.othersConnectedMs),
        cell(join.keyPairWaitMs),
      ]),
    },
    {
      title: 'Joining, summed up (ms; median of the runs) against raw data channels opened at once by one page of the room',
      columns: ['room size after the join', 'runs', 'connected with all (median)', 'min', 'max', 'raw channels to the others, all open'],
      rows: [...new Set(joins.map((join) => join.size))].map((size) => {
        const values = present(joinsOf(joins, size).map((join) => join.connectedMs));
        return [String(size), String(values.length), cell(medianOrNull(values)), cell(Math.min(...values)), cell(Math.max(...values)), cell(figures.rawOpenMs.find((entry) => entry.size === size)?.ms)];
      }),
    },
    {
      title: `A ${figures.textChars}-character message to everyone, from the first member, sends ${figures.spacingMs} ms apart (ms from the send)`,
      columns: ['members', 'variant', 'n', 'p50', 'p90', 'p99', 'max'],
      rows: latency.flatMap((run) => [
        latencyRow(run.size, 'Parley, shown by the last recipient', run.parleyToLast),
        latencyRow(run.size, 'raw, same bytes on every channel, last arrival', run.rawToLast),
        latencyRow(run.size, 'raw, one send to one member', run.rawOneSend),
        latencyRow(run.size, 'Parley, shown by each recipient', run.parleyOneRecipient),
      ]),
    },
    {
      title: 'Message to everyone compared in this run (p50 and p99, ms)',
      columns: ['members', 'Parley last − raw one send, p50', 'p99', 'Parley last − raw last, p50', 'p99'],
      rows: latency.map((run) => {
        const parley = summaryOrNull(run.parleyToLast);
        const one = summaryOrNull(run.rawOneSend);
        const last = summaryOrNull(run.rawToLast);
        const diff = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? '-' : (a - b).toFixed(2));
        return [String(run.size), diff(parley?.p50, one?.p50), diff(parley?.p99, one?.p99), diff(parley?.p50, last?.p50), diff(parley?.p99, last?.p99)];
      }),
    },
    {
      title: "Where Parley's time to the last recipient goes (p50 and p90, ms; the pages' clocks)",
      columns: ['members', 'send → handed to the last session (p50)', 'p90', 'handed → shown, each recipient (p50)', 'p90', 'send → shown by the last (p50)', 'p90'],
      rows: latency.map((run) => {
        const handOff = summaryOrNull(run.parleyHandOff);
        const transit = summaryOrNull(run.parleyHandedToShown);
        const total = summaryOrNull(run.parleyToLast);
        return [String(run.size), cell(handOff?.p50, 2), cell(handOff?.p90, 2), cell(transit?.p50, 2), cell(transit?.p90, 2), cell(total?.p50, 2), cell(total?.p90, 2)];
      }),
    },
    {
      title: 'CPU per message to everyone (ms of CPU time per message, the idle rate of the same room taken off; /proc, 10 ms ticks)',
      columns: ['members', 'variant', 'sender renderer', 'other members (all)', 'member renderers', 'per recipient', 'rest of Chromium (noisy)'],
      rows: sizes.flatMap((size) =>
        (['parley', 'raw'] as const).map((variant) => {
          const use = cpuPerMessage(cpu, size, variant);
          return [String(size), variant, cell(use?.sender, 2), cell(use?.recipients, 2), cell(use?.total, 2), cell(use?.total === null || use === null ? null : use.total / (size - 1), 2), cell(use?.rest, 2)];
        }),
      ),
    },
    {
      title: 'Memory of a page (after garbage collection; MiB): renderer resident memory and used JS heap, per member page',
      columns: ['members in the room', 'pages', 'renderer RSS median', 'RSS max', 'RSS median above a page without a room', 'JS heap median'],
      rows: memory.map((snapshot) => {
        const baseline = memory.find((entry) => entry.size === 0);
        const rss = present(snapshot.pages.map((page) => page.rendererRss));
        const baseRss = medianOrNull(baseline?.pages.map((page) => page.rendererRss) ?? []);
        const rssMedian = medianOrNull(rss);
        return [
          snapshot.size === 0 ? 'none (bench page, no room)' : String(snapshot.size),
          String(snapshot.pages.length),
          mib(rssMedian),
          mib(rss.length === 0 ? null : Math.max(...rss)),
          snapshot.size === 0 || rssMedian === null || baseRss === null ? '-' : `+${((rssMedian - baseRss) / MIB).toFixed(1)}`,
          mib(medianOrNull(snapshot.pages.map((page) => page.jsHeapUsed))),
        ];
      }),
    },
  ];
  if (typeof reconnect !== 'string') {
    tables.push({
      title: `Reconnect: one member at a time cut off the network for ${outageText(reconnect)}, then given it back (s; "after return": from the moment the filters were gone)`,
      columns: [
        'cut',
        'member page',
        'packets held back',
        'pairs broke after cut',
        'server dropped its socket after cut',
        'its socket closed after return',
        'it joined again after return',
        'its first pair back after return',
        'everyone connected again after return',
      ],
      rows: reconnect.map((entry) => {
        const victim = entry.members.find((member) => member.cut);
        const others = entry.members.filter((member) => !member.cut);
        const broke = present(entry.members.map((member) => member.brokeAfterMs));
        const serverDropped = present(others.map((member) => member.signalingAfterCut.find((mark) => mark.event === 'peer-left')?.afterCutMs ?? null));
        const afterReturn = (event: string): number | null => {
          const at = victim?.signalingAfterCut.find((mark) => mark.event === event)?.afterCutMs;
          return at === undefined ? null : (at - entry.returnedAfterCutMs) / 1000;
        };
        const seconds = (ms: number | null | undefined): string => cell(ms === null || ms === undefined ? null : ms / 1000, 1);
        return [
          String(entry.round),
          String(entry.victim),
          String(entry.heldPackets),
          broke.length === 0 ? 'none' : `${seconds(Math.min(...broke))}–${seconds(Math.max(...broke))}`,
          serverDropped.length === 0 ? 'no' : seconds(Math.min(...serverDropped)),
          cell(afterReturn('close'), 1),
          cell(afterReturn('joined'), 1),
          seconds(victim?.firstBackAfterReturnMs),
          entry.timedOut ? `not within ${seconds(entry.allowedMs)}` : seconds(allBackAfterReturn(entry)),
        ];
      }),
    });
  }

  const latencyJson = (values: readonly number[]): Json => {
    const summary = summaryOrNull(values);
    return summary === null ? null : { ...summary };
  };
  const data: JsonObject = {
    maxMembers,
    spacingMs: figures.spacingMs,
    textChars: figures.textChars,
    joins: joins.map((join) => ({ ...join })),
    connectedWithAllMedianMs: Object.fromEntries([...new Set(joins.map((join) => join.size))].map((size) => [`members${size}`, connectedMedian(size)])),
    rawChannelsOpenMs: figures.rawOpenMs.map((entry) => ({ ...entry })),
    latencyMs: latency.map((run) => ({
      size: run.size,
      missing: run.missing,
      parleyToLast: latencyJson(run.parleyToLast),
      rawToLast: latencyJson(run.rawToLast),
      rawOneSend: latencyJson(run.rawOneSend),
      parleyOneRecipient: latencyJson(run.parleyOneRecipient),
      parleyHandOff: latencyJson(run.parleyHandOff),
      parleyHandedToShown: latencyJson(run.parleyHandedToShown),
    })),
    cpuBlocks: cpu.map((block) => ({ ...block, wallMs: round(block.wallMs) })),
    cpuPerMessageMs: Object.fromEntries(
      sizes.map((size) => [`members${size}`, { parley: cpuPerMessage(cpu, size, 'parley'), raw: cpuPerMessage(cpu, size, 'raw') }]),
    ),
    memory: memory.map((snapshot) => ({ size: snapshot.size, pages: snapshot.pages.map((page) => ({ ...page })) })),
    clockProbes: figures.clocks.map((probe) => ({ member: probe.member, offsetMs: round(probe.offsetMs), uncertaintyMs: round(probe.uncertaintyMs) })),
    reconnect:
      typeof reconnect === 'string'
        ? { notMeasured: reconnect }
        : reconnect.map((entry) => ({
            ...entry,
            returnedAfterCutMs: round(entry.returnedAfterCutMs),
            everyoneBackAfterReturnMs: allBackAfterReturn(entry),
            members: entry.members.map((member) => ({
              ...member,
              signalingAfterCut: member.signalingAfterCut.map((mark) => ({ event: mark.event, afterCutMs: round(mark.afterCutMs) })),
              headlinesAfterCut: member.headlinesAfterCut.map((mark) => ({ ...mark, afterCutMs: round(mark.afterCutMs) })),
            })),
          })),
  };
  const visibility = [...new Set(joins.map((join) => join.visibility))].join(', ');
  const lastJoins = joinsOf(joins, maxMembers);
  const joinMedian = (pick: (join: JoinRecord) => number | null): string => cell(medianOrNull(lastJoins.map(pick)));
  const notes = [
    `Each member is a bench page in its own browser context of one Chromium (its own renderer process), loaded without any request routing so the page load is the browser's own (timers then step in 100 µs); the room is composed as RoomState composes it (page-wide key pair pool started as the page loads, guest identity, GroupChat, MemberTransfers). Pages were ${visibility || 'unknown'} to the browser, so every shown message was marked read at once, as the app does.`,
    `Joining is timed in the newcomer's page from performance.timeOrigin (the moment the link was opened); "all with it" is when the last of the others had it connected, by their clocks. The ${maxMembers}th and 4th member joined ${joinsOf(joins, maxMembers).length} and ${joinsOf(joins, 4).length} times, the previous newcomer leaving (goodbye on every session) in between. The raw baseline is the first member opening plain RTCDataChannels to all others at once, signals relayed by Node, measured in the same room.`,
    `Where the ${ordinal(maxMembers)} member's join goes (medians of its ${lastJoins.length} runs, ms after the link was opened): page loaded ${joinMedian((join) => join.loadedMs)}, everyone listed by the server ${joinMedian((join) => join.joinedMs)}, all ${maxMembers - 1} data channels open ${joinMedian((join) => join.allOpenMs)}, its RSA-3072 key pair ready ${joinMedian((join) => join.keyPairReadyMs)} (the page-wide pool starts it as the page loads, and the next one as soon as the first session takes it), connected with all ${joinMedian((join) => join.connectedMs)}. Its sessions waited up to ${joinMedian((join) => join.keyPairWaitMs)} ms for that pair: on two cores shared by ${maxMembers} renderers, generating it is the longest single step of the join.`,
    `Latency runs from the sender's clock at sendToEveryone() to each recipient's clock when GroupChat showed the message (performance.timeOrigin + now() in each page). Those epoch clocks agree to ${cell(clockSpread, 2)} ms across the ${figures.clocks.length} pages (Node probes, ±${cell(clockUncertainty, 2)} ms); raw sends go between the same pages with the same clocks and carry as many bytes as one Parley message frame. Parley and raw take turns in blocks of sends ${figures.spacingMs} ms apart.`,
    'CPU: every Chromium process from /proc during each block (to its last arrivals plus 500 ms), less what the same room used in idle blocks before and after (pings, timers). "Member renderers" is what the pages of the room used, SCTP and the data channels included; "rest of Chromium" (the network service, where WebRTC\'s UDP sockets live, the browser process and everything else the browser runs) is shown apart because other work in the browser makes it swing by several ms per message between blocks. Receipts (one per recipient per message) and digests (every 2 s) are in Parley\'s figures; raw has neither.',
    typeof reconnect === 'string'
      ? `Reconnect not measured: ${reconnect}.`
      : `Reconnect: each member was cut with traffic control inside the bench's private network namespace, where every packet between pages crosses \`lo\`: its WebRTC UDP ports, its TCP connections to the server (signaling socket, noted when it joined) and any new connection to the server went to a class that holds packets and never sends them; ${outageText(reconnect)} later the filters were removed and what was held discarded, as if lost on the way (held rather than dropped, so that neither end's TCP sees a local error, only silence, as with an outage further away). CDP Network.emulateNetworkConditions({offline: true}) does not touch WebRTC in Chromium, so it cannot cut a data channel. The others stayed connected among themselves in every cut: ${reconnect.every((entry) => entry.othersStayedConnectedAmongThemselves) ? 'yes' : 'NO'}.`,
    typeof reconnect === 'string'
      ? ''
      : 'What the cut member goes through: its pairs end when Chromium gives the connection up or after 15 s of silence, and it then asks the server over its signaling socket (ping, PROTOCOL.md §3.1); with no pong within 4 s it closes that socket, whose frames would otherwise wait in TCP\'s retransmission back-off for seconds to tens of seconds after the return, and opens another (a replacement that cannot connect while the network is still gone is replaced after 4 s). On the new socket it joins with the same nonce, the server drops its old connection without telling anyone it left, and every broken pair starts afresh: it dials everyone it finds in its joined (§12.3).',
  ].filter((note) => note !== '');
  return { data, tables, checks, notes };
}
