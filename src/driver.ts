import type { Readable, Writable } from 'node:stream';
import type { NetworkState } from './network/container.js';
import type { SeccompProfile } from './security/seccomp/profile.js';
import type { RecordedEvent } from './events/log.js';
import { DriverExistsError, DriverNotFoundError, InvalidConfigError } from './errors.js';
import type { ContainerStats, ProcessInfo, StatsOptions } from './ops/index.js';
export type { ContainerStats, NetworkStats, ProcessInfo, StatsOptions } from './ops/index.js';
import type { ExecHandle, ExecOptions, ExecProcess } from './exec/index.js';
export type { ExecHandle, ExecOptions, ExecProcess } from './exec/index.js';

/** How a container is networked. */
export interface NetworkConfig {
  /** `none`: own namespace, loopback only; `host`: the host's; `bridge`: a veth on a bridge;
   *  `container:<id>`: join another container's network namespace. */
  mode: 'none' | 'host' | 'bridge' | 'slirp4netns' | `container:${string}`;
  /** bridge name (bridge mode), default `execdriver0` */
  bridge?: string;
  /** subnet of the bridge when it has to be created, e.g. `10.88.0.0/16` */
  subnet?: string;
  /** the container's address (bridge mode); allocated when not given */
  ipAddress?: string;
  prefixLen?: number;
  gateway?: string;
  mtu?: number;
  // --- networks and ports (issue 12 item 4)
  /** a network made by `network create` (`--net NAME`): its bridge and subnet (bridge mode) */
  name?: string;
  /** published ports (`-p`), bridge mode: DNAT from the host to the container (src/network/ports.ts) */
  ports?: PortSpec[];
}

export interface Resources {
  /** bytes */
  memory?: number;
  /** memory + swap, bytes; -1 for unlimited swap */
  memorySwap?: number;
  /** soft limit, bytes */
  memoryReservation?: number;
  cpuShares?: number;
  /** microseconds per period */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** e.g. `0-1`, `0,1` */
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number;
}

import type { IdMapping, UsernsOption } from './userns.js';
export type { IdMapping, UsernsOption } from './userns.js';

export interface MountSpec {
  /** absolute host path */
  source: string;
  /** absolute path inside the container */
  destination: string;
  writable?: boolean;
  private?: boolean;
  /** with a user namespace: an idmapped mount (host ids seen through the container's maps) */
  idmap?: boolean;
}

import type { PortSpec } from './network/ports.js';
export type { PortSpec } from './network/ports.js';

/** How the rootfs is used: see Command.rootfsMode. */
export type RootfsMode = 'overlay' | 'direct';

/** What a caller asks for (Docker 0.11's execdriver.Command). */
export interface Command {
  /** 1 to 64 of letters, digits, `_`, `.`, `-` (starting with a letter or digit); generated when absent (12 hex characters) */
  id?: string;
  /**
   * absolute path of the root filesystem; a list: layers, the lowest (base) first, each later one
   * stacked on the ones before it (overlay mode only)
   */
  rootfs: string | string[];
  entrypoint: string;
  arguments?: string[];
  workingDir?: string;
  /** `name`, `uid`, `name:group`, `uid:gid` */
  user?: string;
  /** `KEY=VALUE` entries */
  env?: string[];
  /** RFC 1123 host name, at most 63 characters; default: derived from the id (see defaultHostname) */
  hostname?: string;
  tty?: boolean;
  privileged?: boolean;
  readonlyRootfs?: boolean;
  network?: NetworkConfig;
  resources?: Resources;
  mounts?: MountSpec[];
  capAdd?: string[];
  capDrop?: string[];
  /** capabilities raised into the ambient set, so that a non-root user's command has them (must be kept) */
  capAmbient?: string[];
  /** run a minimal init as pid 1 in front of the command (reaps zombies, forwards signals) */
  init?: boolean;
  /**
   * a user namespace: `remap` (container root is an unprivileged host uid from the subordinate
   * ranges of user `execdriver`, or of `{ mode: 'remap', user }`), or `host` (the default)
   */
  userns?: UsernsOption;
  /** OCI-style maps (instead of `userns`): a user namespace with exactly these */
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  /**
   * The seccomp filter: absent → the default profile (Docker's policy); `'unconfined'` → none; or
   * a profile in Docker's format or an OCI `linux.seccomp` object. `privileged` → none.
   */
  seccomp?: 'unconfined' | SeccompProfile;
  /** `PR_SET_NO_NEW_PRIVS`: setuid binaries and file capabilities give nothing (OCI `noNewPrivileges`) */
  noNewPrivileges?: boolean;
  /** driver-specific options: raw `lxc.*` lines for lxc (`lxc: string[]`), `native.*` keys */
  config?: { lxc?: string[]; native?: Record<string, string | boolean> };
  // --- rootfs (issue 12 item 3): copy-on-write root filesystem
  /**
   * `overlay` (the default): the rootfs layers are the read-only lower layers of an overlay whose
   * upper and work directories live in the container's state directory and go with it;
   * `direct`: the container runs on the rootfs directory itself and its writes land there
   */
  rootfsMode?: RootfsMode;

