/**
 * The event log of a state root: `<root>/events.log`, one JSON object a line, appended with
 * O_APPEND in a single write (so lines of concurrent writers, Node and the C monitors, never mix).
 * It outlives the processes that write it: `events` reads it, from any process.
 *
 * Who writes what: Node `create` (the state directory exists) and `destroy` (it is removed), and
 * whatever a part makes happen (pause, update …); the C monitor of a container (the plan's
 * `event-log` op, native/events.c) `start` once the command runs, `oom` as each OOM kill is
 * counted, `die` after the reap, so they are recorded when the Node process is gone.
 *
 * Size: past MAX_LOG_BYTES a writer renames it to `events.log.1` (the previous one is dropped),
 * under a lock file made with O_EXCL (`events.log.lock`), and only if the log is still the file
 * it wrote: two writers never rotate twice. A writer that opened the file before the rename
 * appends its line to `events.log.1`, whole. The C monitor does the same (native/events.c).
 */
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Op } from '../init/protocol.js';

export type EventType = 'create' | 'start' | 'exec_start' | 'exec_die' | 'die' | 'oom' | 'pause' | 'unpause' | 'update' | 'destroy';

export interface RecordedEvent {
  /** ISO 8601, UTC, with milliseconds */
  time: string;
  type: EventType;
  /** the driver's short name: `native`, `lxc` */
  driver: string;
  id: string;
  /** host pid of the container's init (create, start) or of the exec'd process (exec_start) */
  pid?: number;
  /** exec_start, exec_die */
  execId?: string;
  /** die, exec_die: the exit code (128+n after signal n) */
  exitCode?: number;
  /** die, exec_die: the signal's name when a signal ended it */
  signal?: string;
}

export const EVENTS_FILE = 'events.log';
/** Where the log goes when it passes MAX_LOG_BYTES (one generation is kept). */
export const ROTATED_FILE = 'events.log.1';
/** The log is rotated once a write makes it larger than this. */
export const MAX_LOG_BYTES = 4 * 1024 * 1024;
/** A rotation lock older than this was left by a writer that died while rotating. */
const LOCK_STALE_MS = 10_000;

export function eventsFile(root: string): string {
  return join(root, EVENTS_FILE);
}

/**
 * The monitor ops that make a container's (or, with `execId`, an exec'd process's) C monitor
 * record its own events (native/PROTOCOL.md): `event-log`, and for a container the OOM counter
 * to watch live (`oom-watch`) and, for an LXC container, LXC's log to read the start and the
 * status from (`lxc-log`).
 */
export function monitorEventOps(e: {
  root: string;
  driver: string;
  id: string;
  execId?: string;
  oomWatch?: string;
  lxcLog?: string;
  maxBytes?: number;
}): Op[] {
  const ops: Op[] = [['event-log', eventsFile(e.root), String(e.maxBytes ?? MAX_LOG_BYTES), e.driver, e.id, e.execId ?? '']];
  if (e.oomWatch && !e.execId) ops.push(['oom-watch', e.oomWatch]);
  if (e.lxcLog) ops.push(['lxc-log', e.lxcLog]);
  return ops;
}

/** Past `max`: rename the log to events.log.1 under the lock, if it still is the file `fd` wrote. */
function rotate(root: string, fd: number, max: number): void {
  const file = eventsFile(root);
  const lock = `${file}.lock`;
  let l: number;
  try {
    l = openSync(lock, 'wx', 0o600);
  } catch {
    try {
      if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
    } catch {
      /* gone meanwhile */
    }
    return;
  }
  try {
    const mine = fstatSync(fd);
    const now = statSync(file);
    if (now.ino === mine.ino && now.dev === mine.dev && now.size > max) renameSync(file, join(root, ROTATED_FILE));
  } catch {
    /* removed meanwhile */
  } finally {
    closeSync(l);
    try {
      unlinkSync(lock);
    } catch {
      /* someone took it as stale */
    }
  }
}

