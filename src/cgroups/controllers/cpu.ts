/**
 * The cpu controller (and v1 cpuacct for usage): shares/weight, CFS quota and period, and the
 * CPU time used.
 */
import type { CgroupWrite, Resources } from '../resources.js';
import { parseCount, parseFlatKeyed } from './parse.js';

/** the kernel's CFS period when none is set */
export const DEFAULT_CPU_PERIOD = 100000;

/** cpu.shares (2..262144) → cpu.weight (1..10000), the mapping runc and crun use. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

export interface CpuStats {
  /** CPU time used by all the container's processes, in nanoseconds */
  usageNs: number;
  /** user and system parts, in nanoseconds, when the kernel gives them */
  userNs?: number;
  systemNs?: number;
}

/** v1: cpuacct.usage (ns), cpuacct.usage_user/_sys (ns). v2: cpu.stat in µs. */
export function parseCpuStats(version: 1 | 2, files: { usage?: string; user?: string; system?: string; stat?: string }): CpuStats {
  if (version === 1) {
    const out: CpuStats = { usageNs: parseCount(files.usage) };
    if (files.user !== undefined) out.userNs = parseCount(files.user);
    if (files.system !== undefined) out.systemNs = parseCount(files.system);
    return out;
  }
  const s = parseFlatKeyed(files.stat ?? '');
  const out: CpuStats = { usageNs: (s.get('usage_usec') ?? 0) * 1000 };
  if (s.has('user_usec')) out.userNs = s.get('user_usec')! * 1000;
  if (s.has('system_usec')) out.systemNs = s.get('system_usec')! * 1000;
  return out;
}

/**
 * CPU percentage over an interval, as `docker stats` shows it: 100 = one CPU busy for the
 * whole interval (so up to 100 × the number of CPUs).
 */
export function cpuPercent(prevUsageNs: number, usageNs: number, intervalNs: number): number {
  if (intervalNs <= 0 || usageNs < prevUsageNs) return 0;
  return ((usageNs - prevUsageNs) / intervalNs) * 100;
}

export function renderCpu(version: 1 | 2, r: Resources, opts: { update?: boolean } = {}): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  if (version === 1) {
    if (r.cpuShares !== undefined) w.push({ controller: 'cpu', file: 'cpu.shares', value: String(r.cpuShares), field: 'cpuShares' });
    if (r.cpuPeriod !== undefined) w.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(r.cpuPeriod), field: 'cpuPeriod' });
    if (r.cpuQuota !== undefined) w.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(r.cpuQuota), field: 'cpuQuota' });
    return w;
  }
  if (r.cpuShares !== undefined) w.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(r.cpuShares)), field: 'cpuShares' });
  if (r.cpuQuota !== undefined || r.cpuPeriod !== undefined) {
    const quota = r.cpuQuota === undefined || r.cpuQuota === -1 ? 'max' : String(r.cpuQuota);
    // an update of the quota alone keeps the current period (the kernel takes `QUOTA` without one)
    const value = opts.update && r.cpuPeriod === undefined ? quota : `${quota} ${r.cpuPeriod ?? DEFAULT_CPU_PERIOD}`;
    w.push({ controller: 'cpu', file: 'cpu.max', value, field: r.cpuQuota !== undefined ? 'cpuQuota' : 'cpuPeriod' });
  }
  return w;
}