  // --- cli (issue 12, Docker's habits): more of what `docker run` takes
  /** tmpfs mounts: `{ destination, options }` (options as mount(8)'s: `size=64m`, `mode=1777`, `ro`, `noexec`…) */
  tmpfs?: TmpfsSpec[];
  /** resource limits of the process (setrlimit): `{ type: 'nofile', soft: 1024, hard: 2048 }`; -1 = unlimited */
  ulimits?: Ulimit[];
  /** namespaced kernel parameters (`net.ipv4.ip_forward: '1'`, `kernel.shmmax`, `fs.mqueue.*`); others refused */
  sysctl?: Record<string, string>;
  /** host device nodes made in the container, and allowed by its device rules */
  devices?: DeviceSpec[];
  /** supplementary groups (names from the container's /etc/group, or numbers) added to the user's */
  groupAdd?: string[];
  /** size of /dev/shm in bytes (default 64 MiB) */
  shmSize?: number;
  /** bridge network: /etc/resolv.conf's name servers and search list instead of the host's; more /etc/hosts lines */
  dns?: string[];
  dnsSearch?: string[];
  extraHosts?: { host: string; ip: string }[];
  /** what `stop` sends first (default SIGTERM), and the seconds it waits before SIGKILL (default 10) */
  stopSignal?: string;
  stopTimeout?: number;
  /** free-form labels (shown by inspect, matched by list filters) */
  labels?: Record<string, string>;
}

export interface TmpfsSpec {
  destination: string;
  options?: string[];
}

export interface Ulimit {
  /** `nofile`, `nproc`, `core`, `stack`, … (setrlimit's RLIMIT_* names, lower case) */
  type: string;
  soft: number;
  hard: number;
}

export interface DeviceSpec {
  /** the host's device node */
  path: string;
  /** where it appears in the container (default: the same path) */
  destination?: string;
  /** `r`, `w`, `m`, any of them (default `rwm`) */
  access?: string;
}

/**
 * The caller's streams. Without a stream, that fd of the container is /dev/null. With `tty` the
 * container's fds 0-2 are one terminal: `stdin` is what is typed into it, `stdout` its output
 * (stderr merged in, as in Docker); `stderr` is not used.
 */
export interface Pipes {
  stdin?: Readable | null;
  /**
   * Where the container's output goes: a stream Node writes it to, or a descriptor of this
   * process (a number, e.g. 1) that the container's monitor is given and copies the output to
   * itself, so that Node relays nothing (the native driver without a terminal; the command line
   * does this). The container never holds the caller's descriptor either way.
   */
  stdout?: Writable | number | null;
  stderr?: Writable | number | null;
  /** end `stdout`/`stderr` when the container's output ends (default true; the CLI passes false for its own) */
  end?: boolean;
}

/** Cancelling and time limits (on `run` and `start`); see src/api/. */
export interface CancelOptions {
  /** aborting kills the container; `exited`/`run` reject with `ERR_ABORTED` (name `AbortError`) */
  signal?: AbortSignal;
  /** ms from the call: then the container is killed; rejects with `ERR_TIMEOUT` */
  timeout?: number;
  /** the signal a cancel sends first (default SIGKILL); another one is followed by SIGKILL after `killGraceMs` */
  killSignal?: NodeJS.Signals;
  /** ms between `killSignal` and SIGKILL (default 5000) */
  killGraceMs?: number;
}

/** `run`'s options: the caller's streams (the old `pipes` argument), cancelling, capture. */
export interface RunOptions extends Pipes, CancelOptions {
  /** collect stdout and stderr: `run` resolves with a `CapturedRun` */
  capture?: boolean;
  /** with `capture`: strings in this encoding (default utf8), or `buffer` for Buffers */
  encoding?: BufferEncoding | 'buffer';
  /** with `capture`: bytes per stream (default 100 MiB); past it the container is killed, `ERR_MAX_BUFFER` */
  maxBuffer?: number;
  /** with `capture`: written to the container's stdin, then stdin is closed */
  input?: string | Buffer;
}

/** What `run(command, { capture: true })` resolves with. */
export interface CapturedRun<T extends string | Buffer = string> extends ExitStatus {
  id: string;
  stdout: T;
  stderr: T;
}

export interface ExitStatus {
  exitCode: number;
  /** the signal that ended the container's init, e.g. `SIGKILL` */
  signal?: NodeJS.Signals;
  /** the memory cgroup killed a process of the container */
  oomKilled: boolean;
}

