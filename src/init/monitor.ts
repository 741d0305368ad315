import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Pipes } from '../driver.js';
import { ExecDriverError } from '../errors.js';
import { encodeFrame, encodePlan, FrameDecoder, type Op } from './protocol.js';
import { initProtocolOf, PROTOCOL_VERSION } from './protocol.js';
import { PACKAGE_ROOT } from '../version.js';
import { Spawner } from './spawner.js';

/** How one of the container's fds 0-2 is given to it. */
export type Stdio = 'pipe' | 'ignore' | 'inherit' | number;

/**
 * How the caller's stream for one fd reaches the process spawned: none → /dev/null, else a pipe
 * that Node relays. A container never gets the caller's own descriptors, not even our own
 * stdin/stdout/stderr: through `/proc/self/fd/N` it could reopen the file behind them for writing,
 * or reach our terminal (TIOCSTI, job control). `direct` (our own streams handed straight over) is
 * only for a process that keeps them on the host side, as the monitor of a `tty` container does.
 * A number (Pipes: a descriptor of the caller's) is given to the monitor as that fd: the driver
 * then makes the monitor copy the output to it (`log-relay`, or its terminal relay), never the
 * container's own fd (streamsFor: for a path with no such monitor).
 */
export function stdioFor(stream: Readable | Writable | number | null | undefined, std: 'stdin' | 'stdout' | 'stderr', direct = false): Stdio {
  if (stream === null || stream === undefined) return 'ignore';
  if (typeof stream === 'number') return stream;
  if (direct && stream === process[std]) return 'inherit'; // (named, not passed: process.stdin is made on first use, ~6 ms)
  return 'pipe';
}

/**
 * Connect the caller's streams to the pipes of a spawned process (those that `stdioFor` made
 * pipes): stdin is fed until the process closes (our own stdin must not keep us alive), its
 * stdout/stderr end the caller's streams unless `end: false`.
 */
export function connectPipes(child: ChildProcess, stdio: readonly Stdio[], pipes: Pipes, feedStdin = true): void {
  if (feedStdin && pipes.stdin && stdio[0] === 'pipe' && child.stdin) {
    const [from, to] = [pipes.stdin, child.stdin];
    to.on('error', () => {});
    from.pipe(to);
    child.once('close', () => from.unpipe(to));
  }
  const end = pipes.end !== false;
  if (typeof pipes.stdout === 'object' && pipes.stdout && stdio[1] === 'pipe') child.stdout?.pipe(pipes.stdout, { end });
  if (typeof pipes.stderr === 'object' && pipes.stderr && stdio[2] === 'pipe') child.stderr?.pipe(pipes.stderr, { end });
}

/** Whether the caller gave a descriptor (a number) for the output: its monitor copies to it (`log-relay`). */
export function relaysToFd(pipes: Pipes | undefined): boolean {
  return typeof pipes?.stdout === 'number' || typeof pipes?.stderr === 'number';
}

/** PIPES with each descriptor (a number) made a stream that writes to it: for a path that relays in Node. */
export function streamsFor(pipes: Pipes): Pipes & { stdout?: Writable | null; stderr?: Writable | null } {
  if (!relaysToFd(pipes)) return pipes as Pipes & { stdout?: Writable | null; stderr?: Writable | null };
  const stream = (fd: number) => createWriteStream('', { fd, autoClose: false });
  return {
    ...pipes,
    stdout: typeof pipes.stdout === 'number' ? stream(pipes.stdout) : pipes.stdout,
    stderr: typeof pipes.stderr === 'number' ? stream(pipes.stderr) : pipes.stderr,
  };
}

/** The C init, built on install (scripts/build-init.mjs) or by `npm run build` (make -C native). */
export const INIT_BINARY = fileURLToPath(new URL('native/execdriver-init', PACKAGE_ROOT));

/**
 * The command that builds the init where this package is: in an installed package, npm's rebuild
 * (which runs the install script), or the script itself where npm's `allowScripts` skips it; in a
 * checkout of the repository, the build.
 */
