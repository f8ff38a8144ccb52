/**
 * What the group engine may rely on from its ConversationStore (src/core/group/conversationStore.ts), checked the same
 * way against the guest's MemoryConversationStore and the profile's VaultConversationStore; then what only the vault
 * promises: a reload at any moment neither loses nor repeats anything, a failed write changes nothing, and the
 * engine over it resends after a reload and keeps delivery states in the history.
 */
import { describe, expect, it } from 'vitest';
import { MemoryVaultStore } from '../../src/adapters/storage/memoryVaultStore.ts';
import type { ConversationStore, StoredConversation } from '../../src/core/group/conversationStore.ts';
import { OUTBOX_MAX_AGE_MS } from '../../src/core/group/groupLimits.ts';
import { MemoryConversationStore } from '../../src/core/group/memoryConversationStore.ts';
import { messageText, type GroupMessage } from '../../src/core/protocol/groupMessages.ts';
import { generateIdentity } from '../../src/core/vault/identity.ts';
import { memberIdOf } from '../../src/core/crypto/memberId.ts';
import type { VaultStorePort, VaultWrite, WriteResult } from '../../src/core/vault/storePort.ts';
import { Vault, type UnlockedVault } from '../../src/core/vault/vaultService.ts';
import { GroupWorld, memberIdOfName } from './support/groupFakes.ts';
import { groupMessage, selfIdOf } from './support/groupVaultFakes.ts';
import { FastArgon2, PASSPHRASE, roomSecret, valueOf } from './support/vaultFakes.ts';
import { FakeClock } from './support/roomFakes.ts';
import { systemRandom } from '../../src/core/ports.ts';

/** A storage port that works until told to die: then every write throws, as in a tab closed mid-chat. */
class MortalStore implements VaultStorePort {
  /** Writes still allowed; null: no limit. */
  writesLeft: number | null = null;

  constructor(readonly inner: MemoryVaultStore) {}

  async write(batch: readonly VaultWrite[]): Promise<WriteResult> {
    if (this.writesLeft !== null) {
      if (this.writesLeft === 0) throw new Error('the tab is gone');
      this.writesLeft -= 1;
    }
    return this.inner.write(batch);
  }

  readHeader = (): Promise<unknown> => this.inner.readHeader();
  readFailedUnlocks = (): Promise<unknown> => this.inner.readFailedUnlocks();
  readRow: VaultStorePort['readRow'] = (store, id) => this.inner.readRow(store, id);
  readRows: VaultStorePort['readRows'] = (store) => this.inner.readRows(store);
  readMessages: VaultStorePort['readMessages'] = (id, range, limit) => this.inner.readMessages(id, range, limit);
  readMessagesById: VaultStorePort['readMessagesById'] = (id, messageId) => this.inner.readMessagesById(id, messageId);
  readFilePart: VaultStorePort['readFilePart'] = (id, fileId, index) => this.inner.readFilePart(id, fileId, index);
  readFileParts: VaultStorePort['readFileParts'] = (id, after, limit) => this.inner.readFileParts(id, after, limit);
  readPendingFiles = (): Promise<readonly unknown[]> => this.inner.readPendingFiles();
  readOutbox: VaultStorePort['readOutbox'] = (id) => this.inner.readOutbox(id);
  destroy = (): Promise<void> => this.inner.destroy();
  requestPersistence = (): Promise<boolean> => this.inner.requestPersistence();
  persisted = (): Promise<boolean> => this.inner.persisted();
  estimate: VaultStorePort['estimate'] = () => this.inner.estimate();
}

/** A room's store and how to get the one a reload would get. Bob is a contact where the store knows contacts; Carol a guest. */
interface Harness {
  readonly self: string;
  readonly bob: string;
  readonly carol: string;
  readonly store: ConversationStore;
  reload(): Promise<ConversationStore>;
}

async function memoryHarness(): Promise<Harness> {
  // A guest's store lives as long as the page: what a "reload" of the engine finds is the same store.
  const store = new MemoryConversationStore();
  return { self: memberIdOfName('me'), bob: memberIdOfName('bob'), carol: memberIdOfName('carol'), store, reload: async () => store };
}

interface VaultHarness extends Harness {
  readonly port: MortalStore;
  readonly unlocked: () => UnlockedVault;
  readonly conversationId: string;
}

