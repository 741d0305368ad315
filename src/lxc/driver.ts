/**
 * Docker 0.11's lxc driver on LXC 5 (SPEC §3): config.lxc at `<root>/lxc/<id>/config.lxc`,
 * `lxc-start -F` in the foreground (`lxc-execute` when the command asks for an init), start
 * detected by polling `lxc-info`, the exit status from LXC's own log, the OOM counter through a
 * stop hook, everything removed afterwards. With `tty`, the tool runs on a terminal that the native
 * driver's C monitor keeps and relays (terminal.ts). Why these choices: NOTES.md.
 */
import { prepareOverlay, userRootfs } from '../rootfs/overlay.js';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, chownSync, closeSync, constants as fsConstants, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ContainerCgroup } from '../cgroups/index.js';
import { hostLayout } from '../cgroups/layout.js';
import { envPath, normalizeCommand, type NormalizedCommand } from '../command.js';
import {
  DEFAULT_ROOT,
  type Attached,
  type AttachOptions,
  type Command,
  type DriverOptions,
  type ExitStatus,
  type ManagedDriver,
  type Started,
  type StartOptions,
  logOptions,
  LOG_TIMES_FILE,
} from '../driver.js';
import { ExecDriverError, InvalidConfigError, StartError, WaitTimeoutError, describeErrno } from '../errors.js';
import { LifecycleDriver, type AnyRecord } from '../lifecycle/engine.js';
import { EXIT_FILE, exitStatusFrom, signalName, waitStatusOf, type ExitRecord } from '../lifecycle/exit.js';
import { classifyStartFailure } from '../lifecycle/failure.js';
import { createRecord, removeRecord, removeRecordAsync, type ContainerRecord } from '../lifecycle/record.js';
import { ownerOf, releaseNetwork, setupNetwork, type NetworkState } from '../network/container.js';
import { ATTACH_SOCKET, attachTerminal, checkSize, resizeTerminal, terminalSize, trackForeground } from '../init/console.js';
import { connectPipes, INIT_BINARY, MonitorChannel, protocolMismatch, requireInit, stdioFor, streamsFor } from '../init/monitor.js';
import { lazyPromise, sleep, within } from '../time.js';
import { trace } from '../trace.js';
import { isSameProcessAlive, ownerAlive, processStartTime, STATE_FILE, StateDir } from '../state/index.js';
import { resolveUser } from '../users.js';
import { hostCapabilities } from '../capabilities.js';
import { specSecurity } from '../security/seccomp/compile.js';
import { buildSpec, SPEC_FILE, validateSpec, type Spec, type SpecContext } from '../spec/index.js';
import { processPlan } from './plan.js';
import { quietLxc } from './quiet.js';
import { recordInitProcess } from '../exec/index.js';
import { checkMappable, hostIdOf } from '../userns.js';
import { checkRootless, isRootless, rootlessCommand, ownRoot, pidsInNamespaceOf, rootlessMappings, rootlessRoot } from '../rootless.js';
import { controllerHomes, lxcDirs, monitorName, oomCounterFile, parseOomKills, payloadCgroup, payloadName, payloadPids, removeLeftovers } from './cgroup.js';
import { parseLxcInfo, type LxcInfo } from './info.js';
import { parseLxcLog, startFailureMessage, type LxcRun } from './log.js';
import { findExecutable, makeMountTargets, MountTargetError } from './rootfs.js';
import { binds, cgroupLines, CONSOLE_HELPER, lxcSeccompProfile, PROCESS_PLAN, renderConfig, stopHookCommand, type LxcHostFacts } from './template.js';
import { lxcTerminalPlan, overlayPlan } from './terminal.js';
import { monitorEventOps } from '../events/log.js';
import type { Op } from '../init/protocol.js';

export const DRIVER_NAME = 'lxc';

const hasCgroupNamespace = existsSync('/proc/self/ns/cgroup');

/** Files in `<root>/lxc/<id>/`. */
export const CONFIG_FILE = 'config.lxc';
/** The container's seccomp profile, in LXC's language. */
export const SECCOMP_FILE = 'seccomp.lxc';
/** The process plan `execdriver-init run-plan` carries out in the container (lxc-start). */
export const PLAN_FILE = 'process.plan';
export const LOG_FILE = 'lxc.log';
/** The fifo the monitor's child waits on (an overlay of several layers, or with binds) until config.lxc is written. */
const EXEC_FIFO = 'exec.fifo';
const OOM_FILE = 'oom';
const OUTPUT_FILE = 'container.log';

/** How long to wait for `execdriver-init run-plan` to exec the command. */
const EXEC_WAIT_MS = 2000;

