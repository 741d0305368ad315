import { dirname, join } from 'node:path';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { prepareOverlay, userRootfs } from '../rootfs/overlay.js';
import { hostCapabilities } from '../capabilities.js';
import { deviceFilterHex } from '../cgroups/devicefilter.js';
import { ContainerCgroup, hostLayout, type CgroupLayout } from '../cgroups/index.js';
import { normalizeCommand, type NormalizedCommand } from '../command.js';
import type { Attached, AttachOptions, Command, DriverOptions, ExitStatus, ManagedDriver, Started, StartOptions } from '../driver.js';
import { DEFAULT_ROOT, LOG_TIMES_FILE, logOptions } from '../driver.js';
import { ExecDriverError, InvalidConfigError, StartError, describeErrno } from '../errors.js';
import { LifecycleDriver, type AnyRecord } from '../lifecycle/engine.js';
import { exitStatusOf, exitStatusOfFrame, type ExitRecord } from '../lifecycle/exit.js';
import { classifyStartFailure } from '../lifecycle/failure.js';
import { createRecord, removeRecord, retireRecord, type ContainerRecord } from '../lifecycle/record.js';
import { attachVeth } from '../network/veth.js';
import { ownerOf, releaseNetwork, setupNetwork, type NetworkState } from '../network/container.js';
import { isSameProcessAlive, ownerAlive, processStartTime, StateDir } from '../state/index.js';
import { lazyPromise, within } from '../time.js';
import { trace } from '../trace.js';
import { resolveUser } from '../users.js';
import { checkMappable, hostIdOf, mapText, type IdMapping } from '../userns.js';
import { packageVersion } from '../version.js';
import { ATTACH_SOCKET, attachTerminal, checkSize, resizeTerminal, terminalSize, trackForeground } from '../init/console.js';
import { connectPipes, MonitorChannel, protocolMismatch, relaysToFd, requireInit, stdioFor, type Stdio } from '../init/monitor.js';
import { buildPlan, VETH_PEER } from './plan.js';
import { checkOwnRoot, checkRootless, rootlessCommand, checkTun, isRootless, NoCgroup, rootlessMappings, rootlessRoot, writeRootlessMaps } from '../rootless.js';
import { specSecurity } from '../security/seccomp/compile.js';
import { recordInitProcess } from '../exec/index.js';
import { CGROUP_PARENT, cgroupName, containerJsonFromSpec } from './template.js';
import { buildSpec, deviceModeOf, resourcesOf, SPEC_FILE, validateSpec, type SpecContext } from '../spec/index.js';

export const DRIVER_NAME = 'native';

/** state.json of a native container: the engine's record (src/lifecycle/record.ts); nothing of its own yet. */
export type NativeState = ContainerRecord<Record<string, never>>;

/** exit.json, written by the monitor once the container's init has been reaped. */
export type { ExitRecord };
export { exitStatusFrom } from '../lifecycle/exit.js';

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
export function writeIdMaps(id: string, pid: number, uids: IdMapping[], gids: IdMapping[]): void {
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

/** The host ids of the container's root in its user namespace (none without one). */
function mappedRoot(cmd: NormalizedCommand): { uid: number; gid: number } | undefined {
  if (!cmd.userns) return undefined;
  const uid = hostIdOf(cmd.userns.uidMappings, 0);
  const gid = hostIdOf(cmd.userns.gidMappings, 0);
  return uid !== undefined && gid !== undefined ? { uid, gid } : undefined;
}

/**
 * In a user namespace the overlay is mounted by the container's root (a mapped, unprivileged host
 * uid) onto the rootfs's own path, over an upper directory in the state root: every directory
 * above each layer and above the state's driver directory must let it through (o+x).
 * Refused before anything is created, with what to do; `--rootfs-mode direct` needs no path walk.
 */
function checkOverlayReachable(cmd: NormalizedCommand, stateRoot: string): void {
  // its layers' directories, and the state root that holds its upper and work directories
  for (const path of [...(cmd.rootfsLayers.length ? cmd.rootfsLayers : [cmd.rootfs]), join(stateRoot, DRIVER_NAME)]) {
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      const st = statSync(dir, { throwIfNoEntry: false });
      if (st && (st.mode & 0o001) === 0) {
        throw new InvalidConfigError(
          `the overlay rootfs in a user namespace needs ${dir} searchable by the container's root (a mapped uid): chmod o+x ${dir}, or use --rootfs-mode direct`,
          { containerId: cmd.id, path: dir },
        );
      }
      if (dir === '/') break;
    }
  }
}

