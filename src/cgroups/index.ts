/**
 * A container's cgroups on v1, v2 and hybrid hosts: create with limits, join, list pids,
 * freeze/thaw, signal, count OOM kills, remove. Knows nothing of drivers.
 *
 * Device rules are written here only to a v1 `devices` hierarchy (`devicesEnforced`). On cgroup
 * v2 the kernel needs a BPF_CGROUP_DEVICE program instead: devicefilter.ts renders it, the native
 * driver has its C init load and attach it to `v2Path` (the `device-filter` op).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { readFile, rmdir, stat } from '../fs-async.js';
import { join } from 'node:path';
import { ExecDriverError, systemError } from '../errors.js';
import type { CgroupBackend } from './backend.js';
import type { CpuStats } from './controllers/cpu.js';
import { readFrozen, readFrozenSync, setFrozen, type FreezerTarget } from './controllers/freezer.js';
import type { IoStats } from './controllers/io.js';
import type { MemoryStats } from './controllers/memory.js';
import { parseLimit } from './controllers/parse.js';
import type { PidsStats } from './controllers/pids.js';
import { childCgroups, errCode, parsePids, pidsOfTree, readText, sleep, writeValue } from './io.js';
import { hostLayout, type CgroupLayout } from './layout.js';
import { checkNames, containerDirs, homeOf, type CgroupDir } from './paths.js';
import { validateResources, type DeviceMode, type Resources } from './resources.js';
import { applyWrites, checkEnforceable, enableV2Controllers, setupCgroups } from './setup.js';
import { v1Backend } from './v1.js';
import { v2Backend } from './v2.js';

export type { CgroupBackend } from './backend.js';
export type { CpuStats } from './controllers/cpu.js';
export type { IoStats } from './controllers/io.js';
export type { MemoryStats } from './controllers/memory.js';
export type { PidsStats } from './controllers/pids.js';
export { cpuPercent } from './controllers/cpu.js';

/** The backend that handles a directory of that cgroup version. */
export function backendOf(version: 1 | 2): CgroupBackend {
  return version === 1 ? v1Backend : v2Backend;
}

/** What the kernel accounts for a container's cgroup; a part is absent when no hierarchy has its controller. */
export interface CgroupStats {
  memory?: MemoryStats;
  cpu?: CpuStats;
  pids?: PidsStats;
  io?: IoStats;
}

export { detectLayout, hostLayout, type CgroupLayout, type CgroupMode, type V1Hierarchy, type V2Hierarchy } from './layout.js';
export type { CgroupDir } from './paths.js';
export {
  DEFAULT_DEVICE_RULES,
  parseSize,
  renderV1,
  renderV2,
  sharesToWeight,
  validateResources,
  type CgroupWrite,
  type DeviceMode,
  type Resources,
} from './resources.js';

export const DEFAULT_PARENT = 'execdriver';

export interface OpenOptions {
  /** default: this host's layout */
  layout?: CgroupLayout;
  /** default `execdriver`; may be nested (`a/b`) */
  parent?: string;
  name: string;
  /** only used in error messages */
  containerId?: string;
}

export interface CreateOptions extends OpenOptions {
  resources?: Resources;
  /** default `default` (Docker's allow-list); `allow-all` for privileged containers */
  devices?: DeviceMode;
}

export interface TimeoutOptions {
  timeoutMs?: number;
}

function isGone(err: unknown): boolean {
  const code = errCode(err);
  return code === 'ENOENT' || code === 'ESRCH';
}

export class ContainerCgroup {
  readonly layout: CgroupLayout;
  readonly parent: string;
  readonly name: string;
  readonly containerId: string | undefined;
  /** one directory per mounted v1 hierarchy (named ones included), then the v2 one */
  readonly dirs: readonly CgroupDir[];

  private constructor(opts: OpenOptions) {
    this.layout = opts.layout ?? hostLayout();
    this.parent = opts.parent ?? DEFAULT_PARENT;
    this.name = opts.name;
    this.containerId = opts.containerId;
    checkNames(this.parent, this.name);
    this.dirs = containerDirs(this.layout, this.parent, this.name);
    if (this.dirs.length === 0) throw this.error('no cgroup filesystem is mounted on this host');
  }

  /**
   * Validate, create the directories in every hierarchy and write the limits. Throws
   * InvalidConfigError for bad limits and ERR_CGROUP for a name clash, a limit this host cannot
   * enforce or a failed write; nothing created is left behind then.
   */
  static async create(opts: CreateOptions): Promise<ContainerCgroup> {
    const resources = opts.resources ?? {};
    validateResources(resources);
    const cg = new ContainerCgroup(opts);
    const ctx = { dirs: cg.dirs, parent: cg.parent, name: cg.name, ...(cg.containerId !== undefined ? { containerId: cg.containerId } : {}) };
    checkEnforceable(ctx, resources);
    setupCgroups(ctx, resources, opts.devices ?? 'default');
    return cg;
  }

