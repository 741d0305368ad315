/**
 * One interface over the two cgroup versions. A container's cgroup is a set of directories (one
 * per v1 hierarchy, one in the cgroup2 tree; a hybrid host has both); each directory is handled
 * by the backend of its version, for the controllers it is the home of (paths.ts `homeOf`).
 * v1.ts and v2.ts implement it by calling the per-controller modules in controllers/.
 */
import { readFileSync } from 'node:fs';
import type { CpuStats } from './controllers/cpu.js';
import type { CpusetInherit } from './controllers/cpuset.js';
import type { DeviceMode } from './controllers/devices.js';
import type { FreezerTarget } from './controllers/freezer.js';
import type { IoStats } from './controllers/io.js';
import type { MemoryRenderOptions, MemoryStats } from './controllers/memory.js';
import type { PidsStats } from './controllers/pids.js';
import type { CgroupWrite, Resources } from './resources.js';

export interface CgroupBackend {
  readonly version: 1 | 2;
  /** the controller whose directory accounts CPU time (v1 `cpuacct`, v2 `cpu`: cpu.stat is in every v2 cgroup) */
  readonly cpuUsageController: string;
  /** the controller whose directory accounts block I/O (v1 `blkio`, v2 `io`) */
  readonly ioController: string;
  /** the limit writes of a new container, in order; `inherit`: v1 cpuset values from the parent */
  render(r: Resources, devices: DeviceMode, inherit?: CpusetInherit): CgroupWrite[];
  /** the writes that change a running container's limits (device rules never change) */
  renderUpdate(r: Resources, opts?: MemoryRenderOptions): CgroupWrite[];
  /** the freezer of a directory of this version */
  freezer(path: string): FreezerTarget;
  readMemory(path: string): Promise<MemoryStats>;
  readCpu(path: string): Promise<CpuStats>;
  readPids(path: string): Promise<PidsStats>;
  readIo(path: string): Promise<IoStats>;
  /** the hard memory limit now (null: none) */
  readMemoryLimit(path: string): Promise<number | null>;
}

/**
 * A cgroup file's text, or undefined when it does not exist (a controller file the kernel lacks).
 * Synchronous on purpose: cgroupfs reads are in memory and never block; through the thread pool
 * (open, fstat, read, close: four round trips each) a sample of 20 containers took 2-3 times longer.
 */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Read several files of one directory at once. */
export async function readFiles<K extends string>(dir: string, files: Record<K, string>): Promise<Partial<Record<K, string>>> {
  const keys = Object.keys(files) as K[];
  const texts = await Promise.all(keys.map((k) => readOptional(`${dir}/${files[k]}`)));
  const out: Partial<Record<K, string>> = {};
  keys.forEach((k, i) => {
    if (texts[i] !== undefined) out[k] = texts[i];
  });
  return out;
}
