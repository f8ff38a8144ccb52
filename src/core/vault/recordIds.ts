/**
 * The ids the vault stores in the clear and binds into each sealed record's additional data. Every id is
 * 16 random bytes (base64url, 22 characters), so the clear keys of the stores reveal nothing but counts.
 */
import { base64urlToBytes, bytesToBase64url } from '../encoding.ts';
import type { Random } from '../ports.ts';

export const VAULT_ID_BYTES = 16;
/** Length of a vault id in base64url. */
export const VAULT_ID_CHARS = 22;
/** Sequence numbers and file part indexes travel as u32be in a backup, so both stay below 2^32. */
export const MAX_SEQ = 0xffff_ffff;

export function newVaultId(random: Random): string {
  const bytes = random.bytes(VAULT_ID_BYTES);
  if (bytes.length !== VAULT_ID_BYTES) throw new Error(`Random returned ${bytes.length} bytes for a ${VAULT_ID_BYTES}-byte id`);
  return bytesToBase64url(bytes);
}

/** Exactly the canonical base64url of 16 bytes: the shape of every conversation, contact, file and message id. */
export function isVaultId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length !== VAULT_ID_CHARS) return false;
  return base64urlToBytes(value)?.length === VAULT_ID_BYTES;
}

export function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_SEQ;
}

export function isPartIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SEQ;
}

function requireVaultId(value: string, what: string): void {
  if (!isVaultId(value)) throw new Error(`${what} ${JSON.stringify(value)} is not a vault id`);
}

/**
 * The record id of a message: "<conversationId>/<seq>/<messageId>". Vault ids never contain "/" and seq is
 * decimal, so the string is unambiguous; binding all three means a sealed message moved to another
 * conversation, another position, or given another clear message id (the receipt index) does not open.
 */
export function messageRecordId(conversationId: string, seq: number, messageId: string): string {
  requireVaultId(conversationId, 'conversation id');
  requireVaultId(messageId, 'message id');
  if (!isSeq(seq)) throw new Error(`message seq ${seq} is not an integer in 1..${MAX_SEQ}`);
  return `${conversationId}/${seq}/${messageId}`;
}

/** The record id of one part of a stored file: "<conversationId>/<fileId>/<index>", for the same reasons. */
export function filePartRecordId(conversationId: string, fileId: string, index: number): string {
  requireVaultId(conversationId, 'conversation id');
  requireVaultId(fileId, 'file id');
  if (!isPartIndex(index)) throw new Error(`file part index ${index} is not an integer in 0..${MAX_SEQ}`);
  return `${conversationId}/${fileId}/${index}`;
}

/**
 * The record id of an outbox entry: "<conversationId>/<entryId>". The entry id is random, so the clear key of the row
 * says nothing about which message it follows; the sealed record does.
 */
export function outboxRecordId(conversationId: string, entryId: string): string {
  requireVaultId(conversationId, 'conversation id');
  requireVaultId(entryId, 'outbox entry id');
  return `${conversationId}/${entryId}`;
}
