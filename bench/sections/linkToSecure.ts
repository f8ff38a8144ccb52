/**
 * Link to Secure: the real app in two fresh browser contexts. A creates a room; B opens the link; the figure is
 * the time from B starting to navigate until B's status says "Secure" (and A's, from the same start).
 */
import type { Page } from '@playwright/test';
import { loadBenchPage } from '../benchPages.ts';
import type { StatusMark } from '../page/benchApi.ts';
import { errorText, type BenchContext, type Check, type JsonObject, type Section, type SectionResult } from '../harness.ts';
import { median, round, roundSummary, summarize } from '../stats.ts';

const REPETITIONS = 5;
/** One uncounted run first: Chromium's first WebRTC connection in a process pays one-time setup. */
const WARMUPS = 1;
const TARGET_MS = 500;
const SECURE_TIMEOUT_MS = 20_000;
/**
 * A person needs seconds to pass the link on; by then A's page is idle and its RSA key pair is made. Pausing a
 * moment keeps A's start-up work (key generation on one of two cores) out of B's measurement.
 */
const LINK_SHARING_PAUSE_MS = 1000;
/** RSA-3072 key generation is B's main suspect on the critical path; timing it alone shows how much it can cost. */
const KEYGEN_SAMPLES = 8;

/** The phases a person sees, keyed by the start of the status text the app shows for each. */
const PHASES = [
  ['preparing', 'Getting ready'],
  ['waiting', 'Waiting for the other person'],
  ['connecting', 'Connecting to the other person'],
  ['verifying', 'Verifying the connection'],
  ['secure', 'Secure'],
] as const;
type Phase = (typeof PHASES)[number][0];
/**
 * B's stages that no status text shows: its first-load scripts fetched, config.json fetched, the signaling socket
 * made and opened, the server's `joined`, B's offer sent and A's answer back (from B's resource timings and its socket's
 * events, stamped in the page).
 */
/** The stages `recordPageStages` stamps in B's page. */
type PageStage = keyof NonNullable<Window['parleyPageStages']>;
const PAGE_STAGES = ['keyPairAsked', 'keyPairMade', 'socketMade', 'socket', 'joined', 'offerSent', 'answerIn'] as const satisfies readonly PageStage[];
const STAGES = ['scripts', 'domContentLoaded', 'config', ...PAGE_STAGES] as const;
type Stage = (typeof STAGES)[number];

type SignalingTally = { frames: number; bytes: number; signalFrames: number; signalBytes: number };

export type Run = {
  readonly bobMs: number;
  readonly aliceMs: number;
  /** Milliseconds from B's navigation start to each phase first shown, per page (from in-page clocks). */
  readonly bobPhases: Partial<Record<Phase | Stage, number>>;
  readonly alicePhases: Partial<Record<Phase, number>>;
  readonly bobSent: SignalingTally;
  readonly aliceSent: SignalingTally;
};

/** Marks each status change on the console too, so that Node can wait for one without evaluating in the page. */
const STATUS_CONSOLE_PREFIX = 'parley-bench-status:';

/**
 * Runs in every page of the app before its scripts: notes each change of the status text with an epoch time, and says
 * it on the console (see `statusShown`).
 */
