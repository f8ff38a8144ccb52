/**
 * Keeping a group conversation in the vault: how long a send to 7 members takes to resolve with the vault's store
 * (message, outbox entry and conversation record in one IndexedDB transaction before the first frame leaves) against
 * the guest's memory store and against one bare IndexedDB transaction, taking turns in the same page; and how many
 * received messages per second the vault keeps, one transaction each, against the most a full room may send (§12.5).
 */
import { loadBenchPage } from '../benchPages.ts';
import type { Check, JsonObject, Section, SectionResult } from '../harness.ts';
import { round, roundSummary, summarize } from '../stats.ts';
import { INBOUND_MESSAGES_PER_SECOND } from '../../src/core/group/groupLimits.ts';

const PASSPHRASE = 'bench lamp orbit velvet cactus';
const SENDS = 200;
const WARMUP_SENDS = 40;
const RECEIVED = 300;
const TEXT = 'The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick bro';
/** Seven other members, each allowed this many messages a second: the most a full room can make one page keep. */
const ROOM_INBOUND_PER_SECOND = 7 * INBOUND_MESSAGES_PER_SECOND;
/**
 * A send is two transactions, the conversation record read and then one write (message, outbox entry, record), with
 * three seals: at most twice the cost of a bare transaction each.
 */
const SEND_TARGET_RATIO = 4;

function ms(value: number): string {
  return value.toFixed(2);
}

async function run(ctx: Parameters<Section['run']>[0]): Promise<SectionResult> {
  const page = await loadBenchPage(await ctx.newPage(), `${ctx.benchUrl}/`);
  await page.evaluate((api, passphrase) => api.vaultCreate(passphrase), PASSPHRASE);
  await page.evaluate((api, [sends, text]) => api.vaultGroupCosts(sends, 10, text), [WARMUP_SENDS, TEXT] as const);
  const costs = await page.evaluate((api, [sends, received, text]) => api.vaultGroupCosts(sends, received, text), [SENDS, RECEIVED, TEXT] as const);
  ctx.log(`${SENDS} sends each way and ${RECEIVED} received messages measured`);

  const vault = roundSummary(summarize([...costs.sendVaultMs]));
  const memory = roundSummary(summarize([...costs.sendMemoryMs]));
  const bare = roundSummary(summarize([...costs.bareWriteMs]));
  const ratio = vault.p50 / bare.p50;
  const checks: Check[] = [
    {
      name: 'Send to 7 with the vault / one bare IndexedDB transaction (p50)',
      target: `<= ${SEND_TARGET_RATIO.toFixed(1)}`,
      measured: `${ratio.toFixed(2)} (${ms(vault.p50)} vs ${ms(bare.p50)} ms)`,
      met: ratio <= SEND_TARGET_RATIO,
    },
    {
      name: 'Received messages kept per second / the most a full room may send',
      target: '>= 1',
      measured: `${(costs.shownPerSecond / ROOM_INBOUND_PER_SECOND).toFixed(2)} (${costs.shownPerSecond.toFixed(0)} vs ${ROOM_INBOUND_PER_SECOND} per second)`,
      met: costs.shownPerSecond >= ROOM_INBOUND_PER_SECOND,
    },
  ];
  const data: JsonObject = {
    sends: SENDS,
    addressees: 7,
    textChars: TEXT.length,
    sendWithVault: vault,
    sendWithMemory: memory,
    bareWrite: bare,
    sendToBareP50Ratio: round(ratio, 3),
    received: RECEIVED,
    shownPerSecond: round(costs.shownPerSecond, 1),
    roomInboundPerSecond: ROOM_INBOUND_PER_SECOND,
  };
  return {
    data,
    checks,
    tables: [
      {
        title: `Send to 7 members until it resolves, ${TEXT.length}-character text (ms)`,
        columns: ['store', 'n', 'p50', 'p90', 'p99', 'max'],
        rows: [
          ['vault', String(vault.n), ms(vault.p50), ms(vault.p90), ms(vault.p99), ms(vault.max)],
          ['memory (a guest)', String(memory.n), ms(memory.p50), ms(memory.p90), ms(memory.p99), ms(memory.max)],
          ['one bare IndexedDB transaction', String(bare.n), ms(bare.p50), ms(bare.p90), ms(bare.p99), ms(bare.max)],
        ],
      },
    ],
    notes: [
      'A send resolves once the message is stored and handed to the sessions (none connected here, so nothing is on the wire): with the vault that is the conversation record read, then one transaction holding the message (with a delivery state per addressee), its outbox entry and the record, each sealed. The three variants took turns in blocks of 20, so the machine\'s load fell on all alike.',
      `Received messages were kept one after another, each in its own transaction with the conversation record (last shown seq), as the engine hands them over: ${costs.shownPerSecond.toFixed(0)} per second.`,
    ],
  };
}

export const vaultGroup: Section = {
  id: 'vaultGroup',
  title: 'Vault: keeping a group conversation while chatting',
  timeoutMs: 120_000,
  run,
};
