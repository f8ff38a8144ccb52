/** A user's File as a transfer source: read in slices, never whole into memory. */
import type { FileSource } from '../../core/transfer/transferManager.ts';

export function fileSource(file: File): FileSource {
  return {
    // Pasted screenshots can arrive without a name; give them one a person recognises.
    name: file.name.trim() === '' ? 'pasted file' : file.name,
    mimeType: file.type === '' ? 'application/octet-stream' : file.type,
    sizeBytes: file.size,
    read: async (startByte, endByte) => new Uint8Array(await file.slice(startByte, endByte).arrayBuffer()),
  };
}
