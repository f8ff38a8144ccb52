import { describe, expect, it } from 'vitest';
import { formatBytes, hasUnsafeNameChar, MAX_SAFE_NAME_CHARS, safeFileName } from '../../src/core/transfer/fileName.ts';

const codePoints = (text: string): number => [...text].length;

describe('safeFileName', () => {
  it('keeps ordinary names, including non-Latin letters and emoji', () => {
    for (const name of ['report.pdf', 'holiday photo 2024.jpg', 'Заметки.txt', '報告書.docx', 'שלום.png', '😀 party.gif', 'archive.tar.gz', 'README']) {
      expect(safeFileName(name)).toBe(name);
    }
  });

  it('keeps only the last path component', () => {
    expect(safeFileName('../../etc/passwd')).toBe('passwd');
    expect(safeFileName('..\\..\\x.exe')).toBe('x.exe');
    expect(safeFileName('/absolute/path/to/a.txt')).toBe('a.txt');
    expect(safeFileName('C:\\Windows\\System32\\evil.dll')).toBe('evil.dll');
    expect(safeFileName('dir/')).toBe('file');
    expect(safeFileName('..')).toBe('file');
  });

  it('removes bidi formatting, so a reversed extension shows as what it is', () => {
    const safe = safeFileName('invoice\u202Efdp.exe');
    expect(safe).toBe('invoicefdp.exe');
    expect(safe.endsWith('.exe')).toBe(true);
    expect(safeFileName('a\u2066b\u2067c\u2068d\u2069e\u202af\u202bg\u202ch\u202di\u200ej\u200fk\u061cl.txt')).toBe('abcdefghijkl.txt');
  });

  it('removes control characters, line separators and lone surrogates', () => {
    expect(safeFileName('a\u0000b\u0007c\nd\re\tf\u001bg\u007fh\u0085i\u009fj\u2028k.txt')).toBe('abcdefghijk.txt');
    expect(safeFileName('x\ud800y.txt')).toBe('xy.txt');
  });

  it('removes leading dots and spaces, and trailing dots and spaces', () => {
    expect(safeFileName('.bashrc')).toBe('bashrc');
    expect(safeFileName('...hidden.txt')).toBe('hidden.txt');
    expect(safeFileName('  . name.txt. . ')).toBe('name.txt');
    expect(safeFileName('setup.exe.')).toBe('setup.exe');
  });

  it('replaces characters Windows refuses, and defuses device names', () => {
    expect(safeFileName('a<b>c:d"e|f?g*h.txt')).toBe('a_b_c_d_e_f_g_h.txt');
    expect(safeFileName('NUL.txt')).toBe('_NUL.txt');
    expect(safeFileName('com1')).toBe('_com1');
    expect(safeFileName('console.log')).toBe('console.log');
  });

  it('collapses names with nothing left to "file"', () => {
    for (const name of ['', ' ', '...', '\u202e', '\u0000\u0001', '/', '\\\\', ' . . ']) expect(safeFileName(name)).toBe('file');
  });

  it('caps very long names at 120 code points, keeping the extension', () => {
    const long = safeFileName(`${'a'.repeat(300)}.pdf`);
    expect(codePoints(long)).toBe(MAX_SAFE_NAME_CHARS);
    expect(long.endsWith('.pdf')).toBe(true);
    const emoji = safeFileName(`${'😀'.repeat(200)}.jpeg`);
    expect(codePoints(emoji)).toBe(MAX_SAFE_NAME_CHARS);
    expect(emoji.endsWith('😀.jpeg')).toBe(true);
    // No half surrogate pair at the cut.
    expect(hasUnsafeNameChar(emoji)).toBe(false);
    // Something that is not a plausible extension is cut like the rest of the name.
    const noExtension = safeFileName(`${'b'.repeat(100)}.${'c'.repeat(100)}`);
    expect(codePoints(noExtension)).toBe(MAX_SAFE_NAME_CHARS);
    expect(noExtension.startsWith('b'.repeat(100))).toBe(true);
  });

  it('does not leave a trailing dot or space where the cut falls', () => {
    const name = `${'a'.repeat(114)}   ${'b'.repeat(50)}.txt`;
    const safe = safeFileName(name);
    expect(safe).toBe(`${'a'.repeat(114)}.txt`);
  });

  it('always yields something with no separators, controls or bidi characters', () => {
    const nasty = ['../\u202e\u0000', '\\..\\..\\', '.\u2066.', 'a/b\\c', `${'/'.repeat(500)}x`];
    for (const name of nasty) {
      const safe = safeFileName(name);
      expect(safe.length).toBeGreaterThan(0);
      expect(/[/\\]/.test(safe)).toBe(false);
      expect(hasUnsafeNameChar(safe)).toBe(false);
      expect(safe.startsWith('.')).toBe(false);
    }
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024, '10 KiB'],
    [5 * 1024 * 1024, '5.0 MiB'],
    [256 * 1024 * 1024, '256 MiB'],
    [1024 * 1024 - 1, '1.0 MiB'],
    [3 * 1024 ** 3, '3.0 GiB'],
  ])('%i → %s', (sizeBytes, text) => {
    expect(formatBytes(sizeBytes)).toBe(text);
  });

  it('throws for negative and non-finite sizes', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => formatBytes(bad)).toThrow();
  });
});
