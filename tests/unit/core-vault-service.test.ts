import { describe, expect, it } from 'vitest';
import { hashWasmArgon2id } from '../../src/adapters/vault/hashWasmArgon2id.ts';
import { MemoryVaultStore } from '../../src/adapters/storage/memoryVaultStore.ts';
import { utf8 } from '../../src/core/encoding.ts';
import { systemRandom } from '../../src/core/ports.ts';
import { signTranscript, verifyTranscript } from '../../src/core/vault/identity.ts';
import { DEFAULT_ARGON2ID, type Argon2idPort } from '../../src/core/vault/kdf.ts';
import { MAX_COUNTED_FAILURES, MAX_UNLOCK_DELAY_MS, parseFailedUnlocks, unlockDelayMs } from '../../src/core/vault/unlockThrottle.ts';
import { sealJsonRecord } from '../../src/core/vault/records.ts';
import { VaultLockedError } from '../../src/core/vault/vaultContext.ts';
import { PREFERENCES_RECORD_ID } from '../../src/core/vault/vaultRecords.ts';
import { parseVaultHeader } from '../../src/core/vault/vaultHeader.ts';
import { Vault, type UnlockedVault } from '../../src/core/vault/vaultService.ts';
import { FakeClock } from './support/roomFakes.ts';
import { GUEST_ID, groupMessage, say } from './support/groupVaultFakes.ts';
import { dataKeyOf, idFor, PASSPHRASE, randomBlob, roomSecret, snapshotWithout, storeHolds, unlockedFixture, valueOf, vaultFixture } from './support/vaultFakes.ts';

/** The store without its failure count: what a wrong passphrase must leave exactly as it was. */
function withoutFailureCount(store: MemoryVaultStore): unknown {
  return snapshotWithout(store, 'failedUnlocks');
}

async function unlockedOrFail(vault: Vault, passphrase: string): Promise<UnlockedVault> {
  const outcome = await vault.unlock(passphrase);
  if (!outcome.ok) throw new Error(`unlock failed: ${JSON.stringify(outcome)}`);
  return outcome.vault;
}

describe('the unlock delay', () => {
  it('is 0 before any failure, then doubles from 1 s per failure up to 60 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 50, MAX_COUNTED_FAILURES].map(unlockDelayMs)).toEqual([
      0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000,
    ]);
    expect(MAX_UNLOCK_DELAY_MS).toBe(60000);
  });

  it('reads a missing count as 0 and a damaged one as the maximum', () => {
    expect(parseFailedUnlocks(undefined)).toBe(0);
    expect(parseFailedUnlocks(3)).toBe(3);
    for (const damaged of [-1, 1.5, '3', null, {}, MAX_COUNTED_FAILURES + 1]) expect(parseFailedUnlocks(damaged)).toBe(MAX_COUNTED_FAILURES);
  });
});

describe('Vault.create', () => {
  it('makes a profile: presence goes from none to locked, and the header carries the default Argon2id params', async () => {
    const { store, reopen } = vaultFixture();
    const vault = await reopen();
    expect(await vault.presence()).toEqual({ kind: 'none' });
    const created = await vault.create('  Ada Lovelace ', PASSPHRASE);
    if (!created.ok) throw new Error(created.reason);
    expect(created.vault.profile.displayName).toBe('Ada Lovelace');
    expect(await vault.presence()).toEqual({ kind: 'locked', failedUnlocks: 0, retryAfterMs: 0 });
    const header = parseVaultHeader(await store.readHeader());
    expect(header?.kdf.params).toEqual(DEFAULT_ARGON2ID);
    expect(header?.kdf.salt).toHaveLength(16);
    expect(store.counts()).toEqual({ settings: 2, conversations: 0, contacts: 0, messages: 0, outbox: 0, fileParts: 0, pendingFiles: 0 });
    expect(await store.persisted()).toBe(true);
  });

  it('stores neither the display name, nor the passphrase, nor the identity’s private key in the clear', async () => {
    const { store, unlocked } = await unlockedFixture();
    await unlocked.openConversation(roomSecret(1), 'Lunch plans');
    expect(storeHolds(store, 'Ada')).toBe(false);
    expect(storeHolds(store, PASSPHRASE)).toBe(false);
    expect(storeHolds(store, 'battery')).toBe(false);
    expect(storeHolds(store, 'Lunch plans')).toBe(false);
    expect(storeHolds(store, roomSecret(1))).toBe(false);
    // The public key is in the sealed profile only.
    expect(storeHolds(store, unlocked.profile.identity.publicKeySpki.slice(-32))).toBe(false);
  });

  it('refuses a second profile, an empty passphrase and unusable names, writing nothing', async () => {
    const { store, vault } = await unlockedFixture();
    const before = store.snapshot();
    expect(await vault.create('Bob', 'another')).toEqual({ ok: false, reason: 'profile-exists' });
    const empty = vaultFixture();
    const fresh = await empty.reopen();
    expect(await fresh.create('Bob', '')).toEqual({ ok: false, reason: 'empty-passphrase' });
    for (const name of ['', '   ', 'x'.repeat(65), 'bad\u0000name', 'evil\u202Eeman']) {
      expect(await fresh.create(name, 'pass')).toMatchObject({ ok: false, reason: 'invalid-display-name' });
    }
    expect(store.snapshot()).toEqual(before);
    expect(empty.store.isEmpty()).toBe(true);
  });
});