function recordStatusMarks(): void {
  const marks: StatusMark[] = [];
  window.parleyStatusMarks = marks;
  let last = '';
  new MutationObserver(() => {
    const text = document.querySelector('[role="status"]')?.textContent ?? '';
    if (text === last) return;
    last = text;
    marks.push({ atEpochMs: performance.timeOrigin + performance.now(), text });
    // The prefix is STATUS_CONSOLE_PREFIX, written out: this function runs in the page, without the module's constants.
    console.debug(`parley-bench-status:${text}`);
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

/**
 * Runs in B's page before its scripts: notes, with the page's own clock, when its first RSA key pair was asked for and
 * made (the handshake needs it at "Verifying"), when its signaling socket opened, when the server's `joined` came, when
 * the first sealed signal (the offer) left and when the first signal after it came back. Stamped in the page, not in
 * Node when Playwright reports the frame, which came out late on a loaded machine.
 */
function recordPageStages(): void {
  // No function is bound to a name in here: tsx would wrap it in a helper that the page does not have.
  const at: Partial<Record<PageStage, number>> = {};
  window.parleyPageStages = at;
  const generateKey = SubtleCrypto.prototype.generateKey;
  SubtleCrypto.prototype.generateKey = function (this: SubtleCrypto, ...args: Parameters<SubtleCrypto['generateKey']>) {
    const rsa = typeof args[0] === 'object' && args[0].name === 'RSA-OAEP';
    if (rsa) at.keyPairAsked ??= performance.timeOrigin + performance.now();
    const pending = Reflect.apply(generateKey, this, args) as ReturnType<SubtleCrypto['generateKey']>;
    if (rsa) void pending.then(() => (at.keyPairMade ??= performance.timeOrigin + performance.now()));
    return pending;
  } as SubtleCrypto['generateKey'];
  window.WebSocket = class extends window.WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      at.socketMade ??= performance.timeOrigin + performance.now();
      this.addEventListener('open', () => {
        at.socket ??= performance.timeOrigin + performance.now();
      });
      this.addEventListener('message', (event: MessageEvent<unknown>) => {
        if (typeof event.data !== 'string') return;
        if (event.data.includes('"type":"joined"')) at.joined ??= performance.timeOrigin + performance.now();
        else if (event.data.includes('"type":"signal"') && at.offerSent !== undefined) at.answerIn ??= performance.timeOrigin + performance.now();
      });
    }

    override send(data: Parameters<WebSocket['send']>[0]): void {
      if (typeof data === 'string' && data.includes('"type":"signal"')) at.offerSent ??= performance.timeOrigin + performance.now();
      super.send(data);
    }
  };
}

/** Counts what a page sends to the signaling server: the whole cost of connecting, as the server sees it. */
function tallySignaling(page: Page): SignalingTally {
  const tally: SignalingTally = { frames: 0, bytes: 0, signalFrames: 0, signalBytes: 0 };
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) => {
      const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
      tally.frames += 1;
      tally.bytes += bytes;
      if (typeof payload === 'string' && payload.includes('"type":"signal"')) {
        tally.signalFrames += 1;
        tally.signalBytes += bytes;
      }
    });
  });
  return tally;
}

/**
 * Settles when the page's status starts with `text`, heard from `recordStatusMarks` on the console. Used while B loads:
 * `waitForStatus` would inject Playwright's own script into the page, which took 40–80 ms of B's main thread and of
 * the machine's two cores right while B was starting (seen in a Chromium trace), a cost no visitor has. Call it before
 * the status can change: a console message said earlier is not heard.
 */
async function statusShown(page: Page, text: string): Promise<void> {
  try {
    await page.waitForEvent('console', {
      predicate: (message) => message.text().startsWith(`${STATUS_CONSOLE_PREFIX}${text}`),
      timeout: SECURE_TIMEOUT_MS,
    });
  } catch (error) {
    const marks = await marksOf(page).catch(() => []);
    throw new Error(`${page.url()} did not show "${text}"; its statuses were: ${marks.map((mark) => mark.text).join(' → ') || '(none)'}`, { cause: error });
  }
}

async function waitForStatus(page: Page, text: string): Promise<void> {
  try {
    await page.waitForFunction((wanted) => document.querySelector('[role="status"]')?.textContent?.includes(wanted) ?? false, text, {
      timeout: SECURE_TIMEOUT_MS,
    });
  } catch (error) {
    const header = await page.locator('header').innerText().catch(() => '(no header)');
    throw new Error(`${page.url()} did not show "${text}"; it shows: ${header.replace(/\s+/g, ' ')}`, { cause: error });
  }
}

