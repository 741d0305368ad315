/**
 * execdriver-oci's container: the native driver run from an OCI bundle with the OCI lifecycle.
 * `create` does everything up to the user process, which then blocks on the exec fifo
 * (`exec-wait`, native/oci.c) under its detached monitor, which owns it from then on; `start`
 * opens the fifo; `kill`, `delete`, `state` work on the engine's record (src/lifecycle/).
 */
import { existsSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { hostCapabilities } from '../capabilities.js';
import { ContainerCgroup } from '../cgroups/index.js';
import { validateId } from '../command.js';
import { ExecDriverError, InvalidConfigError, NotFoundError } from '../errors.js';
import { recordInitProcess } from '../exec/index.js';
import type { AnyRecord } from '../lifecycle/engine.js';
import { createRecord } from '../lifecycle/record.js';
import { FIFO, ociKill, ociList, ociStart, ociState, type OciExtra, type OciRecord, type OciState } from './light.js';
import { MonitorChannel, type Stdio } from '../init/monitor.js';
import { NativeDriver, writeIdMaps } from '../native/driver.js';
import { buildPlan } from '../native/plan.js';
import { specSecurity } from '../security/seccomp/compile.js';
import { ANNOTATION, capabilityNames, DEFAULT_DEVICES } from '../spec/from-command.js';
import { deviceModeOf, deviceRuleText, readBundle, resourcesOf, SPEC_FILE } from '../spec/index.js';
import type { Mount, Spec, State } from '../spec/types.js';
import { OCI_VERSION } from '../spec/types.js';
import { processStartTime } from '../state/index.js';
import { EVENTS_FILE } from '../events/log.js';
import { checkBundle, cgroupPlace, DEFAULT_PARENT, tmpCopyUp } from './bundle.js';
import { runHooks } from './hooks.js';


export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** the container's fds 0-2: ours (create, run) */
  stdio?: [Stdio, Stdio, Stdio];
  systemdCgroup?: boolean;
  /** `run` in the foreground: the monitor stays (it relays a terminal to our fds 0 and 1, records the exit status) */
  relayTerminal?: boolean;
  /** keep the monitor after create (default: it leaves, the init goes to our subreaper as runc's does) */
  keepMonitor?: boolean;
}


export class OciDriver extends NativeDriver {
  constructor(root: string) {
    super({ root });
  }

  /** No network of ours (the bundle's namespaces): a delete spawns no `nft` to look for ports. */
  protected override makesNetworks(): boolean {
    return false;
  }

  private must(id: string): OciRecord {
    const rec = this.record<OciExtra>(validateId(id));
    if (!rec || !rec.extra?.bundle) throw new NotFoundError(id);
    return rec;
  }

  ociState(id: string): OciState {
    return ociState(this.root, validateId(id));
  }

  ociList(): OciState[] {
    return ociList(this.root);
  }

  /** The spec the container was created from (kept in its state directory). */
  ociSpec(id: string): Spec | undefined {
    this.must(id);
    return this.savedSpec(id);
  }

  private savedSpec(id: string): Spec | undefined {
    return this.state(id).readJson<Spec>(SPEC_FILE);
  }

