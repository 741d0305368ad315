import { closeSync, existsSync, openSync, readSync, statSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidConfigError, NotFoundError } from '../errors.js';
import { validateId } from '../id.js';
import { knownDrivers } from './drivers.js';
import { int, str, type Verb } from './args.js';

/** What is in F now (from offset FROM). */
function readFrom(f: string | number, from = 0): Buffer {
  let fd: number;
  try {
    fd = typeof f === 'number' ? f : openSync(f, 'r');
  } catch {
    return Buffer.alloc(0); // a rotation in between, or no times file: nothing
  }
  try {
    const size = fstatSync(fd).size;
    const b = Buffer.alloc(Math.max(0, size - from));
    let off = 0;
    while (off < b.length) {
      const r = readSync(fd, b, off, b.length - off, from + off);
      if (r <= 0) break;
      off += r;
    }
    return b.subarray(0, off);
  } finally {
    if (typeof f !== 'number') closeSync(fd);
  }
}

const mtimeNs = (f: string): bigint => {
  try {
    return statSync(f, { bigint: true }).mtimeNs;
  } catch {
    return BigInt(Date.now()) * 1_000_000n;
  }
};

export const logsVerb: Verb = {
  name: 'logs',
  summary: "print a detached container's output (stdout and stderr)",
  usage: `execdriver logs [-f] [-t] [--since T] [--until T] [--tail N] ID

  -f, --follow     go on printing what it writes, until it exits
  -n, --tail N     only the last N lines (of container.log and its rotated files)
  -t, --timestamps each line after the time it was written (RFC 3339, ns, UTC)
      --since T    only lines written at or after T: a duration before now (10m, 1h30m),
                   a Unix time, or an RFC 3339 time (2026-12-05T08:00:00Z)
      --until T    only lines written at or before T (the same forms)

What the container wrote on stdout comes on ours, its stderr on ours. container.log is bounded
(run --log-opt max-size=, max-file=); older output is in container.log.1, .2 … while kept.
Its times (and streams) are in container.time (.1, .2 …).`,
  options: {
    follow: { type: 'boolean', short: 'f' },
    tail: { type: 'string', short: 'n' },
    timestamps: { type: 'boolean', short: 't' },
    since: { type: 'string' },
    until: { type: 'string' },
    driver: { type: 'string' },
  },
  async run(ctx, values, [id, ...more]) {
    if (!id) throw new InvalidConfigError('logs: which container? (execdriver logs ID)');
    if (more.length) throw new InvalidConfigError(`logs: one container at a time (${more.join(' ')} too)`);
    validateId(id);
    const n = values['tail'] === 'all' ? undefined : int(values['tail'], '--tail');
    if (n !== undefined && n < 0) throw new InvalidConfigError(`--tail: ${n} is not a number of lines`);
    const timed = !!values['timestamps'] || values['since'] !== undefined || values['until'] !== undefined;
    const { parseTimeArg } = timed ? await import('./logtimes.js') : { parseTimeArg: undefined };
    const since = str(values['since']) !== undefined ? parseTimeArg!(str(values['since'])!, '--since') : undefined;
    const until = str(values['until']) !== undefined ? parseTimeArg!(str(values['until'])!, '--until') : undefined;
    return showLogs(ctx.root, id, {
      follow: !!values['follow'],
      stamps: !!values['timestamps'],
      ...(n !== undefined ? { tail: n } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    });
  },
};

export interface LogsOptions {
  follow?: boolean;
  /** the last N lines only */
  tail?: number;
  /** -t */
  stamps?: boolean;
  /** ns since the epoch */
  since?: bigint;
  until?: bigint;
  /** ends a follow (attach's detach keys) */
  signal?: AbortSignal;
  /** -f: called once what is there now was read (attach then feeds stdin: its answer is not missed) */
  onFollowing?: () => void;
}

/** Print container ID's log (`logs`, and `attach` to a container without a terminal). */
export async function showLogs(root: string, id: string, o: LogsOptions): Promise<number> {
  const { since, until, stamps = false, tail: n } = o;
  const lt = await import('./logtimes.js');
  const driver = knownDrivers().find((d) => existsSync(join(root, d, id)));
  if (!driver) throw new NotFoundError(id, root);
  const file = join(root, driver, id, 'container.log');
  const timesFile = join(root, driver, id, 'container.time');
  if (!existsSync(file)) throw new InvalidConfigError(`logs: container ${id} has no log (only a detached container has one)`);
  // the rotated files first (oldest first), then the current one
  const rotated: number[] = [];
  for (let k = 1; existsSync(`${file}.${k}`); k++) rotated.unshift(k);
  const outs = [process.stdout, process.stderr] as const;
  const write = (stream: number, b: Buffer | string) =>
    new Promise<void>((res) => {
      const w = outs[stream] ?? process.stdout;
      return b.length === 0 || w.write(b) ? res() : w.once('drain', res);
    });
  const stamp = (ns: bigint) => `${lt.rfc3339Nano(ns)} `;
  const shown = (ns: bigint) => (since === undefined || ns >= since) && (until === undefined || ns <= until);

  // what is there now: lines of both streams in the order of their first byte (a line stays in
  // its stream even when the other one wrote in between)
  interface Line {
    stream: number;
    ns: bigint;
    parts: Buffer[];
  }
  const lines: Line[] = [];
  const open: (Line | undefined)[] = [undefined, undefined];
  // everything, as it is: runs of one stream, no line kept (a big log stays cheap)
  const direct = n === undefined && !stamps && since === undefined && until === undefined;
  const runs: [number, Buffer][] = [];
  const collect = (buf: Buffer, recs: import('./logtimes.js').TimeRecords, fallback: bigint) =>
    lt.pieces(buf, 0, recs, fallback, (stream, ns, bytes, endsLine) => {
      let l = open[stream];
      if (!l) {
        l = open[stream] = { stream, ns, parts: [] };
        if (!direct) lines.push(l);
      }
      if (endsLine) open[stream] = undefined;
      if (!direct) return void l.parts.push(bytes);
      const r = runs.at(-1);
      if (r && r[0] === stream && r[1].buffer === bytes.buffer && r[1].byteOffset + r[1].length === bytes.byteOffset) {
        r[1] = Buffer.from(bytes.buffer, r[1].byteOffset, r[1].length + bytes.length);
      } else runs.push([stream, bytes]);
    });
  for (const k of rotated) collect(readFrom(`${file}.${k}`), lt.parseRecords(readFrom(`${timesFile}.${k}`)), mtimeNs(`${file}.${k}`));
  let fd = openSync(file, 'r');
  let tfd: number | undefined;
  const openTimes = () => {
    try {
      tfd = openSync(timesFile, 'r');
    } catch {
      tfd = undefined; // not written yet: the first chunk makes it
    }
  };
  openTimes();
  let recs = lt.parseRecords(Buffer.alloc(0));
  let tpos = 0;
  const loadTimes = () => {
    if (tfd === undefined) openTimes();
    if (tfd === undefined) return;
    const b = readFrom(tfd, tpos);
    const whole = b.length - (b.length % lt.RECORD);
    lt.parseRecords(b.subarray(0, whole), recs);
    tpos += whole;
  };
  loadTimes(); // before the log: every byte read has its record
  const current = readFrom(fd);
  let pos = current.length;
  collect(current, recs, mtimeNs(file));
  // per stream: at a line's start, and whether the line being written is shown (for -f)
  const atStart = [!open[0], !open[1]];
  for (const [stream, b] of runs) await write(stream, b);
  const last = (s: number) => lines.findLast((l) => l.stream === s);
  const chosen = (n === undefined ? lines : n === 0 ? [] : lines.slice(-n)).filter((l) => shown(l.ns));
  const printing = [0, 1].map((s) => direct || (!!last(s) && chosen.includes(last(s)!)));
  for (const l of chosen) {
    if (stamps) await write(l.stream, stamp(l.ns));
    await write(l.stream, l.parts.length === 1 ? l.parts[0]! : Buffer.concat(l.parts));
  }
  if (!o.follow) {
    closeSync(fd);
    if (tfd !== undefined) closeSync(tfd);
    return 0;
  }
  o.onFollowing?.();
  /** a chunk that starts at offset BASE of the current file */
  const emit = async (chunk: Buffer, base: number) => {
    loadTimes(); // written before the chunk: its records are there
    const out: [number, Buffer | string][] = [];
    lt.pieces(chunk, base, recs, BigInt(Date.now()) * 1_000_000n, (stream, ns, bytes, endsLine) => {
      if (atStart[stream]) {
        printing[stream] = shown(ns);
        if (printing[stream] && stamps) out.push([stream, stamp(ns)]);
      }
      if (printing[stream]) out.push([stream, bytes]);
      atStart[stream] = endsLine;
    });
    for (const [stream, b] of out) await write(stream, b);
  };
  const { driverFor } = await import('./drivers.js');
  const d = await driverFor(driver, root);
  const chunk = Buffer.alloc(65536);
  const drain = async () => {
    for (;;) {
      const r = readSync(fd, chunk, 0, chunk.length, pos);
      if (r <= 0) break;
      pos += r;
      await emit(chunk.subarray(0, r), pos - r);
    }
  };
  const ino = () => {
    try {
      return statSync(file).ino;
    } catch {
      return -1;
    }
  };
  const reset = () => {
    pos = 0;
    tpos = 0;
    recs = lt.parseRecords(Buffer.alloc(0));
  };
  // ended: not running for 300 ms (its monitor copies the last output after the reap), or removed
  let stoppedAt: number | undefined;
  const exited = () => {
    try {
      if (d.inspect(id).running) return false;
    } catch {
      return true;
    }
    stoppedAt ??= Date.now();
    return Date.now() - stoppedAt >= 300;
  };
  for (;;) {
    const done = exited(); // before the drain: what it wrote before is read next
    await drain();
    if (ino() !== fstatSync(fd).ino && ino() !== -1) {
      // rotated: the rest of the old file, then the new one from its start (its times file
      // is made before it, native/logrotate.c)
      await drain();
      closeSync(fd);
      if (tfd !== undefined) closeSync(tfd);
      fd = openSync(file, 'r');
      openTimes();
      reset();
      continue;
    }
    if (fstatSync(fd).size < pos) reset(); // emptied (max-file=1)
    if (done || o.signal?.aborted || (until !== undefined && BigInt(Date.now()) * 1_000_000n > until)) {
      await drain();
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  closeSync(fd);
  if (tfd !== undefined) closeSync(tfd);
  return 0;
}