/** Docker 0.11's native driver: namespaces, cgroups, pivot_root, done by our own C init. */
export class NativeDriver extends LifecycleDriver implements ManagedDriver {
  readonly root: string;
  protected readonly driverName = DRIVER_NAME;

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

  /** The container's cgroups: `execdriver/<id>`, with a suffix of the state root unless it is the default (cgroupName). */
  private cgroup(id: string): ContainerCgroup | NoCgroup {
    // rootless: no cgroup; the container's pid namespace stands in for listing and killing
    if (this.rootless) return new NoCgroup(() => this.record(id)?.pid);
    return ContainerCgroup.open({ parent: CGROUP_PARENT, name: cgroupName(this.root, id), containerId: id });
  }

  /** Validate, create, start. (`start`/`run` come from ApiDriver.) Resolves once the command runs (its exec succeeded). */
  protected async launch(command: Command, opts: StartOptions = {}): Promise<Started> {
    trace(String(command?.id), 'begin');
    // rootless: no bridge unless asked for (and then refused), the caller's own maps
    const cmd = normalizeCommand(this.rootless ? rootlessCommand(command) : command);
    logOptions(opts.log); // checked before anything exists
    if (cmd.config.lxc?.length) throw new InvalidConfigError('config.lxc (--lxc-conf) is for the lxc driver, not the native one', { containerId: cmd.id });
    if (this.rootless) {
      checkRootless(cmd, { userns: command.userns, mappings: !!(command.uidMappings || command.gidMappings) });
      cmd.userns = rootlessMappings(undefined, undefined, cmd.id);
      this.ownRoot();
    }
    requireInit(cmd.id);
    const user = resolveUser(userRootfs(cmd.rootfsLayers), cmd.user);
    if (!cmd.env.some((e) => e.startsWith('HOME='))) cmd.env.push(`HOME=${user.home ?? '/'}`);
    if (cmd.userns) checkMappable(cmd.userns, user, cmd.id);
    if (cmd.userns && !this.rootless && cmd.rootfsMode === 'overlay') checkOverlayReachable(cmd, this.root);
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
    // the container's model (src/spec/): checked, and its seccomp program for the capabilities
    // it will keep compiled (once, then kept), before anything exists; built again below with the
    // prepared network (its /etc files and address)
    const specContext: SpecContext = {
      user,
      cgroupNamespace: hasCgroupNamespace,
      cgroupsPath: `${CGROUP_PARENT}/${cgroupName(this.root, cmd.id)}`,
      ...(netnsPath ? { netnsPath } : {}),
      ...(cmd.tty ? { consoleSize } : {}),
      host: caps,
    };
    const { kept, filter } = specSecurity(validateSpec(buildSpec(cmd, specContext), cmd.id), this.root, cmd.id);
    trace(cmd.id, 'normalize');

    await this.settleAll(); // records whose owner is gone (a crash) are settled by the next run
    const state = this.state(cmd.id);
    // the record exists from the start (status creating, owner: this process), whole or not at all
    const record: NativeState = createRecord(state, {
      id: cmd.id,
      driver: DRIVER_NAME,
      detached: !!opts.detach,
      createdAt: new Date().toISOString(),
      command: [cmd.entrypoint, ...cmd.arguments],
      cgroupPaths: [],
      extra: {},
    });
    trace(cmd.id, 'state-dir');
    // not detached: the caller's streams (with a terminal the container's fds are its pty, the
    // monitor relays it to ours; a terminal merges stderr into stdout)
    const pipes = opts.pipes ?? {};
    const attached: [Stdio, Stdio, Stdio] = [
      stdioFor(pipes.stdin, 'stdin', cmd.tty),
      stdioFor(pipes.stdout, 'stdout', cmd.tty),
      cmd.tty ? 'ignore' : stdioFor(pipes.stderr, 'stderr'),
    ];
    // no stdio of the caller's (and not detached): the monitor is forked by the spawner
    // (src/init/spawner.ts), not by Node, and asked for now, so that its fork and start overlap the
    // cgroups and the plan; it waits for the plan
    const forkable = !opts.detach && !this.rootless && attached.every((s) => s === 'ignore');
    const early = forkable ? MonitorChannel.fork(cmd.id).catch(() => undefined) : undefined;
    let cgroup: ContainerCgroup | NoCgroup | undefined;
    let monitor: MonitorChannel | undefined;
    let logFd: number | undefined;
    let stdinFd: number | undefined;
    let net: NetworkState | undefined;
    let written: Promise<unknown> | undefined;
    const etcFiles: { source: string; destination: string; kind: 'file' }[] = [];
    try {
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
      trace(cmd.id, 'net-prepare');
      // rootfs (issue 12): the container's copy-on-write layer; in a user namespace its root owns it
      const overlay = cmd.rootfsMode === 'overlay' ? prepareOverlay(state.dir, this.rootless ? undefined : mappedRoot(cmd)) : undefined;
      const spec = validateSpec(buildSpec(cmd, { ...specContext, network: net, etcFiles }), cmd.id);
      // on the thread pool, while the cgroups and the monitor are made: read by nobody before `created`
      written = Promise.all([
        state.writeTextAsync(SPEC_FILE, JSON.stringify(spec) + '\n'), // compact: written at every start
        state.writeTextAsync('container.json', JSON.stringify(containerJsonFromSpec(cmd.id, spec), null, 2) + '\n'),
      ]);
      written.catch(() => {}); // awaited below (or before the undo)
      recordInitProcess(state, { user, env: cmd.env, cwd: cmd.workingDir, kept, ambient: cmd.capAmbient, noNewPrivileges: cmd.noNewPrivileges, filter });
      let childPid: number | undefined;
      cgroup = this.rootless ? new NoCgroup(() => childPid) : await ContainerCgroup.create({
        parent: CGROUP_PARENT,
        name: cgroupName(this.root, cmd.id),
        resources: resourcesOf(spec.linux?.resources),
        devices: deviceModeOf(spec.linux?.resources?.devices) ?? 'default',
        containerId: cmd.id,
      });
      trace(cmd.id, 'config+cgroup-create');
      const plan = buildPlan({
        spec,
        hostCapabilities: caps.names,
        lastCap: caps.lastCap,
        exitFile: state.path('exit.json'),
        ...(cgroup.oomCounterFile ? { oomCounterFile: cgroup.oomCounterFile } : {}),
        cleanupCgroups: cgroup.paths,
        // the monitor moves the child into them (off our main thread); rootless: none
        ...(cgroup instanceof ContainerCgroup ? { joinCgroups: cgroup.procsFiles } : {}),
        ...(cgroup instanceof ContainerCgroup && cgroup.thawWrite ? { thawOnKill: cgroup.thawWrite } : {}),
        eventLog: { root: this.root, id: cmd.id },
        ...(deviceFilter && cgroup instanceof ContainerCgroup ? { deviceFilter: { dir: cgroup.v2Path!, program: deviceFilterHex(deviceModeOf(spec.linux?.resources?.devices) ?? 'default') } } : {}),
        detach: !!opts.detach,
        ...(!opts.detach && relaysToFd(opts.pipes) ? { relayOutput: true } : {}),
        ...(overlay ? { overlay: { upper: overlay.upper, work: overlay.work } } : {}),
        ...(opts.detach ? { logRotate: { path: state.path('container.log'), ...logOptions(opts.log) }, logTimes: state.path(LOG_TIMES_FILE) } : {}),
        ...(this.rootless ? { rootless: true } : {}),
        ...(cmd.network.mode === 'slirp4netns' ? { netHelper: slirpArgv(cmd) } : {}),
        ...(filter ? { seccompFilter: filter } : {}),
        ...(cmd.tty ? { console: { ...consoleSize, ...(opts.detach ? { attachSocket: state.path(ATTACH_SOCKET) } : {}) } } : {}),
      });

      let stdio: [Stdio, Stdio, Stdio];
      if (opts.detach) {
        logFd = openSync(state.path('container.log'), 'a', 0o600);
        if (opts.openStdin && !cmd.tty) stdinFd = (await import('../stdin-fifo.js')).openStdinFifo(state.path('stdin'), cmd.id);
        stdio = [stdinFd ?? 'ignore', logFd, logFd];
      } else {
        stdio = attached;
      }
      monitor = (early ? await early : undefined) ?? MonitorChannel.spawn(stdio, cmd.id);
      if (logFd !== undefined) closeSync(logFd);
      if (stdinFd !== undefined) closeSync(stdinFd);
      logFd = stdinFd = undefined;
      record.cgroupPaths = cgroup.paths;
      if (!opts.detach && !forkable) connectPipes(monitor.child, stdio, pipes);
      monitor.sendPlan(plan);
      trace(cmd.id, 'plan+spawn-monitor');

      const pidFrame = await monitor.next();
      if (!pidFrame || pidFrame[0] !== 'pid') throw await this.monitorFailure(cmd.id, monitor, pidFrame, 'clone');
      const pid = Number(pidFrame[1]);
      // written with the pid (created): until `go` the monitor kills the child and cleans up by itself when we die
      record.monitorPid = monitor.pid ?? 0;
      record.monitorStartTime = processStartTime(record.monitorPid) ?? 0;
      trace(cmd.id, 'pid-frame');
      childPid = pid;
      if (cmd.userns) {
        if (this.rootless) await writeRootlessMaps(cmd.id, pid, cmd.userns);
        else writeIdMaps(cmd.id, pid, cmd.userns.uidMappings, cmd.userns.gidMappings);
        trace(cmd.id, 'id-maps');
      }
      // the monitor moved it into its cgroups (cgroup-join); rootless: there are none
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
      record.pid = pid;
      record.startTime = processStartTime(pid) ?? 0;
      record.network = net;
      await written;
      this.save(record, 'created');
      monitor.send('go');
      trace(cmd.id, 'state-json+go');

      const reply = await monitor.next();
      if (!reply || reply[0] !== 'started') throw await this.monitorFailure(cmd.id, monitor, reply, 'start');
      record.startedAt = new Date().toISOString();
      this.save(record, 'running');
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
      if (!monitor) void early?.then((m) => m?.release()); // asked for early, never sent a plan: EOF ends it
      await written?.catch(() => {}); // nothing is written into the directory once it is removed
      if (logFd !== undefined) closeSync(logFd);
      if (stdinFd !== undefined) closeSync(stdinFd);
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
    const rec = this.record(other);
    if (!rec || !isSameProcessAlive(rec.pid, rec.startTime)) {
      throw new InvalidConfigError(`network mode ${mode}: container ${other} is not running`, { containerId: cmd.id });
    }
    return `/proc/${rec.pid}/ns/net`;
  }

  /** Turn what the monitor said (an error frame, or nothing) into a typed error. */
  protected async monitorFailure(id: string, monitor: MonitorChannel, frame: string[] | undefined, during: string): Promise<ExecDriverError> {
    const mismatch = protocolMismatch(frame, id);
    if (mismatch) return mismatch;
    if (frame && frame[0] === 'error') {
      const [, step = '?', errnoText = '0', path = '', message = ''] = frame;
      return classifyStartFailure(id, { step, errno: Number(errnoText), path, message });
    }
    if (frame && frame[0] === 'exit') {
      return new StartError('ERR_START_FAILED', `the container exited during ${during} (status ${frame[1]})`, { containerId: id, step: during });
    }
    await within(monitor.closed(), 1000, undefined);
    return new StartError(
      'ERR_START_FAILED',
      `the init helper exited during ${during} (${monitor.exitText()})`,
      { containerId: id, step: during },
    );
  }

  /** A start failed half-way: stop the child, remove cgroups and state. */
  protected async undoStart(monitor: MonitorChannel | undefined, cgroup: ContainerCgroup | NoCgroup | undefined, state: StateDir): Promise<void> {
    if (monitor) {
      monitor.send('abort');
      // wait for the monitor's own cleanup (it reports exit), bounded
      for (;;) {
        const f = await within(monitor.next(), 5000, 'timeout' as const);
        if (f === 'timeout') {
          monitor.kill('SIGKILL');
          break;
        }
        if (!f || f[0] === 'exit') break;
      }
      await within(monitor.closed(), 2000, undefined);
    }
    if (cgroup) await cgroup.remove().catch(() => {});
    removeRecord(state);
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
    // the exit frame came: its socket's close is the monitor's end (closed() waits for its status too)
    await (frame ? monitor.done() : monitor.closed());
    trace(cmd.id, 'monitor-closed');
    try {
      if (!frame) {
        // the monitor died without a word (killed): the container died with it (pdeathsig)
        const rec = state.readJson<ExitRecord>('exit.json');
        if (rec) return exitStatusOf(rec);
        throw new ExecDriverError('ERR_SYSTEM', `the monitor (pid ${monitor.pid}) died before it reported the exit status`, {
          containerId: cmd.id,
        });
      }
      return exitStatusOfFrame(frame);
    } finally {
      await cgroup.remove().catch(() => {});
      trace(cmd.id, 'cgroup-remove');
      await releaseNetwork(this.root, ownerOf(DRIVER_NAME, cmd.id), net);
      trace(cmd.id, 'net-release');
      await retireRecord(state); // renamed away, removed in the background
      trace(cmd.id, 'state-remove', true);
    }
  }

  /** The window size of a tty container's terminal: one this process runs, or a detached one. */
  async resize(id: string, rows: number, cols: number): Promise<void> {
    await resizeTerminal(this.state(id), rows, cols, () => this.runningRecord(id));
  }

  /** Connect to a detached tty container's terminal (its monitor's attach socket). */
  async attach(id: string, options: AttachOptions): Promise<Attached> {
    return attachTerminal(this.state(id), options, () => this.runningRecord(id));
  }

  // ---- the engine's hooks (src/lifecycle/engine.ts) ----

  protected async containerPids(id: string): Promise<number[]> {
    return this.cgroup(id).pids();
  }

  protected async killContainer(id: string): Promise<void> {
    await this.cgroup(id).killAll('SIGKILL');
  }

  protected async releaseContainer(id: string, _rec: AnyRecord | undefined): Promise<void> {
    await this.cgroup(id).remove();
  }

  protected configFile(state: StateDir): string {
    return state.path('container.json');
  }

  /** ops (pause, stats, update, top): the container's cgroup; none when rootless. */
  protected override opsCgroup(id: string): ContainerCgroup | undefined {
    return this.rootless ? undefined : ContainerCgroup.open({ parent: CGROUP_PARENT, name: cgroupName(this.root, id), containerId: id });
  }
}

export function createNativeDriver(options: DriverOptions): NativeDriver {
  return new NativeDriver(options);
}