async function vaultHarness(): Promise<VaultHarness> {
  const port = new MortalStore(new MemoryVaultStore());
  const clock = new FakeClock();
  const ports = { argon2: new FastArgon2().port, random: systemRandom, clock: clock.for('vault') };
  const created = await (await Vault.open(port, ports)).create('Ada', PASSPHRASE);
  if (!created.ok) throw new Error(created.reason);
  let unlocked = created.vault;
  const conversationId = valueOf(await unlocked.openConversation(roomSecret(1))).id;
  const bobKey = (await generateIdentity()).publicKeySpki;
  valueOf(await unlocked.observePeer(conversationId, { kind: 'profile', displayName: 'Bob', publicKeySpki: bobKey }));
  const carol = memberIdOfName('carol');
  const named = async (vault: UnlockedVault) => {
    const store = await vault.conversationStore(conversationId);
    store.nameGuest(carol, 'Guest 1');
    return store;
  };
  return {
    self: await selfIdOf(unlocked),
    bob: await memberIdOf(bobKey),
    carol,
    store: await named(unlocked),
    port,
    unlocked: () => unlocked,
    conversationId,
    async reload() {
      unlocked.lock();
      const again = await (await Vault.open(port, ports)).unlock(PASSPHRASE);
      if (!again.ok) throw new Error(again.reason);
      unlocked = again.vault;
      return named(unlocked);
    },
  };
}

/** A loaded conversation as plain, order-free data. */
function normalised(loaded: StoredConversation): { lastOwnSeq: number; lastShown: [string, number][]; outbox: [string, GroupMessage][] } {
  return {
    lastOwnSeq: loaded.lastOwnSeq,
    lastShown: [...loaded.lastShown].sort(([a], [b]) => a.localeCompare(b)),
    outbox: loaded.outbox.map((entry): [string, GroupMessage] => [entry.addressee, entry.message]).sort(([a, x], [b, y]) => a.localeCompare(b) || x.seq - y.seq),
  };
}

/** One step of a conversation, in the engine's terms. */
type Step =
  | { readonly type: 'outgoing'; readonly n: number; readonly to: readonly ('bob' | 'carol')[]; readonly stream?: 'private' }
  | { readonly type: 'shown'; readonly from: 'bob' | 'carol'; readonly n: number }
  | { readonly type: 'receipts'; readonly from: 'bob' | 'carol'; readonly delivered: number; readonly read: number }
  | { readonly type: 'expired'; readonly n: number; readonly to: 'bob' | 'carol' };

/** Every kind of write the engine makes, each one changing something. */
const SCRIPT: readonly Step[] = [
  { type: 'outgoing', n: 1, to: ['bob', 'carol'] },
  { type: 'shown', from: 'bob', n: 1 },
  { type: 'outgoing', n: 2, to: ['bob'] },
  { type: 'shown', from: 'carol', n: 1 },
  { type: 'receipts', from: 'bob', delivered: 1, read: 0 },
  { type: 'shown', from: 'bob', n: 2 },
  { type: 'outgoing', n: 3, to: ['carol'], stream: 'private' },
  { type: 'receipts', from: 'carol', delivered: 3, read: 1 },
  { type: 'expired', n: 2, to: 'bob' },
  { type: 'shown', from: 'bob', n: 3 },
];

function ownMessage(harness: Harness, n: number, stream: 'group' | 'private' = 'group'): GroupMessage {
  return groupMessage(n, harness.self, { text: `mine ${n}`, stream, writtenAtMs: 5_000 + n });
}

async function apply(harness: Harness, store: ConversationStore, step: Step): Promise<void> {
  switch (step.type) {
    case 'outgoing':
      return store.recordOutgoing(ownMessage(harness, step.n, step.stream), step.to.map((name) => harness[name]));
    case 'shown':
      return store.recordShown(groupMessage(step.n, harness[step.from], { text: `${step.from} ${step.n}`, id: memberIdOfName(`${step.from} ${step.n}`) }));
    case 'receipts':
      return store.recordReceipts(harness[step.from], step.delivered, step.read);
    case 'expired':
      return store.recordExpired([{ messageId: ownMessage(harness, step.n).id, seq: step.n, addressee: harness[step.to], reason: 'too-old' }]);
    default:
      throw new Error('unknown step');
  }
}

/** What the engine should load after the first `count` steps: a store that never forgets, fed those steps. */
async function expectedAfter(harness: Harness, count: number): Promise<ReturnType<typeof normalised>> {
  const reference = new MemoryConversationStore();
  for (const step of SCRIPT.slice(0, count)) await apply(harness, reference, step);
  return normalised(await reference.load());
}