/** The file a path (or /proc/PID/exe) is, as `dev:ino`; undefined when it is not there (gone). */
function executableId(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** How long a container may take to be RUNNING. */
const START_TIMEOUT_MS = 30_000;
/** How long to wait for LXC's log to say the command started before polling lxc-info anyway. */
const LOG_GATE_MS = 250;
/** After LXC's log says the command started, how long to let it run before asking lxc-info. */
const INFO_GRACE_MS = 5;
const LOG_POLL_MS = 3;

/**
 * state.json of an lxc container: the engine's record (src/lifecycle/record.ts). Its monitor is
 * lxc-start / lxc-execute, or (tty, detached) our C monitor around it; `extra.tool` the one used.
 */
export type LxcState = ContainerRecord<{ tool: 'lxc-start' | 'lxc-execute' }>;

/** exit.json (the native driver's shape). */
export type LxcExitRecord = ExitRecord;

export interface LxcDriverOptions extends DriverOptions {
  /** where the lxc-* tools are (default: looked up on PATH) */
  toolsDir?: string;
}

interface Tools {
  start: string;
  execute: string;
  info: string;
  stop: string;
}

function findTools(dir?: string): Tools {
  const standard = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const dirs = dir ? [dir] : [...new Set([...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...standard])];
  const find = (name: string): string => {
    for (const d of dirs) {
      const p = join(d, name);
      try {
        accessSync(p, fsConstants.X_OK);
        return p;
      } catch {
        /* next */
      }
    }
    throw new ExecDriverError(
      'ERR_DRIVER_UNAVAILABLE',
      `the lxc driver needs LXC: ${name} was not found (looked in ${dirs.join(', ')}); install it (Debian: apt-get install lxc)`,
      { path: name, step: 'lxc tools' },
    );
  };
  return { start: find('lxc-start'), execute: find('lxc-execute'), info: find('lxc-info'), stop: find('lxc-stop') };
}

const versions = new Map<string, string>();

/** `5.0.2` from `lxc-start --version` (once per binary). */
function lxcVersion(lxcStart: string): string {
  let v = versions.get(lxcStart);
  if (v === undefined) {
    let out: string;
    try {
      out = execFileSync(lxcStart, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000, env: toolEnv() });
    } catch (e) {
      throw new ExecDriverError('ERR_DRIVER_UNAVAILABLE', `${lxcStart} --version failed: ${(e as Error).message}`, {
        path: lxcStart,
        step: 'lxc version',
        cause: e,
      });
    }
    v = out.trim().split(/\s+/)[0] ?? '';
    if (!/^\d+(\.\d+)*/.test(v)) {
      throw new ExecDriverError('ERR_DRIVER_UNAVAILABLE', `${lxcStart} --version printed ${JSON.stringify(out.trim())}, not a version`, {
        path: lxcStart,
        step: 'lxc version',
      });
    }
    versions.set(lxcStart, v);
  }
  return v;
}

/**
 * The environment of the lxc-* tools: C messages (the log is parsed), a PATH for the hook. For a
 * container with a user namespace, a PATH without newuidmap/newgidmap (/usr/bin): LXC, root, then
 * writes the maps itself, as our native driver does, instead of running the two setuid tools
 * (measured: ~20 ms a start) that also want the ranges delegated to root in /etc/subuid.
 */
function toolEnv(userns = false): NodeJS.ProcessEnv {
  if (isRootless()) {
    // rootless: LXC needs newuidmap/newgidmap, and HOME or XDG_RUNTIME_DIR for its own run files
    const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
    for (const k of ['HOME', 'XDG_RUNTIME_DIR']) if (process.env[k]) env[k] = process.env[k];
    if (!env['HOME'] && !env['XDG_RUNTIME_DIR']) env['XDG_RUNTIME_DIR'] = rootlessRoot();
    return env;
  }
  return { PATH: userns ? '/usr/local/sbin:/usr/sbin:/sbin' : '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
}

let factsCache: LxcHostFacts | undefined;

/** This host, as config.lxc needs it (read once). */
export function hostFacts(): LxcHostFacts {
  if (factsCache) return factsCache;
  const layout = hostLayout();
  const controllers = controllerHomes(layout);
  let swapAccounting = false;
  const memV1 = [...layout.v1.values()].find((h) => h.controllers.includes('memory'));
  if (memV1) swapAccounting = existsSync(join(memV1.mountpoint, 'memory.memsw.limit_in_bytes'));
  else if (layout.v2?.controllers.includes('memory')) {
    const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
    swapAccounting = existsSync(join(layout.v2.mountpoint, own, 'memory.swap.max'));
  }
  let lastCap = 40;
  try {
    lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    /* keep the default */
  }
  // LXC's built-in lxc.rootfs.mount (lxc-config cannot tell it): the multiarch path Debian's
  // package uses, or the upstream default
  const rootfsMount = ['/usr/lib/x86_64-linux-gnu/lxc/rootfs', '/usr/lib/aarch64-linux-gnu/lxc/rootfs', '/usr/lib/lxc/rootfs', '/usr/local/lib/lxc/rootfs'].find((d) => existsSync(d));
  factsCache = { controllers, swapAccounting, lastCap, ...(rootfsMount ? { rootfsMount } : {}) };
  return factsCache;
}

type Stdio = 'pipe' | 'ignore' | 'inherit' | number;

/** The whole content of an open file, from its start. */
function readFd(fd: number): string {
  const chunks: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const buf = Buffer.alloc(65536);
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n <= 0) break;
    chunks.push(buf.subarray(0, n));
    pos += n;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Resolve once `re` matches the text of the log (read through `fd`, which LXC appends to), the
 * process ended, or `maxMs` passed. The file is read every LOG_POLL_MS: a few reads of a small
 * file per start, where inotify woke Node on each of LXC's ~50 log writes (measured ~2 ms more
 * per start on a 2-CPU host).
 */
async function waitForLogLine(fd: number, re: RegExp, exited: Promise<unknown>, maxMs: number): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + maxMs;
  const buf = Buffer.alloc(16384);
  let text = '';
  let pos = 0;
  for (;;) {
    for (;;) {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, buf.length, pos);
      } catch {
        return;
      }
      if (n <= 0) break;
      pos += n;
      text += buf.toString('utf8', 0, n);
    }
    if (re.test(text) || gone || Date.now() > deadline) return;
    await Promise.race([sleep(LOG_POLL_MS), exited]);
  }
}

/** One lxc-info call: parsed, or undefined when it fails (not there yet, or gone). */
function lxcInfoOnce(bin: string, id: string, lxcPath: string, args: string[] = []): Promise<LxcInfo | undefined> {
  return new Promise((resolve) => {
    execFile(bin, ['-n', id, '-P', lxcPath, ...args], { encoding: 'utf8', timeout: 10_000, env: toolEnv() }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        resolve(parseLxcInfo(stdout, id));
      } catch {
        resolve(undefined);
      }
    });
  });
}