  /** The cgroups of an existing container (nothing is checked on disk). */
  static open(opts: OpenOptions): ContainerCgroup {
    return new ContainerCgroup(opts);
  }

  /** Names of the container cgroups under `parent` in any hierarchy (to reclaim stale ones). */
  static async listNames(parent: string = DEFAULT_PARENT, layout: CgroupLayout = hostLayout()): Promise<string[]> {
    checkNames(parent, 'x');
    const names = new Set<string>();
    for (const dir of containerDirs(layout, parent, 'x')) {
      for (const child of await childCgroups(join(dir.mountpoint, parent))) names.add(child.slice(child.lastIndexOf('/') + 1));
    }
    return [...names].sort();
  }

  /** Every directory of the container. */
  get paths(): string[] {
    return this.dirs.map((d) => d.path);
  }

  /** The `cgroup.procs` files a process writes its pid to, to join the container. */
  get procsFiles(): string[] {
    return this.dirs.map((d) => join(d.path, 'cgroup.procs'));
  }

  /** Device rules are written to a v1 devices hierarchy (see the module comment for v2). */
  get devicesEnforced(): boolean {
    return this.dirs.some((d) => d.version === 1 && d.controllers.includes('devices'));
  }

  /** The container's directory in the cgroup2 tree, if the host has one (where a device program goes). */
  get v2Path(): string | undefined {
    return this.dirs.find((d) => d.version === 2)?.path;
  }

  /** The container's directory that enforces `controller` (`memory`, `cpu`…), if any. */
  pathOf(controller: string): string | undefined {
    return homeOf(this.dirs, controller)?.path;
  }

  /** The file with the `oom_kill` counter: v1 memory.oom_control or v2 memory.events. */
  get oomCounterFile(): string | undefined {
    const mem = homeOf(this.dirs, 'memory');
    if (!mem) return undefined;
    return join(mem.path, mem.version === 1 ? 'memory.oom_control' : 'memory.events');
  }

  /** The directory whose cgroup.procs lists the container's processes. */
  private get pidDir(): CgroupDir {
    if (this.layout.mode === 'v2') return this.dirs[0] as CgroupDir;
    return (
      this.dirs.find((d) => d.version === 1 && d.controllers.includes('memory')) ??
      this.dirs.find((d) => d.version === 1 && d.controllers.includes('pids')) ??
      (this.dirs[0] as CgroupDir)
    );
  }

  /** The v1 freezer hierarchy if mounted, else the cgroup2 tree (where cgroup.freeze is a core file). */
  private get freezer(): FreezerTarget | undefined {
    const d = this.dirs.find((x) => x.version === 1 && x.controllers.includes('freezer')) ?? this.dirs.find((x) => x.version === 2);
    return d ? backendOf(d.version).freezer(d.path) : undefined;
  }

  private error(message: string, details: { path?: string; step?: string; errno?: number } = {}): ExecDriverError {
    return new ExecDriverError('ERR_CGROUP', message, {
      ...details,
      ...(this.containerId !== undefined ? { containerId: this.containerId } : {}),
    });
  }

  private sysError(what: string, err: unknown, path: string, step: string): ExecDriverError {
    return systemError('ERR_CGROUP', what, err, { path, step, ...(this.containerId !== undefined ? { containerId: this.containerId } : {}) });
  }

  /** True when the container's directory exists in at least one hierarchy. */
  async exists(): Promise<boolean> {
    const found = await Promise.all(this.dirs.map((d) => stat(d.path).then(() => true, () => false)));
    return found.includes(true);
  }

  /**
   * Move `pid` (all its threads) into the container's cgroup in every hierarchy. Synchronous
   * writes on purpose: measured ~0.1 ms each, while concurrent writes from the thread pool
   * contend in the kernel and took 5-10 times longer in total.
   */
  async join(pid: number): Promise<void> {
    for (const d of this.dirs) {
      const file = join(d.path, 'cgroup.procs');
      try {
        writeFileSync(file, String(pid), { flag: 'r+' });
      } catch (err) {
        throw this.sysError(`cgroup ${d.hierarchy}: write ${pid} to ${file}`, err, file, 'cgroup join');
      }
    }
  }

