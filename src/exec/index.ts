/**
 * exec: another process in a running container, the same for both drivers. The C init's monitor
 * opens the namespaces of the container's init before it forks (`join`, native/PROTOCOL.md), so
 * the child starts in the container's pid namespace; Node puts it in the init's cgroups; the child
 * joins the other namespaces (user first, mnt last), takes the container's root, and ends like the
 * container's own process (`processTail`: keyring, bounding set, seccomp, user, capabilities, exec).
 * What the container's process was given (user, env, cwd, kept capabilities, filter) is recorded
 * at its start (`process.json`, `seccomp.bpf` in its state directory: `recordInitProcess`).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { PassThrough, Readable, Writable } from 'node:stream';
import { handleStdio } from '../api/index.js';
import { capabilitySets, hostCapabilities } from '../capabilities.js';
import { hostLayout } from '../cgroups/layout.js';
import type { ConsoleSize, ExitStatus, Pipes, StdioOption } from '../driver.js';
import { monitorEventOps } from '../events/log.js';
import { ExecDriverError, InvalidConfigError, NotFoundError, StartError, describeErrno, systemError, type ErrorCode } from '../errors.js';
import { checkSize, terminalSize } from '../init/console.js';
import { connectPipes, INIT_BINARY, MonitorChannel, relaysToFd, requireInit, stdioFor, type Stdio } from '../init/monitor.js';
import { FrameDecoder, type ContainerOp, type Op } from '../init/protocol.js';
import { processTail } from '../init/tail.js';
import { isSameProcessAlive, processStartTime, STATE_FILE, type InitRecord, type StateDir } from '../state/index.js';
import { lazyPromise, sleep, within } from '../time.js';
import { resolveUserFrom, type ResolvedUser } from '../users.js';

/** The process to start in a running container. */
export interface ExecProcess {
  /** the command and its arguments (looked up on the container's PATH, as `run` does) */
  args: string[];
  /** `KEY=VALUE`, added to the container's environment (a key given here wins) */
  env?: string[];
  /** the working directory (absolute, in the container); default the container's */
  cwd?: string;
  /** `USER[:GROUP]` (names or ids), resolved in the container's /etc/passwd and /etc/group; default the container's user */
  user?: string;
  /** a terminal of its own (fds 0-2), with resize */
  tty?: boolean;
  /** every capability the host has, and no seccomp filter (`docker exec --privileged`) */
  privileged?: boolean;
  /** with `tty`: the initial window size (default the caller's stdout's when it is a terminal, else 24×80) */
  consoleSize?: ConsoleSize;
}

export interface ExecOptions {
  /** the caller's streams (without one that fd is /dev/null) */
  pipes?: Pipes;
  /** `pipe`: the handle gets `stdin`/`stdout`/`stderr` streams (or per fd) */
  stdio?: 'pipe' | [StdioOption, StdioOption, StdioOption];
  /** leave it running under a monitor of its own; its output goes to `<state>/exec/<execId>/exec.log` */
  detach?: boolean;
  /**
   * (an OCI runtime's `exec --detach`, as runc's) the process gets the caller's own fds 0-2 and,
   * once it runs, its monitor exits: it is reparented to the caller's subreaper (containerd's
   * shim, conmon), which reaps it and has its exit status; nothing of it is kept here
   */
  leave?: boolean;
  /**
   * (an OCI runtime's `exec --console-socket`, with `tty`) the terminal's master is sent to this
   * unix socket with SCM_RIGHTS (as runc's; containerd's shim and conmon hold it), not relayed;
   * the process's fds 0-2 and controlling terminal are its slave, in the container's devpts
   */
  consoleSocket?: string;
}

/** What `driver.exec()` resolves with: the process runs (its exec succeeded). */
export interface ExecHandle {
  id: string;
  execId: string;
  /** its host pid */
  pid: number;
  /** its exit status (128+n after signal n); detached: polled from its record once awaited */
  exited: Promise<ExitStatus>;
  /** signal it (default SIGKILL) */
  kill(signal?: NodeJS.Signals | number): Promise<void>;
  /** with `tty`: its terminal's window size */
  resize(rows: number, cols: number): void;
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
}

