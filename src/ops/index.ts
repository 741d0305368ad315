/**
 * Operations on a running container, the same for every driver: pause/resume (the cgroup
 * freezer), stats, update (limits), top. A driver resolves its container to an `OpsTarget` (the
 * init's host pid and its cgroup: native `ContainerCgroup`, lxc LXC's payload cgroup; none for a
 * rootless container) and calls these.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { cpuPercent, type ContainerCgroup, type CpuStats, type IoStats, type MemoryStats, type PidsStats } from '../cgroups/index.js';
import { checkResources } from '../command.js';
import type { Resources } from '../driver.js';
import { ExecDriverError, InvalidConfigError, NotRunningError } from '../errors.js';
import { appendEvent } from '../events/log.js';
import { pidsInNamespaceOf } from '../rootless.js';
import { parseCmdline, parseNetDev, parsePasswd, parseProcStatus, type NetworkStats } from './procfs.js';

export type { NetworkStats } from './procfs.js';

export interface OpsTarget {
  root: string;
  /** the driver's short name, for events */
  driver: 'native' | 'lxc';
  id: string;
  /** host pid of the container's init */
  pid: number;
  /** the container's cgroup; undefined: a rootless container, which has none */
  cgroup: ContainerCgroup | undefined;
}

export interface ContainerStats {
  id: string;
  /** ISO 8601 time of the sample */
  read: string;
  /** host pid of the init */
  pid: number;
  /** null without a memory cgroup (rootless) */
  memory: MemoryStats | null;
  /** `percent`: over the time since `previous` (100 = one CPU); null without a previous sample */
  cpu: (CpuStats & { percent: number | null; onlineCpus: number }) | null;
  /** from the pids cgroup; rootless: the processes of the pid namespace, no limit */
  pids: PidsStats;
  /** the container's network namespace's interfaces (loopback left out), e.g. `eth0` */
  networks: Record<string, NetworkStats>;
  /** null where the host does not account block I/O for the cgroup */
  blockIo: IoStats | null;
  /** process.hrtime in ns when sampled (to compute the CPU percentage of the next sample) */
  sampledAtNs: number;
}

export interface StatsOptions {
  /** the previous sample of the same container: gives `cpu.percent` */
  previous?: ContainerStats;
}

export interface ProcessInfo {
  /** host pid */
  pid: number;
  /** pid inside the container's pid namespace (NSpid) */
  containerPid: number;
  ppid: number;
  uid: number;
  /** the uid's name on the host, else the number */
  user: string;
  state: string;
  command: string[];
}

/** Wrong state (not running, already paused…): exit code 1, like docker. */
function wrongState(id: string, message: string): ExecDriverError {
  return new ExecDriverError('ERR_NOT_RUNNING', message, { containerId: id, exitCode: 1 });
}

/** Resolve the target; a container that is not running is a wrong-state error (exit 1) naming `what`. */
export function runningTarget(id: string, what: string, resolve: () => OpsTarget): OpsTarget {
  try {
    return resolve();
  } catch (e) {
    if (e instanceof NotRunningError) throw wrongState(id, `is not running: cannot ${what} it`);
    throw e;
  }
}

function cgroupOf(t: OpsTarget, what: string): ContainerCgroup {
  if (!t.cgroup) {
    throw new ExecDriverError('ERR_CGROUP', `${what}: a rootless container has no cgroup (${what} needs one)`, { containerId: t.id, exitCode: 1 });
  }
  return t.cgroup;
}

/** Freeze every process of the container; resolves once the kernel reports FROZEN. */
export async function pauseContainer(t: OpsTarget): Promise<void> {
  const cg = cgroupOf(t, 'pause');
  if (await cg.isFrozen()) throw wrongState(t.id, 'is already paused');
  await cg.freeze();
  appendEvent(t.root, { type: 'pause', driver: t.driver, id: t.id });
}

/** Thaw a paused container; resolves once the kernel reports THAWED. */
export async function resumeContainer(t: OpsTarget): Promise<void> {
  const cg = cgroupOf(t, 'unpause');
  if (!(await cg.isFrozen())) throw wrongState(t.id, 'is not paused');
  await cg.thaw();
  appendEvent(t.root, { type: 'unpause', driver: t.driver, id: t.id });
}

