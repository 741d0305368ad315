import { ApiDriver } from '../api/index.js';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { hostCapabilities } from '../capabilities.js';
import { deviceFilterHex } from '../cgroups/devicefilter.js';
import { ContainerCgroup, hostLayout, type CgroupLayout } from '../cgroups/index.js';
import { normalizeCommand, type NormalizedCommand } from '../command.js';
import type { Attached, AttachOptions, Command, ContainerSummary, DriverOptions, ExitStatus, Info, KillOptions, ManagedDriver, Started, StartOptions } from '../driver.js';
import { DEFAULT_ROOT } from '../driver.js';
import {
  ExecDriverError,
  InvalidConfigError,
  NotFoundError,
  StartError,
  WaitTimeoutError,
  describeErrno,
  type ErrorCode,
} from '../errors.js';
import { attachVeth } from '../network/veth.js';
import {
  ownerOf,
  reclaimAddresses,
  releaseNetwork,
  setupNetwork,
  type NetworkState,
} from '../network/container.js';
import { isSameProcessAlive, listIds, ownerAlive, processStartTime, runningRecord, signalContainer, StateDir } from '../state/index.js';
import { lazyPromise, sleep, within } from '../time.js';
import { resolveUser } from '../users.js';
import { checkMappable, mapText, type IdMapping } from '../userns.js';
import { packageVersion } from '../version.js';
import { ATTACH_SOCKET, attachTerminal, checkSize, resizeTerminal, terminalSize, trackForeground } from './console.js';
import { connectPipes, MonitorChannel, requireInit, stdioFor, type Stdio } from './monitor.js';
import { buildPlan, VETH_PEER } from './plan.js';
import { appendEvent } from '../events/log.js';
import { checkOwnRoot, checkRootless, rootlessCommand, checkTun, isRootless, NoCgroup, rootlessMappings, rootlessRoot, writeRootlessMaps } from './rootless.js';
import { containerSecurity } from './seccomp.js';
import { buildContainerJson, CGROUP_PARENT, cgroupName, type ContainerJson } from './template.js';

export const DRIVER_NAME = 'native';

/** state.json: what a running container is, for other processes (kill, info, list …). */
export interface NativeState {
  id: string;
  driver: string;
  pid: number;
  startTime: number;
  monitorPid: number;
  monitorStartTime: number;
  createdAt: string;
  startedAt: string;
  detached: boolean;
  cgroupPaths: string[];
  network?: NetworkState;
}

/** exit.json, written by the monitor once the container's init has been reaped. */
export interface ExitRecord {
  exitCode: number;
  signal: number;
  oomKills: number;
  finishedAt: number;
}

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(osConstants.signals)) signalNames.set(n, name as NodeJS.Signals);

export function exitStatusFrom(code: number, signal: number, oomKills: number): ExitStatus {
  const status: ExitStatus = { exitCode: signal > 0 ? 128 + signal : code, oomKilled: oomKills > 0 };
  const name = signal > 0 ? signalNames.get(signal) : undefined;
  if (name) status.signal = name;
  return status;
}


const hasCgroupNamespace = existsSync('/proc/self/ns/cgroup');

/**
 * Whether the container's device rules are (also) enforced by a BPF device program on its cgroup2
 * directory: always on a pure v2 host (nothing else enforces them there), on a hybrid host when
 * `config.native.cgroup2_devices` asks for it (the v1 devices cgroup stays in force too). Never
 * when privileged (every device: a program that allows everything is no program). Asked for on a
 * host without a cgroup2 mount: InvalidConfigError, before anything is created.
 */
export function usesDeviceFilter(cmd: NormalizedCommand, layout: CgroupLayout): boolean {
  const asked = cmd.config.native?.['cgroup2_devices'];
  if (asked !== undefined && asked !== true && asked !== false && asked !== 'true' && asked !== 'false') {
    throw new InvalidConfigError(`config.native.cgroup2_devices must be true or false, not ${JSON.stringify(asked)}`, { containerId: cmd.id });
  }
  const on = asked === true || asked === 'true';
  if (on && !layout.v2) {
    throw new InvalidConfigError('cgroup2 device filter asked for (cgroup2_devices), but this host has no cgroup2 mount', { containerId: cmd.id });
  }
  if (cmd.privileged || !layout.v2) return false;
  return layout.mode === 'v2' || on;
}


