/**
 * Block I/O accounting: v1 `blkio` (throttle.io_service_bytes/io_serviced, recursive) and v2 `io`
 * (io.stat). Statistics only; execdriver sets no I/O limits.
 */

export interface IoStats {
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}

/** v1 blkio files: `MAJ:MIN Read N` … lines, plus a `Total N` line that is skipped. */
function sumV1(text: string | undefined): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of (text ?? '').split('\n')) {
    const m = /^\d+:\d+\s+(Read|Write)\s+(\d+)\s*$/.exec(line);
    if (!m) continue;
    if (m[1] === 'Read') read += Number(m[2]);
    else write += Number(m[2]);
  }
  return { read, write };
}

/** v2 io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N` per device. */
function sumV2(text: string | undefined): IoStats {
  const out: IoStats = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 };
  const key: Record<string, keyof IoStats> = { rbytes: 'readBytes', wbytes: 'writeBytes', rios: 'readOps', wios: 'writeOps' };
  for (const line of (text ?? '').split('\n')) {
    for (const m of line.matchAll(/\b(rbytes|wbytes|rios|wios)=(\d+)/g)) out[key[m[1]!]!] += Number(m[2]);
  }
  return out;
}

export const IO_STAT_FILES = {
  1: { bytes: 'blkio.throttle.io_service_bytes_recursive', ops: 'blkio.throttle.io_serviced_recursive' },
  2: { stat: 'io.stat' },
} as const;

export function parseIoStats(version: 1 | 2, files: { bytes?: string; ops?: string; stat?: string }): IoStats {
  if (version === 2) return sumV2(files.stat);
  const b = sumV1(files.bytes);
  const o = sumV1(files.ops);
  return { readBytes: b.read, writeBytes: b.write, readOps: o.read, writeOps: o.write };
}
