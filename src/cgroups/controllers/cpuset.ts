/** The cpuset controller: which CPUs and memory nodes the container may use. */
import type { CgroupWrite, Resources } from '../resources.js';

/** Values a fresh v1 cpuset must get when the caller gives none (the parent's). */
export interface CpusetInherit {
  cpus?: string;
  mems?: string;
}

/** Same files on v1 and v2; `inherit` (v1 creation only) fills what the caller left out. */
export function renderCpuset(r: Resources, inherit: CpusetInherit = {}): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  const cpus = r.cpusetCpus ?? inherit.cpus;
  const mems = r.cpusetMems ?? inherit.mems;
  if (cpus !== undefined) w.push({ controller: 'cpuset', file: 'cpuset.cpus', value: cpus, field: 'cpusetCpus' });
  if (mems !== undefined) w.push({ controller: 'cpuset', file: 'cpuset.mems', value: mems, field: 'cpusetMems' });
  return w;
}
