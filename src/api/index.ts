/**
 * The Node-style library layer over the driver contract, the same for every driver: handles with
 * streams, cancelling and time limits, captured output, lifecycle events. A driver implements
 * `launch()` (create and start one container) and the contract's kill/resize; `ApiDriver` gives it
 * `run`, `start` and `events` (the state root's event log, src/events) on top.
 */
import { fstatSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { PassThrough, Readable } from 'node:stream';
import type {
  CapturedRun,
  Command,
  ContainerHandle,
  ExitStatus,
  ManagedDriver,
  Pipes,
  RunOptions,
  StartHandleOptions,
  StartInfo,
  StartOptions,
  Started,
  StdioOption,
} from '../driver.js';
import { AbortedError, CancelledError, InvalidConfigError, MaxBufferError, TimeoutError } from '../errors.js';
import { followEvents, type EventRange, type RecordedEvent } from '../events/log.js';

export const DEFAULT_MAX_BUFFER = 100 * 1024 * 1024;
export const DEFAULT_KILL_GRACE_MS = 5000;

function checkCancelOptions(opts: StartHandleOptions, id: string): void {
  const bad = (what: string) => new InvalidConfigError(what, { containerId: id });
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw bad('signal must be an AbortSignal');
  for (const k of ['timeout', 'killGraceMs'] as const) {
    const v = opts[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw bad(`${k} must be a number of ms ≥ 0`);
  }
  if (opts.killSignal !== undefined && (typeof opts.killSignal !== 'string' || !/^SIG[A-Z0-9]+$/.test(opts.killSignal))) {
    throw bad(`killSignal must be a signal name such as SIGTERM`);
  }
  if (opts.detach && (opts.signal || opts.timeout !== undefined || opts.stdio)) {
    throw bad('signal, timeout and stdio are for a container this process runs, not a detached one');
  }
}

/** Kills the container once, for one reason; SIGKILL follows a gentler signal after the grace period. */
class Canceller {
  reason?: { kind: 'abort'; cause: unknown } | { kind: 'timeout' } | { kind: 'maxBuffer'; stream: 'stdout' | 'stderr'; max: number };
  private id?: string;
  private timers: NodeJS.Timeout[] = [];
  private readonly onAbort = () => this.cancel({ kind: 'abort', cause: this.opts.signal?.reason });

  constructor(
    private readonly driver: ManagedDriver,
    private readonly opts: StartHandleOptions,
  ) {
    if (opts.timeout !== undefined) this.timer(opts.timeout, () => this.cancel({ kind: 'timeout' }));
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private timer(ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** The container is started: a cancel asked for during its start takes effect now. */
  started(id: string): void {
    this.id = id;
    if (this.reason) this.kill();
  }

  cancel(reason: NonNullable<Canceller['reason']>): void {
    if (this.reason) return;
    this.reason = reason;
    if (this.id !== undefined) this.kill();
  }

  private kill(): void {
    const id = this.id!;
    const sig = this.opts.killSignal ?? 'SIGKILL';
    void this.driver.kill(id, sig).catch(() => {});
    if (sig !== 'SIGKILL') this.timer(this.opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS, () => void this.driver.kill(id, 'SIGKILL').catch(() => {}));
  }

  dispose(): void {
    for (const t of this.timers.splice(0)) clearTimeout(t);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }

  error(id: string, status?: ExitStatus): CancelledError | undefined {
    const r = this.reason;
    if (!r) return undefined;
    if (r.kind === 'abort') return new AbortedError(id, status, r.cause);
    if (r.kind === 'timeout') return new TimeoutError(id, this.opts.timeout ?? 0, status);
    return new MaxBufferError(id, r.stream, r.max, status);
  }
}

const cancellers = new WeakMap<ContainerHandle, Canceller>();

/** The streams a handle gets for `stdio: 'pipe'`, given to the driver as the caller's pipes. */
function isOpenFd(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

export function handleStdio(opts: StartOptions, tty: boolean, id: string): { pipes: Pipes; stdin?: PassThrough; stdout?: PassThrough; stderr?: PassThrough } {
  const pipes: Pipes = { ...(opts.pipes ?? {}) };
  for (const fd of ['stdout', 'stderr'] as const) {
    const n = pipes[fd];
    if (typeof n === 'number' && !(Number.isInteger(n) && n >= 0 && isOpenFd(n))) {
      throw new InvalidConfigError(`pipes.${fd}: ${n} is not an open file descriptor of this process`, { containerId: id });
    }
  }
  const s = opts.stdio;
  if (s === undefined) return { pipes };
  const want: StdioOption[] = s === 'pipe' ? ['pipe', 'pipe', 'pipe'] : Array.isArray(s) && s.length === 3 ? s : [];
  if (want.length !== 3 || want.some((w) => w !== 'pipe' && w !== 'ignore')) {
    throw new InvalidConfigError(`stdio must be 'pipe' or three of 'pipe'/'ignore'`, { containerId: id });
  }
  const out: { pipes: Pipes; stdin?: PassThrough; stdout?: PassThrough; stderr?: PassThrough } = { pipes };
  (['stdin', 'stdout', 'stderr'] as const).forEach((fd, i) => {
    if (want[i] !== 'pipe' || (fd === 'stderr' && tty)) return; // a terminal merges stderr into stdout
    if (pipes[fd]) throw new InvalidConfigError(`stdio ${fd} is 'pipe' and pipes.${fd} is given: one or the other`, { containerId: id });
    const p = new PassThrough();
    pipes[fd] = p;
    out[fd] = p;
  });
  // our own streams always end with the container's output
  if (out.stdout || out.stderr) {
    if (pipes.end === false) throw new InvalidConfigError(`end: false with stdio 'pipe': the handle's streams always end`, { containerId: id });
  }
  return out;
}

/**
 * `driver.start()`: check the options, start through `launch`, and give back a handle whose
 * `exited` rejects with a `CancelledError` when the container was killed for `signal`/`timeout`.
 */
export async function startContainer(
  driver: ManagedDriver,
  launch: (command: Command, opts: StartOptions) => Promise<Started>,
  command: Command,
  opts: StartHandleOptions = {},
): Promise<ContainerHandle> {
  const id = String(command?.id ?? '');
  checkCancelOptions(opts, id);
  if (opts.signal?.aborted) throw new AbortedError(id, undefined, opts.signal.reason);
  const streams = handleStdio(opts, !!command.tty, id);
  const { signal: _s, timeout: _t, killSignal: _k, killGraceMs: _g, stdio: _io, ...rest } = opts;
  const canceller = new Canceller(driver, opts);
  let started: Started;
  try {
    started = await launch(command, { ...rest, pipes: streams.pipes });
  } catch (err) {
    canceller.dispose();
    throw err;
  }
  const cid = started.id;
  canceller.started(cid);
  const pipes = streams.pipes;
  const exited = opts.detach
    ? started.exited
    : started.exited.then(
        (status) => {
          canceller.dispose();
          // a terminal has no stderr: the caller's is ended here
          if (command.tty && typeof pipes.stderr === 'object' && pipes.stderr && pipes.end !== false && !pipes.stderr.writableEnded) pipes.stderr.end();
          const err = canceller.error(cid, status);
          if (err) throw err;
          return status;
        },
        (err: unknown) => {
          canceller.dispose();
          throw err;
        },
      );
  // a caller that never awaits `exited` is not crashed by a cancel (a detached one's is lazy: untouched)
  if (!opts.detach) exited.catch(() => {});
  const handle: ContainerHandle = {
    id: cid,
    pid: started.pid,
    exited,
    kill: (signal = 'SIGKILL') => driver.kill(cid, signal),
    resize: (rows, cols) => {
      if (!started.resize) throw new InvalidConfigError('resize: the container has no terminal (tty)', { containerId: cid });
      started.resize(rows, cols);
    },
    ...(streams.stdin ? { stdin: streams.stdin } : {}),
    ...(streams.stdout ? { stdout: streams.stdout } : {}),
    ...(streams.stderr ? { stderr: streams.stderr } : {}),
  };
  cancellers.set(handle, canceller);
  return handle;
}

function decode(chunks: Buffer[], encoding: BufferEncoding | 'buffer'): string | Buffer {
  const b = Buffer.concat(chunks);
  return encoding === 'buffer' ? b : b.toString(encoding);
}

/** `driver.run()`: the old `run(command, pipes, onStart)`, plus cancelling and `capture`. */
export async function runContainer(
  driver: ManagedDriver,
  launch: (command: Command, opts: StartOptions) => Promise<Started>,
  command: Command,
  options: RunOptions = {},
  onStart?: (info: StartInfo) => void,
): Promise<ExitStatus | CapturedRun<string | Buffer>> {
  const { capture, encoding = 'utf8', maxBuffer = DEFAULT_MAX_BUFFER, input, stdin, stdout, stderr, end, ...cancel } = options ?? {};
  const id = String(command?.id ?? '');
  const common = { ...cancel, ...(onStart ? { onStart } : {}) };
  if (!capture) {
    if (input !== undefined) throw new InvalidConfigError('input is for capture: true (else pass a stdin stream)', { containerId: id });
    const pipes: Pipes = { stdin: stdin ?? null, stdout: stdout ?? null, stderr: stderr ?? null, ...(end !== undefined ? { end } : {}) };
    const h = await startContainer(driver, launch, command, { ...common, pipes });
    return h.exited;
  }
  if (stdout || stderr) throw new InvalidConfigError('capture: true collects stdout and stderr: pass no streams for them', { containerId: id });
  if (typeof maxBuffer !== 'number' || !(maxBuffer > 0)) throw new InvalidConfigError('maxBuffer must be a number of bytes > 0', { containerId: id });
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) throw new InvalidConfigError(`encoding ${String(encoding)} is not known`, { containerId: id });
  if (input !== undefined && stdin) throw new InvalidConfigError('input and stdin: one or the other', { containerId: id });
  if (input !== undefined && typeof input !== 'string' && !Buffer.isBuffer(input)) throw new InvalidConfigError('input must be a string or a Buffer', { containerId: id });
  const stdinStream = input !== undefined ? Readable.from([Buffer.from(input)]) : stdin;
  const h = await startContainer(driver, launch, command, {
    ...common,
    ...(stdinStream ? { pipes: { stdin: stdinStream } } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const canceller = cancellers.get(h)!;
  const collected = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const done: Promise<unknown>[] = [];
  for (const name of ['stdout', 'stderr'] as const) {
    const s = h[name];
    if (!s) continue;
    let size = 0;
    s.on('data', (chunk: Buffer) => {
      if (size >= maxBuffer) return; // past the bound: drained and dropped
      const room = maxBuffer - size;
      collected[name].push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (chunk.length > room) canceller.cancel({ kind: 'maxBuffer', stream: name, max: maxBuffer });
    });
    done.push(finished(s).catch(() => {}));
  }
  const output = async () => {
    await Promise.all(done);
    return { stdout: decode(collected.stdout, encoding), stderr: decode(collected.stderr, encoding) };
  };
  let status: ExitStatus;
  try {
    status = await h.exited;
  } catch (err) {
    if (err instanceof CancelledError) Object.assign(err, await output());
    throw err;
  }
  return { id: h.id, ...status, ...(await output()) };
}

/**
 * What both drivers inherit: `run`, `start` and `events` over their `launch`.
 */
export abstract class ApiDriver {
  /** Create and start one container (the driver's own work). */
  protected abstract launch(command: Command, opts: StartOptions): Promise<Started>;
  abstract kill(id: string, signal?: NodeJS.Signals | number): Promise<void>;
  abstract name(): string;

  run(command: Command, options: RunOptions & { capture: true; encoding: 'buffer' }, onStart?: (info: StartInfo) => void): Promise<CapturedRun<Buffer>>;
  run(command: Command, options: RunOptions & { capture: true }, onStart?: (info: StartInfo) => void): Promise<CapturedRun>;
  run(command: Command, options?: RunOptions, onStart?: (info: StartInfo) => void): Promise<ExitStatus>;
  run(command: Command, options: RunOptions = {}, onStart?: (info: StartInfo) => void): Promise<ExitStatus | CapturedRun<string | Buffer>> {
    return runContainer(this as unknown as ManagedDriver, (c, o) => this.launch(c, o), command, options, onStart);
  }

  start(command: Command, options: StartHandleOptions = {}): Promise<ContainerHandle> {
    return startContainer(this as unknown as ManagedDriver, (c, o) => this.launch(c, o), command, options);
  }

  abstract readonly root: string;

  /**
   * The events of every container under the state root (both drivers), from the persistent log
   * (src/events/log.ts): with `since`, the recorded ones from then on first; then as they happen,
   * until `until` has passed, the signal aborts, or `break`.
   */
  events(options: EventRange & { signal?: AbortSignal } = {}): AsyncIterableIterator<RecordedEvent> {
    return followEvents(this.root, options);
  }
}
