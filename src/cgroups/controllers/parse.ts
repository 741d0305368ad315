/**
 * Pure parsers shared by the controllers: flat-keyed files (`key value` per line, as
 * memory.stat, cpu.stat, memory.events) and single values (`max` or a number).
 */

/** `key value` lines → a map; lines that do not end in a number are skipped. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(-?\d+)\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** v1 limits at or above this are "no limit" (the kernel shows PAGE_COUNTER_MAX * page size, ~2^63). */
export const V1_UNLIMITED = 2 ** 62;

/** A limit file: `max` (v2), -1 or a huge v1 value → null; else the number. */
export function parseLimit(text: string): number | null {
  const s = text.trim();
  if (s === 'max' || s === '-1' || s === '') return null;
  const n = Number(s);
  if (!Number.isFinite(n) || n >= V1_UNLIMITED) return null;
  return n;
}

/** A counter file holding one number (missing or empty → 0). */
export function parseCount(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number.parseInt(text.trim(), 10);
  return Number.isFinite(n) ? n : 0;
}
