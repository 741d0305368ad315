/**
 * The Node side of a container's terminal kept by its monitor (native/PROTOCOL.md, "The attach
 * socket"): attach clients, resize requests, Docker's detach keys.
 */
import { connect, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { WriteStream } from 'node:tty';
import type { Attached, AttachOptions, ConsoleSize } from '../driver.js';
import { existsSync } from 'node:fs';
import { ExecDriverError, InvalidConfigError, NotFoundError, NotRunningError } from '../errors.js';
import type { StateDir } from '../state/index.js';
import { encodeFrame } from './protocol.js';

/** The output a detached terminal keeps for the next attach (bytes). */
export const ATTACH_BUFFER = 64 * 1024;

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';
/** the most input bytes in one `in` frame (the monitor takes frames up to 8 KiB) */
const IN_CHUNK = 4096;

export function checkSize(rows: number, cols: number): ConsoleSize {
  for (const [what, n] of [['rows', rows], ['columns', cols]] as const) {
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidConfigError(`invalid terminal size: ${what} ${n} (0 to 65535)`);
  }
  return { rows, cols };
}

/** The window size of a stream that is a terminal (process.stdout), else undefined. */
export function terminalSize(stream: Readable | Writable | number | null | undefined): ConsoleSize | undefined {
  if (typeof stream === 'number') return undefined; // a descriptor: its size is not asked for
  const t = stream as Partial<WriteStream> | null | undefined;
  if (!t?.isTTY || typeof t.rows !== 'number' || typeof t.columns !== 'number') return undefined;
  return { rows: t.rows, cols: t.columns };
}

/**
 * Docker's `--detach-keys`: keys separated by commas, each one character or `ctrl-X` with X one of
 * a-z @ [ \ ] ^ _. '' means no detach keys.
 */
export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const key of spec === '' ? [] : spec.split(',')) {
    const ctrl = /^ctrl-(.)$/i.exec(key);
    const c = ctrl?.[1]?.toLowerCase();
    if (c && c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else if (c && '@[\\]^_'.includes(c)) out.push(c === '@' ? 0 : 26 + '@[\\]^_'.indexOf(c));
    else if (!ctrl && key.length === 1 && key >= ' ' && key <= '~') out.push(key.charCodeAt(0));
    else throw new InvalidConfigError(`invalid detach keys "${spec}": "${key}" is not a character or ctrl-<a-z, @, [, \\, ], ^, _>`);
  }
  return Buffer.from(out);
}

/** Watches typed input for the detach sequence; bytes that may start it are held until they do not. */
export class DetachKeys {
  private matched = 0;
  constructor(private readonly seq: Buffer) {}

  /** The bytes to pass on, and whether the sequence is complete (what follows it is dropped). */
  push(chunk: Buffer): { data: Buffer; detach: boolean } {
    if (!this.seq.length) return { data: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b !== this.seq[this.matched]) {
        for (let i = 0; i < this.matched; i++) out.push(this.seq[i]!); // a false start: pass it on
        this.matched = 0;
        if (b !== this.seq[0]) {
          out.push(b);
          continue;
        }
      }
      if (++this.matched === this.seq.length) return { data: Buffer.from(out), detach: true };
    }
    return { data: Buffer.from(out), detach: false };
  }
}

/** Connect to a monitor's attach socket; rejects with the socket error (ENOENT, ECONNREFUSED …). */
function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

/** Send frames (a resize) without attaching; resolves once the monitor has closed the connection. */
export async function sendFrames(path: string, frames: string[][]): Promise<void> {
  const sock = await open(path);
  await new Promise<void>((resolve) => {
    sock.on('error', () => {});
    sock.on('close', () => resolve());
    sock.resume();
    for (const f of frames) sock.write(encodeFrame(f));
    sock.end();
  });
}