export const SLIRP4NETNS = '/usr/bin/slirp4netns';

/**
 * `--net slirp4netns`: user-mode networking in the container's own net namespace, the helper
 * started by the monitor (fds 3-6 as native/PROTOCOL.md's net-helper gives them): tap0 with
 * 10.0.2.100/24, the gateway 10.0.2.2, DNS at 10.0.2.3; never the host's loopback.
 */
function slirpArgv(cmd: NormalizedCommand): string[] {
  return [
    SLIRP4NETNS, '--configure', `--mtu=${cmd.network.mtu ?? 65520}`, '--disable-host-loopback', '--exit-fd=3', '--ready-fd=4',
    '--netns-type=path', ...(cmd.userns ? ['--userns-path=/proc/self/fd/6'] : []), '/proc/self/fd/5', 'tap0',
  ];
}

/** The container's uid_map and gid_map (each in one write, as the kernel wants); setgroups stays allowed. */
function writeIdMaps(id: string, pid: number, uids: IdMapping[], gids: IdMapping[]): void {
  for (const [file, maps] of [['uid_map', uids], ['gid_map', gids]] as const) {
    const path = `/proc/${pid}/${file}`;
    try {
      writeFileSync(path, mapText(maps));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const errno = err.errno !== undefined ? Math.abs(err.errno) : undefined;
      throw new StartError('ERR_START_FAILED', `write the user namespace's ${file} (${path})${errno ? `: ${describeErrno(errno)}` : ''}`, {
        containerId: id, step: 'userns', path, ...(errno ? { errno } : {}), cause: e,
      });
    }
  }
}

/** EXECDRIVER_TRACE=1: one stderr line per container, the ms spent in each phase of its start and exit. */
const traces = new Map<string, { last: bigint; parts: string[] }>();
function trace(id: string, phase: string, end = false): void {
  if (process.env['EXECDRIVER_TRACE'] !== '1') return;
  const now = process.hrtime.bigint();
  const t = traces.get(id);
  if (!t) return void traces.set(id, { last: now, parts: [] });
  t.parts.push(`${phase}=${(Number(now - t.last) / 1e6).toFixed(2)}`);
  t.last = now;
  if (!end) return;
  traces.delete(id);
  process.stderr.write(`execdriver-trace ${id} ${t.parts.join(' ')}\n`);
}

/** Docker 0.11's native driver: namespaces, cgroups, pivot_root, done by our own C init. */
export class NativeDriver extends ApiDriver implements ManagedDriver {
  readonly root: string;

  /** a non-root caller: user namespace from newuidmap, no cgroups, no host network set-up */
  readonly rootless: boolean;

  constructor(options: DriverOptions = {}) {
    super();
    this.rootless = isRootless();
    this.root = options.root ?? (this.rootless ? rootlessRoot() : DEFAULT_ROOT);
  }

  /** A rootless caller's state root: created 0700 on first use, and it must be the caller's own. */
  private ownRoot(): void {
    if (!this.rootless) return;
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    checkOwnRoot(this.root, statSync(this.root));
  }

  name(): string {
    return `${DRIVER_NAME}-${packageVersion()}`;
  }

  private state(id: string): StateDir {
    return new StateDir(this.root, DRIVER_NAME, id);
  }

  /** The container's cgroups: `execdriver/<id>`, with a suffix of the state root unless it is the default (cgroupName). */
  private cgroup(id: string): ContainerCgroup | NoCgroup {
    // rootless: no cgroup; the container's pid namespace stands in for listing and killing
    if (this.rootless) return new NoCgroup(() => this.state(id).readJson<NativeState>('state.json')?.pid);
    return ContainerCgroup.open({ parent: CGROUP_PARENT, name: cgroupName(this.root, id), containerId: id });
  }