/**
 * Append one event. The log records what happened; failing to write it never fails the
 * operation itself (the state directory is the truth), so errors are swallowed here.
 */
export function appendEvent(root: string, event: Omit<RecordedEvent, 'time'> & { time?: string }, maxBytes = MAX_LOG_BYTES): void {
  const line = JSON.stringify({ time: event.time ?? new Date().toISOString(), ...event }) + '\n';
  const write = () => {
    const fd = openSync(eventsFile(root), 'a', 0o600);
    try {
      appendFileSync(fd, line);
      if (fstatSync(fd).size > maxBytes) rotate(root, fd, maxBytes);
    } finally {
      closeSync(fd);
    }
  };
  try {
    write();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return;
    try {
      mkdirSync(root, { recursive: true, mode: 0o711 });
      write();
    } catch {
      /* see above */
    }
  }
}

/** One line of the log as an event; undefined for a line that is not one (never thrown). */
export function parseEventLine(line: string): RecordedEvent | undefined {
  if (!line.trim()) return undefined;
  try {
    const v = JSON.parse(line) as RecordedEvent;
    if (!v || typeof v !== 'object' || typeof v.type !== 'string' || typeof v.id !== 'string' || typeof v.time !== 'string') return undefined;
    return v;
  } catch {
    return undefined;
  }
}

export interface EventRange {
  /** only events at or after this time (a Date, ms since the epoch, or an ISO string) */
  since?: Date | number | string;
  /** only events at or before this time */
  until?: Date | number | string;
}

function toMs(t: Date | number | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) throw new TypeError(`not a time: ${String(t)}`);
  return ms;
}

function inRange(ev: RecordedEvent, since?: number, until?: number): boolean {
  const t = Date.parse(ev.time);
  return (since === undefined || t >= since) && (until === undefined || t <= until);
}

function openOrUndefined(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch {
    return undefined;
  }
}

/** Read fd from pos to its end: the complete lines, and where the incomplete rest starts. */
function readLines(fd: number, pos: number): { lines: string[]; pos: number } {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(65536);
  let at = pos;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, at);
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    at += n;
  }
  const all = Buffer.concat(chunks);
  const end = all.lastIndexOf(0x0a) + 1;
  return { lines: all.toString('utf8', 0, end).split('\n').slice(0, -1), pos: pos + end };
}

/**
 * The current log, opened first, and the rotated one (unless a rotation between the two opens
 * made them the same file): events.log.1's lines come first.
 */
function openBoth(root: string): { current?: number; rotated?: number } {
  const current = openOrUndefined(eventsFile(root));
  let rotated = openOrUndefined(join(root, ROTATED_FILE));
  if (current !== undefined && rotated !== undefined) {
    const a = fstatSync(current);
    const b = fstatSync(rotated);
    if (a.ino === b.ino && a.dev === b.dev) {
      closeSync(rotated);
      rotated = undefined;
    }
  }
  return { ...(current !== undefined ? { current } : {}), ...(rotated !== undefined ? { rotated } : {}) };
}

