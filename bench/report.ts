/** Turns section results into the stdout tables and the JSON files under bench/results/. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Check, JsonObject, Table } from './harness.ts';

export function formatTable(table: Table): string {
  const widths = table.columns.map((column, index) => Math.max(column.length, ...table.rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index] ?? 0) : cell.padStart(widths[index] ?? 0))).join('  ').trimEnd();
  return [table.title, line(table.columns), widths.map((width) => '-'.repeat(width)).join('  '), ...table.rows.map(line)].join('\n');
}

export function formatChecks(checks: readonly Check[]): string {
  return checks.map((check) => `${check.met ? 'MET ' : 'MISS'}  ${check.name}: ${check.measured} (target ${check.target})`).join('\n');
}

/** Writes `<ISO timestamp>.json` and `latest.json`; colons become dashes so the name is valid on every file system. */
export async function writeResults(directory: string, startedAt: Date, report: JsonObject): Promise<string> {
  await mkdir(directory, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const file = path.join(directory, `${startedAt.toISOString().replace(/:/g, '-')}.json`);
  await writeFile(file, text);
  await writeFile(path.join(directory, 'latest.json'), text);
  return file;
}