  /** Validate, create, start. (`start`/`run` come from ApiDriver.) Resolves once the command runs (its exec succeeded). */
  protected async launch(command: Command, opts: StartOptions = {}): Promise<Started> {
    trace(String(command?.id), 'begin');
    // rootless: no bridge unless asked for (and then refused), the caller's own maps
    const cmd = normalizeCommand(this.rootless ? rootlessCommand(command) : command);
    if (this.rootless) {
      checkRootless(cmd, { userns: command.userns, mappings: !!(command.uidMappings || command.gidMappings) });
      cmd.userns = rootlessMappings(undefined, undefined, cmd.id);
      this.ownRoot();
    }
    requireInit(cmd.id);
    const user = resolveUser(cmd.rootfs, cmd.user);
    if (!cmd.env.some((e) => e.startsWith('HOME='))) cmd.env.push(`HOME=${user.home ?? '/'}`);
    if (cmd.userns) checkMappable(cmd.userns, user, cmd.id);
    if (cmd.network.mode === 'slirp4netns' && !existsSync(SLIRP4NETNS)) {
      throw new InvalidConfigError(`--net slirp4netns needs ${SLIRP4NETNS} (Debian package slirp4netns)`, { containerId: cmd.id });
    }
    if (cmd.network.mode === 'slirp4netns' && this.rootless) checkTun(cmd.id);
    const netnsPath = this.joinedNetns(cmd);
    const deviceFilter = !this.rootless && usesDeviceFilter(cmd, hostLayout()); // rootless: no cgroup to attach it to
    const caps = hostCapabilities();
    const owner = ownerOf(DRIVER_NAME, cmd.id);
    const size = opts.consoleSize ?? terminalSize(opts.pipes?.stdout) ?? { rows: 24, cols: 80 };
    const consoleSize = checkSize(size.rows, size.cols);
    // the seccomp program for the capabilities the container will keep (compiled once, then kept)
    const { filter } = containerSecurity(cmd, this.root, cmd.init);
    trace(cmd.id, 'normalize');

    const state = this.state(cmd.id);
    state.create();
    this.recordEvent('create', cmd.id);
    trace(cmd.id, 'state-dir');
    let cgroup: ContainerCgroup | NoCgroup | undefined;
    let monitor: MonitorChannel | undefined;
    let logFd: number | undefined;
    let net: NetworkState | undefined;
    try {
      net = await setupNetwork({
        stateRoot: this.root,
        owner,
        network: cmd.network,
        hostname: cmd.hostname,
        filesDir: state.path('net'),
        mounts: cmd.mounts,
        isAlive: (o) => ownerAlive(this.root, o),
      });
      trace(cmd.id, 'net-prepare');
      const config = buildContainerJson(cmd, { cgroupNamespace: hasCgroupNamespace, network: net, cgroupName: cgroupName(this.root, cmd.id) });
      state.writeJson('container.json', config);
      let childPid: number | undefined;
      cgroup = this.rootless ? new NoCgroup(() => childPid) : await ContainerCgroup.create({
        parent: CGROUP_PARENT,
        name: cgroupName(this.root, cmd.id),
        resources: cmd.resources,
        devices: cmd.privileged ? 'allow-all' : 'default',
        containerId: cmd.id,
      });
      trace(cmd.id, 'config+cgroup-create');
      const plan = buildPlan({
        config,
        user,
        hostCapabilities: caps.names,
        lastCap: caps.lastCap,
        exitFile: state.path('exit.json'),
        ...(cgroup.oomCounterFile ? { oomCounterFile: cgroup.oomCounterFile } : {}),
        cleanupCgroups: cgroup.paths,
        eventLog: { root: this.root, id: cmd.id },
        ...(deviceFilter && cgroup instanceof ContainerCgroup ? { deviceFilter: { dir: cgroup.v2Path!, program: deviceFilterHex('default') } } : {}),
        detach: !!opts.detach,
        ...(this.rootless ? { rootless: true } : {}),
        ...(cmd.network.mode === 'slirp4netns' ? { netHelper: slirpArgv(cmd) } : {}),
        ...(filter ? { seccompFilter: filter } : {}),
        ...(netnsPath ? { netnsPath } : {}),
        ...(cmd.tty ? { console: { ...consoleSize, ...(opts.detach ? { attachSocket: state.path(ATTACH_SOCKET) } : {}) } } : {}),
      });

      let stdio: [Stdio, Stdio, Stdio];
      const pipes = opts.pipes ?? {};
      if (opts.detach) {
        logFd = openSync(state.path('container.log'), 'a', 0o600);
        stdio = ['ignore', logFd, logFd];
      } else {
        // with a terminal the container's fds are its pty, the monitor relays it to ours
        stdio = [
          stdioFor(pipes.stdin, process.stdin, cmd.tty),
          stdioFor(pipes.stdout, process.stdout, cmd.tty),
          cmd.tty ? 'ignore' : stdioFor(pipes.stderr, process.stderr), // a terminal merges stderr into stdout
        ];
      }
      monitor = MonitorChannel.spawn(stdio, cmd.id);
      if (logFd !== undefined) closeSync(logFd);
      logFd = undefined;
      const child = monitor.child;
      if (!opts.detach) connectPipes(child, stdio, pipes);
      monitor.sendPlan(plan);
      trace(cmd.id, 'plan+spawn-monitor');

      const pidFrame = await monitor.next();
      if (!pidFrame || pidFrame[0] !== 'pid') throw await this.monitorFailure(cmd.id, monitor, pidFrame, 'clone');
      const pid = Number(pidFrame[1]);
      trace(cmd.id, 'pid-frame');
      childPid = pid;
      if (cmd.userns) {
        if (this.rootless) await writeRootlessMaps(cmd.id, pid, cmd.userns);
        else writeIdMaps(cmd.id, pid, cmd.userns.uidMappings, cmd.userns.gidMappings);
        trace(cmd.id, 'id-maps');
      }
      await cgroup.join(pid);
      trace(cmd.id, 'cgroup-join');
      if (net.mode === 'bridge') {
        const veth = await attachVeth({
          pid,
          bridge: net.bridge!,
          mtu: net.mtu!,
          address: net.ipAddress!,
          prefixLen: net.prefixLen!,
          ...(net.gateway ? { gateway: net.gateway } : {}),
          peerName: VETH_PEER,
          configureInside: false, // the C init does it (ifaddr, ifup, route-default): one process fewer
        });
        net.hostInterface = veth.hostInterface;
        trace(cmd.id, 'veth-attach');
      }
      const startTime = processStartTime(pid) ?? 0;
      const now = new Date().toISOString();
      const record: NativeState = {
        id: cmd.id,
        driver: DRIVER_NAME,
        pid,
        startTime,
        monitorPid: child.pid ?? 0,
        monitorStartTime: processStartTime(child.pid ?? 0) ?? 0,
        createdAt: now,
        startedAt: now,
        detached: !!opts.detach,
        cgroupPaths: cgroup.paths,
        network: net,
      };
      state.writeJson('state.json', record);
      monitor.send('go');
      trace(cmd.id, 'state-json+go');

      const reply = await monitor.next();
      if (!reply || reply[0] !== 'started') throw await this.monitorFailure(cmd.id, monitor, reply, 'start');
      trace(cmd.id, 'started');

      try {
        opts.onStart?.({ id: cmd.id, pid });
      } catch (e) {
        // the caller's callback failed: the container must not outlive the call
        process.kill(pid, 'SIGKILL');
        throw e;
      }
      if (opts.detach) {
        monitor.release();
        const resize = (rows: number, cols: number) => void this.resize(cmd.id, rows, cols).catch(() => {});
        // a detached container is waited for only if someone asks (wait() polls its record)
        return { id: cmd.id, pid, exited: lazyPromise(() => this.wait(cmd.id)), ...(cmd.tty ? { resize } : {}) };
      }
      const exited = this.awaitExit(cmd, monitor, state, cgroup, net);
      if (!cmd.tty) return { id: cmd.id, pid, exited };
      return { id: cmd.id, pid, exited, resize: trackForeground(state, monitor, exited) };
    } catch (err) {
      trace(cmd.id, 'failed', true);
      if (logFd !== undefined) closeSync(logFd);
      await this.undoStart(monitor, cgroup, state);
      await releaseNetwork(this.root, owner, net);
      throw err;
    }
  }