/** A start that failed: LXC's reason as a typed error (127/126 for the command itself). */
function startError(id: string, run: LxcRun, tool: string, exit: { code: number | null; signal: NodeJS.Signals | null }): StartError {
  const failure = run.execFailure;
  if (failure) return classifyStartFailure(id, { step: 'exec', errno: failure.errno ?? 0, path: failure.path });
  if (run.chdirFailure) {
    const { path, errno } = run.chdirFailure;
    return classifyStartFailure(id, { step: 'chdir', errno: errno ?? 0, path, message: 'working directory' });
  }
  const message = startFailureMessage(run);
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  return new StartError('ERR_START_FAILED', `${tool} failed to start the container (${how})${message ? `: ${message}` : ''}`, {
    containerId: id,
    step: tool,
    path: tool,
  });
}

/** Docker 0.11's lxc driver, on LXC 5. */
export class LxcDriver extends LifecycleDriver implements ManagedDriver {
  readonly root: string;
  protected readonly driverName = DRIVER_NAME;
  /** a non-root caller: its own uid as root, no cgroups (LXC skips what it cannot create) */
  readonly rootless: boolean;
  /** `-P` of every lxc-* call: LXC's files stay under our root, never in /var/lib/lxc */
  readonly lxcPath: string;
  private readonly tools: Tools;

  constructor(options: LxcDriverOptions = {}) {
    super();
    this.rootless = isRootless();
    this.root = options.root ?? (this.rootless ? rootlessRoot() : DEFAULT_ROOT);
    this.lxcPath = join(this.root, DRIVER_NAME);
    this.tools = findTools(options.toolsDir);
  }

  /** `lxc-<version>` of the installed LXC, e.g. `lxc-5.0.2`. */
  name(): string {
    return `${DRIVER_NAME}-${lxcVersion(this.tools.start)}`;
  }