describe('Vault.unlock', () => {
  it('opens with the passphrase: the same profile, and an identity key that signs for the stored public key', async () => {
    const { unlocked, reopen } = await unlockedFixture();
    const publicKeySpki = unlocked.profile.identity.publicKeySpki;
    unlocked.lock();
    const again = await unlockedOrFail(await reopen(), PASSPHRASE);
    expect(again.profile.displayName).toBe('Ada');
    expect(again.profile.identity.publicKeySpki).toEqual(publicKeySpki);
    const transcript = utf8('a handshake transcript');
    const signature = await signTranscript(again.profile.identity.privateKey, transcript);
    expect(await verifyTranscript(publicKeySpki, transcript, signature)).toBe(true);
  });

  it('answers no-profile when there is none', async () => {
    const { reopen } = vaultFixture();
    expect(await (await reopen()).unlock(PASSPHRASE)).toEqual({ ok: false, reason: 'no-profile' });
  });

  it('refuses a wrong passphrase, changing nothing but the failure count; each further try waits longer, across reloads', async () => {
    const { store, clock, argon2, unlocked, reopen } = await unlockedFixture();
    unlocked.lock();
    const before = withoutFailureCount(store);
    const vault = await reopen();

    expect(await vault.unlock('wrong')).toEqual({ ok: false, reason: 'wrong-passphrase', retryAfterMs: 1000 });
    const checks = argon2.calls;
    // During the wait, not even the right passphrase is checked.
    expect(await vault.unlock(PASSPHRASE)).toEqual({ ok: false, reason: 'wait', retryAfterMs: 1000 });
    clock.advance(999);
    expect(await vault.unlock(PASSPHRASE)).toEqual({ ok: false, reason: 'wait', retryAfterMs: 1 });
    expect(argon2.calls).toBe(checks);
    clock.advance(1);
    expect(await vault.unlock('wrong again')).toEqual({ ok: false, reason: 'wrong-passphrase', retryAfterMs: 2000 });
    clock.advance(2000);
    expect(await vault.unlock('still wrong')).toEqual({ ok: false, reason: 'wrong-passphrase', retryAfterMs: 4000 });
    expect(await store.readFailedUnlocks()).toBe(3);

    // A reload keeps the count: the wait restarts from the page's opening and goes on growing.
    clock.advance(1000);
    const reloaded = await reopen();
    expect(await reloaded.presence()).toEqual({ kind: 'locked', failedUnlocks: 3, retryAfterMs: 4000 });
    expect(await reloaded.unlock(PASSPHRASE)).toEqual({ ok: false, reason: 'wait', retryAfterMs: 4000 });
    clock.advance(4000);
    expect(await reloaded.unlock('wrong')).toEqual({ ok: false, reason: 'wrong-passphrase', retryAfterMs: 8000 });

    expect(withoutFailureCount(store)).toEqual(before);
    clock.advance(8000);
    const opened = await reloaded.unlock(PASSPHRASE);
    expect(opened.ok).toBe(true);
    expect(await store.readFailedUnlocks()).toBe(0);
    expect(await reloaded.presence()).toEqual({ kind: 'locked', failedUnlocks: 0, retryAfterMs: 0 });
  });

  it('counts a guess before checking it, so closing the tab while Argon2id runs does not make it free', async () => {
    const { store, ports, unlocked } = await unlockedFixture();
    unlocked.lock();
    let markStarted = (): void => {};
    const started = new Promise<void>((resolve) => {
      markStarted = resolve;
    });
    const hanging: Argon2idPort = () => {
      markStarted();
      return new Promise<Uint8Array>(() => {});
    };
    const vault = await Vault.open(store, { ...ports, argon2: hanging });
    void vault.unlock('a guess');
    await started;
    expect(await store.readFailedUnlocks()).toBe(1);
    const reloaded = await Vault.open(store, ports);
    expect(await reloaded.presence()).toMatchObject({ kind: 'locked', failedUnlocks: 1, retryAfterMs: 1000 });
  });

  it('answers an empty passphrase as wrong without giving it to Argon2id', async () => {
    const { store, argon2, unlocked, reopen } = await unlockedFixture();
    unlocked.lock();
    const checks = argon2.calls;
    const vault = await reopen();
    expect(await vault.unlock('')).toMatchObject({ ok: false, reason: 'wrong-passphrase' });
    expect(argon2.calls).toBe(checks);
    // Counted like any other try, so the wait works the same whatever is typed.
    expect(await store.readFailedUnlocks()).toBe(1);
  });

  it('reports a header that does not parse as damaged, and refuses to unlock it', async () => {
    const { store, unlocked, reopen } = await unlockedFixture();
    unlocked.lock();
    await store.write([{ type: 'put-header', header: { version: 1, kdf: 'nonsense' } }]);
    const vault = await reopen();
    expect(await vault.presence()).toMatchObject({ kind: 'damaged' });
    expect(await vault.unlock(PASSPHRASE)).toMatchObject({ ok: false, reason: 'damaged' });
  });

  it('reports a profile record that does not open as damaged', async () => {
    const { store, unlocked, reopen } = await unlockedFixture();
    unlocked.lock();
    const identity = await store.readRow('settings', 'identity');
    if (typeof identity !== 'object' || identity === null || !('sealed' in identity) || !(identity.sealed instanceof Uint8Array)) throw new Error('no identity row');
    // The identity record in the profile's place: authentic, but sealed under another id.
    await store.write([{ type: 'put-row', store: 'settings', row: { id: 'profile', sealed: identity.sealed } }]);
    expect(await (await reopen()).unlock(PASSPHRASE)).toMatchObject({ ok: false, reason: 'damaged' });
  });

  it('locks the previous session when unlocking again', async () => {
    const { unlocked, vault } = await unlockedFixture();
    const second = await unlockedOrFail(vault, PASSPHRASE);
    expect(unlocked.locked).toBe(true);
    expect(second.locked).toBe(false);
  });
});

