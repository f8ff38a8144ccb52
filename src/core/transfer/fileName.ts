/** Announced file names made safe to show and save, the characters a name may not carry, and human-readable sizes. */

/**
 * C0 and C1 controls (including DEL), line/paragraph separators, and the bidi formatting characters
 * (embeddings, overrides, isolates, and the LRM/RLM/ALM marks) that can make `invoice\u202Efdp.exe`
 * display as `invoiceexe.pdf`.
 */
const UNSAFE_NAME_CHAR = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const UNSAFE_NAME_CHARS = new RegExp(UNSAFE_NAME_CHAR.source, 'gu');
/** Characters Windows refuses in file names (besides the separators, which are handled as path components). */
const RESERVED_NAME_CHARS = /[<>:"|?*]/g;
/** Device names Windows treats specially whatever the extension (`NUL.txt` is the null device). */
const WINDOWS_DEVICE_NAME = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const MAX_SAFE_NAME_CHARS = 120;
/** A longer "extension" is more likely part of the name, and keeping it whole could leave no room for the stem. */
const MAX_EXTENSION_CHARS = 16;
const FALLBACK_NAME = 'file';

/** True if `name` carries a control, separator or bidi formatting character, or a lone surrogate. */
export function hasUnsafeNameChar(name: string): boolean {
  return UNSAFE_NAME_CHAR.test(name) || LONE_SURROGATE.test(name);
}

function trimDotsAndSpaces(text: string): string {
  return text.replace(/^[.\s]+/u, '').replace(/[.\s]+$/u, '');
}

/** Splits off an extension of 1..16 characters without whitespace, so truncation can keep it. */
function splitExtension(name: string): { readonly stem: string; readonly extension: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return { stem: name, extension: '' };
  const extension = name.slice(dot);
  const extensionChars = [...extension].length - 1;
  if (extensionChars < 1 || extensionChars > MAX_EXTENSION_CHARS || /\s/u.test(extension)) return { stem: name, extension: '' };
  return { stem: name.slice(0, dot), extension };
}

/**
 * A name to show and to suggest when saving: the last path component only, without controls, bidi
 * formatting or Windows-reserved characters, without leading dots (no hidden files, no `..`) or trailing
 * dots and spaces, at most 120 code points with the extension kept. Never empty.
 */
export function safeFileName(name: string): string {
  const normalized = name.replace(LONE_SURROGATE, '').normalize('NFC');
  const lastComponent = normalized.split(/[/\\]/).pop() ?? '';
  const cleaned = trimDotsAndSpaces(lastComponent.replace(UNSAFE_NAME_CHARS, '').replace(RESERVED_NAME_CHARS, '_'));
  if (cleaned === '') return FALLBACK_NAME;
  const devicesDefused = WINDOWS_DEVICE_NAME.test(cleaned) ? `_${cleaned}` : cleaned;
  const codePoints = [...devicesDefused];
  if (codePoints.length <= MAX_SAFE_NAME_CHARS) return devicesDefused;
  const { stem, extension } = splitExtension(devicesDefused);
  const stemChars = MAX_SAFE_NAME_CHARS - [...extension].length;
  const shortStem = trimDotsAndSpaces([...stem].slice(0, stemChars).join(''));
  return `${shortStem === '' ? FALLBACK_NAME : shortStem}${extension}`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** "0 B", "1 B", "1.5 KiB", "5.0 MiB", "256 MiB": one decimal below 10 of a unit, whole numbers above. */
export function formatBytes(sizeBytes: number): string {
  if (!Number.isFinite(sizeBytes) || sizeBytes < 0) throw new RangeError(`size ${sizeBytes} is not a non-negative finite number`);
  let value = sizeBytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  let text = value < 9.95 ? value.toFixed(1) : Math.round(value).toString();
  // 1023.6 KiB rounds to "1024 KiB"; show it as the next unit instead.
  if (text === '1024' && unit < BYTE_UNITS.length - 1) {
    unit += 1;
    text = '1.0';
  }
  return `${text} ${BYTE_UNITS[unit] ?? 'B'}`;
}