/** What the container's own process was given: recorded at its start, the defaults of an exec. */
export interface InitProcessRecord {
  user: ResolvedUser;
  env: string[];
  cwd: string;
  /** the capabilities the container keeps (its bounding set) */
  kept: string[];
  ambient: string[];
  noNewPrivileges: boolean;
  /** the compiled seccomp filter's file in the state directory, or null (unconfined) */
  seccomp: string | null;
}

export const PROCESS_FILE = 'process.json';
export const SECCOMP_PROGRAM = 'seccomp.bpf';
export const EXEC_DIR = 'exec';

/** At a container's start (both drivers): what an exec into it gets by default. */
export function recordInitProcess(
  state: StateDir,
  p: { user: ResolvedUser; env: string[]; cwd: string; kept: string[]; ambient: string[]; noNewPrivileges: boolean; filter?: string | undefined },
): void {
  const rec: InitProcessRecord = {
    user: p.user,
    env: p.env,
    cwd: p.cwd || '/',
    kept: p.kept,
    ambient: p.ambient,
    noNewPrivileges: p.noNewPrivileges,
    seccomp: p.filter ? SECCOMP_PROGRAM : null,
  };
  // plain writes: nothing reads them before the container runs (an exec needs its state.json first)
  const files: [string, string | Buffer][] = [[PROCESS_FILE, JSON.stringify(rec) + '\n']];
  if (p.filter) files.push([SECCOMP_PROGRAM, Buffer.from(p.filter, 'hex')]);
  for (const [name, data] of files) {
    const file = state.path(name);
    try {
      writeFileSync(file, data, { mode: 0o600 });
    } catch (e) {
      throw systemError('ERR_STATE', `write ${file}`, e, { containerId: state.id, path: file });
    }
  }
}

/** What a driver tells the shared exec about one of its containers. */
export interface ExecTarget {
  root: string;
  /** `native` or `lxc` */
  driver: string;
  state: StateDir;
  /** a non-root caller: no cgroups to join, the monitor joins the user namespace first */
  rootless: boolean;
}

/** A detached exec's record in `<state>/exec/<execId>/exec.json`. */
export interface ExecRecord {
  execId: string;
  pid: number;
  startTime: number;
  monitorPid: number;
  args: string[];
  detached: boolean;
  tty: boolean;
  startedAt: string;
}

const ENV_RE = /^[^=\0]+=[^\0]*$/;