describe('UnlockedVault.lock', () => {
  it('makes every later call fail with a typed locked error', async () => {
    const { unlocked } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    const contact = {
      id: idFor(1),
      displayName: 'Bob',
      publicKeySpki: unlocked.profile.identity.publicKeySpki,
      previousKeySpki: null,
      verified: false,
      keyChanged: false,
      firstSeenAtMs: 0,
      lastSeenAtMs: 0,
    };
    const groupStore = await unlocked.conversationStore(conversation.id);
    unlocked.lock();
    expect(unlocked.locked).toBe(true);
    expect(() => unlocked.profile).toThrow(VaultLockedError);
    const id = conversation.id;
    const calls: (() => Promise<unknown>)[] = [
      () => unlocked.conversations(),
      () => unlocked.conversation(id),
      () => unlocked.openConversation(roomSecret(2)),
      () => unlocked.renameConversation(id, 'x'),
      () => unlocked.conversationStore(id),
      () => groupStore.load(),
      () => groupStore.recordShown(groupMessage(1, GUEST_ID)),
      () => groupStore.recordReceipts(GUEST_ID, 1, 1),
      () => unlocked.pendingOutbox(),
      () => unlocked.latestMessages(id, 10),
      () => unlocked.messagesBefore(id, 5, 10),
      () => unlocked.markRead(id),
      () => unlocked.saveFile(id, { messageId: idFor(2), author: { type: 'me' }, stream: { type: 'group' }, name: 'a.txt', mimeType: 'text/plain' }, new Blob(['x'])),
      () => unlocked.readFile(id, { fileId: idFor(3), name: 'a', mimeType: 'text/plain', sizeBytes: 1, partCount: 1 }),
      () => unlocked.deleteConversation(id),
      () => unlocked.deleteAllHistory(),
      () => unlocked.contacts(),
      () => unlocked.contact(idFor(1)),
      () => unlocked.observePeer(id, { kind: 'guest' }),
      () => unlocked.markVerified(contact),
      () => unlocked.acknowledgeKeyChange(idFor(1)),
      () => unlocked.safetyNumberFor(contact),
      () => unlocked.changePassphrase(PASSPHRASE, 'new'),
      () => unlocked.exportBackup(),
      () => unlocked.storageStatus(),
    ];
    for (const call of calls) {
      const error: unknown = await call().then(
        () => null,
        (rejected: unknown) => rejected,
      );
      expect(error).toBeInstanceOf(VaultLockedError);
      expect(error).toMatchObject({ reason: 'locked' });
    }
  });

  it('stops a file save that is running when the vault locks, and leaves none of its parts behind', async () => {
    const { store, unlocked } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    const { blob } = randomBlob(5 * 1024 * 1024);
    const locking = new Blob([blob]);
    const originalSlice = locking.slice.bind(locking);
    let reads = 0;
    // Lock the vault while the third part is read.
    locking.slice = (start?: number, end?: number): Blob => {
      reads += 1;
      if (reads === 3) unlocked.lock();
      return originalSlice(start, end);
    };
    const saving = unlocked.saveFile(conversation.id, { messageId: idFor(1), author: { type: 'me' }, stream: { type: 'group' }, name: 'big.bin', mimeType: '' }, locking);
    await expect(saving).rejects.toBeInstanceOf(VaultLockedError);
    expect(store.counts()).toMatchObject({ messages: 0, fileParts: 0, pendingFiles: 0 });
  });
});