export function initBuildCommand(binary = INIT_BINARY): string {
  const top = dirname(dirname(binary));
  if (!/\/node_modules\//.test(binary)) return '`npm run build`';
  return `\`npm rebuild execdriver\` (or \`node ${join(top, 'scripts/build-init.mjs')}\` where npm's allowScripts skips execdriver's install script)`;
}

let initFound = false;
/** The init's path; an ERR_SYSTEM naming the command that builds it when it is not there. */
export function requireInit(containerId?: string): string {
  if (initFound || (initFound = existsSync(INIT_BINARY))) return INIT_BINARY;
  throw new ExecDriverError(
    'ERR_SYSTEM',
    `the init helper ${INIT_BINARY} is not built: run ${initBuildCommand()}; it needs gcc, make, libc6-dev and libseccomp-dev`,
    { ...(containerId ? { containerId } : {}), path: INIT_BINARY },
  );
}

/**
 * The monitor's refusal of our plan because the init was built from other sources (another plan
 * protocol version: native/PROTOCOL.md), as the error to report; undefined for any other frame.
 */
export function protocolMismatch(frame: readonly string[] | undefined, containerId?: string): ExecDriverError | undefined {
  const theirs = initProtocolOf(frame);
  if (theirs === undefined) return undefined;
  const spoken = theirs ? `plan protocol ${theirs}` : 'an older plan protocol (unversioned)';
  return new ExecDriverError(
    'ERR_SYSTEM',
    `the init helper ${INIT_BINARY} speaks ${spoken}, this execdriver speaks plan protocol ${PROTOCOL_VERSION}: rebuild it: run ${initBuildCommand()}`,
    { ...(containerId ? { containerId } : {}), path: INIT_BINARY },
  );
}

/** The monitor process behind a channel: spawned by Node, or forked by the spawner (src/init/spawner.ts). */
interface MonitorProcess {
  readonly child?: ChildProcess;
  pid(): number | undefined;
  kill(signal: NodeJS.Signals): void;
  /** how it ended: `exit code N`, `signal S`, or what is known */
  exitText(): string;
  /** its exit code or signal, as a ChildProcess has them (both null: not known, or not yet) */
  exitCodes(): { code: number | null; signal: NodeJS.Signals | null };
  /** resolves once it has exited (reaped) */
  readonly exited: Promise<void>;
  unref(): void;
}

function spawnedProcess(child: ChildProcess): MonitorProcess {
  return {
    child,
    pid: () => child.pid,
    kill: (sig) => void child.kill(sig),
    exitText: () => (child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`),
    exitCodes: () => ({ code: child.exitCode, signal: child.signalCode }),
    exited: new Promise((resolve) => child.once('close', () => resolve())),
    unref: () => child.unref(),
  };
}

/**
 * The Node side of the control socket to one `execdriver-init monitor` process: sends the plan
 * and `go`, and hands out the frames the monitor sends back, in order.
 */
export class MonitorChannel {
  private readonly proc: MonitorProcess;
  private readonly ctl: Duplex;
  private readonly frames: string[][] = [];
  private waiters: { resolve: (f: string[] | undefined) => void }[] = [];
  private ended = false;
  private readonly closedPromise: Promise<void>;
  private readonly donePromise: Promise<void>;
  /** a forked monitor's first frame, ["monitor", PID, SECRET], not yet seen */
  private hello: ((f: string[]) => boolean) | undefined;

  private constructor(ctl: Duplex, proc: MonitorProcess, hello?: (f: string[]) => boolean) {
    this.proc = proc;
    this.ctl = ctl;
    this.hello = hello;
    const ctlClosed = new Promise<void>((resolve) => ctl.once('close', () => resolve()));
    this.closedPromise = hello ? Promise.all([ctlClosed, proc.exited]).then(() => {}) : proc.exited;
    this.donePromise = hello ? ctlClosed : this.closedPromise;
    const decoder = new FrameDecoder();
    this.ctl.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (this.hello) {
          const ok = this.hello(f);
          this.hello = undefined;
          if (!ok) return void this.ctl.destroy(); // not our fork: nothing it says is heard
          continue;
        }
        this.deliver(f);
      }
    });
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.waiters.splice(0)) w.resolve(undefined);
    };
    this.ctl.on('end', end);
    this.ctl.on('close', end);
    this.ctl.on('error', end);
    // a spawn that fails late (EAGAIN, ENOMEM) ends the channel instead of crashing the process
    proc.child?.on('error', end);
  }

  /** The monitor as a child of Node (any stdio). */
  static spawn(stdio: [Stdio, Stdio, Stdio], containerId: string): MonitorChannel {
    requireInit(containerId);
    // detached: the monitor gets its own session, so a terminal's Ctrl-C reaches only the caller,
    // which decides what to forward.
    const child = spawn(INIT_BINARY, ['monitor'], { stdio: [...stdio, 'pipe'], detached: true });
    return new MonitorChannel(child.stdio[3] as Duplex, spawnedProcess(child));
  }

  /**
   * The monitor forked by this process's spawner (src/init/spawner.ts), its fds 0-2 on /dev/null
   * (a container with no stdio of the caller's); undefined when there is no spawner (then spawn()).
   * The plan may be sent at once; the monitor's pid is known once its first frame came (by the `pid` frame).
   */
  static async fork(containerId: string): Promise<MonitorChannel | undefined> {
    requireInit(containerId);
    const spawner = await Spawner.get(INIT_BINARY);
    if (!spawner?.running) return undefined;
    let pid: number | undefined;
    let status: number | undefined;
    let reaped: (() => void) | undefined;
    const exited = new Promise<void>((resolve) => (reaped = resolve));
    const proc: MonitorProcess = {
      pid: () => pid,
      kill: (sig) => {
        if (pid && status === undefined) process.kill(pid, sig); // reaped: its pid may be another's now
      },
      exitText: () =>
        status === undefined ? 'its status unknown' : (status & 0x7f) ? `signal ${status & 0x7f}` : `exit code ${(status >> 8) & 0xff}`,
      exitCodes: () => {
        if (status === undefined) return { code: null, signal: null };
        const sig = status & 0x7f;
        const name = sig ? (Object.entries(osConstants.signals).find(([, n]) => n === sig)?.[0] as NodeJS.Signals | undefined) : undefined;
        return sig ? { code: null, signal: name ?? null } : { code: (status >> 8) & 0xff, signal: null };
      },
      exited,
      unref: () => {},
    };
    const ctl = spawner.connect();
    ctl.once('close', () => {
      if (pid === undefined) reaped!(); // never became a monitor: nothing to reap
    });
    return new MonitorChannel(ctl, proc, (f) => {
      if (f[0] !== 'monitor' || f[2] !== spawner.secret || !/^\d+$/.test(f[1] ?? '')) return false;
      pid = Number(f[1]);
      void spawner.reaped(pid).then((st) => {
        status = st;
        reaped!();
      });
      return true;
    });
  }

  /** The monitor's process (ChildProcess) when Node spawned it; an error for a forked one. */
  get child(): ChildProcess {
    if (!this.proc.child) throw new ExecDriverError('ERR_SYSTEM', 'internal: a forked monitor has no ChildProcess');
    return this.proc.child;
  }

  /** The ChildProcess of a monitor Node spawned; undefined for a forked one. */
  get spawned(): ChildProcess | undefined {
    return this.proc.child;
  }

  /** Its exit code or signal once it has exited (both null before, or when not known). */
  exitCodes(): { code: number | null; signal: NodeJS.Signals | null } {
    return this.proc.exitCodes();
  }

  /** The monitor's pid (a forked monitor's: once its first frame came). */
  get pid(): number | undefined {
    return this.proc.pid();
  }

  kill(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }

  /** How the monitor ended (`exit code N`, `signal S`), for an error message. */
  exitText(): string {
    return this.proc.exitText();
  }

  private deliver(f: string[]): void {
    const w = this.waiters.shift();
    if (w) w.resolve(f);
    else this.frames.push(f);
  }

  /** The next frame, or undefined once the monitor has closed the socket. */
  next(): Promise<string[] | undefined> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  sendPlan(ops: Op[]): void {
    const plan = encodePlan(ops);
    // A forked monitor's socket is connected (a unix socket's connect() is done at once) but Node
    // calls it `connecting` until its event loop next turns, and holds writes until then: the plan
    // would leave only once launch() awaits the `pid` frame (~0.4 ms measured). So it is written
    // to the descriptor now; what that does not take (nothing, so far) goes through the stream.
    const sock = this.ctl as Duplex & { connecting?: boolean; _handle?: { fd?: number } | null };
    const fd = sock.connecting ? sock._handle?.fd : undefined;
    let sent = 0;
    if (typeof fd === 'number' && fd >= 0) {
      try {
        sent = writeSync(fd, plan);
      } catch {
        sent = 0; // EAGAIN, or not connected after all: the stream reports what is wrong
      }
    }
    if (sent < plan.length) this.ctl.write(sent ? plan.subarray(sent) : plan);
  }

  send(...fields: string[]): void {
    if (!this.ctl.destroyed) this.ctl.write(encodeFrame(fields));
  }

  /** Let the monitor live on without us (detached containers). */
  release(): void {
    this.ctl.destroy();
    this.proc.unref();
  }

  /**
   * Let the monitor live on until this process exits, without keeping it alive: the control
   * socket stays open (unref'd) and closes with this process (`leave` of an exec: the monitor
   * hands the process over then).
   */
  releaseAtExit(): void {
    (this.ctl as Duplex & { unref?: () => void }).unref?.();
    this.ctl.pause();
    this.child.unref();
  }

  /** Resolves once the monitor process has exited and its stdio is closed. */
  closed(): Promise<void> {
    return this.closedPromise;
  }

  /**
   * Resolves once the monitor can do nothing more: a forked one once its control socket has
   * closed (it is exiting; its wait status comes from the spawner a little later), a spawned one
   * as closed() (its stdio, which may carry the container's output, closed too).
   */
  done(): Promise<void> {
    return this.donePromise;
  }
}