function checkProcess(p: ExecProcess, opts: ExecOptions, id: string): void {
  const bad = (m: string) => new InvalidConfigError(`exec: ${m}`, { containerId: id });
  if (!p || typeof p !== 'object') throw bad('the process must be an object');
  const known = new Set(['args', 'env', 'cwd', 'user', 'tty', 'privileged', 'consoleSize']);
  for (const k of Object.keys(p)) if (!known.has(k) && (p as unknown as Record<string, unknown>)[k] !== undefined) throw bad(`${k}: unknown field`);
  if (!Array.isArray(p.args) || p.args.length === 0 || p.args.some((a) => typeof a !== 'string')) throw bad('args must be a non-empty array of strings');
  if (p.args[0] === '') throw bad('args[0] (the command) must not be empty');
  if (p.args.some((a) => a.includes('\0'))) throw bad('args must not contain a NUL byte');
  if (p.env !== undefined && (!Array.isArray(p.env) || p.env.some((e) => typeof e !== 'string' || !ENV_RE.test(e)))) {
    throw bad(`env must be KEY=VALUE strings (${JSON.stringify((p.env as unknown[]).find((e) => typeof e !== 'string' || !ENV_RE.test(e)))})`);
  }
  if (p.cwd !== undefined && (typeof p.cwd !== 'string' || !p.cwd.startsWith('/') || p.cwd.includes('\0'))) throw bad(`cwd must be an absolute path, not ${JSON.stringify(p.cwd)}`);
  if (p.user !== undefined && (typeof p.user !== 'string' || p.user.includes('\0') || p.user.trim() === '')) throw bad(`user must be USER[:GROUP], not ${JSON.stringify(p.user)}`);
  for (const k of ['tty', 'privileged'] as const) if (p[k] !== undefined && typeof p[k] !== 'boolean') throw bad(`${k} must be a boolean`);
  if (p.consoleSize !== undefined) checkSize(p.consoleSize?.rows, p.consoleSize?.cols);
  if (opts.detach !== undefined && typeof opts.detach !== 'boolean') throw bad('detach must be a boolean');
  if (opts.detach && (opts.stdio || opts.pipes?.stdin || opts.pipes?.stdout || opts.pipes?.stderr)) throw bad('a detached exec takes no streams (its output goes to its log)');
  if (opts.leave !== undefined && typeof opts.leave !== 'boolean') throw bad('leave must be a boolean');
  if (opts.consoleSocket !== undefined) {
    if (typeof opts.consoleSocket !== 'string' || !opts.consoleSocket.startsWith('/') || opts.consoleSocket.includes('\0')) throw bad(`consoleSocket must be an absolute path, not ${JSON.stringify(opts.consoleSocket)}`);
    if (!p.tty) throw bad('consoleSocket is for an exec with a terminal (tty)');
    if (opts.pipes?.stdin || opts.pipes?.stdout || opts.pipes?.stderr || opts.stdio) throw bad('an exec whose terminal goes to a console socket takes no streams');
    let isSocket = false;
    try {
      isSocket = statSync(opts.consoleSocket).isSocket();
    } catch (e) {
      throw bad(`console socket ${opts.consoleSocket}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    if (!isSocket) throw bad(`console socket ${opts.consoleSocket} is not a unix socket`);
  }
  if (opts.leave && (!opts.detach || (p.tty && !opts.consoleSocket))) throw bad('leave is for a detached exec without a terminal, or whose terminal goes to a console socket');
}

/** The running container's init, or a clear error: unknown id (125), not running or paused (1, as docker). */
function runningInit(target: ExecTarget): InitRecord {
  const { state } = target;
  const id = state.id;
  const rec = state.readJson<InitRecord>(STATE_FILE);
  if (!rec && !state.exists()) throw new NotFoundError(id, state.dir);
  if (!rec || !rec.pid || !isSameProcessAlive(rec.pid, rec.startTime)) {
    throw new ExecDriverError('ERR_NOT_RUNNING', 'is not running: cannot exec into it', { containerId: id, exitCode: 1 });
  }
  if (isFrozen(rec.pid)) {
    throw new ExecDriverError('ERR_STATE', 'is paused: unpause it before exec', { containerId: id, exitCode: 1 });
  }
  return rec;
}

/** The cgroup directories of process `pid`, one per mounted hierarchy: [hierarchy key or '' for v2, directory]. */
export function cgroupDirsOf(pid: number): [string, string][] {
  const layout = hostLayout();
  const out: [string, string][] = [];
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, , ctrls = '', path = ''] = m;
    if (ctrls === '') {
      if (layout.v2) out.push(['', join(layout.v2.mountpoint, path)]);
      continue;
    }
    const want = ctrls.split(',').sort().join(',');
    for (const [key, h] of layout.v1) {
      if (key.split(',').sort().join(',') === want) out.push([key, join(h.mountpoint, path)]);
    }
  }
  return out;
}

/** The container's cgroup is frozen (paused): v1 freezer.state FROZEN/FREEZING, or v2 cgroup.freeze 1. */
function isFrozen(pid: number): boolean {
  for (const [key, dir] of cgroupDirsOf(pid)) {
    try {
      if (key === '' && readFileSync(join(dir, 'cgroup.freeze'), 'utf8').trim() === '1') return true;
      if (key.split(',').includes('freezer') && /FROZEN|FREEZING/.test(readFileSync(join(dir, 'freezer.state'), 'utf8'))) return true;
    } catch {
      /* no such file at this level */
    }
  }
  return false;
}

/** Put `pid` in every cgroup the container's init is in (those that differ from ours). */
function joinCgroups(id: string, init: number, pid: number): void {
  const ours = new Map(cgroupDirsOf(process.pid));
  for (const [key, dir] of cgroupDirsOf(init)) {
    if (ours.get(key) === dir) continue;
    const file = join(dir, 'cgroup.procs');
    try {
      writeFileSync(file, String(pid));
    } catch (e) {
      const errno = Math.abs((e as NodeJS.ErrnoException).errno ?? 0);
      throw new ExecDriverError('ERR_CGROUP', `exec: join the container's cgroup: write ${pid} to ${file}${errno ? `: ${describeErrno(errno)}` : ''}`, {
        containerId: id, step: 'cgroup join', path: file, ...(errno ? { errno } : {}), cause: e,
      });
    }
  }
}