export interface StartInfo {
  id: string;
  pid: number;
}

export interface Info {
  isRunning(): boolean;
}

export interface KillOptions {
  /** signal every process of the container's cgroup, not just its init */
  all?: boolean;
}

/** The execdriver contract. */
export interface Driver {
  /** Start the container and resolve with its exit status once it has exited and been cleaned up. */
  run(command: Command, options: RunOptions & { capture: true; encoding: 'buffer' }, onStart?: (info: StartInfo) => void): Promise<CapturedRun<Buffer>>;
  run(command: Command, options: RunOptions & { capture: true }, onStart?: (info: StartInfo) => void): Promise<CapturedRun>;
  /** `options` may be just the caller's streams (`Pipes`), as before */
  run(command: Command, options?: RunOptions, onStart?: (info: StartInfo) => void): Promise<ExitStatus>;
  kill(id: string, signal?: NodeJS.Signals | number, options?: KillOptions): Promise<void>;
  name(): string;
  info(id: string): Info;
  getPidsForContainer(id: string): Promise<number[]>;
  /** SIGKILL (with a pid-reuse guard), wait until the container is gone, remove everything it had. */
  terminate(id: string): Promise<void>;
}

/** A terminal's window size. */
export interface ConsoleSize {
  rows: number;
  cols: number;
}

export interface StartOptions {
  /** leave the container running under its monitor; its output goes to `<state>/container.log` */
  detach?: boolean;
  /**
   * detached without a terminal: `container.log` is rotated at `maxSize` bytes, keeping `maxFiles`
   * files in all (`container.log.1`…); default 10 MiB × 3 (Docker's max-size / max-file)
   */
  log?: LogOptions;
  /**
   * detached without a terminal: the container's stdin stays open for `attach` to write to
   * (Docker's `run -d -i`): a FIFO `<state>/stdin` that it holds open for reading and writing, so
   * it never reads EOF (an attach's EOF does not close it, as Docker's without stdin-once)
   */
  openStdin?: boolean;
  /** with `tty`: the initial window size (default: `pipes.stdout`'s when it is a terminal, else 24×80) */
  consoleSize?: ConsoleSize;
  pipes?: Pipes;
  /** `pipe`: the handle gets `stdin`/`stdout`/`stderr` streams (or per fd: `['pipe', 'pipe', 'ignore']`) */
  stdio?: 'pipe' | [StdioOption, StdioOption, StdioOption];
  onStart?: (info: StartInfo) => void;
}

export type StdioOption = 'pipe' | 'ignore';

export interface LogOptions {
  maxSize?: number;
  maxFiles?: number;
}

/** Beside `container.log` (and rotated with it): when each chunk of it was written (`logs -t`, `--since`). */
export const LOG_TIMES_FILE = 'container.time';

/** The default bound of a detached container's `container.log`. */
export const DEFAULT_LOG: Required<LogOptions> = { maxSize: 10 * 1024 * 1024, maxFiles: 3 };

/** Checked log options, with the defaults. */
export function logOptions(o: LogOptions | undefined): Required<LogOptions> {
  const maxSize = o?.maxSize ?? DEFAULT_LOG.maxSize;
  const maxFiles = o?.maxFiles ?? DEFAULT_LOG.maxFiles;
  if (!Number.isSafeInteger(maxSize) || maxSize < 4096) throw new InvalidConfigError(`log max-size must be at least 4096 bytes, not ${maxSize}`);
  if (!Number.isSafeInteger(maxFiles) || maxFiles < 1 || maxFiles > 100) throw new InvalidConfigError(`log max-file must be 1 to 100, not ${maxFiles}`);
  return { maxSize, maxFiles };
}

/** The options of `start()`: the driver's own, and cancelling and time limits. */
export interface StartHandleOptions extends StartOptions, CancelOptions {}

export interface Started {
  id: string;
  pid: number;
  /** resolves once the container has exited and everything it had is removed (detached: its recorded status, polled only once awaited) */
  exited: Promise<ExitStatus>;
  /** with `tty`: set the terminal's window size (its foreground processes get SIGWINCH) */
  resize?: (rows: number, cols: number) => void;
}

/** What `driver.start()` returns: a running container. */
export interface ContainerHandle extends Started {
  /** signal the container's init (default SIGKILL, as `driver.kill`) */
  kill(signal?: NodeJS.Signals | number): Promise<void>;
  /** with `tty`: its window size; else throws `ERR_INVALID_CONFIG` */
  resize(rows: number, cols: number): void;
  /** with `stdio` `pipe`: the container's stdin (end it to close it) */
  stdin?: Writable;
  /** with `stdio` `pipe`: the container's output, ended when it ends */
  stdout?: Readable;
  /** with `stdio` `pipe` and no `tty` */
  stderr?: Readable;
}