  async ociCreate(o: CreateOptions): Promise<number> {
    const id = validateId(o.id);
    const bundle = resolve(o.bundle);
    let spec = readBundle(bundle, id);
    checkBundle(spec, id, bundle);
    spec = tmpCopyUp(spec, id);
    const place = cgroupPlace(spec, id, !!o.systemdCgroup);
    const proc = spec.process!;
    if (proc.terminal && !o.consoleSocket && !o.relayTerminal) {
      throw new InvalidConfigError('process.terminal is true: give --console-socket (or run it in the foreground)', { containerId: id });
    }
    // the devices every container has (the specification's list), unless the bundle gives its own node
    const given = new Set((spec.linux?.devices ?? []).map((x) => x.path));
    spec = { ...spec, linux: { ...spec.linux, devices: [...DEFAULT_DEVICES.filter((x) => !given.has(x.path)).map((x) => ({ ...x })), ...(spec.linux?.devices ?? [])] } };
    if (o.noPivot) spec = { ...spec, annotations: { ...spec.annotations, [ANNOTATION.noPivotRoot]: 'true' } };
    const devRules = spec.linux?.resources?.devices;
    const mode = devRules === undefined ? 'allow-all' : deviceModeOf(devRules);
    const leave = !o.relayTerminal && !o.keepMonitor;
    const caps = hostCapabilities();
    const { kept, filter } = specSecurity(spec, this.root, id);
    await this.settleAll();
    const state = this.state(id);
    const rec: OciRecord = createRecord(state, {
      id,
      driver: 'native',
      detached: true,
      createdAt: new Date().toISOString(),
      command: proc.args ?? [],
      cgroupPaths: [],
      extra: { bundle, rootfs: spec.root!.path, cgroupParent: place.parent, cgroupName: place.name, annotations: spec.annotations ?? {}, owner: '' },
    });
    let monitor: MonitorChannel | undefined;
    let cgroup: ContainerCgroup | undefined;
    try {
      state.writeText(SPEC_FILE, JSON.stringify(spec) + '\n');
      recordInitProcess(state, {
        user: { uid: proc.user.uid, gid: proc.user.gid, groups: proc.user.additionalGids ?? [] },
        env: proc.env ?? [],
        cwd: proc.cwd,
        kept,
        ambient: capabilityNames(proc.capabilities?.ambient),
        noNewPrivileges: !!proc.noNewPrivileges,
        filter,
      });
      const fifo = state.path(FIFO); // made by the monitor before the clone (the plan's mkfifo)
      cgroup = await ContainerCgroup.create({
        parent: place.parent,
        name: place.name,
        resources: resourcesOf(spec.linux?.resources),
        devices: mode ?? 'allow-all',
        containerId: id,
      });
      if (!mode) this.writeDeviceRules(cgroup, spec, id);
      spec = { ...spec, mounts: cgroupMounts(spec.mounts ?? [], cgroup.paths) };
      const built = buildPlan({
        spec,
        hostCapabilities: caps.names,
        lastCap: caps.lastCap,
        exitFile: state.path('exit.json'),
        ...(cgroup.oomCounterFile ? { oomCounterFile: cgroup.oomCounterFile } : {}),
        cleanupCgroups: cgroup.paths,
        ...(cgroup.thawWrite ? { thawOnKill: cgroup.thawWrite } : {}),
        detach: true,
        ...(filter ? { seccompFilter: filter } : {}),
        // created: the monitor leaves, the init goes to the caller's subreaper (containerd's shim,
        // conmon) which reaps it as it reaps runc's; `run` in the foreground keeps it (our exit status)
        oci: { execFifo: fifo, hookState: state.path(HOOK_STATE), ...(o.consoleSocket ? { consoleSocket: resolve(o.consoleSocket) } : {}), ...(leave ? { leave } : {}) },
      });
      // --no-new-keyring: the container keeps the session keyring it is given
      const plan = o.noNewKeyring ? built.filter((op) => op[0] !== 'session-keyring') : built;
      const stdio: [Stdio, Stdio, Stdio] = o.stdio ?? (proc.terminal && o.consoleSocket ? ['ignore', 'ignore', 'ignore'] : ['inherit', 'inherit', 'inherit']);
      monitor = MonitorChannel.spawn(stdio, id);
      rec.monitorPid = monitor.child.pid ?? 0;
      rec.monitorStartTime = processStartTime(rec.monitorPid) ?? 0;
      rec.cgroupPaths = cgroup.paths;
      monitor.sendPlan(plan);
      const pidFrame = await monitor.next();
      if (!pidFrame || pidFrame[0] !== 'pid') throw await this.monitorFailure(id, monitor, pidFrame, 'clone');
      const pid = Number(pidFrame[1]);
      const ns = spec.linux?.namespaces?.find((n) => n.type === 'user' && !n.path);
      if (ns) writeIdMaps(id, pid, spec.linux!.uidMappings ?? [], spec.linux!.gidMappings ?? []);
      await cgroup.join(pid);
      if (proc.oomScoreAdj !== undefined) {
        try {
          writeFileSync(`/proc/${pid}/oom_score_adj`, String(proc.oomScoreAdj));
        } catch (e) {
          throw new ExecDriverError('ERR_START_FAILED', `process.oomScoreAdj ${proc.oomScoreAdj}: ${(e as Error).message}`, { containerId: id, step: 'oomScoreAdj' });
        }
      }
      rec.pid = pid;
      rec.startTime = processStartTime(pid) ?? 0;
      const hookState: State = { ociVersion: OCI_VERSION, id, status: 'creating', pid, bundle, ...(spec.annotations ? { annotations: spec.annotations } : {}) };
      // for the hooks run inside (createContainer, startContainer): the init opens it after `go`
      if (spec.hooks?.createContainer?.length || spec.hooks?.startContainer?.length) state.writeText(HOOK_STATE, JSON.stringify(hookState));
      await runHooks('prestart', spec.hooks?.prestart, hookState);
      await runHooks('createRuntime', spec.hooks?.createRuntime, hookState);
      monitor.send('go');
      const reply = await monitor.next();
      if (!reply || reply[0] !== 'created') throw await this.monitorFailure(id, monitor, reply, 'create');
      // from now on the monitor owns the container (the engine's settling keeps it while it lives);
      // when it left, the init stands in for it
      if (leave) [rec.monitorPid, rec.monitorStartTime] = [rec.pid, rec.startTime];
      // a `delete --force` while we were creating (an engine giving up on a slow create) removed
      // the state directory before the process was in its cgroup: undo, and say so
      if (!existsSync(fifo)) {
        await cgroup.killAll('SIGKILL').catch(() => {});
        throw new ExecDriverError('ERR_STATE', 'was deleted (delete --force) while it was being created', { containerId: id, step: 'create' });
      }
      rec.owner = { pid: rec.monitorPid, startTime: rec.monitorStartTime };
      this.save(rec, 'created');
      if (o.pidFile) writePidFile(o.pidFile, pid, id);
      monitor.release();
      return pid;
    } catch (err) {
      await this.undoStart(monitor, cgroup, state);
      this.tidyRoot();
      throw err;
    }
  }