/**
 * A user spec resolved in the container's own /etc/passwd and /etc/group, read through its root
 * by the C init (`read-in-root`: RESOLVE_IN_ROOT, so a symlink in the container's /etc cannot
 * make us read a host file).
 */
function resolveExecUser(id: string, init: number, spec: string): ResolvedUser {
  const root = `/proc/${init}/root`;
  const r = spawnSync(INIT_BINARY, ['read-in-root', root, 'etc/passwd', 'etc/group'], { maxBuffer: 16 << 20 });
  const frame = r.status === 0 ? new FrameDecoder().push(r.stdout)[0] : undefined;
  if (!frame || frame.length !== 2) {
    throw new ExecDriverError('ERR_SYSTEM', `exec: read /etc/passwd and /etc/group in the container: ${String(r.stderr ?? r.error ?? '').trim() || `exit status ${r.status}`}`, { containerId: id });
  }
  try {
    return resolveUserFrom(spec, frame[0]!, frame[1]!);
  } catch (e) {
    if (e instanceof InvalidConfigError) throw new InvalidConfigError(`exec: ${e.message}`, { containerId: id });
    throw e;
  }
}

/** The container's environment with the exec's added (a key given twice: the later one). */
function mergeEnv(base: string[], add: string[]): string[] {
  const keyOf = (e: string) => e.slice(0, e.indexOf('='));
  const addKeys = new Set(add.map(keyOf));
  return [...base.filter((e) => !addKeys.has(keyOf(e))), ...add];
}

/** The plan of an exec (native/PROTOCOL.md: `join` in host mode, then the container's last steps). */
export function buildExecPlan(p: {
  initPid: number;
  rootless: boolean;
  userns: boolean;
  detach: boolean;
  /** not detached: the caller gave descriptors for the output (Pipes), the monitor copies to them */
  relayOutput?: boolean;
  exitFile?: string;
  tty?: ConsoleSize;
  user: ResolvedUser;
  kept: string[];
  ambient: string[];
  noNewPrivileges: boolean;
  filter?: string;
  cwd: string;
  env: string[];
  args: string[];
  /** the state root whose event log the exec's monitor appends `exec_start` and `exec_die` to (src/events) */
  eventLog?: { root: string; driver: string; id: string; execId: string };
  /** ExecOptions.leave: the caller's fds, the monitor exits once the process runs */
  leave?: boolean;
  /** ExecOptions.consoleSocket (with tty): the master is sent there, not relayed */
  consoleSocket?: string;
}): Op[] {
  const ops: Op[] = [];
  // the monitor's part: no clone (host mode); `join` opens the container before the fork
  ops.push(['join', String(p.initPid), p.rootless && p.userns ? 'userns-first' : '']);
  if (p.exitFile) ops.push(['exit-file', p.exitFile]);
  if (p.eventLog) ops.push(...monitorEventOps(p.eventLog));
  if (p.detach) ops.push(['detach']);
  ops.push(['signals-forward']);
  if ((p.detach || p.relayOutput) && !p.tty && !p.leave) ops.push(p.relayOutput ? ['log-relay', 'socket'] : ['log-relay']);
  if (p.leave) ops.push(['leave']);
  if (p.tty) ops.push(['tty', String(p.tty.rows), String(p.tty.cols)]);
  if (p.tty && p.consoleSocket) ops.push(['console-socket', p.consoleSocket]);
  // the child, in the container from here on: in its user namespace, first become its root
  if (p.userns) ops.push(['user', '0', '0', '']);
  if (p.tty) {
    ops.push(['console', 'dev/pts/ptmx', '']); // a terminal of the container's devpts
    if (p.user.uid !== 0) ops.push(['chown', '/proc/self/fd/0', String(p.user.uid), String(p.user.gid)]);
  }
  ops.push(['umask', '22']);
  ops.push(
    ...processTail({
      sets: capabilitySets(p.kept, p.user.uid, p.ambient.filter((c) => p.kept.includes(c))),
      user: p.user,
      noNewPrivileges: p.noNewPrivileges,
      ...(p.filter ? { seccompFilter: p.filter } : {}),
      // it dies with its monitor (set after `user`: a uid change clears it), unless that leaves
      middle: [...(p.leave ? [] : [['pdeathsig', '9'] as ContainerOp]), ['chdir', p.cwd]],
      env: p.env,
      args: p.args,
    }),
  );
  return ops;
}

