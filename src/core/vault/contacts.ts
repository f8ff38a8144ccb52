/**
 * Contacts, trusted on first use: the first key a peer with a profile shows in a room is remembered, and the
 * room remembers that contact among its own; a later different key under the name of one of the room's contacts
 * is that contact's key change: reported, stored, and it un-verifies the contact.
 */
import { bytesEqual, toBufferSource } from '../encoding.ts';
import { loadConversation, putConversation } from './history.ts';
import { isVaultId, newVaultId } from './recordIds.ts';
import { parseSealedRow, type VaultWrite } from './storePort.ts';
import { invalid, ok, timestampNow, unreadable, type StoreResult, type VaultContext } from './vaultContext.ts';
import { cleanName, MAX_DISPLAY_NAME_CHARS, MAX_ROOM_CONTACTS, openContactRecord, sealContact, type ContactRecord } from './vaultRecords.ts';

export interface Contact extends ContactRecord {
  readonly id: string;
}

/** Who completed the handshake: someone with a profile (an identity key and a name), or a guest without one. */
export type ObservedPeer =
  | { readonly kind: 'profile'; readonly displayName: string; readonly publicKeySpki: Uint8Array }
  | { readonly kind: 'guest' };

export type PeerObservation =
  /** Never seen before: remembered now and added to this conversation's contacts. */
  | { readonly kind: 'new'; readonly contact: Contact }
  /** The key is one we know (one of this room's contacts, or a contact met in another room, now one of this room's too). */
  | { readonly kind: 'known'; readonly contact: Contact }
  /** A new key under the name of one of this room's contacts: stored as that contact's, `verified` cleared, `keyChanged` set. */
  | { readonly kind: 'key-changed'; readonly contact: Contact; readonly previousKeySpki: Uint8Array }
  /** Guests are not remembered. */
  | { readonly kind: 'guest' };

/**
 * The SPKI as WebCrypto exports it, or null for anything that is not an ECDSA P-256 public key. Comparing
 * canonical forms means one key in two encodings (compressed or not) never looks like a key change.
 */