  /** Device rules other than the two sets the cgroup code knows: written to v1's devices controller in order. */
  private writeDeviceRules(cgroup: ContainerCgroup, spec: Spec, id: string): void {
    const dir = cgroup.paths.find((p) => /\/devices\//.test(p) && !p.includes('/unified/'));
    if (!dir) throw new InvalidConfigError('linux.resources.devices: rules other than allow-all or the default list need the v1 devices controller (not mounted here)', { containerId: id });
    writeFileSync(join(dir, 'devices.deny'), 'a');
    for (const r of spec.linux!.resources!.devices!) writeFileSync(join(dir, r.allow ? 'devices.allow' : 'devices.deny'), deviceRuleText(r));
    // then the devices the runtime supplies (as runc does, after the bundle's rules): the default nodes, the terminal's
    const always = [...DEFAULT_DEVICES.map((x) => `${x.type} ${x.major}:${x.minor} rwm`), 'c 136:* rwm', 'c 5:2 rwm', 'c 5:1 rwm'];
    for (const rule of always) writeFileSync(join(dir, 'devices.allow'), rule);
  }

  async ociStart(id: string): Promise<void> {
    await ociStart(this.root, validateId(id), warn);
  }

  async ociKill(id: string, signal: NodeJS.Signals | number, all: boolean): Promise<void> {
    ociKill(this.root, validateId(id), signal, all);
  }

  async ociDelete(id: string, force: boolean): Promise<void> {
    const rec = this.must(id);
    const status = ociState(this.root, id, rec).status;
    if (status !== 'stopped' && !force) {
      throw new ExecDriverError('ERR_STATE', `cannot delete a container that is ${status} (not stopped): kill it first, or delete --force`, { containerId: id });
    }
    const spec = this.savedSpec(id);
    const st: State = { ...this.ociState(id), status: 'stopped' };
    if (status !== 'stopped') await this.terminate(id);
    else await this.delete(id, { force: true });
    this.tidyRoot();
    // the default parent (execdriver-oci/) goes with its last container
    if (rec?.extra.cgroupParent === DEFAULT_PARENT) {
      for (const p of rec.cgroupPaths) {
        try {
          rmdirSync(dirname(p));
        } catch {
          /* another container's, or gone */
        }
      }
    }
    await runHooks('poststop', spec?.hooks?.poststop, st).catch((e) => warn(`poststop: ${(e as Error).message}`));
  }

  /** The driver directory under the root, once empty (the OCI root holds nothing after the last delete). */
  private tidyRoot(): void {
    try {
      rmdirSync(join(this.root, 'native'));
    } catch {
      return; // not empty
    }
    // the engine's event log (src/events/) of a root with no container left: execdriver-oci's
    // `events` reads the cgroups, not the log
    for (const f of [EVENTS_FILE, `${EVENTS_FILE}.1`, `${EVENTS_FILE}.lock`]) rmSync(join(this.root, f), { force: true });
    // and the compiled seccomp filters (a cache: a create that finds it gone compiles again)
    rmSync(join(this.root, 'seccomp'), { recursive: true, force: true });
  }

  // ---- the cgroups are where the bundle put them ----

  private ociCgroup(id: string, rec?: AnyRecord): ContainerCgroup | undefined {
    const r = (rec ?? this.record<OciExtra>(id)) as OciRecord | undefined;
    if (!r?.extra?.cgroupName) return undefined;
    return ContainerCgroup.open({ parent: r.extra.cgroupParent, name: r.extra.cgroupName, containerId: id });
  }

  protected override async containerPids(id: string, rec?: AnyRecord): Promise<number[]> {
    return (await this.ociCgroup(id, rec)?.pids()) ?? [];
  }

  protected override async killContainer(id: string, rec?: AnyRecord): Promise<void> {
    await this.ociCgroup(id, rec)?.killAll('SIGKILL');
  }

  protected override async releaseContainer(id: string, rec: AnyRecord | undefined): Promise<void> {
    await this.ociCgroup(id, rec)?.remove();
  }

  protected override opsCgroup(id: string): ContainerCgroup | undefined {
    return this.ociCgroup(id);
  }

  /** ps: the container's processes. */
  async ociPids(id: string): Promise<number[]> {
    this.must(id);
    return this.containerPids(id);
  }

  /** Wait for the exit (run in the foreground): its exit code. */
  async ociWait(id: string): Promise<number> {
    return (await this.wait(id)).exitCode;
  }
}

/** the state JSON the hooks inside the container read (in the container's state directory) */
const HOOK_STATE = 'hook-state.json';

export let warn = (msg: string): void => void process.stderr.write(`execdriver-oci: warning: ${msg}\n`);
export function setWarn(f: (msg: string) => void): void {
  warn = f;
}

function writePidFile(file: string, pid: number, id: string): void {
  const path = resolve(file);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, String(pid));
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new ExecDriverError('ERR_SYSTEM', `write the pid file ${path}: ${(e as Error).message}`, { containerId: id, path });
  }
}

/**
 * A `cgroup` mount (the container's view of its cgroups): a tmpfs at the destination with, for
 * each hierarchy, the container's own directory bound at its name (read-only with `ro`), as runc
 * does on hosts with cgroup v1 hierarchies.
 */
export function cgroupMounts(mounts: Mount[], paths: string[]): Mount[] {
  const out: Mount[] = [];
  for (const m of mounts) {
    if (m.type !== 'cgroup' && m.type !== 'cgroup2') {
      out.push(m);
      continue;
    }
    const opts = m.options ?? [];
    const flags = opts.filter((o) => ['nosuid', 'nodev', 'noexec'].includes(o));
    out.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: [...flags, 'mode=755'] });
    for (const p of paths) {
      const rel = /^\/sys\/fs\/cgroup\/([^/]+)\//.exec(p)?.[1];
      if (!rel) continue;
      out.push({ destination: `${m.destination}/${rel}`, type: 'bind', source: p, options: ['rbind', ...flags, ...(opts.includes('ro') ? ['ro'] : [])] });
    }
  }
  return out;
}