/** An error frame of the exec's monitor as a typed error (127/126 for the command, as `run`). */
function frameError(id: string, frame: string[] | undefined, monitor: MonitorChannel): ExecDriverError {
  if (frame && frame[0] === 'error') {
    const [, step = '?', errnoText = '0', path = '', message = ''] = frame;
    const errno = Number(errnoText);
    const op = step.split('#')[0];
    const why = errno ? `: ${describeErrno(errno)}` : '';
    let code: ErrorCode = 'ERR_START_FAILED';
    let exitCode = 126;
    let text = `exec: ${message || `${op} ${path}`}${why} (init step ${step})`;
    if (op === 'exec' && errno === osConstants.errno.ENOENT) {
      code = 'ERR_EXEC_NOT_FOUND';
      exitCode = 127;
      text = `exec: executable "${path}" not found in the container${why}`;
    } else if (op === 'exec') {
      code = 'ERR_EXEC_NOT_EXECUTABLE';
      text = `exec: "${path}" is not executable in the container${why}`;
    } else if (op === 'chdir') {
      text = `exec: cannot change to the working directory ${path}${why}`;
    } else {
      exitCode = 125;
    }
    return new StartError(code, text, { containerId: id, step, path, ...(errno ? { errno } : {}), exitCode });
  }
  const c = monitor.child;
  const what = frame?.[0] === 'exit' ? `status ${frame[1]}` : c.signalCode ? `signal ${c.signalCode}` : `exit code ${c.exitCode}`;
  return new StartError('ERR_START_FAILED', `exec: the init helper ended before the process ran (${what})`, { containerId: id, step: 'exec' });
}

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(osConstants.signals)) signalNames.set(n, name as NodeJS.Signals);
function statusOf(code: number, signal: number): ExitStatus {
  const s: ExitStatus = { exitCode: signal > 0 ? 128 + signal : code, oomKilled: false };
  const name = signal > 0 ? signalNames.get(signal) : undefined;
  if (name) s.signal = name;
  return s;
}

/** EXECDRIVER_TRACE=1: one stderr line per exec, the ms spent in each phase (as the native driver's starts). */
function tracer(): (phase: string, end?: boolean) => void {
  if (process.env['EXECDRIVER_TRACE'] !== '1') return () => {};
  let last = process.hrtime.bigint();
  const parts: string[] = [];
  return (phase, end = false) => {
    const now = process.hrtime.bigint();
    parts.push(`${phase}=${(Number(now - last) / 1e6).toFixed(2)}`);
    last = now;
    if (end) process.stderr.write(`execdriver-trace exec ${parts.join(' ')}\n`);
  };
}