  /** The net namespace of the container this one joins (network mode container:<id>). */
  private joinedNetns(cmd: NormalizedCommand): string | undefined {
    const mode = cmd.network.mode;
    if (!mode.startsWith('container:')) return undefined;
    const other = mode.slice('container:'.length);
    const rec = this.state(other).readJson<NativeState>('state.json');
    if (!rec || !isSameProcessAlive(rec.pid, rec.startTime)) {
      throw new InvalidConfigError(`network mode ${mode}: container ${other} is not running`, { containerId: cmd.id });
    }
    return `/proc/${rec.pid}/ns/net`;
  }

  /** Turn what the monitor said (an error frame, or nothing) into a typed error. */
  private async monitorFailure(id: string, monitor: MonitorChannel, frame: string[] | undefined, during: string): Promise<ExecDriverError> {
    if (frame && frame[0] === 'error') {
      const [, step = '?', errnoText = '0', path = '', message = ''] = frame;
      const errno = Number(errnoText);
      const op = step.split('#')[0];
      let code: ErrorCode = 'ERR_START_FAILED';
      let exitCode = 125;
      if (op === 'exec' && errno === osConstants.errno.ENOENT) {
        code = 'ERR_EXEC_NOT_FOUND';
        exitCode = 127;
      } else if (op === 'exec' && (errno === osConstants.errno.EACCES || errno === osConstants.errno.ENOEXEC)) {
        code = 'ERR_EXEC_NOT_EXECUTABLE';
        exitCode = 126;
      }
      let why = errno ? `: ${describeErrno(errno)}` : '';
      if (op === 'mount-source' && errno === osConstants.errno.EINVAL && /IDMAP/.test(message)) {
        why += ' (its filesystem does not allow idmapped mounts: use a rootfs on ext4, xfs, btrfs or tmpfs)';
      }
      const text =
        code === 'ERR_EXEC_NOT_FOUND'
          ? `executable "${path}" not found in the container${why}`
          : code === 'ERR_EXEC_NOT_EXECUTABLE'
            ? `"${path}" is not executable in the container${why}`
            : `${message || `${op} ${path}`}${why} (init step ${step})`;
      return new StartError(code, text, { containerId: id, step, path, ...(errno ? { errno } : {}), exitCode });
    }
    if (frame && frame[0] === 'exit') {
      return new StartError('ERR_START_FAILED', `the container exited during ${during} (status ${frame[1]})`, { containerId: id, step: during });
    }
    await within(monitor.closed(), 1000, undefined);
    const c = monitor.child;
    return new StartError(
      'ERR_START_FAILED',
      `the init helper exited during ${during} (${c.signalCode ? `signal ${c.signalCode}` : `exit code ${c.exitCode}`})`,
      { containerId: id, step: during },
    );
  }

