/** A user's File as a transfer source: streamed from where the sending starts, never whole into memory. */
import type { ByteStream, FileSource } from '../../core/transfer/transferManager.ts';

export function fileSource(file: File): FileSource {
  return {
    // Pasted screenshots can arrive without a name; give them one a person recognises.
    name: file.name.trim() === '' ? 'pasted file' : file.name,
    mimeType: file.type === '' ? 'application/octet-stream' : file.type,
    sizeBytes: file.size,
    stream: (startByte) => streamOf(file.slice(startByte)),
  };
}

function streamOf(blob: Blob): ByteStream {
  const reader = blob.stream().getReader();
  return {
    next: async () => {
      const { value, done } = await reader.read();
      return done ? null : value;
    },
    // A read still pending settles as done; nothing waits on a cancel.
    cancel: () => void reader.cancel().catch(() => {}),
  };
}