/** A lifecycle event of a container under the state root, as the event log records it (`driver.events()`, src/events). */
export type ContainerEvent = RecordedEvent;

export interface AttachOptions {
  /** what is typed into the terminal (not ended by its end) */
  stdin?: Readable | null;
  /** the terminal's output: first what no attach got yet (bounded), then live */
  stdout?: Writable | null;
  /** the keys that detach, Docker's format: `ctrl-p,ctrl-q` (the default), `ctrl-a,d`; '' for none */
  detachKeys?: string;
  /** the caller's window size, set at once */
  size?: ConsoleSize;
}

export interface Attached {
  resize(rows: number, cols: number): void;
  /** leave the container running */
  detach(): void;
  /** `detached` (the detach keys, or detach()); `ended`: the terminal closed (the container exited) */
  done: Promise<'detached' | 'ended'>;
}

export interface ContainerSummary {
  id: string;
  driver: string;
  pid: number | null;
  running: boolean;
  /** OCI's states (src/lifecycle/record.ts), with `exited` for a stopped container whose exit status is known; `paused`: running, every process frozen (`running` stays true) */
  status: 'creating' | 'created' | 'running' | 'paused' | 'exited' | 'stopped';
  exitCode: number | null;
  signal: string | null;
  oomKilled: boolean;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  command: string[];
  configPath: string;
  network?: NetworkState;
}

/** What the command line needs beyond the contract: detached containers and their records. */
export interface ManagedDriver extends Driver {
  start(command: Command, options?: StartHandleOptions): Promise<ContainerHandle>;
  /** events: every container's under the root, from the event log (since/until: Date, ms or ISO); `break` ends it */
  events(options?: { since?: Date | number | string; until?: Date | number | string; signal?: AbortSignal }): AsyncIterableIterator<ContainerEvent>;
  /** wait for a container to exit (detached ones too); 0 = no timeout */
  wait(id: string, timeoutMs?: number): Promise<ExitStatus>;
  inspect(id: string): ContainerSummary;
  list(): Promise<ContainerSummary[]>;
  delete(id: string, options?: { force?: boolean }): Promise<void>;
  /** the window size of a tty container's terminal (a detached one, or one this process runs) */
  resize?(id: string, rows: number, cols: number): Promise<void>;
  /** connect to the terminal of a detached tty container */
  attach?(id: string, options: AttachOptions): Promise<Attached>;

  // --- exec (issue 9, part "exec"): another process in a running container (src/exec/)
  /** start `process` in the running container `id`; resolves once it runs, with its handle */
  exec(id: string, process: ExecProcess, options?: ExecOptions): Promise<ExecHandle>;

  // ops (issue 9): pause/resume, stats, update, top (src/ops/)
  /** freeze every process of a running container (the cgroup freezer); resolves once FROZEN */
  pause(id: string): Promise<void>;
  /** thaw a paused container; resolves once THAWED */
  resume(id: string): Promise<void>;
  /** one sample of memory, CPU, pids, network and block I/O; `previous` gives the CPU percentage */
  stats(id: string, options?: StatsOptions): Promise<ContainerStats>;
  /** change a running container's limits (validated like `run`'s) */
  update(id: string, resources: Resources): Promise<void>;
  /** the container's processes: host pid, container pid, user, command */
  top(id: string): Promise<ProcessInfo[]>;
}

export interface DriverOptions {
  /** state root, default `/run/execdriver` */
  root?: string;
}

export type DriverFactory = (options: DriverOptions) => ManagedDriver;

/**
 * The registered drivers by name, for the type of `createDriver`'s name. Each driver module adds
 * its entry (`declare module '../driver.js' { interface DriverRegistry { native: NativeDriver } }`)
 * beside its `registerDriver` call; a driver registered from outside adds its own the same way
 * (`declare module 'execdriver' { interface DriverRegistry { mine: MyDriver } }`).
 */
export interface DriverRegistry {}

/** The name of a registered driver: `'native' | 'lxc'` with the drivers of this package. */
export type DriverName = keyof DriverRegistry & string;

const registry = new Map<string, DriverFactory>();

export function registerDriver(name: string, factory: DriverFactory): void {
  if (registry.has(name)) throw new DriverExistsError(name);
  registry.set(name, factory);
}

export function driverNames(): string[] {
  return [...registry.keys()];
}

export const DEFAULT_DRIVER = 'native' satisfies DriverName;
export const DEFAULT_ROOT = '/run/execdriver';

export function createDriverFrom(name: string, options: DriverOptions): ManagedDriver {
  const factory = registry.get(name);
  if (!factory) throw new DriverNotFoundError(name, driverNames());
  return factory(options);
}