  /** A start failed half-way: stop the child, remove cgroups and state. */
  private async undoStart(monitor: MonitorChannel | undefined, cgroup: ContainerCgroup | NoCgroup | undefined, state: StateDir): Promise<void> {
    if (monitor) {
      monitor.send('abort');
      // wait for the monitor's own cleanup (it reports exit), bounded
      for (;;) {
        const f = await within(monitor.next(), 5000, 'timeout' as const);
        if (f === 'timeout') {
          monitor.child.kill('SIGKILL');
          break;
        }
        if (!f || f[0] === 'exit') break;
      }
      await within(monitor.closed(), 2000, undefined);
    }
    if (cgroup) await cgroup.remove().catch(() => {});
    state.remove();
    this.recordEvent('destroy', state.id);
  }

  private async awaitExit(
    cmd: NormalizedCommand,
    monitor: MonitorChannel,
    state: StateDir,
    cgroup: ContainerCgroup | NoCgroup,
    net: NetworkState,
  ): Promise<ExitStatus> {
    let frame: string[] | undefined;
    do frame = await monitor.next();
    while (frame && frame[0] !== 'exit');
    trace(cmd.id, 'exit-frame');
    await monitor.closed();
    trace(cmd.id, 'monitor-closed');
    try {
      if (!frame) {
        // the monitor died without a word (killed): the container died with it (pdeathsig)
        const rec = state.readJson<ExitRecord>('exit.json');
        if (rec) return exitStatusFrom(rec.exitCode, rec.signal, rec.oomKills);
        throw new ExecDriverError('ERR_SYSTEM', `the monitor (pid ${monitor.child.pid}) died before it reported the exit status`, {
          containerId: cmd.id,
        });
      }
      return exitStatusFrom(Number(frame[1]), Number(frame[2]), Number(frame[3]));
    } finally {
      await cgroup.remove().catch(() => {});
      trace(cmd.id, 'cgroup-remove');
      await releaseNetwork(this.root, ownerOf(DRIVER_NAME, cmd.id), net);
      trace(cmd.id, 'net-release');
      state.remove();
      this.recordEvent('destroy', cmd.id);
      trace(cmd.id, 'state-remove', true);
    }
  }