  /** Process ids of the container (child cgroups included), sorted, without duplicates. */
  async pids(): Promise<number[]> {
    const dir = this.pidDir;
    try {
      return [...new Set(await pidsOfTree(dir.path))].sort((a, b) => a - b);
    } catch (err) {
      throw this.sysError(`cgroup ${dir.hierarchy}: read ${join(dir.path, 'cgroup.procs')}`, err, dir.path, 'cgroup pids');
    }
  }

  private freezerOrThrow(): FreezerTarget {
    const f = this.freezer;
    if (!f) throw this.error('cgroup freezer: this host has neither a v1 freezer hierarchy nor a cgroup2 tree');
    return f;
  }

  private async settle(frozen: boolean, timeoutMs: number): Promise<void> {
    const f = this.freezerOrThrow();
    const what = frozen ? 'freeze' : 'thaw';
    let ok: boolean;
    try {
      ok = await setFrozen(f, frozen, timeoutMs);
    } catch (err) {
      throw this.sysError(`cgroup freezer: ${what} ${f.path}`, err, f.path, `cgroup ${what}`);
    }
    if (!ok) {
      if (frozen) await setFrozen(f, false, timeoutMs).catch(() => false);
      throw this.error(`cgroup freezer: ${f.path} did not ${what} within ${timeoutMs} ms`, { path: f.path, step: `cgroup ${what}` });
    }
  }

  /** Stop every process of the container; resolves once the kernel reports it frozen. */
  async freeze(opts: TimeoutOptions = {}): Promise<void> {
    await this.settle(true, opts.timeoutMs ?? 5000);
  }

  async thaw(opts: TimeoutOptions = {}): Promise<void> {
    await this.settle(false, opts.timeoutMs ?? 5000);
  }

  async isFrozen(): Promise<boolean> {
    const f = this.freezerOrThrow();
    try {
      return await readFrozen(f);
    } catch (err) {
      throw this.sysError(`cgroup freezer: read state of ${f.path}`, err, f.path, 'cgroup freezer');
    }
  }

