/**
 * Files the sending page offers: 64 KiB pieces kept in memory (what the raw baselines send) and the same bytes as a
 * File (what Parley reads through the app's fileSource), plus the WebCrypto digest used to check a received copy.
 * The big transfer's File comes from disk through a file input (adoptPickedFile); a File assembled in the page from
 * a thousand pieces is much slower to slice and read than any file a person picks, which would bill Parley for it.
 */

/** crypto.getRandomValues fills at most this many bytes per call. */
const RANDOM_FILL_BYTES = 65_536;

export interface BenchFile {
  readonly file: File;
  /** The same bytes, in consecutive pieces of `pieceBytes` (the last may be shorter). */
  readonly pieces: readonly Uint8Array<ArrayBuffer>[];
}

const files = new Map<string, BenchFile>();

export function benchFile(key: string): BenchFile {
  const found = files.get(key);
  if (found === undefined) throw new Error(`no bench file ${key} in this page`);
  return found;
}

/** `sizeBytes` random bytes in pieces of `pieceBytes`; returns the milliseconds it took. */
export function makeRandomFile(key: string, sizeBytes: number, pieceBytes: number): number {
  const startedAt = performance.now();
  const pieces: Uint8Array<ArrayBuffer>[] = [];
  for (let offset = 0; offset < sizeBytes; offset += pieceBytes) {
    const piece = new Uint8Array(Math.min(pieceBytes, sizeBytes - offset));
    for (let at = 0; at < piece.length; at += RANDOM_FILL_BYTES) crypto.getRandomValues(piece.subarray(at, at + RANDOM_FILL_BYTES));
    pieces.push(piece);
  }
  files.set(key, { file: new File(pieces, `${key}.bin`, { type: 'application/octet-stream' }), pieces });
  return performance.now() - startedAt;
}

/**
 * The file Node put into the page's file input (Playwright setInputFiles): backed by a file on disk, exactly like
 * one a person attaches, so reading it costs what reading a user's file costs. Its bytes are also read once into
 * pieces of `pieceBytes` for the raw baselines, which send from memory. Returns its size.
 */
export async function adoptPickedFile(key: string, input: HTMLInputElement, pieceBytes: number): Promise<number> {
  const file = input.files?.[0];
  if (file === undefined) throw new Error('no file was put into the bench file input');
  const bytes = new Uint8Array(await file.arrayBuffer());
  const pieces: Uint8Array<ArrayBuffer>[] = [];
  for (let offset = 0; offset < bytes.length; offset += pieceBytes) pieces.push(bytes.slice(offset, offset + pieceBytes));
  files.set(key, { file, pieces });
  input.value = '';
  return file.size;
}

/** A file built by Node (a real PNG, say), handed over as base64 and cut into pieces of `pieceBytes`. */
export function putFile(key: string, base64: string, name: string, mimeType: string, pieceBytes: number): number {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const pieces: Uint8Array<ArrayBuffer>[] = [];
  for (let offset = 0; offset < bytes.length; offset += pieceBytes) pieces.push(bytes.slice(offset, offset + pieceBytes));
  files.set(key, { file: new File([bytes], name, { type: mimeType }), pieces });
  return bytes.length;
}

/** Lower-case hex SHA-256 of the whole blob, by WebCrypto over its arrayBuffer (independent of the app's hash-wasm). */
export async function sha256Hex(blob: Blob): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