for (const [name, makeHarness] of [
  ['MemoryConversationStore', memoryHarness],
  ['VaultConversationStore', vaultHarness],
] as const) {
  describe(`${name} keeps what the engine relies on`, () => {
    it('loads a new conversation with nothing written, shown or waiting', async () => {
      const harness = await makeHarness();
      expect(normalised(await harness.store.load())).toEqual({ lastOwnSeq: 0, lastShown: [], outbox: [] });
    });

    it('keeps an outgoing message with an entry per addressee and the own counter, exactly as written, across a reload', async () => {
      const harness = await makeHarness();
      await harness.store.load();
      await harness.store.recordOutgoing(ownMessage(harness, 1), [harness.bob, harness.carol]);
      await harness.store.recordOutgoing(ownMessage(harness, 2, 'private'), [harness.carol]);
      const loaded = normalised(await (await harness.reload()).load());
      expect(loaded.lastOwnSeq).toBe(2);
      expect(loaded.outbox).toEqual(
        [
          [harness.bob, ownMessage(harness, 1)],
          [harness.carol, ownMessage(harness, 1)],
          [harness.carol, ownMessage(harness, 2, 'private')],
        ].sort(([a], [b]) => String(a).localeCompare(String(b))),
      );
    });

    it('raises the last shown seq of the author only, never lowers it, across a reload', async () => {
      const harness = await makeHarness();
      await harness.store.load();
      await harness.store.recordShown(groupMessage(3, harness.bob));
      await harness.store.recordShown(groupMessage(2, harness.bob, { id: memberIdOfName('other id') }));
      await harness.store.recordShown(groupMessage(1, harness.carol));
      expect(normalised(await (await harness.reload()).load()).lastShown).toEqual([
        [harness.bob, 3],
        [harness.carol, 1],
      ].sort(([a], [b]) => String(a).localeCompare(String(b))));
    });

    it('lets receipts remove only that member’s entries up to what it acknowledged, and expiry only the entries named', async () => {
      const harness = await makeHarness();
      await harness.store.load();
      for (const n of [1, 2, 3]) await harness.store.recordOutgoing(ownMessage(harness, n), [harness.bob, harness.carol]);
      await harness.store.recordReceipts(harness.bob, 2, 1);
      await harness.store.recordExpired([{ messageId: ownMessage(harness, 1).id, seq: 1, addressee: harness.carol, reason: 'too-old' }]);
      const waiting = normalised(await (await harness.reload()).load()).outbox.map(([member, message]) => [member === harness.bob ? 'bob' : 'carol', message.seq]);
      expect(waiting.sort()).toEqual([
        ['bob', 3],
        ['carol', 2],
        ['carol', 3],
      ]);
    });

    it('after every step of a conversation, loads exactly what those steps wrote', async () => {
      const harness = await makeHarness();
      let store = harness.store;
      await store.load();
      for (let count = 1; count <= SCRIPT.length; count++) {
        const step = SCRIPT[count - 1];
        if (step === undefined) throw new Error('no step');
        await apply(harness, store, step);
        store = await harness.reload();
        expect(normalised(await store.load()), `after step ${count}`).toEqual(await expectedAfter(harness, count));
      }
    });
  });
}

describe('VaultConversationStore across a tab that dies', () => {
  it('after a reload at any moment, holds exactly the steps before it: nothing lost, nothing half-written', async () => {
    for (let survived = 0; survived < SCRIPT.length; survived++) {
      const harness = await vaultHarness();
      await harness.store.load();
      harness.port.writesLeft = survived;
      let failedAt: number | null = null;
      for (const [index, step] of SCRIPT.entries()) {
        const applied = await apply(harness, harness.store, step).then(
          () => true,
          () => false,
        );
        if (!applied) {
          failedAt = index;
          break;
        }
      }
      expect(failedAt, `with ${survived} writes`).toBe(survived);
      harness.port.writesLeft = null;
      const reloaded = await harness.reload();
      expect(normalised(await reloaded.load()), `after ${survived} steps`).toEqual(await expectedAfter(harness, survived));

      // The history agrees with the counters it was written with: every message up to the last shown of its
      // author is there, nothing beyond; each own message waits exactly for the addressees the outbox names.
      const history = await harness.unlocked().latestMessages(harness.conversationId, 100);
      const kept = SCRIPT.slice(0, survived).filter((step) => step.type === 'outgoing' || step.type === 'shown');
      expect(history.map((entry) => (entry.kind === 'message' && entry.content.type === 'text' ? entry.content.text : entry.kind))).toEqual(
        kept.map((step) => (step.type === 'outgoing' ? `mine ${step.n}` : step.type === 'shown' ? `${step.from} ${step.n}` : '')),
      );
      const summary = valueOf(await harness.unlocked().conversation(harness.conversationId));
      const waitingCount = summary.outbox.reduce((sum, entry) => sum + entry.count, 0);
      expect(waitingCount).toBe((await reloaded.load()).outbox.length);
      const sending = history.flatMap((entry) => (entry.kind === 'message' ? entry.delivery.filter((delivery) => delivery.state === 'sending') : []));
      expect(sending).toHaveLength(waitingCount);
    }
  });

  it('changes nothing when a write fails, and the engine then refuses the message as not stored', async () => {
    const harness = await vaultHarness();
    await harness.store.load();
    await harness.store.recordOutgoing(ownMessage(harness, 1), [harness.bob]);
    const before = harness.port.inner.snapshot();
    harness.port.writesLeft = 0;
    await expect(harness.store.recordOutgoing(ownMessage(harness, 2), [harness.bob])).rejects.toThrow('the tab is gone');
    await expect(harness.store.recordShown(groupMessage(1, harness.bob))).rejects.toThrow('the tab is gone');
    await expect(harness.store.recordReceipts(harness.bob, 1, 1)).rejects.toThrow('the tab is gone');
    expect(harness.port.inner.snapshot()).toEqual(before);

    // A refusal of the store itself (storage full) says so in words.
    const full = await vaultHarness();
    await full.store.load();
    const quota = new MemoryVaultStore({ quotaBytes: 0 });
    full.port.writesLeft = null;
    const spy = full.port.inner;
    const original = spy.write.bind(spy);
    spy.write = async (batch) => (batch.some((write) => write.type === 'add-message') ? quota.write(batch) : original(batch));
    await expect(full.store.recordOutgoing(ownMessage(full, 1), [full.bob])).rejects.toThrow('this browser has no more room for your history');
  });
});