  /** Signal every process of the container; returns how many were signalled. */
  async killAll(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<number> {
    return signalPids(await this.pids(), signal);
  }

  /** How many processes the kernel's OOM killer killed in the container (0 without memory cgroup). */
  async oomKills(): Promise<number> {
    const file = this.oomCounterFile;
    if (!file) return 0;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') return 0;
      throw this.sysError(`cgroup memory: read ${file}`, err, file, 'cgroup oom');
    }
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  /**
   * SIGKILL what is left (frozen first, so nothing forks meanwhile), wait until the cgroups are
   * empty and remove every directory, child cgroups included. Idempotent: missing ones are fine.
   * Throws ERR_CGROUP (EBUSY) when a directory cannot be removed within `timeoutMs`.
   */
  async remove(opts: TimeoutOptions = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 10000;
    const deadline = Date.now() + timeoutMs;
    // Usually the monitor (or LXC) removed them already: a stat each is far cheaper than an rmdir
    // through the thread pool.
    const present = this.dirs.filter((d) => existsSync(d.path));
    if (present.length === 0) return;
    if ((await this.pids()).length > 0) await this.killEverything();
    await Promise.all(present.map((d) => this.removeDir(d, d.path, deadline, timeoutMs)));
  }

  private async killEverything(): Promise<void> {
    const f = this.freezer;
    let frozen = false;
    if (f) frozen = await setFrozen(f, true, 1000).catch(() => false);
    try {
      const v2 = this.dirs.find((d) => d.version === 2);
      if (v2) await writeValue(join(v2.path, 'cgroup.kill'), '1').catch(() => undefined); // kernel ≥ 5.14
      signalPids(await this.pids().catch(() => []), 'SIGKILL');
    } finally {
      if (f && frozen) await setFrozen(f, false, 1000).catch(() => false);
    }
  }

  /** The write that thaws the container (v1 freezer.state THAWED, v2 cgroup.freeze 0): for the monitor's `thaw-on-kill`. */
  get thawWrite(): { file: string; value: string } | undefined {
    const f = this.freezer;
    if (!f) return undefined;
    return f.version === 1 ? { file: join(f.path, 'freezer.state'), value: 'THAWED' } : { file: join(f.path, 'cgroup.freeze'), value: '0' };
  }

  /** Frozen now? Synchronous (for `inspect`); false when the directory is gone or there is no freezer. */
  isFrozenSync(): boolean {
    const f = this.freezer;
    if (!f) return false;
    try {
      return readFrozenSync(f);
    } catch {
      return false;
    }
  }

  /** The directory accounting CPU time: v1 cpuacct, else the v2 one (cpu.stat is a core file there). */
  private get cpuUsageDir(): CgroupDir | undefined {
    return this.dirs.find((d) => d.version === 1 && d.controllers.includes('cpuacct')) ?? this.dirs.find((d) => d.version === 2);
  }

  /**
   * Memory, CPU time, pids and block I/O as the kernel accounts them, each read where its
   * controller lives (a hybrid host mixes versions). A part is absent when no hierarchy has it.
   */
  async stats(): Promise<CgroupStats> {
    const out: CgroupStats = {};
    const mem = homeOf(this.dirs, 'memory');
    const cpu = this.cpuUsageDir;
    const pids = homeOf(this.dirs, 'pids');
    const io = this.dirs.find((d) => d.version === 1 && d.controllers.includes('blkio')) ?? homeOf(this.dirs, 'io');
    const step = async <T>(d: CgroupDir, what: string, fn: (b: CgroupBackend) => Promise<T>): Promise<T> => {
      try {
        return await fn(backendOf(d.version));
      } catch (err) {
        throw this.sysError(`cgroup ${what}: read statistics in ${d.path}`, err, d.path, `cgroup ${what} stats`);
      }
    };
    await Promise.all([
      mem && step(mem, 'memory', (b) => b.readMemory(mem.path)).then((s) => void (out.memory = s)),
      cpu && step(cpu, 'cpu', (b) => b.readCpu(cpu.path)).then((s) => void (out.cpu = s)),
      pids && step(pids, 'pids', (b) => b.readPids(pids.path)).then((s) => void (out.pids = s)),
      io && step(io, 'io', (b) => b.readIo(io.path)).then((s) => void (out.io = s)),
    ]);
    return out;
  }

  /** The hard memory limit now, in bytes; null when there is none (or no memory controller). */
  async memoryLimit(): Promise<number | null> {
    const mem = homeOf(this.dirs, 'memory');
    return mem ? backendOf(mem.version).readMemoryLimit(mem.path) : null;
  }

  /**
   * Change the limits of a running container: only the fields given are written, each where its
   * controller lives. The caller validates (validateResources on the merged limits). Throws
   * ERR_CGROUP for a limit no hierarchy can enforce (nothing written then) or a refused write.
   */
  async update(resources: Resources): Promise<void> {
    const ctx = { dirs: this.dirs, parent: this.parent, name: this.name, ...(this.containerId !== undefined ? { containerId: this.containerId } : {}) };
    checkEnforceable(ctx, resources);
    if (!(await this.exists())) throw this.error(`cgroup ${this.parent}/${this.name} does not exist`, { step: 'cgroup update' });
    // v1: memory.limit_in_bytes may not pass memory.memsw.limit_in_bytes, so raising both past the
    // current memsw writes memsw first
    let swapFirst = false;
    const mem = homeOf(this.dirs, 'memory');
    if (mem?.version === 1 && resources.memory !== undefined && resources.memorySwap !== undefined && resources.memorySwap !== -1) {
      const text = await readText(join(mem.path, 'memory.memsw.limit_in_bytes')).catch(() => undefined);
      const current = text === undefined ? null : parseLimit(text);
      swapFirst = current !== null && resources.memory > current;
    }
    for (const d of this.dirs) {
      const writes = backendOf(d.version)
        .renderUpdate(resources, { swapFirst })
        .filter((w) => homeOf(this.dirs, w.controller) === d);
      // v2: a controller the container was created without is enabled now (its files appear)
      if (d.version === 2) enableV2Controllers(ctx, d, [...new Set(writes.map((w) => w.controller))]);
      applyWrites(ctx, d.path, writes);
    }
  }

  private async removeDir(d: CgroupDir, path: string, deadline: number, timeoutMs: number): Promise<void> {
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      let err: unknown;
      try {
        await rmdir(path);
        return;
      } catch (e) {
        if (errCode(e) === 'ENOENT') return;
        err = e;
      }
      if (errCode(err) !== 'EBUSY') throw this.sysError(`cgroup ${d.hierarchy}: rmdir ${path}`, err, path, 'cgroup remove');
      const children = await childCgroups(path);
      await Promise.all(children.map((c) => this.removeDir(d, c, deadline, timeoutMs)));
      const left = await readText(join(path, 'cgroup.procs')).then(parsePids, () => []);
      signalPids(left, 'SIGKILL');
      if (Date.now() >= deadline) {
        const still = `still busy after ${timeoutMs} ms${left.length ? `, processes left: ${left.join(' ')}` : ''}`;
        throw this.sysError(`cgroup ${d.hierarchy}: rmdir ${path} (${still})`, err, path, 'cgroup remove');
      }
      if (children.length === 0) await sleep(delay);
    }
  }
}

function signalPids(pids: readonly number[], signal: NodeJS.Signals | number): number {
  let n = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      n++;
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }
  return n;
}