function phasesOf(marks: readonly StatusMark[], startEpochMs: number): Partial<Record<Phase, number>> {
  const phases: Partial<Record<Phase, number>> = {};
  for (const mark of marks) {
    const phase = PHASES.find(([, prefix]) => mark.text.startsWith(prefix))?.[0];
    if (phase !== undefined && phases[phase] === undefined) phases[phase] = round(mark.atEpochMs - startEpochMs, 1);
  }
  return phases;
}

async function marksOf(page: Page): Promise<StatusMark[]> {
  return page.evaluate(() => window.parleyStatusMarks ?? []);
}

/** One measured connection with the app at `ctx.appUrl` (the static-site section runs it against both modes). */
export async function oneRun(ctx: BenchContext): Promise<Run> {
  const alice = await ctx.newPage();
  const bob = await ctx.newPage();
  try {
    await Promise.all([alice, bob].map((page) => page.context().addInitScript(recordStatusMarks)));
    // Both tallies cover the whole connection, each page's join included.
    const aliceSent = tallySignaling(alice);
    const bobSent = tallySignaling(bob);
    await bob.context().addInitScript(recordPageStages);

    await alice.goto(ctx.appUrl);
    await alice.getByRole('button', { name: 'Create room' }).click();
    const link = await alice.getByLabel('Room link').inputValue();
    await waitForStatus(alice, 'Waiting for the other person');
    await new Promise((resolve) => setTimeout(resolve, LINK_SHARING_PAUSE_MS));

    const aliceSecure = statusShown(alice, 'Secure').then(() => performance.now());
    // If B fails first, A's wait still settles later; this keeps that from being an unhandled rejection.
    aliceSecure.catch(() => {});
    const startedAt = performance.now();
    const startedAtEpoch = performance.timeOrigin + startedAt;
    const bobSecure = statusShown(bob, 'Secure');
    bobSecure.catch(() => {});
    await bob.goto(link);
    await bobSecure;
    const bobSecureAt = performance.now();
    const aliceSecureAt = await aliceSecure;

    const bobNavigation = await bob.evaluate(() => {
      const entry = performance.getEntriesByType('navigation')[0];
      const domContentLoaded = entry instanceof PerformanceNavigationTiming ? entry.domContentLoadedEventEnd : null;
      const resources = performance.getEntriesByType('resource').filter((resource): resource is PerformanceResourceTiming => resource instanceof PerformanceResourceTiming);
      // The first load: the scripts fetched before the page had run them (later chunks load when first needed).
      const scripts = resources.filter((resource) => resource.name.endsWith('.js') && (domContentLoaded === null || resource.responseEnd <= domContentLoaded));
      const config = resources.find((resource) => new URL(resource.name).pathname === '/config.json');
      return {
        timeOrigin: performance.timeOrigin,
        domContentLoaded,
        scripts: scripts.length === 0 ? null : Math.max(...scripts.map((resource) => resource.responseEnd)),
        config: config === undefined ? null : config.responseEnd,
      };
    });
    const sinceStart = (epochMs: number): number => round(epochMs - startedAtEpoch, 1);
    const pageStages: Partial<Record<Stage, number>> = {};
    for (const stage of ['scripts', 'domContentLoaded', 'config'] as const) {
      const value = bobNavigation[stage];
      if (value !== null) pageStages[stage] = sinceStart(bobNavigation.timeOrigin + value);
    }
    const bobPageStages = await bob.evaluate(() => window.parleyPageStages ?? {});
    for (const stage of PAGE_STAGES) {
      const value = bobPageStages[stage];
      if (value !== undefined) pageStages[stage] = sinceStart(value);
    }
    const bobPhases: Run['bobPhases'] = { ...pageStages, ...phasesOf(await marksOf(bob), startedAtEpoch) };
    return {
      bobMs: bobSecureAt - startedAt,
      aliceMs: aliceSecureAt - startedAt,
      bobPhases,
      alicePhases: phasesOf(await marksOf(alice), startedAtEpoch),
      bobSent: { ...bobSent },
      aliceSent: { ...aliceSent },
    };
  } finally {
    await ctx.closePages(alice, bob);
  }
}

