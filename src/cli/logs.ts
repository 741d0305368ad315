import { closeSync, existsSync, openSync, readSync, statSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidConfigError, NotFoundError } from '../errors.js';
import { validateId } from '../id.js';
import { knownDrivers } from './drivers.js';
import { int, str, type Verb } from './args.js';

/** The last N lines of a buffer. */
function tail(buf: Buffer, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end && buf[end - 1] === 0x0a) end--;
  let i = end;
  for (let k = 0; k < n; k++) {
    i = buf.lastIndexOf(0x0a, i - 1);
    if (i < 0) return buf;
  }
  return buf.subarray(i + 1);
}

const write = (b: Buffer | string) => new Promise<void>((res) => (b.length === 0 || process.stdout.write(b) ? res() : process.stdout.once('drain', res)));

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

container.log is bounded (run --log-opt max-size=, max-file=); older output is in
container.log.1, .2 … while kept. Its times are in container.time (.1, .2 …).`,
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
}

/** Print container ID's log (`logs`, and `attach` to a container without a terminal). */
export async function showLogs(root: string, id: string, o: LogsOptions): Promise<number> {
  const ctx = { root };
  const { since, until, stamps = false, tail: n } = o;
  const timed = stamps || since !== undefined || until !== undefined;
  const driver = knownDrivers().find((d) => existsSync(join(ctx.root, d, id)));
  if (!driver) throw new NotFoundError(id, ctx.root);
  const file = join(ctx.root, driver, id, 'container.log');
  const timesFile = join(ctx.root, driver, id, 'container.time');
  if (!existsSync(file)) throw new InvalidConfigError(`logs: container ${id} has no log (only a detached container has one)`);
  // the rotated files first (oldest first), then the current one
  const rotated: number[] = [];
  for (let k = 1; existsSync(`${file}.${k}`); k++) rotated.unshift(k);
  let fd = openSync(file, 'r');
  let tfd: number | undefined;
  const openTimes = () => {
    try {
      tfd = openSync(timesFile, 'r');
    } catch {
      tfd = undefined; // not written yet: the first chunk makes it
    }
  };
  if (timed) openTimes();
  let pos = 0;
  const lt = timed ? await import('./logtimes.js') : undefined;
  let recs = lt?.parseRecords(Buffer.alloc(0));
  let tpos = 0;
  const loadTimes = () => {
    if (!lt) return;
    if (tfd === undefined) openTimes();
    if (tfd === undefined) return;
    const b = readFrom(tfd, tpos);
    const whole = b.length - (b.length % lt.RECORD);
    lt.parseRecords(b.subarray(0, whole), recs);
    tpos += whole;
  };
  // the line state across chunks (-t, --since, --until)
  let atStart = true;
  let printing = true;
  if (!lt) {
    const initial = Buffer.concat([...rotated.map((k) => readFrom(`${file}.${k}`)), (() => {
      const b = readFrom(fd);
      pos = b.length;
      return b;
    })()]);
    await write(n === undefined ? initial : tail(initial, n));
  } else {
    const lines = rotated.flatMap((k) => lt.timedLines(readFrom(`${file}.${k}`), 0, lt.parseRecords(readFrom(`${timesFile}.${k}`)), mtimeNs(`${file}.${k}`)));
    loadTimes();
    const current = readFrom(fd);
    pos = current.length;
    lines.push(...lt.timedLines(current, 0, recs!, mtimeNs(file)));
    const last = lines.at(-1);
    atStart = !last || last.bytes.at(-1) === 0x0a;
    const shown = (n === undefined ? lines : n === 0 ? [] : lines.slice(-n)).filter((l) => (since === undefined || l.ns >= since) && (until === undefined || l.ns <= until));
    printing = !!last && shown.at(-1) === last;
    await write(Buffer.concat(shown.flatMap((l) => (stamps ? [Buffer.from(`${lt.rfc3339Nano(l.ns)} `), l.bytes] : [l.bytes]))));
  }
  if (!o.follow) {
    closeSync(fd);
    if (tfd !== undefined) closeSync(tfd);
    return 0;
  }
  /** a chunk that starts at offset BASE of the current file */
  const emit = async (chunk: Buffer, base: number) => {
    if (!lt) return write(chunk);
    loadTimes(); // written before the chunk: its records are there
    const now = BigInt(Date.now()) * 1_000_000n;
    for (let i = 0; i < chunk.length; ) {
      if (atStart) {
        const ns = lt.timeAt(recs!, base + i, now);
        printing = (since === undefined || ns >= since) && (until === undefined || ns <= until);
        if (printing && stamps) await write(`${lt.rfc3339Nano(ns)} `);
        atStart = false;
      }
      const nl = chunk.indexOf(0x0a, i);
      const end = nl < 0 ? chunk.length : nl + 1;
      if (printing) await write(chunk.subarray(i, end));
      if (nl >= 0) atStart = true;
      i = end;
    }
  };
  const { driverFor } = await import('./drivers.js');
  const d = await driverFor(driver, ctx.root);
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
    if (recs) recs = lt!.parseRecords(Buffer.alloc(0));
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
      if (lt) openTimes();
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
