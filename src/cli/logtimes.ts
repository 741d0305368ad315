/**
 * The times of container.log's lines (`logs -t`, `--since`, `--until`). The monitor appends a
 * 16-byte record to container.time before each chunk it writes to container.log (native/logrotate.c,
 * `log-times`): u64 the log's size before the chunk (top bit: the chunk is stderr's), u64 the wall
 * clock in ns, little endian. A line's time is that of the chunk its first byte came in; each chunk
 * goes back to its stream; the log itself stays byte-exact.
 */
import { InvalidConfigError } from '../errors.js';

export interface TimeRecords {
  /** offsets in the log, ascending */
  offsets: number[];
  /** ns since the epoch */
  times: bigint[];
  /** 0 stdout, 1 stderr */
  streams: number[];
}

export const RECORD = 16;

const LOW63 = (1n << 63n) - 1n;

export function parseRecords(buf: Buffer, into: TimeRecords = { offsets: [], times: [], streams: [] }): TimeRecords {
  for (let i = 0; i + RECORD <= buf.length; i += RECORD) {
    const raw = buf.readBigUInt64LE(i);
    into.offsets.push(Number(raw & LOW63));
    into.streams.push(Number(raw >> 63n));
    into.times.push(buf.readBigUInt64LE(i + 8));
  }
  return into;
}

/** The index of the last record at or before OFFSET; -1 when none is. */
function recordAt(r: TimeRecords, offset: number): number {
  let lo = 0;
  let hi = r.offsets.length - 1;
  if (hi < 0 || r.offsets[0]! > offset) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (r.offsets[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Cut BUF (at offset BASE of its log) into pieces of one stream and one line at most, in order:
 * `cb(stream, ns, bytes, endsLine)`. Bytes before any record: stdout, at FALLBACK.
 */
export function pieces(buf: Buffer, base: number, r: TimeRecords, fallback: bigint, cb: (stream: number, ns: bigint, bytes: Buffer, endsLine: boolean) => void): void {
  let k = recordAt(r, base);
  for (let i = 0; i < buf.length; ) {
    while (k + 1 < r.offsets.length && r.offsets[k + 1]! <= base + i) k++;
    const end = k + 1 < r.offsets.length ? Math.min(buf.length, r.offsets[k + 1]! - base) : buf.length;
    const stream = k < 0 ? 0 : r.streams[k]!;
    const ns = k < 0 ? (r.times[0] ?? fallback) : r.times[k]!;
    while (i < end) {
      const nl = buf.indexOf(0x0a, i);
      const stop = nl < 0 || nl >= end ? end : nl + 1;
      cb(stream, ns, buf.subarray(i, stop), buf[stop - 1] === 0x0a);
      i = stop;
    }
  }
}

/** Docker's `logs -t` format: RFC 3339 in UTC with nine digits of ns. */
export function rfc3339Nano(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // 2026-12-05T08:49:58.123Z
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

const UNITS: Record<string, bigint> = { ns: 1n, us: 1000n, 'µs': 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/**
 * `--since` / `--until` as Docker takes them: a duration before now (`10m`, `1h30m`, `1.5h`,
 * `500ms`), a Unix time (`1733390000`, `1733390000.5`), or an RFC 3339 time (`2026-12-05T08:00:00Z`,
 * with ns, an offset, or without a zone: local time; a date alone: its midnight, local).
 */
export function parseTimeArg(s: string, flag: string, now: bigint = BigInt(Date.now()) * 1_000_000n): bigint {
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) {
    let total = 0;
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * Number(UNITS[m[2]!]!);
    return now - BigInt(Math.round(total));
  }
  if (/^\d+(\.\d{1,9})?$/.test(s)) {
    const [sec, frac = ''] = s.split('.');
    return BigInt(sec!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
  }
  const m = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?)?(Z|[+-]\d\d:?\d\d)?$/i.exec(s);
  if (m) {
    const time = m[2] ? (m[2].length === 5 ? `${m[2]}:00` : m[2]) : '00:00:00';
    const zone = m[4] ? (m[4].toUpperCase() === 'Z' ? 'Z' : m[4].includes(':') ? m[4] : `${m[4].slice(0, 3)}:${m[4].slice(3)}`) : '';
    const ms = Date.parse(`${m[1]}T${time}${zone}`);
    if (!Number.isNaN(ms)) return BigInt(ms) * 1_000_000n + BigInt((m[3] ?? '').padEnd(9, '0'));
  }
  throw new InvalidConfigError(`${flag}: "${s}" is neither a duration (10m, 1h30m), a Unix time nor an RFC 3339 time (2026-12-05T08:00:00Z)`);
}