/** Start `proc` in the running container of `target`; resolves once its exec succeeded. */
export async function execInContainer(target: ExecTarget, proc: ExecProcess, opts: ExecOptions = {}): Promise<ExecHandle> {
  const trace = tracer();
  const { state, root } = target;
  const id = state.id;
  checkProcess(proc, opts, id);
  const tty = !!proc.tty;
  const streams = handleStdio({ ...(opts.pipes ? { pipes: opts.pipes } : {}), ...(opts.stdio ? { stdio: opts.stdio } : {}) }, tty, id);
  const init = runningInit(target);
  requireInit(id);
  const rec = state.readJson<InitProcessRecord>(PROCESS_FILE);
  if (!rec) throw new ExecDriverError('ERR_STATE', `exec: ${state.path(PROCESS_FILE)} is missing (a container started by an older execdriver?)`, { containerId: id });
  const joinPid = joinTarget(init.pid);
  const user = proc.user !== undefined ? resolveExecUser(id, joinPid, proc.user) : rec.user;
  let env = mergeEnv(rec.env, proc.env ?? []);
  if (proc.user !== undefined && !(proc.env ?? []).some((e) => e.startsWith('HOME='))) env = mergeEnv(env, [`HOME=${user.home ?? '/'}`]);
  const kept = proc.privileged ? hostCapabilities().names : rec.kept;
  const filter = !proc.privileged && rec.seccomp ? readFileSync(state.path(rec.seccomp)).toString('hex') : undefined;
  const userns = nsDiffers(joinPid, 'user');
  const asked = proc.consoleSize ?? (opts.consoleSocket ? undefined : terminalSize(opts.pipes?.stdout)) ?? { rows: 24, cols: 80 };
  const size = tty ? checkSize(asked.rows, asked.cols) : undefined;

  trace('prepare');
  const execId = randomBytes(6).toString('hex');
  const dir = state.path(join(EXEC_DIR, execId));
  const detach = !!opts.detach;
  const leave = !!opts.leave;
  const plan = buildExecPlan({
    initPid: joinPid,
    rootless: target.rootless,
    userns,
    detach,
    ...(!detach && !leave && relaysToFd(opts.pipes) ? { relayOutput: true } : {}),
    ...(leave ? { leave } : detach ? { exitFile: join(dir, 'exit.json') } : {}),
    ...(size ? { tty: size } : {}),
    ...(size && opts.consoleSocket ? { consoleSocket: opts.consoleSocket } : {}),
    user,
    kept,
    ambient: rec.ambient,
    noNewPrivileges: rec.noNewPrivileges,
    ...(filter ? { filter } : {}),
    cwd: proc.cwd ?? rec.cwd,
    env,
    args: proc.args,
    // the monitor records exec_start and exec_die itself (also a detached exec's, after we are gone)
    eventLog: { root, driver: target.driver, id, execId },
  });
  // a detached exec has a directory of its own (record, exit status, log); a foreground one
  // lives in this process only
  try {
    if (detach && !leave) mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ExecDriverError('ERR_STATE', `exec: create ${dir}: ${(e as Error).message}`, { containerId: id, path: dir, cause: e });
  }
  const pipes = streams.pipes;
  let stdio: [Stdio, Stdio, Stdio];
  let logFd: number | undefined;
  if (opts.consoleSocket) {
    stdio = ['ignore', 'ignore', 'ignore']; // the terminal is the process's fds 0-2
  } else if (leave) {
    stdio = ['inherit', 'inherit', 'inherit'];
  } else if (detach) {
    logFd = openSync(join(dir, 'exec.log'), 'a', 0o600);
    stdio = ['ignore', logFd, logFd];
  } else {
    stdio = [stdioFor(pipes.stdin, 'stdin', tty), stdioFor(pipes.stdout, 'stdout', tty), tty ? 'ignore' : stdioFor(pipes.stderr, 'stderr')];
  }
  let monitor: MonitorChannel | undefined;
  let leftPid: number | undefined; // `leave`: a process that must not outlive a failed start
  try {
    monitor = MonitorChannel.spawn(stdio, id);
    if (logFd !== undefined) closeSync(logFd);
    logFd = undefined;
    if (!detach) connectPipes(monitor.child, stdio, pipes);
    monitor.sendPlan(plan);
    trace('spawn');
    const pidFrame = await monitor.next();
    trace('pid-frame');
    if (!pidFrame || pidFrame[0] !== 'pid') throw frameError(id, pidFrame, monitor);
    const pid = Number(pidFrame[1]);
    if (leave) leftPid = pid;
    if (!target.rootless) joinCgroups(id, init.pid, pid);
    trace('cgroup-join');
    const record: ExecRecord = {
      execId, pid, startTime: processStartTime(pid) ?? 0, monitorPid: monitor.child.pid ?? 0, args: proc.args, detached: detach, tty, startedAt: new Date().toISOString(),
    };
    if (detach && !leave) writeFileSync(join(dir, 'exec.json'), JSON.stringify(record) + '\n', { mode: 0o600 });
    monitor.send('go');
    trace('record+go');
    const reply = await monitor.next();
    if (!reply || reply[0] !== 'started') throw frameError(id, reply, monitor);
    trace('started'); // exec_start is in the log already (the monitor's event-log op)

    const ch = monitor;
    const kill = async (signal: NodeJS.Signals | number = 'SIGKILL') => {
      if (!isSameProcessAlive(pid, record.startTime)) return;
      try {
        process.kill(pid, signal);
      } catch {
        /* gone meanwhile */
      }
    };
    const resize = (rows: number, cols: number) => {
      if (!tty) throw new InvalidConfigError('resize: the exec has no terminal (tty)', { containerId: id });
      checkSize(rows, cols);
      ch.send('resize', String(rows), String(cols));
    };
    let exited: Promise<ExitStatus>;
    if (detach) {
      // leave: the monitor hands the process over to our caller's subreaper when we exit (not
      // before: the caller learns its pid from us, and must not miss its exit)
      if (leave) ch.releaseAtExit();
      else ch.release();
      // exec_die: the monitor's `event-log` op records it when the process ends
      exited = leave
        ? lazyPromise(() => Promise.reject(new ExecDriverError('ERR_STATE', 'exec: the process was handed to the caller\'s subreaper (leave): its exit status is not known here', { containerId: id })))
        : lazyPromise(() => waitDetached(id, dir));
    } else {
      exited = (async () => {
        let f: string[] | undefined;
        do f = await ch.next();
        while (f && f[0] !== 'exit');
        trace('exit-frame');
        await ch.closed();
        trace('monitor-closed');
        if (!f) throw new ExecDriverError('ERR_SYSTEM', `exec: the monitor (pid ${ch.child.pid}) died before it reported the exit status`, { containerId: id });
        const status = statusOf(Number(f[1]), Number(f[2]));
        if (tty && typeof pipes.stderr === 'object' && pipes.stderr && pipes.end !== false && !pipes.stderr.writableEnded) pipes.stderr.end();
        trace('cleanup', true);
        return status;
      })();
      exited.catch(() => {});
    }
    return {
      id, execId, pid, exited, kill, resize,
      ...(streams.stdin ? { stdin: streams.stdin as PassThrough } : {}),
      ...(streams.stdout ? { stdout: streams.stdout as PassThrough } : {}),
      ...(streams.stderr ? { stderr: streams.stderr as PassThrough } : {}),
    };
  } catch (err) {
    if (logFd !== undefined) closeSync(logFd);
    if (monitor) {
      monitor.send('abort');
      const m = monitor;
      await within((async () => { while ((await m.next()) !== undefined); })(), 5000, undefined);
      if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
      await within(m.closed(), 2000, undefined);
    }
    if (detach && !leave) rmSync(dir, { recursive: true, force: true });
    if (leftPid !== undefined) {
      try {
        process.kill(leftPid, 'SIGKILL'); // e.g. its master could not be sent: nobody holds its terminal
      } catch {
        /* gone */
      }
    }
    throw err;
  }
}