/** The recorded events (events.log.1, then events.log), in the order they were written, within the range. */
export function readEvents(root: string, range: EventRange = {}): RecordedEvent[] {
  const since = toMs(range.since);
  const until = toMs(range.until);
  const { current, rotated } = openBoth(root);
  const out: RecordedEvent[] = [];
  for (const fd of [rotated, current]) {
    if (fd === undefined) continue;
    try {
      for (const line of readLines(fd, 0).lines) {
        const ev = parseEventLine(line);
        if (ev && inRange(ev, since, until)) out.push(ev);
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

export interface FollowOptions extends EventRange {
  signal?: AbortSignal;
  /** how often to look without a watch notification (ms): the fallback when fs.watch misses something */
  pollMs?: number;
}

/**
 * An async iterator over the log: with `since`, the recorded events from then on first; without
 * it, only what is appended after this call (the position is taken now, not at the first
 * `next()`). Then each line as it is appended (fs.watch on the root, and a look every `pollMs`
 * in case a notification is missed), across rotations. Ends at `until` (once that time has
 * passed), on the signal's abort, or on `return()` (`break`).
 */
export function followEvents(root: string, options: FollowOptions = {}): AsyncIterableIterator<RecordedEvent> {
  return new Follower(root, options);
}

class Follower implements AsyncIterableIterator<RecordedEvent> {
  private fd: number | undefined;
  private pos = 0;
  private readonly queue: RecordedEvent[] = [];
  private done = false;
  private wake: (() => void) | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private untilTimer: NodeJS.Timeout | undefined;
  private readonly since: number | undefined;
  private readonly until: number | undefined;
  private readonly onAbort = () => this.finish();

  constructor(
    private readonly root: string,
    private readonly opts: FollowOptions,
  ) {
    this.since = toMs(opts.since);
    this.until = toMs(opts.until);
    if (opts.signal?.aborted) {
      this.done = true;
      return;
    }
    const { current, rotated } = openBoth(root);
    if (this.since !== undefined) {
      // the past first: events.log.1, then the current file up to its end, then follow it
      if (rotated !== undefined) this.take(readLines(rotated, 0).lines);
      if (current !== undefined) {
        const r = readLines(current, 0);
        this.take(r.lines);
        this.pos = r.pos;
      }
    } else if (current !== undefined) {
      // from now on: lines are single writes, so the end is a line's end (anything else fails to parse and is skipped)
      this.pos = fstatSync(current).size;
    }
    if (rotated !== undefined) closeSync(rotated);
    this.fd = current;
    try {
      this.watcher = watch(root, { persistent: false }, () => this.poke());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      /* no root yet, or no inotify: the poll alone */
    }
    this.timer = setInterval(() => this.poke(), opts.pollMs ?? 1000);
    this.timer.unref();
    if (this.until !== undefined) {
      const left = this.until - Date.now();
      if (left <= 0 && this.since !== undefined) {
        this.finish();
      } else {
        this.untilTimer = setTimeout(() => {
          this.poke();
          this.finish();
        }, Math.max(0, left) + 1);
        this.untilTimer.unref();
      }
    }
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private take(lines: string[]): void {
    for (const line of lines) {
      const ev = parseEventLine(line);
      if (ev && inRange(ev, this.since, this.until)) this.queue.push(ev);
    }
  }

  /** Read what was appended; follow a rotation (drain the old file, then the new one from 0). */
  private poke(): void {
    if (this.done) return;
    for (let i = 0; i < 3; i++) {
      if (this.fd !== undefined) {
        const r = readLines(this.fd, this.pos);
        this.take(r.lines);
        this.pos = r.pos;
      }
      let st;
      try {
        st = statSync(eventsFile(this.root));
      } catch {
        break; // rotated away and not made again yet
      }
      const mine = this.fd !== undefined ? fstatSync(this.fd) : undefined;
      if (mine && mine.ino === st.ino && mine.dev === st.dev) break;
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = openOrUndefined(eventsFile(this.root));
      this.pos = 0;
    }
    if (this.queue.length) this.wake?.();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.untilTimer) clearTimeout(this.untilTimer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.wake?.();
  }

  async next(): Promise<IteratorResult<RecordedEvent>> {
    for (;;) {
      const ev = this.queue.shift();
      if (ev) return { done: false, value: ev };
      if (this.done) return { done: true, value: undefined };
      // a consumer waiting keeps the process alive (the watch does not: it is not persistent)
      this.timer?.ref();
      this.untilTimer?.ref();
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
      this.timer?.unref();
      this.untilTimer?.unref();
    }
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    this.finish();
    this.queue.length = 0;
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<RecordedEvent> {
    return this;
  }
}