  async kill(id: string, signal: NodeJS.Signals | number = 'SIGKILL', options: KillOptions = {}): Promise<void> {
    const rec = this.running(id);
    signalContainer(id, signal, rec.pid, options.all ? await this.cgroup(id).pids() : undefined);
  }

  /** The record of a running container; NotFoundError / NotRunningError otherwise. */
  private running(id: string): NativeState {
    return runningRecord<NativeState>(this.state(id));
  }

  info(id: string): Info & { pid?: number } {
    const rec = this.state(id).readJson<NativeState>('state.json');
    const alive = !!rec && isSameProcessAlive(rec.pid, rec.startTime);
    return { isRunning: () => !!rec && isSameProcessAlive(rec.pid, rec.startTime), ...(alive && rec ? { pid: rec.pid } : {}) };
  }

  async getPidsForContainer(id: string): Promise<number[]> {
    const state = this.state(id);
    if (!state.exists()) throw new NotFoundError(id, state.dir);
    return this.cgroup(id).pids();
  }

  async terminate(id: string): Promise<void> {
    const state = this.state(id);
    const rec = state.readJson<NativeState>('state.json');
    if (!rec && !state.exists()) throw new NotFoundError(id, state.dir);
    const cg = this.cgroup(id);
    if (rec && isSameProcessAlive(rec.pid, rec.startTime)) {
      try {
        process.kill(rec.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    await cg.killAll('SIGKILL').catch(() => {});
    // let the monitor record the exit and remove the cgroups, bounded
    if (rec) {
      const deadline = Date.now() + 10_000;
      while (isSameProcessAlive(rec.monitorPid, rec.monitorStartTime) && Date.now() < deadline) await sleep(10);
    }
    await cg.remove();
    await releaseNetwork(this.root, ownerOf(DRIVER_NAME, id), rec?.network);
    state.remove();
    this.recordEvent('destroy', id);
  }

  /** The window size of a tty container's terminal: one this process runs, or a detached one. */
  async resize(id: string, rows: number, cols: number): Promise<void> {
    await resizeTerminal(this.state(id), rows, cols, () => this.running(id));
  }

  /** Connect to a detached tty container's terminal (its monitor's attach socket). */
  async attach(id: string, options: AttachOptions): Promise<Attached> {
    return attachTerminal(this.state(id), options, () => this.running(id));
  }

  /** Wait for a (detached) container to exit; its exit status, from the monitor's record. */
  async wait(id: string, timeoutMs = 0): Promise<ExitStatus> {
    const state = this.state(id);
    if (!state.exists()) throw new NotFoundError(id, state.dir);
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    let delay = 5;
    for (;;) {
      const exit = state.readJson<ExitRecord>('exit.json');
      if (exit) return exitStatusFrom(exit.exitCode, exit.signal, exit.oomKills);
      const rec = state.readJson<NativeState>('state.json');
      if (rec && !isSameProcessAlive(rec.monitorPid, rec.monitorStartTime)) {
        const again = state.readJson<ExitRecord>('exit.json');
        if (again) return exitStatusFrom(again.exitCode, again.signal, again.oomKills);
        throw new ExecDriverError('ERR_NOT_RUNNING', 'the monitor died and no exit status was recorded', { containerId: id });
      }
      if (!state.exists()) throw new NotFoundError(id, state.dir);
      if (Date.now() > deadline) throw new WaitTimeoutError(id, 'the container to exit', timeoutMs);
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  }

  /** What is known of one container (the CLI's `info`). */
  inspect(id: string): ContainerSummary {
    const state = this.state(id);
    if (!state.exists()) throw new NotFoundError(id, state.dir);
    const rec = state.readJson<NativeState>('state.json');
    const exit = state.readJson<ExitRecord>('exit.json');
    const config = state.readJson<ContainerJson>('container.json');
    const running = !!rec && isSameProcessAlive(rec.pid, rec.startTime);
    const status = exitStatusFrom(exit?.exitCode ?? 0, exit?.signal ?? 0, exit?.oomKills ?? 0);
    return {
      id,
      driver: this.name(),
      pid: running && rec ? rec.pid : null,
      running,
      status: running ? 'running' : exit ? 'exited' : rec ? 'stopped' : 'creating',
      exitCode: exit ? status.exitCode : null,
      signal: exit ? (status.signal ?? null) : null,
      oomKilled: exit ? status.oomKilled : false,
      createdAt: rec?.createdAt ?? null,
      startedAt: rec?.startedAt ?? null,
      finishedAt: exit ? new Date(exit.finishedAt).toISOString() : null,
      command: config?.args ?? [],
      configPath: state.path('container.json'),
      ...(rec?.network ? { network: rec.network } : {}),
    };
  }

  /** Every container with a state directory. Containers whose monitor died are reclaimed (cgroups). */
  async list(): Promise<ContainerSummary[]> {
    const out: ContainerSummary[] = [];
    await reclaimAddresses(this.root, (o) => ownerAlive(this.root, o));
    for (const id of listIds(this.root, DRIVER_NAME)) {
      try {
        const s = this.inspect(id);
        if (s.status === 'exited' || s.status === 'stopped') {
          const rec = this.state(id).readJson<NativeState>('state.json');
          if (rec && !rec.detached && !isSameProcessAlive(rec.monitorPid, rec.monitorStartTime)) {
            // a foreground container whose caller died: nobody will wait for it
            await this.delete(id);
            continue;
          }
          if (s.status === 'stopped') await this.reclaim(id);
        }
        out.push(s);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    return out;
  }

  /** Remove what is left of a container whose monitor is gone. */
  private async reclaim(id: string): Promise<void> {
    await this.cgroup(id).remove().catch(() => {});
    const rec = this.state(id).readJson<NativeState>('state.json');
    await releaseNetwork(this.root, ownerOf(DRIVER_NAME, id), rec?.network);
  }

  /** Remove a stopped container (its state, and whatever a crash left); `force` terminates a running one. */
  async delete(id: string, options: { force?: boolean } = {}): Promise<void> {
    const state = this.state(id);
    if (!state.exists()) throw new NotFoundError(id, state.dir);
    const rec = state.readJson<NativeState>('state.json');
    if (rec && isSameProcessAlive(rec.pid, rec.startTime)) {
      if (!options.force) {
        throw new ExecDriverError('ERR_STATE', 'is running: kill or terminate it first (or delete --force)', { containerId: id });
      }
      await this.terminate(id);
      return;
    }
    if (rec && isSameProcessAlive(rec.monitorPid, rec.monitorStartTime)) {
      // exited, the monitor still cleaning up
      await sleep(50);
    }
    await this.reclaim(id);
    state.remove();
    this.recordEvent('destroy', id);
    await reclaimAddresses(this.root, (o) => ownerAlive(this.root, o));
  }

  /** events: what Node records in the state root's log (the monitor records start, oom, die: src/events). */
  private recordEvent(type: 'create' | 'destroy', id: string): void {
    appendEvent(this.root, { type, driver: DRIVER_NAME, id });
  }
}

export function createNativeDriver(options: DriverOptions): NativeDriver {
  return new NativeDriver(options);
}