  /** Validate, write config.lxc, start (under ApiDriver's `start`/`run`); resolves once the container runs (or has already run). */
  protected async launch(command: Command, opts: StartOptions = {}): Promise<Started> {
    const cmd = normalizeCommand(this.rootless ? rootlessCommand(command) : command);
    trace(cmd.id, 'begin');
    logOptions(opts.log); // checked before anything exists
    const nativeKeys = Object.keys(cmd.config.native ?? {});
    if (nativeKeys.length) throw new InvalidConfigError(`config.native (${nativeKeys.join(', ')}) is for the native driver, not lxc`, { containerId: cmd.id });
    requireInit(cmd.id);
    if (this.rootless) {
      checkRootless(cmd, { userns: command.userns, mappings: !!(command.uidMappings || command.gidMappings) });
      if (cmd.tty) {
        // lxc-start's relayed output needs its terminal's output processing locked off (TIOCSLCKTRMIOS)
        throw new InvalidConfigError('rootless: a terminal (-t) on the lxc driver needs root (CAP_SYS_ADMIN to lock its output mode); the native driver has one', { containerId: cmd.id });
      }
      cmd.userns = rootlessMappings(undefined, undefined, cmd.id);
      ownRoot(this.root);
    }
    const facts = hostFacts();
    if (cmd.network.mode === 'slirp4netns') throw new InvalidConfigError('--net slirp4netns is for the native driver only', { containerId: cmd.id });
    const tool = cmd.init ? ('lxc-execute' as const) : ('lxc-start' as const);
    // lxc-start's command is our helper with a process plan: it sets the keyring, capabilities,
    // compiled seccomp filter and user as the native child does (LXC would compile the profile at
    // every start, ~35 ms). lxc-execute (LXC's init at pid 1) and rootless containers leave it to LXC.
    const usePlan = tool === 'lxc-start' && !this.rootless;
    // rootfs (issue 12): the overlay is mounted by us on the host, which cannot serve a user
    // namespace (an overlay is not idmappable here) nor a caller who may not mount: direct there
    if (cmd.rootfsMode === 'overlay' && (cmd.userns || this.rootless)) {
      if (cmd.rootfsModeExplicit || cmd.rootfsLayers.length > 1) {
        throw new InvalidConfigError(`the lxc driver has no overlay rootfs ${this.rootless ? 'when not root' : 'with a user namespace'}: use --rootfs-mode direct (one layer) or the native driver`, { containerId: cmd.id });
      }
      cmd.rootfsMode = 'direct';
    }
    const overlayRootfs = cmd.rootfsMode === 'overlay';
    const user = resolveUser(userRootfs(cmd.rootfsLayers), cmd.user);
    if (cmd.userns) checkMappable(cmd.userns, user, cmd.id);
    if (!cmd.env.some((e) => e.startsWith('HOME='))) cmd.env.push(`HOME=${user.home ?? '/'}`);
    const netnsPath = this.joinedNetns(cmd);
    // the container's model (src/spec/), checked; built again below with the prepared network
    const specContext: SpecContext = {
      user,
      cgroupNamespace: hasCgroupNamespace,
      ...(this.rootless ? {} : { cgroupsPath: payloadName(this.root, cmd.id) }),
      ...(netnsPath ? { netnsPath } : {}),
      host: hostCapabilities(),
    };
    const checked = validateSpec(buildSpec(cmd, specContext), cmd.id);
    // Everything the template would refuse is refused before anything exists.
    cgroupLines(checked, facts, cmd.id);
    const seccomp = usePlan ? undefined : lxcSeccompProfile(checked, facts.lastCap, undefined, cmd.id);
    if (!overlayRootfs) this.checkExecutable(cmd, cmd.rootfs); // an overlay: once it is mounted
    const processPlan = usePlan ? this.processPlan(cmd.id, checked) : undefined;
    const pipes = streamsFor(opts.pipes ?? {}); // the lxc driver relays in Node
    const size = opts.consoleSize ?? terminalSize(pipes.stdout) ?? { rows: 24, cols: 80 };
    const consoleSize = cmd.tty ? checkSize(size.rows, size.cols) : undefined;

    trace(cmd.id, 'validate');
    await this.settleAll(); // records whose owner is gone (a crash) are settled by the next run
    const state = this.state(cmd.id);
    // a duplicate id is refused here first; the record exists from now on (creating, owner: us)
    const record: LxcState = createRecord(state, {
      id: cmd.id,
      driver: DRIVER_NAME,
      detached: !!opts.detach,
      createdAt: new Date().toISOString(),
      command: [cmd.entrypoint, ...cmd.arguments],
      cgroupPaths: [],
      extra: { tool },
    });
    // Our cgroup names taken (another LXC container of that name, not ours): LXC would refuse
    // with ERANGE, and cleaning up after that would remove the other one's cgroups.
    const taken = lxcDirs(this.root, cmd.id).find((dir) => existsSync(dir));
    if (taken) {
      removeRecord(state);
      throw new ExecDriverError('ERR_CGROUP', `cgroup ${taken} already exists (another LXC container named ${cmd.id}?): not starting`, {
        containerId: cmd.id,
        step: 'cgroup',
        path: taken,
      });
    }
    const owner = ownerOf(DRIVER_NAME, cmd.id);
    let net: NetworkState | undefined;
    const etcFiles: { source: string; destination: string; kind: 'file' }[] = [];
    let child: ChildProcess | undefined;
    let monitor: MonitorChannel | undefined;
    let logFd: number | undefined;
    let oomFd: number | undefined;
    let outFd: number | undefined;
    let stdinFd: number | undefined;
    // No stdio of the caller's, no terminal, not detached: the monitor is a fork of the spawner
    // (src/init/spawner.ts), not of Node. Asked for now, so that the spawner forks it while this
    // process writes the state files and config.lxc; it waits for its plan.
    const forkable = !opts.detach && !cmd.tty && !this.rootless && !pipes.stdin && !pipes.stdout && !pipes.stderr;
    const early = forkable ? MonitorChannel.fork(cmd.id).catch(() => undefined) : undefined;
    try {
      if (cmd.userns && !this.rootless) {
        // LXC binds the /etc files from here as the container's root (a mapped host uid): let its
        // group search the directory, nobody else
        const gid = hostIdOf(cmd.userns.gidMappings, 0);
        if (gid !== undefined) chownSync(state.dir, 0, gid);
        chmodSync(state.dir, 0o710);
      }
      net = await setupNetwork({
        stateRoot: this.root,
        owner,
        network: cmd.network,
        hostname: cmd.hostname,
        filesDir: state.path('net'),
        etc: cmd.extra.etc,
        mounts: etcFiles, // the /etc files it wrote: binds of the spec (buildSpec)
        isAlive: (o) => ownerAlive(this.root, o),
      });
      // LXC makes the pair from config.lxc: we name its host end
      if (net.mode === 'bridge') net.hostInterface = `veth${randomBytes(4).toString('hex')}`;
      trace(cmd.id, 'record+net');
      const spec = validateSpec(buildSpec(cmd, { ...specContext, network: net, etcFiles }), cmd.id);
      // the copy-on-write rootfs: never mounted on the host
      const overlay = overlayRootfs ? prepareOverlay(state.dir) : undefined;
      // One layer and nothing to bind: the fresh overlay (an empty upper directory) shows exactly
      // that layer and no mount target is needed, so the check and config.lxc need no merged view:
      // LXC's own overlay backend mounts it in the container's mount namespace (lxcOverlay). Else
      // the monitor's child mounts it in a mount namespace of its own and waits (overlayPlan).
      const lxcOverlay = !!overlay && cmd.rootfsLayers.length === 1 && binds(spec).length === 0 && ![cmd.rootfs, overlay.upper].some((p) => p.includes(':'));
      const overlayWait = !!overlay && !lxcOverlay;
      if (overlayWait) mkdirSync(overlay.merged, { mode: 0o755 });
      const rootfsPath = overlayWait ? overlay.merged : undefined;
      const execFifo = state.path(EXEC_FIFO);

      const logPath = state.path(LOG_FILE);
      const oomPath = state.path(OOM_FILE);
      // Only a container with a memory limit can be OOM-killed by its own memory cgroup; a stop
      // hook costs ~10 ms per run in LXC, so the others go without it (and without the file it
      // fills: one file fewer to make and remove on a disk-backed state root)
      const oomSource = cmd.resources.memory !== undefined ? oomCounterFile(this.root, cmd.id) : undefined;
      writeFileSync(logPath, '', { mode: 0o600 });
      if (oomSource) writeFileSync(oomPath, '', { mode: 0o600 });
      // Held open: the status can be read even if a terminate from elsewhere removed the directory.
      logFd = openSync(logPath, 'r');
      if (oomSource) oomFd = openSync(oomPath, 'r');
      if (seccomp !== undefined) state.writeText(SECCOMP_FILE, seccomp);
      // readable by the container's root also when it is a mapped uid (LXC binds it from inside)
      if (processPlan) writeFileSync(state.path(PLAN_FILE), processPlan, { mode: 0o644 });
      state.writeText(SPEC_FILE, JSON.stringify(spec) + '\n'); // compact: written at every start
      const security = specSecurity(spec, this.root, cmd.id); // what an exec gets (src/exec/)
      recordInitProcess(state, { user, env: cmd.env, cwd: cmd.workingDir, kept: security.kept, ambient: cmd.capAmbient, noNewPrivileges: cmd.noNewPrivileges, filter: security.filter });
      // config.lxc: once the mount targets are made, in the overlay as lxc-start will see it
      // (through /proc/CHILD/root while the child waits on the exec fifo) or in the rootfs
      const writeConfig = (mountTargets: string[]) => state.writeText(CONFIG_FILE, renderConfig(spec, {
        id: cmd.id,
        ...(processPlan ? { processPlan: state.path(PLAN_FILE) } : {}),
        ...(seccomp !== undefined ? { seccompProfile: state.path(SECCOMP_FILE) } : {}),
        facts,
        network: net,
        ...(this.rootless ? { rootless: true } : { cgroupDirs: { container: payloadName(this.root, cmd.id), monitor: monitorName(this.root, cmd.id) } }),
        mountTargets,
        ...(rootfsPath ? { rootfsPath } : {}),
        ...(lxcOverlay ? { rootfsOverlay: { lower: cmd.rootfs, upper: overlay!.upper } } : {}),
        ...(oomSource ? { stopHook: stopHookCommand(oomSource, oomPath) } : {}),
        ...((cmd.tty && tool === 'lxc-start') || tool === 'lxc-execute' || usePlan ? { consoleHelper: INIT_BINARY } : {}),
      }));
      if (!overlay) writeConfig(this.createMountTargets(cmd.id, spec));
      else if (lxcOverlay) {
        this.checkExecutable(cmd, cmd.rootfs); // the one layer: what the fresh overlay shows
        writeConfig([]);
      }

      let stdio: [Stdio, Stdio, Stdio];
      if (opts.detach) {
        outFd = openSync(state.path(OUTPUT_FILE), 'a', 0o600);
        if (opts.openStdin && !cmd.tty) stdinFd = (await import('../stdin-fifo.js')).openStdinFifo(state.path('stdin'), cmd.id);
        stdio = [stdinFd ?? 'ignore', outFd, outFd];
      } else if (cmd.tty) {
        // stdin always through a pipe fed once the container runs: lxc-start sets up its terminal
        // with TCSAFLUSH, which drops what was typed before. stderr is merged into the terminal.
        stdio = [pipes.stdin ? 'pipe' : 'ignore', stdioFor(pipes.stdout, 'stdout', true), 'ignore'];
      } else {
        stdio = [stdioFor(pipes.stdin, 'stdin'), stdioFor(pipes.stdout, 'stdout'), stdioFor(pipes.stderr, 'stderr')];
      }
      const common = ['-n', cmd.id, '-P', this.lxcPath, '-f', state.path(CONFIG_FILE), '-o', logPath, '-l', 'DEBUG'];
      const bin = tool === 'lxc-start' ? this.tools.start : this.tools.execute;
      // tty: lxc-start leaves the command without a controlling terminal (no ^C, no job control):
      // our helper makes LXC's console that, then execs the command (LXC's init does it for
      // lxc-execute). lxc-execute's init leaks a pipe of LXC's to its command: our helper closes it.
      // With a process plan the helper runs the command itself (the plan holds it, and `ctty`).
      const command = processPlan
        ? [CONSOLE_HELPER, 'run-plan', PROCESS_PLAN]
        : tool === 'lxc-execute'
          ? [CONSOLE_HELPER, 'exec', cmd.entrypoint, ...cmd.arguments]
          : cmd.tty
            ? [CONSOLE_HELPER, 'console-exec', cmd.entrypoint, ...cmd.arguments]
            : [cmd.entrypoint, ...cmd.arguments];
      const args = tool === 'lxc-start' ? ['-F', '-C', ...common, '--', ...command] : [...common, '--', ...command];
      // The tool always runs under our C monitor (host mode, terminal.ts): on a terminal it keeps
      // and relays with tty; detached without one, it copies the output pipes to the log; in the
      // foreground it kills the tool (pdeathsig, and the control socket's EOF) when we die. It
      // also records the container's start, OOM kills (live) and die in the event log, read from
      // LXC's log and the payload cgroup, so they are recorded without us (src/events).
      const env = Object.entries(toolEnv(!!cmd.userns)).map(([k, v]) => `${k}=${v}`);
      const plan = lxcTerminalPlan({
        argv: [bin, ...args],
        env,
        ...(consoleSize ? { size: consoleSize } : {}),
        detach: !!opts.detach,
        ...(opts.detach ? { attachSocket: state.path(ATTACH_SOCKET), logRotate: { path: state.path(OUTPUT_FILE), ...logOptions(opts.log) }, logTimes: state.path(LOG_TIMES_FILE) } : {}),
        events: [
          ...monitorEventOps({ root: this.root, driver: DRIVER_NAME, id: cmd.id, lxcLog: logPath, ...(oomSource ? { oomWatch: oomSource } : {}) }),
          ...(oomSource ? [['oom-counter', oomPath] as Op] : []),
        ],
        ...(overlayWait ? { before: overlayPlan(cmd.rootfsLayers, overlay!, execFifo) } : {}),
      });
      trace(cmd.id, 'files+config');
      monitor = (early ? await early : undefined) ?? MonitorChannel.spawn(stdio, cmd.id);
      child = monitor.spawned;
      monitor.sendPlan(plan);
      trace(cmd.id, 'spawn-monitor');
      const { exited } = await this.startMonitor(cmd.id, tool, monitor, !overlayWait ? undefined : (childPid) => {
        // the child has mounted the overlay in its own mount namespace and waits: the checks and
        // the mount targets go through its root, then config.lxc, then the fifo lets it exec
        trace(cmd.id, 'overlay-mounted');
        const seen = `/proc/${childPid}/root${overlay!.merged}`;
        this.checkExecutable(cmd, seen);
        writeConfig(this.createMountTargets(cmd.id, spec, seen));
        trace(cmd.id, 'checks+targets+config');
        // O_NONBLOCK: opened at once (the child's open for writing then completes), kept open
        // until the child has written its byte and exec'd lxc-start (`started`)
        return openSync(execFifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      });
      trace(cmd.id, 'tool-started');
      if (outFd !== undefined) closeSync(outFd);
      if (stdinFd !== undefined) closeSync(stdinFd);
      outFd = stdinFd = undefined;
      // with a terminal, input is fed once the container runs (foreground())
      // LXC's own error lines are dropped from the caller's stderr: one line of ours says what failed
      if (!opts.detach && child) connectPipes(child, stdio, pipes.stderr ? { ...pipes, stderr: quietLxc(cmd.id, pipes.stderr, pipes.end !== false) } : pipes, !cmd.tty);

      record.monitorPid = monitor.pid ?? 0;
      record.monitorStartTime = processStartTime(record.monitorPid) ?? 0;
      record.network = net;
      this.save(record);

      const seen = await this.detectStart(cmd.id, logFd, exited);
      trace(cmd.id, 'detect-start');
      let pid = seen?.pid;
      let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      if (pid === undefined) {
        // lxc-start is gone before lxc-info saw the container: it ran (and ended) or it failed.
        done = await exited;
        const run = parseLxcLog(readFd(logFd));
        if (run.startedPid === undefined) throw startError(cmd.id, run, tool, done);
        pid = run.startedPid;
      }
      record.pid = pid;
      record.startTime = processStartTime(pid) ?? 0;
      record.startedAt = new Date().toISOString();
      record.cgroupPaths = lxcDirs(this.root, cmd.id).filter((d) => d.includes('/lxc.payload.'));
      // (a foreground container that is already gone needs no record: it is removed right away)
      if (!done || opts.detach) this.save(record, 'running');

      opts.onStart?.({ id: cmd.id, pid });
      if (opts.detach) {
        monitor.release();
        closeSync(logFd);
        if (oomFd !== undefined) closeSync(oomFd);
        logFd = oomFd = undefined;
        trace(cmd.id, 'detached', true);
        const resize = (rows: number, cols: number) => void this.resize(cmd.id, rows, cols).catch(() => {});
        // a detached container is waited for only if someone asks (wait() reads its record)
        return { id: cmd.id, pid, exited: lazyPromise(() => this.wait(cmd.id)), ...(cmd.tty ? { resize } : {}) };
      }
      const fds = { log: logFd, oom: oomFd };
      logFd = oomFd = undefined;
      const status = this.awaitExit(cmd.id, tool, exited, fds, record);
      if (!cmd.tty) return { id: cmd.id, pid, exited: status }; // without a terminal, stdin is connected already
      return { id: cmd.id, pid, exited: status, resize: this.foreground(cmd.id, monitor, status, pipes.stdin) };
    } catch (err) {
      if (outFd !== undefined) closeSync(outFd);
      if (stdinFd !== undefined) closeSync(stdinFd);
      if (logFd !== undefined) closeSync(logFd);
      if (oomFd !== undefined) closeSync(oomFd);
      if (!monitor && early) {
        // refused before its plan was sent: the early monitor reads EOF instead and exits
        const unused = await early;
        unused?.release();
        if (unused) await within(unused.closed(), 2000, undefined);
      }
      await this.undoStart(cmd.id, child, monitor);
      await releaseNetwork(this.root, owner, net);
      removeRecord(state);
      throw err;
    }
  }

  /**
   * The process plan of an lxc-start container (`execdriver-init run-plan`): rendered from its
   * spec (src/lxc/plan.ts), with the compiled filter from the same cache as the native driver's.
   */
  private processPlan(id: string, spec: Spec): Buffer {
    const { kept, filter } = specSecurity(spec, this.root, id);
    return processPlan(spec, kept, filter);
  }

  /** 127/126 before LXC runs anything (lxc-execute would hide them behind its init's 255). */
  private checkExecutable(cmd: NormalizedCommand, rootfs: string): void {
    const found = findExecutable(rootfs, cmd.entrypoint, envPath(cmd.env), cmd.workingDir, cmd.mounts);
    if (found.kind === 'not-found') throw classifyStartFailure(cmd.id, { step: 'exec', errno: osConstants.errno.ENOENT, path: cmd.entrypoint });
    if (found.kind === 'not-executable') throw classifyStartFailure(cmd.id, { step: 'exec', errno: osConstants.errno.EACCES, path: found.path });
  }

  /**
   * Every mount target is made (and resolved) by us inside the rootfs before LXC runs: LXC's own
   * `create=` follows the rootfs's symlinks onto the host, and cannot create in a read-only rootfs.
   */
  private createMountTargets(id: string, spec: Spec, rootfs = spec.root!.path): string[] {
    try {
      // the spec's binds (volumes, then the /etc files), in the order renderConfig takes them
      const mounts = binds(spec).map((m) => ({ source: m.source!, destination: m.destination, kind: statSync(m.source!).isDirectory() ? ('dir' as const) : ('file' as const) }));
      return makeMountTargets(rootfs, mounts);
    } catch (e) {
      if (!(e instanceof MountTargetError)) throw e;
      throw new ExecDriverError('ERR_START_FAILED', `mount target ${e.destination}: ${e.message}`, {
        containerId: id,
        step: 'mount target',
        path: e.destination,
        cause: e,
      });
    }
  }

  /**
   * tty: the monitor's `pid`, then `go`, then `started` (the tool was exec'd on the terminal).
   * Returns the tool's end: the monitor's `exit` frame (its status), once the monitor has gone.
   */
  private async startMonitor(
    id: string,
    tool: string,
    monitor: MonitorChannel,
    created?: (childPid: number) => number,
  ): Promise<{ exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
    // `go` goes with the plan: in host mode nothing of ours comes between the monitor's `pid` and
    // the child's first op (the monitor reads `go` only once it has reported `pid`), so the child
    // need not wait for a round trip through this process
    monitor.send('go');
    const pidFrame = await monitor.next();
    let reply = pidFrame?.[0] === 'pid' ? await monitor.next() : pidFrame;
    let fifo: number | undefined;
    try {
      if (created && reply?.[0] === 'created') {
        const childPid = Number(pidFrame![1]);
        try {
          fifo = created(childPid);
        } catch (e) {
          // refused (a check failed): the child waiting on the fifo ends now, and its monitor with it
          try {
            process.kill(childPid, 'SIGKILL');
          } catch {
            /* gone */
          }
          throw e;
        }
        reply = await monitor.next();
      }
    } finally {
      if (fifo !== undefined) closeSync(fifo);
    }
    if (reply?.[0] !== 'started') {
      const mismatch = protocolMismatch(reply, id);
      if (mismatch) throw mismatch;
      const errno = Number(reply?.[2] ?? 0);
      const why =
        reply?.[0] === 'error'
          ? `${reply[4] ?? ''}${errno ? `: ${describeErrno(errno)}` : ''} (init step ${reply[1]})`
          : `the terminal helper ended (${reply ? reply.join(' ') : 'no answer'})`;
      throw new StartError('ERR_START_FAILED', `run ${tool} under the monitor: ${why}`, { containerId: id, step: 'tty', path: tool });
    }
    const exited = (async () => {
      let f: string[] | undefined;
      do f = await monitor.next();
      while (f && f[0] !== 'exit');
      await monitor.closed();
      if (!f) return monitor.exitCodes();
      const sig = Number(f[2]);
      return { code: sig ? null : Number(f[1]), signal: sig ? (signalName(sig) ?? null) : null };
    })();
    return { exited };
  }

  /**
   * A foreground tty container runs: its input starts now (see start), resize goes through the
   * monitor's control socket; both end with the container.
   */
  private foreground(id: string, monitor: MonitorChannel, status: Promise<ExitStatus>, stdin: Readable | null | undefined): (rows: number, cols: number) => void {
    const input = monitor.child.stdin;
    if (stdin && input) {
      input.on('error', () => {});
      stdin.pipe(input);
      const done = () => stdin.unpipe(input);
      status.then(done, done);
    }
    return trackForeground(this.state(id), monitor, status);
  }

  /** The window size of a tty container's terminal: one this process runs, or a detached one. */
  async resize(id: string, rows: number, cols: number): Promise<void> {
    await resizeTerminal(this.state(id), rows, cols, () => this.runningRecord(id));
  }

  /** Connect to a detached tty container's terminal (its monitor's attach socket). */
  async attach(id: string, options: AttachOptions): Promise<Attached> {
    return attachTerminal(this.state(id), options, () => this.runningRecord(id));
  }

  /** The net namespace of the container this one joins (network mode container:<id>), native or lxc. */
  private joinedNetns(cmd: NormalizedCommand): string | undefined {
    const mode = cmd.network.mode;
    if (!mode.startsWith('container:')) return undefined;
    const other = mode.slice('container:'.length);
    for (const driver of [DRIVER_NAME, 'native']) {
      const rec = new StateDir(this.root, driver, other).readJson<{ pid?: number; startTime?: number }>(STATE_FILE);
      if (rec?.pid && isSameProcessAlive(rec.pid, rec.startTime)) return `/proc/${rec.pid}/ns/net`;
    }
    throw new InvalidConfigError(`network mode ${mode}: container ${other} is not running`, { containerId: cmd.id });
  }

  /**
   * Wait until the container runs: first until LXC's log says the command started (a cheap
   * read of the log, no process spawned; at most LOG_GATE_MS, in case the log says nothing), then poll
   * `lxc-info` until it says RUNNING with a pid (bounded). lxc-info fails while the container does
   * not exist yet: that is expected. Undefined when lxc-start ended first.
   *
   * The gate matters: each lxc-info is a process, and polling it during LXC's setup costs more
   * than the setup itself on a small machine (measured: 4-6 spawns per /bin/true otherwise).
   */
  private async detectStart(
    id: string,
    logFd: number,
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  ): Promise<{ pid: number } | undefined> {
    let gone = false;
    void exited.then(() => (gone = true));
    await waitForLogLine(logFd, /with pid ["']\d+["']\s*$/m, exited, LOG_GATE_MS);
    // LXC logs the pid once it has spawned the command (post_start, right before it calls the
    // container RUNNING): that is the pid lxc-info would give, without a process per poll.
    const logged = parseLxcLog(readFd(logFd)).startedPid;
    if (logged !== undefined && !gone) {
      // LXC logs the pid as it execs our helper: the command runs once the process runs neither
      // lxc-start's binary nor ours (a stat of /proc/PID/exe, no process spawned)
      const before = [executableId(this.tools.start), executableId(INIT_BINARY)];
      const deadline = Date.now() + EXEC_WAIT_MS;
      for (;;) {
        const exe = executableId(`/proc/${logged}/exe`);
        if (gone || exe === undefined || !before.includes(exe) || Date.now() > deadline) break;
        await sleep(1);
      }
      return { pid: logged };
    }
    // A command that ends at once (true, echo) is gone within a few ms: it needs no lxc-info.
    await Promise.race([sleep(INFO_GRACE_MS), exited]);
    const deadline = Date.now() + START_TIMEOUT_MS;
    let delay = 2;
    for (;;) {
      if (gone) return undefined;
      // lxc-start ending first (a short command) ends the wait: its log has the pid then.
      const info = await Promise.race([lxcInfoOnce(this.tools.info, id, this.lxcPath, ['-s', '-p']), exited.then(() => undefined)]);
      if (info?.running && info.pid) return { pid: info.pid };
      if (gone) return undefined;
      if (Date.now() > deadline) throw new WaitTimeoutError(id, 'lxc-info to report the container RUNNING', START_TIMEOUT_MS);
      await Promise.race([sleep(delay), exited]);
      delay = Math.min(Math.ceil(delay * 1.5), 50);
    }
  }

  /** A start failed half-way: stop lxc-start (and what it started), remove LXC's cgroups. */
  private async undoStart(id: string, child: ChildProcess | undefined, monitor?: MonitorChannel): Promise<void> {
    if (!child && monitor) {
      // a forked monitor (no ChildProcess): the same, with its channel's end for its exit
      let ended = false;
      const gone = monitor.closed().then(() => (ended = true));
      await within(gone, 0, undefined);
      if (!ended) {
        await this.lxcStop(id);
        if (!(await within(gone.then(() => true), 5000, false))) {
          monitor.kill('SIGKILL');
          await within(gone, 2000, undefined);
        }
      }
    } else if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      await this.lxcStop(id);
      if (!(await within(gone.then(() => true), 5000, false))) {
        child.kill('SIGKILL');
        await within(gone, 2000, undefined);
      }
    }
    await removeLeftovers(this.root, id).catch(() => {});
  }

  /** `lxc-stop -k`: LXC kills the container's init; errors (not running) are ignored. */
  private lxcStop(id: string): Promise<void> {
    return new Promise((resolve) => {
      execFile(this.tools.stop, ['-n', id, '-P', this.lxcPath, '-k'], { timeout: 10_000, env: toolEnv() }, () => resolve());
    });
  }

  private async awaitExit(
    id: string,
    tool: string,
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
    fds: { log: number; oom: number | undefined },
    record: LxcState,
  ): Promise<ExitStatus> {
    const how = await exited;
    trace(id, 'exit');
    try {
      const run = parseLxcLog(readFd(fds.log));
      if (run.startedPid === undefined && record.pid === 0) throw startError(id, run, tool, how);
      return this.logStatus(run, fds.oom === undefined ? '' : readFd(fds.oom));
    } finally {
      closeSync(fds.log);
      if (fds.oom !== undefined) closeSync(fds.oom);
      await removeLeftovers(this.root, id).catch(() => {});
      trace(id, 'cgroups-removed');
      await releaseNetwork(this.root, ownerOf(DRIVER_NAME, id), record.network);
      await removeRecordAsync(this.state(id)); // off the main thread (a host mount left: checked first)
      trace(id, 'state-removed', true);
    }
  }

  /**
   * The exit status from LXC's log: `ended on error (n)` → n, `ended on signal …(n)` → 128+n and
   * the name, `Container init process … exited` alone → 0. No sign of the end at all: lxc-start
   * itself was killed, and LXC's init dies with it (LXC sets SIGKILL as its parent-death signal):
   * 137, SIGKILL (what is left is removed by the caller).
   */
  private logStatus(run: LxcRun, oomText: string): ExitStatus {
    const oom = parseOomKills(oomText);
    if (run.signal !== undefined) return exitStatusFrom(0, run.signal, oom);
    if (run.exitCode !== undefined) return exitStatusFrom(run.exitCode, 0, oom);
    if (run.initExited) return exitStatusFrom(0, 0, oom);
    return exitStatusFrom(0, osConstants.signals.SIGKILL, oom);
  }

  /** What a finished container's files say (exit.json, or LXC's log + the OOM counter once its monitor is gone). */
  protected override exitRecord(id: string, known: AnyRecord | undefined): ExitRecord | undefined {
    const state = this.state(id);
    const saved = state.readJson<ExitRecord>(EXIT_FILE);
    if (saved) return saved;
    const rec = known ?? state.readJson<LxcState>(STATE_FILE);
    if (!rec || rec.status === 'creating' || rec.status === 'created' || isSameProcessAlive(rec.monitorPid, rec.monitorStartTime)) return undefined;
    const run = parseLxcLog(readText(state.path(LOG_FILE)) ?? '');
    const s = this.logStatus(run, readText(state.path(OOM_FILE)) ?? '');
    const signal = s.signal ? (osConstants.signals[s.signal] ?? 0) : 0;
    const exit: ExitRecord = { exitCode: s.exitCode, signal, oomKills: s.oomKilled ? 1 : 0, finishedAt: Date.now(), status: waitStatusOf(s.exitCode, signal) };
    try {
      state.writeJson(EXIT_FILE, exit);
    } catch {
      /* removed meanwhile */
    }
    return exit;
  }

  /** What `lxc-info -n <id> -P <root>/lxc` says now (undefined when it says the container does not exist). */
  async lxcInfo(id: string): Promise<LxcInfo | undefined> {
    return lxcInfoOnce(this.tools.info, id, this.lxcPath);
  }

  // ---- the engine's hooks (src/lifecycle/engine.ts) ----

  /** The container's processes: its cgroup's, or rootless (no cgroup) its pid namespace's. */
  protected async containerPids(id: string, rec: AnyRecord | undefined): Promise<number[]> {
    if (!this.rootless) return payloadPids(this.root, id);
    return rec && rec.pid > 0 ? pidsInNamespaceOf(rec.pid) : [];
  }

  protected async killContainer(id: string, rec: AnyRecord | undefined): Promise<void> {
    if (!this.rootless) return void (await payloadCgroup(this.root, id).killAll('SIGKILL'));
    for (const p of await this.containerPids(id, rec)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** What LXC left of its cgroups (kills what still runs in them). */
  protected async releaseContainer(id: string): Promise<void> {
    await removeLeftovers(this.root, id);
  }

  /** A monitor that outlives its container: LXC's own stop first. */
  protected override async stopMonitor(id: string): Promise<void> {
    await this.lxcStop(id);
  }

  protected configFile(state: StateDir): string {
    return state.path(CONFIG_FILE);
  }

  /** ops (pause, stats, update, top): LXC's payload cgroup; none when rootless. */
  protected override opsCgroup(id: string): ContainerCgroup | undefined {
    return this.rootless ? undefined : payloadCgroup(this.root, id);
  }
}

export function createLxcDriver(options: DriverOptions): LxcDriver {
  return new LxcDriver(options);
}