/** Attach to a monitor's terminal: its output to `stdout`, `stdin` typed in, detach keys watched. */
export async function attachConsole(path: string, opts: AttachOptions): Promise<Attached> {
  const keys = new DetachKeys(parseDetachKeys(opts.detachKeys ?? DEFAULT_DETACH_KEYS));
  if (opts.size) checkSize(opts.size.rows, opts.size.cols);
  const sock = await open(path);
  const { stdin, stdout } = opts;
  let how: 'detached' | 'ended' | undefined;
  let settle: (how: 'detached' | 'ended') => void = () => {};
  const done = new Promise<'detached' | 'ended'>((resolve) => (settle = resolve));
  const send = (...fields: (string | Buffer)[]) => {
    if (!sock.destroyed && !sock.writableEnded) sock.write(encodeFrame(fields));
  };
  const onInput = (chunk: Buffer | string) => {
    const { data, detach } = keys.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    for (let i = 0; i < data.length; i += IN_CHUNK) send('in', data.subarray(i, i + IN_CHUNK));
    if (detach) finish('detached');
  };
  const finish = (h: 'detached' | 'ended') => {
    how ??= h;
    stdin?.off('data', onInput);
    stdin?.pause();
    if (stdout) sock.unpipe(stdout);
    sock.resume(); // keep reading (and dropping) until the monitor closes: a paused socket would let the process exit first
    sock.end(); // the monitor closes the connection on its end; queued input still goes first
    setTimeout(() => sock.destroy(), 2000).unref();
  };
  sock.on('error', () => finish('ended'));
  sock.on('end', () => finish('ended'));
  sock.on('close', () => {
    finish('ended');
    settle(how ?? 'ended');
  });
  if (stdout) sock.pipe(stdout, { end: false });
  else sock.resume();
  send('attach');
  if (opts.size) send('resize', String(opts.size.rows), String(opts.size.cols));
  stdin?.on('data', onInput);
  stdin?.resume();
  return {
    resize: (rows, cols) => {
      checkSize(rows, cols);
      send('resize', String(rows), String(cols));
    },
    detach: () => finish('detached'),
    done,
  };
}

/** The attach socket's name in a detached tty container's state directory. */
export const ATTACH_SOCKET = 'attach.sock';

/** The control channels of the foreground tty containers this process runs, by state directory. */
const foreground = new Map<string, { send(...fields: string[]): void }>();

/**
 * A foreground tty container runs: remember its monitor's channel (for `resize` by id) until
 * `exited` settles. Returns the resize of its `Started`.
 */
export function trackForeground(
  state: StateDir,
  channel: { send(...fields: string[]): void },
  exited: Promise<unknown>,
): (rows: number, cols: number) => void {
  foreground.set(state.dir, channel);
  const forget = () => {
    if (foreground.get(state.dir) === channel) foreground.delete(state.dir);
  };
  exited.then(forget, forget);
  return (rows, cols) => {
    checkSize(rows, cols);
    channel.send('resize', String(rows), String(cols));
  };
}

/**
 * The window size of a tty container's terminal: through the control channel of one this process
 * runs, or the attach socket of a detached one. `ensureRunning` throws when it is not running.
 */
export async function resizeTerminal(state: StateDir, rows: number, cols: number, ensureRunning: () => void): Promise<void> {
  checkSize(rows, cols);
  const fg = foreground.get(state.dir);
  if (fg) return fg.send('resize', String(rows), String(cols));
  const path = attachSocketOf(state, ensureRunning);
  await sendFrames(path, [['resize', String(rows), String(cols)]]).catch((e: NodeJS.ErrnoException) => {
    throw attachFailure(state.id, e);
  });
}

/** Connect to a detached tty container's terminal (its monitor's attach socket). */
export async function attachTerminal(state: StateDir, options: AttachOptions, ensureRunning: () => void): Promise<Attached> {
  const path = attachSocketOf(state, ensureRunning);
  return attachConsole(path, options).catch((e: NodeJS.ErrnoException) => {
    throw attachFailure(state.id, e);
  });
}

function attachSocketOf(state: StateDir, ensureRunning: () => void): string {
  if (!state.exists()) throw new NotFoundError(state.id, state.dir);
  const path = state.path(ATTACH_SOCKET);
  if (existsSync(path)) return path;
  ensureRunning();
  throw new ExecDriverError('ERR_STATE', 'has no terminal to attach to (start it detached with tty)', { containerId: state.id });
}

function attachFailure(id: string, e: NodeJS.ErrnoException): Error {
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') return new NotRunningError(id);
  return new ExecDriverError('ERR_SYSTEM', `connect to the terminal: ${e.message}`, { containerId: id, cause: e });
}