/**
 * The process whose namespaces and root the exec joins: the container's init, or, when we may not
 * open its namespaces (the C init's minimal init of `--init` is not dumpable, which only matters
 * to a rootless caller, without CAP_SYS_PTRACE), its first child that we may: the same ones.
 */
function joinTarget(init: number): number {
  const readable = (pid: number) => {
    try {
      readlinkSync(`/proc/${pid}/ns/mnt`);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code !== 'EACCES';
    }
  };
  if (readable(init)) return init;
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    /* no such file: the init is all there is */
  }
  return children.find(readable) ?? init;
}

/** Process `pid` is in another namespace of this kind than we are (readlink: `user:[4026531837]`). */
function nsDiffers(pid: number, ns: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`) !== readlinkSync(`/proc/self/ns/${ns}`);
  } catch {
    return false;
  }
}

/** A detached exec's exit status, from the record its monitor writes. */
async function waitDetached(id: string, dir: string): Promise<ExitStatus> {
  let delay = 5;
  for (;;) {
    try {
      const e = JSON.parse(readFileSync(join(dir, 'exit.json'), 'utf8')) as { exitCode: number; signal: number };
      return statusOf(e.exitCode, e.signal);
    } catch {
      /* not yet */
    }
    if (!existsSync(dir)) throw new ExecDriverError('ERR_NOT_RUNNING', 'exec: the container is gone, and with it the exec\'s record', { containerId: id });
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}