describe('UnlockedVault.changePassphrase', () => {
  it('re-wraps the data key in one header write: the old passphrase fails, the new one opens, records still open', async () => {
    const { store, clock, unlocked, reopen } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    await say(unlocked, conversation.id, 1, 'incoming', 'kept');
    const before = snapshotWithout(store, 'header');
    const headerBefore = await store.readHeader();
    expect(await unlocked.changePassphrase(PASSPHRASE, 'a new passphrase')).toEqual({ ok: true });
    // Only the header changed.
    expect(snapshotWithout(store, 'header')).toEqual(before);
    expect(await store.readHeader()).not.toEqual(headerBefore);

    unlocked.lock();
    const vault = await reopen();
    expect(await vault.unlock(PASSPHRASE)).toMatchObject({ ok: false, reason: 'wrong-passphrase' });
    clock.advance(1000);
    const again = await unlockedOrFail(vault, 'a new passphrase');
    const [message] = await again.latestMessages(conversation.id, 10);
    expect(message).toMatchObject({ kind: 'message', content: { type: 'text', text: 'kept' } });
  });

  it('refuses a wrong old passphrase, writing nothing but the failure count, and makes the next try wait', async () => {
    const { store, unlocked } = await unlockedFixture();
    const before = withoutFailureCount(store);
    expect(await unlocked.changePassphrase('not it', 'new')).toEqual({ ok: false, reason: 'wrong-passphrase', retryAfterMs: 1000 });
    expect(await unlocked.changePassphrase(PASSPHRASE, 'new')).toEqual({ ok: false, reason: 'wait', retryAfterMs: 1000 });
    expect(withoutFailureCount(store)).toEqual(before);
    expect(await store.readFailedUnlocks()).toBe(1);
  });

  it('refuses an empty new passphrase', async () => {
    const { store, unlocked } = await unlockedFixture();
    const before = store.snapshot();
    expect(await unlocked.changePassphrase(PASSPHRASE, '')).toEqual({ ok: false, reason: 'empty-passphrase' });
    expect(store.snapshot()).toEqual(before);
  });
});

describe('Vault.deleteProfile', () => {
  it('leaves the store empty, failure count included, and locks the open session', async () => {
    const { store, unlocked, vault } = await unlockedFixture();
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    await say(unlocked, conversation.id, 1, 'outgoing', 'bye');
    await vault.unlock('wrong');
    await vault.deleteProfile();
    expect(store.isEmpty()).toBe(true);
    expect(await vault.presence()).toEqual({ kind: 'none' });
    expect(unlocked.locked).toBe(true);
    // A new profile can be made at once; the old failures are gone with the old one.
    expect((await vault.create('Ada', 'fresh start')).ok).toBe(true);
  });
});