function medianPhase<K extends string>(runs: readonly Partial<Record<K, number>>[], key: K): number | null {
  const values = runs.map((run) => run[key]).filter((value): value is number => value !== undefined);
  return values.length === 0 ? null : median(values);
}

const STAGE_NAMES: Readonly<Record<Phase | Stage, string>> = {
  scripts: 'first-load scripts fetched',
  domContentLoaded: 'scripts run (DOMContentLoaded)',
  config: 'config.json fetched',
  keyPairAsked: 'first RSA key pair asked for',
  keyPairMade: 'first RSA key pair made',
  preparing: '"Getting ready" shown',
  socketMade: 'signaling socket made (new WebSocket)',
  socket: 'signaling socket opened',
  joined: 'joined (server answered)',
  offerSent: 'offer sent (sealed)',
  answerIn: 'answer back',
  waiting: '"Waiting" shown',
  connecting: '"Connecting" shown',
  verifying: 'data channel open ("Verifying")',
  secure: 'handshake and identity done ("Secure")',
};

function phaseText(value: number | null): string {
  return value === null ? '-' : value.toFixed(0);
}

export const linkToSecure: Section = {
  id: 'linkToSecure',
  title: 'Link to Secure (real app, two browser contexts)',
  timeoutMs: 120_000,
  async run(ctx): Promise<SectionResult> {
    const warmups: number[] = [];
    for (let i = 0; i < WARMUPS; i++) {
      const run = await oneRun(ctx);
      warmups.push(round(run.bobMs, 1));
      ctx.log(`link to secure: warm-up ${i + 1} took ${run.bobMs.toFixed(0)} ms`);
    }
    const runs: Run[] = [];
    for (let i = 0; i < REPETITIONS; i++) {
      try {
        runs.push(await oneRun(ctx));
      } catch (error) {
        throw new Error(`run ${i + 1} of ${REPETITIONS}: ${errorText(error)}`, { cause: error });
      }
      ctx.log(`link to secure: run ${i + 1}/${REPETITIONS}: B ${runs.at(-1)?.bobMs.toFixed(0)} ms, A ${runs.at(-1)?.aliceMs.toFixed(0)} ms`);
    }
    const keygenPage = await ctx.newPage();
    const keygenApi = await loadBenchPage(keygenPage, `${ctx.benchUrl}/`);
    const keygen = roundSummary(summarize(await keygenApi.evaluate((api, count) => api.keyPairTimes(count), KEYGEN_SAMPLES)));
    await ctx.closePages(keygenPage);
    const bobVerifyingToSecure = runs
      .map((run) => (run.bobPhases.secure ?? NaN) - (run.bobPhases.verifying ?? NaN))
      .filter((value) => Number.isFinite(value));

    const bob = roundSummary(summarize(runs.map((run) => run.bobMs)));
    const alice = roundSummary(summarize(runs.map((run) => run.aliceMs)));
    const bobPhaseKeys = ['scripts', 'domContentLoaded', 'config', 'keyPairAsked', 'preparing', 'socketMade', 'socket', 'joined', 'offerSent', 'answerIn', 'connecting', 'verifying', 'keyPairMade', 'secure'] as const;
    const alicePhaseKeys = ['connecting', 'verifying', 'secure'] as const;
    const medianBobPhases = Object.fromEntries(bobPhaseKeys.map((key) => [key, medianPhase(runs.map((run) => run.bobPhases), key)]));
    const medianAlicePhases = Object.fromEntries(alicePhaseKeys.map((key) => [key, medianPhase(runs.map((run) => run.alicePhases), key)]));
    const check: Check = {
      name: 'Link to Secure (B, median)',
      target: `< ${TARGET_MS} ms`,
      measured: `${bob.p50.toFixed(0)} ms`,
      met: bob.p50 < TARGET_MS,
    };
    const data: JsonObject = {
      repetitions: REPETITIONS,
      linkSharingPauseMs: LINK_SHARING_PAUSE_MS,
      warmupBobMs: warmups,
      bobMs: { median: bob.p50, min: bob.min, max: bob.max, mean: bob.mean, runs: runs.map((run) => round(run.bobMs, 1)) },
      aliceMs: { median: alice.p50, min: alice.min, max: alice.max, mean: alice.mean, runs: runs.map((run) => round(run.aliceMs, 1)) },
      medianPhasesMsFromBobNavigation: { bob: medianBobPhases, alice: medianAlicePhases },
      bobVerifyingToSecureMedianMs: bobVerifyingToSecure.length === 0 ? null : round(median(bobVerifyingToSecure), 1),
      rsa3072KeyPairMs: { ...keygen, samples: KEYGEN_SAMPLES },
      runs: runs.map((run) => ({ bobMs: round(run.bobMs, 1), aliceMs: round(run.aliceMs, 1), bobPhases: run.bobPhases, alicePhases: run.alicePhases, bobSent: run.bobSent, aliceSent: run.aliceSent })),
      signalingSentPerConnection: {
        bobFramesMedian: median(runs.map((run) => run.bobSent.frames)),
        bobBytesMedian: median(runs.map((run) => run.bobSent.bytes)),
        aliceFramesMedian: median(runs.map((run) => run.aliceSent.frames)),
        aliceBytesMedian: median(runs.map((run) => run.aliceSent.bytes)),
      },
    };
    const ms = (value: number): string => value.toFixed(0);
    return {
      data,
      checks: [check],
      tables: [
        {
          title: `Link to Secure, ${REPETITIONS} runs (ms from B starting to navigate)`,
          columns: ['page', 'median', 'min', 'max', 'runs'],
          rows: [
            ['B (opens link)', ms(bob.p50), ms(bob.min), ms(bob.max), runs.map((run) => ms(run.bobMs)).join(' ')],
            ['A (created room)', ms(alice.p50), ms(alice.min), ms(alice.max), runs.map((run) => ms(run.aliceMs)).join(' ')],
          ],
        },
        {
          title: "Where B's time goes (median ms from B starting to navigate; each stage's first time; the step is the time since the stage before)",
          columns: ['stage', 'at', 'step'],
          rows: bobPhaseKeys.map((key, i) => {
            const at = medianBobPhases[key] ?? null;
            const before = i === 0 ? 0 : (medianBobPhases[bobPhaseKeys[i - 1] ?? key] ?? null);
            return [STAGE_NAMES[key], phaseText(at), at === null || before === null ? '-' : (at - before).toFixed(0)];
          }),
        },
        {
          title: "A's phases (median ms from B starting to navigate)",
          columns: ['page', 'connecting', 'verifying', 'secure'],
          rows: [['A', ...alicePhaseKeys.map((key) => phaseText(medianAlicePhases[key] ?? null))]],
        },
      ],
      notes: [
        `B from "Verifying" to "Secure" (median): ${bobVerifyingToSecure.length === 0 ? '-' : median(bobVerifyingToSecure).toFixed(0)} ms. The app's RSA-3072 session key pair alone takes ${keygen.p50.toFixed(0)} ms median (min ${keygen.min.toFixed(0)}, max ${keygen.max.toFixed(0)}, ${KEYGEN_SAMPLES} in a row in one page); B's page-wide key pair pool starts it as the page loads (src/main.ts), and the handshake needs it at "Verifying".`,
        `Node-measured times include the console message's trip to Node (IPC); the phase table uses the pages' own clocks.`,
        `Warm-up run (not counted): ${warmups.map((value) => value.toFixed(0)).join(', ')} ms. A pauses ${LINK_SHARING_PAUSE_MS} ms after "Waiting" before B navigates.`,
        `Signaling sent per connection (median): B ${median(runs.map((run) => run.bobSent.frames))} frames / ${median(runs.map((run) => run.bobSent.bytes))} bytes, A ${median(runs.map((run) => run.aliceSent.frames))} frames / ${median(runs.map((run) => run.aliceSent.bytes))} bytes.`,
      ],
    };
  },
};