export async function canonicalSpki(spki: Uint8Array): Promise<Uint8Array | null> {
  try {
    const key = await crypto.subtle.importKey('spki', toBufferSource(spki), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    return new Uint8Array(await crypto.subtle.exportKey('spki', key));
  } catch {
    return null;
  }
}

async function contactWrite(ctx: VaultContext, contact: Contact): Promise<VaultWrite> {
  const sealed = await sealContact(ctx.dataKey(), contact.id, contact, ctx.random);
  return { type: 'put-row', store: 'contacts', row: { id: contact.id, sealed } };
}

async function openContactRow(ctx: VaultContext, raw: unknown): Promise<Contact | null> {
  const row = parseSealedRow(raw);
  if (row === null || !isVaultId(row.id)) return null;
  const record = await openContactRecord(ctx.dataKey(), row.id, row.sealed);
  return record === null ? null : { id: row.id, ...record };
}

/** Every contact that opens. A contact record that does not is left out: it cannot vouch for any key. */
export async function listContacts(ctx: VaultContext): Promise<Contact[]> {
  const contacts = await Promise.all((await ctx.store.readRows('contacts')).map((raw) => openContactRow(ctx, raw)));
  return contacts.filter((contact) => contact !== null);
}

export async function getContact(ctx: VaultContext, id: string): Promise<StoreResult<Contact>> {
  if (!isVaultId(id)) return { ok: false, reason: 'no-contact' };
  const raw = await ctx.store.readRow('contacts', id);
  if (raw === undefined) return { ok: false, reason: 'no-contact' };
  const contact = await openContactRow(ctx, raw);
  return contact === null || contact.id !== id ? unreadable(`contact ${id} does not open`) : ok(contact);
}

/**
 * Called once a handshake has proved the peer holds `publicKeySpki`, and only for a peer the person admitted (a held
 * one leaves no trace). Writes the contact and, when the room's set of contacts grows, the conversation, in one write.
 */
export async function observePeer(ctx: VaultContext, conversationId: string, peer: ObservedPeer): Promise<StoreResult<PeerObservation>> {
  if (peer.kind === 'guest') return ok({ kind: 'guest' });
  const publicKeySpki = await canonicalSpki(peer.publicKeySpki);
  if (publicKeySpki === null) return invalid('the peer’s identity key is not an ECDSA P-256 public key');
  const displayName = cleanName(peer.displayName, MAX_DISPLAY_NAME_CHARS);
  if (displayName === null) return invalid(`a display name is 1 to ${MAX_DISPLAY_NAME_CHARS} characters without control characters`);
  const conversation = await loadConversation(ctx, conversationId);
  if (!conversation.ok) return conversation;

  const nowMs = timestampNow(ctx.clock);
  const contacts = await listContacts(ctx);
  const roomContacts = contacts.filter((contact) => conversation.record.contactIds.includes(contact.id));
  const sameKey = contacts.find((contact) => bytesEqual(contact.publicKeySpki, publicKeySpki)) ?? null;
  // The admission policy's key-changed case: someone new under the name of one of this room's contacts. With two
  // such contacts, the one seen last is the likelier one to have a new device.
  const sameName = roomContacts.filter((contact) => contact.displayName === displayName).sort((a, b) => b.lastSeenAtMs - a.lastSeenAtMs)[0] ?? null;
  // The remembered name stays the one the person first saw (and perhaps verified): a peer's later claim is shown
  // as a claim, and only the person can adopt it (renameContact).
  const seen = (contact: Contact): Contact => ({ ...contact, lastSeenAtMs: Math.max(contact.lastSeenAtMs, nowMs) });

  let observation: PeerObservation;
  if (sameKey !== null) {
    // Includes a known contact met in another room: the key proves who it is, whoever else this room remembers.
    observation = { kind: 'known', contact: seen(sameKey) };
  } else if (sameName !== null) {
    const contact: Contact = { ...seen(sameName), publicKeySpki, previousKeySpki: sameName.publicKeySpki, verified: false, keyChanged: true };
    observation = { kind: 'key-changed', contact, previousKeySpki: sameName.publicKeySpki };
  } else {
    const contact: Contact = {
      id: newVaultId(ctx.random),
      displayName,
      publicKeySpki,
      previousKeySpki: null,
      verified: false,
      keyChanged: false,
      firstSeenAtMs: nowMs,
      lastSeenAtMs: nowMs,
    };
    observation = { kind: 'new', contact };
  }

  const writes: VaultWrite[] = [await contactWrite(ctx, observation.contact)];
  const { contactIds } = conversation.record;
  if (!contactIds.includes(observation.contact.id)) {
    if (contactIds.length >= MAX_ROOM_CONTACTS) return invalid(`a room remembers at most ${MAX_ROOM_CONTACTS} people`);
    writes.push(await putConversation(ctx, conversationId, { ...conversation.record, contactIds: [...contactIds, observation.contact.id] }));
  }
  const written = await ctx.store.write(writes);
  return written.ok ? ok(observation) : written;
}

/**
 * The user compared safety numbers for `shown` and they matched. Refused with 'key-mismatch' if the stored
 * key is no longer the one shown, so a key that changed meanwhile is never marked verified by accident.
 */
export async function markVerified(ctx: VaultContext, shown: Contact): Promise<StoreResult<Contact>> {
  const loaded = await getContact(ctx, shown.id);
  if (!loaded.ok) return loaded;
  if (!bytesEqual(loaded.value.publicKeySpki, shown.publicKeySpki)) return { ok: false, reason: 'key-mismatch' };
  const contact: Contact = { ...loaded.value, verified: true, keyChanged: false };
  const written = await ctx.store.write([await contactWrite(ctx, contact)]);
  return written.ok ? ok(contact) : written;
}

/** The user saw the key-change warning and chose to go on without verifying: the warning goes, `verified` stays false. */
export async function acknowledgeKeyChange(ctx: VaultContext, contactId: string): Promise<StoreResult<Contact>> {
  const loaded = await getContact(ctx, contactId);
  if (!loaded.ok) return loaded;
  if (!loaded.value.keyChanged) return loaded;
  const contact: Contact = { ...loaded.value, keyChanged: false };
  const written = await ctx.store.write([await contactWrite(ctx, contact)]);
  return written.ok ? ok(contact) : written;
}

/** The person chose to call a contact by the name it now announces (or any other); the key and verification stay. */
export async function renameContact(ctx: VaultContext, contactId: string, displayName: string): Promise<StoreResult<Contact>> {
  const name = cleanName(displayName, MAX_DISPLAY_NAME_CHARS);
  if (name === null) return invalid(`a display name is 1 to ${MAX_DISPLAY_NAME_CHARS} characters without control characters`);
  const loaded = await getContact(ctx, contactId);
  if (!loaded.ok) return loaded;
  const contact: Contact = { ...loaded.value, displayName: name };
  const written = await ctx.store.write([await contactWrite(ctx, contact)]);
  return written.ok ? ok(contact) : written;
}