describe('the group engine over the vault', () => {
  async function aliceInVault(world: GroupWorld): Promise<VaultHarness> {
    const harness = await vaultHarness();
    await world.addChat('alice', { id: harness.self, store: harness.store });
    return harness;
  }

  it('resends after a reload what Bob has not acknowledged; the counter continues; the history shows where each stands', async () => {
    const world = new GroupWorld();
    const harness = await aliceInVault(world);
    await world.addChat('bob', { id: harness.bob });
    world.meet('alice', 'bob');
    await world.settle();
    const first = await world.send('alice', 'before the break');
    await world.settle();
    world.cut('alice', 'bob');
    const second = await world.send('alice', 'while you were away');
    await world.settle();

    world.member('alice').chat.close();
    await world.addChat('alice', { id: harness.self, store: await harness.reload() });
    world.meet('alice', 'bob');
    await world.advance(500);
    expect(world.shown('bob').map((message) => messageText(message))).toEqual(['before the break', 'while you were away']);
    const third = await world.send('alice', 'after the reload');
    expect([first.seq, second.seq, third.seq]).toEqual([1, 2, 3]);
    await world.advance(500);
    const delivered = await harness.unlocked().latestMessages(harness.conversationId, 10);
    expect(delivered.map((entry) => (entry.kind === 'message' ? entry.delivery.map((delivery) => delivery.state) : null))).toEqual([['delivered'], ['delivered'], ['delivered']]);
    world.member('bob').chat.markRead();
    await world.advance(500);
    await world.member('alice').chat.whenIdle();

    const bob = valueOf(await harness.unlocked().conversation(harness.conversationId));
    expect(bob.outbox).toEqual([]);
    const history = await harness.unlocked().latestMessages(harness.conversationId, 10);
    expect(history.map((entry) => (entry.kind === 'message' ? [entry.authorSeq, entry.delivery.map((delivery) => delivery.state)] : null))).toEqual([
      [1, ['read']],
      [2, ['read']],
      [3, ['read']],
    ]);
  });

  it('gives up after 7 days: the entry leaves the outbox and the history says expired, and why', async () => {
    const world = new GroupWorld();
    const harness = await aliceInVault(world);
    world.member('alice').chat.admitted(harness.bob, { durable: true });
    await world.send('alice', 'nobody is here');
    await world.settle();
    expect(harness.port.inner.counts().outbox).toBe(1);
    world.clock.advance(OUTBOX_MAX_AGE_MS + 1);
    await world.settle();
    await world.member('alice').chat.whenIdle();
    expect(harness.port.inner.counts().outbox).toBe(0);
    expect(valueOf(await harness.unlocked().conversation(harness.conversationId)).outbox).toEqual([]);
    const [entry] = await harness.unlocked().latestMessages(harness.conversationId, 1);
    expect(entry).toMatchObject({ kind: 'message', delivery: [{ state: 'expired', reason: 'too-old' }] });
    expect((await (await harness.reload()).load()).outbox).toEqual([]);
  });
});