/** Paused now? (for inspect/list: false when there is no cgroup or it cannot be read) */
export function isPaused(cg: ContainerCgroup | { isFrozenSync?: () => boolean } | undefined): boolean {
  return !!cg && typeof cg.isFrozenSync === 'function' && cg.isFrozenSync();
}

/**
 * After a signal to a paused container: SIGKILL must not wait for a thaw (the v1 freezer holds
 * even fatal signals), so the cgroup is thawed and the processes die at once.
 */
export async function thawAfterKill(cg: ContainerCgroup | undefined, signal: NodeJS.Signals | number): Promise<void> {
  if (!cg || !(signal === 'SIGKILL' || signal === 9) || !cg.isFrozenSync()) return;
  await cg.thaw().catch(() => undefined);
}

async function readNetworks(pid: number): Promise<Record<string, NetworkStats>> {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/dev`, 'utf8'); // procfs: in memory, as the cgroup files (backend.ts)
  } catch {
    return {}; // exited meanwhile
  }
  const all = parseNetDev(text);
  delete all['lo'];
  return all;
}

/** One sample of the container's resource use. */
export async function containerStats(t: OpsTarget, opts: StatsOptions = {}): Promise<ContainerStats> {
  const [cg, networks] = await Promise.all([t.cgroup ? t.cgroup.stats() : undefined, readNetworks(t.pid)]);
  const sampledAtNs = Number(process.hrtime.bigint());
  let cpu: ContainerStats['cpu'] = null;
  if (cg?.cpu) {
    const prev = opts.previous?.id === t.id ? opts.previous.cpu : null;
    const percent = prev && opts.previous ? cpuPercent(prev.usageNs, cg.cpu.usageNs, sampledAtNs - opts.previous.sampledAtNs) : null;
    cpu = { ...cg.cpu, percent, onlineCpus: availableParallelism() };
  }
  const pids = cg?.pids ?? { current: t.cgroup ? (await t.cgroup.pids()).length : pidsInNamespaceOf(t.pid).length, limit: null };
  return {
    id: t.id,
    read: new Date().toISOString(),
    pid: t.pid,
    memory: cg?.memory ?? null,
    cpu,
    pids,
    networks,
    blockIo: cg?.io ?? null,
    sampledAtNs,
  };
}

/**
 * Change a running container's limits: validated like `run`'s (the fields given, together with
 * the current memory limit where a swap or reservation needs one), then written where each
 * controller lives. Bad input: InvalidConfigError, nothing written.
 */
export async function updateContainer(t: OpsTarget, resources: Resources): Promise<void> {
  const asked = checkResources(resources, t.id);
  if (Object.keys(asked).length === 0) throw new InvalidConfigError('update: no limit given to change', { containerId: t.id });
  const cg = cgroupOf(t, 'update');
  const effective: Resources = { ...asked };
  if (asked.memory === undefined && (asked.memorySwap !== undefined || asked.memoryReservation !== undefined)) {
    const current = await cg.memoryLimit();
    if (current !== null) effective.memory = current;
  }
  checkResources(effective, t.id);
  await cg.update(effective);
  appendEvent(t.root, { type: 'update', driver: t.driver, id: t.id });
}

let passwd: Map<number, string> | undefined;
function userName(uid: number): string {
  if (!passwd) {
    try {
      passwd = parsePasswd(readFileSync('/etc/passwd', 'utf8'));
    } catch {
      passwd = new Map();
    }
  }
  return passwd.get(uid) ?? String(uid);
}

/** The container's processes, by host pid (those that exit while being read are left out). */
export async function containerTop(t: OpsTarget): Promise<ProcessInfo[]> {
  const pids = t.cgroup ? await t.cgroup.pids() : pidsInNamespaceOf(t.pid);
  const rows = await Promise.all(
    pids.map(async (pid): Promise<ProcessInfo | undefined> => {
      try {
        const [status, cmdline] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/cmdline`, 'utf8')]);
        const s = parseProcStatus(status);
        return {
          pid,
          containerPid: s.nsPids.at(-1) ?? pid,
          ppid: s.ppid,
          uid: s.uid,
          user: userName(s.uid),
          state: s.state,
          command: parseCmdline(cmdline, s.name),
        };
      } catch {
        return undefined;
      }
    }),
  );
  return rows.filter((r): r is ProcessInfo => r !== undefined);
}