describe('a vault with the real Argon2id (hash-wasm, default params)', () => {
  it('creates, refuses a wrong passphrase, and unlocks with the right one', async () => {
    const store = new MemoryVaultStore();
    const clock = new FakeClock();
    const ports = { argon2: hashWasmArgon2id, random: systemRandom, clock: clock.for('vault') };
    const vault = await Vault.open(store, ports);
    const created = await vault.create('Ada', 'real argon2 passphrase');
    if (!created.ok) throw new Error(created.reason);
    const publicKeySpki = created.vault.profile.identity.publicKeySpki;
    created.vault.lock();
    expect(await vault.unlock('real argon2 passphras')).toMatchObject({ ok: false, reason: 'wrong-passphrase' });
    clock.advance(1000);
    const unlocked = await unlockedOrFail(vault, 'real argon2 passphrase');
    expect(unlocked.profile.identity.publicKeySpki).toEqual(publicKeySpki);
    // Three runs of the real 64 MiB Argon2id: a second or more each on a loaded 2-core machine.
  }, 30_000);
});

describe('UnlockedVault.storageStatus', () => {
  it('reports persistence and the estimate', async () => {
    const { unlocked } = await unlockedFixture({ quotaBytes: 10_000_000 });
    const status = await unlocked.storageStatus();
    expect(status.persisted).toBe(true);
    expect(status.quotaBytes).toBe(10_000_000);
    expect(status.usageBytes).toBeGreaterThan(0);
  });
});

describe('preferences', () => {
  it('are the defaults until saved, then kept sealed across a lock, and only offered choices are accepted', async () => {
    const { store, vault, unlocked } = await unlockedFixture();
    const GIB = 1024 * 1024 * 1024;
    expect(await unlocked.preferences()).toEqual({ autoLockMinutes: 15, receivedFilesBudgetBytes: GIB });
    expect(await unlocked.savePreferences({ autoLockMinutes: 60 })).toEqual({ ok: true, value: { autoLockMinutes: 60, receivedFilesBudgetBytes: GIB } });
    // Each choice is saved on its own; the other stays as it was.
    expect(await unlocked.savePreferences({ receivedFilesBudgetBytes: 4 * GIB })).toEqual({ ok: true, value: { autoLockMinutes: 60, receivedFilesBudgetBytes: 4 * GIB } });
    const before = store.snapshot();
    expect(await unlocked.savePreferences({ autoLockMinutes: 7 })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await unlocked.savePreferences({ autoLockMinutes: 0 })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await unlocked.savePreferences({ receivedFilesBudgetBytes: 5 })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await unlocked.savePreferences({ receivedFilesBudgetBytes: -1 })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(store.snapshot()).toEqual(before);
    expect(storeHolds(store, '"autoLockMinutes"')).toBe(false);
    unlocked.lock();
    await expect(unlocked.preferences()).rejects.toBeInstanceOf(VaultLockedError);
    const again = await unlockedOrFail(vault, PASSPHRASE);
    expect(await again.preferences()).toEqual({ autoLockMinutes: 60, receivedFilesBudgetBytes: 4 * GIB });
  });

  it('a record saved before the budget existed still opens, with the default budget', async () => {
    const fixture = await unlockedFixture();
    const sealed = await sealJsonRecord(await dataKeyOf(fixture), 'settings', PREFERENCES_RECORD_ID, { v: 1, autoLockMinutes: 5 }, systemRandom);
    expect(await fixture.store.write([{ type: 'put-row', store: 'settings', row: { id: PREFERENCES_RECORD_ID, sealed } }])).toEqual({ ok: true });
    expect(await fixture.unlocked.preferences()).toEqual({ autoLockMinutes: 5, receivedFilesBudgetBytes: 1024 * 1024 * 1024 });
  });
});

describe('change notices', () => {
  it('tell listeners after each write, not after reads, until they unsubscribe', async () => {
    const { unlocked } = await unlockedFixture();
    let heard = 0;
    const stop = unlocked.onChange(() => {
      heard += 1;
    });
    const conversation = valueOf(await unlocked.openConversation(roomSecret(1)));
    await (await unlocked.conversationStore(conversation.id)).recordShown(groupMessage(1, GUEST_ID));
    await new Promise((resolve) => setTimeout(resolve, 0));
    const afterWrites = heard;
    expect(afterWrites).toBeGreaterThanOrEqual(2);
    await unlocked.conversations();
    await unlocked.latestMessages(conversation.id, 10);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(heard).toBe(afterWrites);
    stop();
    await unlocked.markRead(conversation.id);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(heard).toBe(afterWrites);
  });
});
