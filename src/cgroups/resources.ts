/**
 * Resource limits: parsing and validation (pure); rendering into cgroup file writes is the
 * backends' (v1.ts, v2.ts), by controller (controllers/).
 */
import type { Resources } from '../driver.js';
import { InvalidConfigError } from '../errors.js';
import type { CpusetInherit } from './controllers/cpuset.js';
import type { DeviceMode } from './controllers/devices.js';
import { v1Backend } from './v1.js';
import { v2Backend } from './v2.js';

export { DEFAULT_CPU_PERIOD, sharesToWeight } from './controllers/cpu.js';
export type { CpusetInherit } from './controllers/cpuset.js';
export { DEFAULT_DEVICE_RULES, type DeviceMode } from './controllers/devices.js';

export type { Resources };

/** The controllers whose files we write. */
export type LimitController = 'devices' | 'memory' | 'cpu' | 'cpuset' | 'pids';

export interface CgroupWrite {
  controller: LimitController;
  file: string;
  value: string;
  /** the Resources field the write comes from (for error messages) */
  field?: keyof Resources | 'devices';
  /** skip the write when the file does not exist (asked value means "no limit") */
  optional?: boolean;
}

export const MIN_MEMORY = 6 * 1024 * 1024;
export const MIN_CPU_SHARES = 2;
export const MAX_CPU_SHARES = 262144;
export const MIN_CPU_QUOTA = 1000;
export const MIN_CPU_PERIOD = 1000;
export const MAX_CPU_PERIOD = 1000000;
const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * `'64m'` → 67108864. Binary units `b k m g t p` (any case, optional trailing `b`/`ib`:
 * `64MB`, `64MiB`), a decimal number (`1.5g`), or a plain byte count. `-1` is returned as -1
 * (unlimited, e.g. for memory-swap); the validator decides where that is allowed.
 */
export function parseSize(text: string, what = 'size'): number {
  const s = String(text).trim();
  if (s === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s);
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined || (m[2] === '' && m[3] !== undefined && m[3].toLowerCase() !== 'b')) {
    throw new InvalidConfigError(
      `invalid ${what} "${text}": expected a number of bytes with an optional unit b, k, m, g, t or p (e.g. 64m)`,
    );
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new InvalidConfigError(`invalid ${what} "${text}": too large`);
  return bytes;
}

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** `0-1,3` → true; checks syntax and that every range ascends. */
export function isCpuList(list: string): boolean {
  if (!CPU_LIST.test(list)) return false;
  return list.split(',').every((part) => {
    const [lo, hi] = part.split('-').map(Number);
    return hi === undefined || (lo !== undefined && lo <= hi);
  });
}

function bad(field: keyof Resources, value: unknown, why: string): InvalidConfigError {
  return new InvalidConfigError(`invalid ${field} ${JSON.stringify(value)}: ${why}`, { step: `resources.${field}` });
}

function checkInt(r: Resources, field: keyof Resources): number | undefined {
  const v = r[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(field, v, 'must be an integer');
  return v;
}

/** Throws InvalidConfigError naming the field and value of the first bad limit. */
export function validateResources(r: Resources): void {
  const memory = checkInt(r, 'memory');
  const swap = checkInt(r, 'memorySwap');
  const reservation = checkInt(r, 'memoryReservation');
  const shares = checkInt(r, 'cpuShares');
  const quota = checkInt(r, 'cpuQuota');
  const period = checkInt(r, 'cpuPeriod');
  const pids = checkInt(r, 'pidsLimit');

  if (memory !== undefined && memory < MIN_MEMORY) throw bad('memory', memory, 'the minimum is 6 MiB (6291456 bytes)');
  if (swap !== undefined) {
    if (memory === undefined) throw bad('memorySwap', swap, 'a swap limit needs a memory limit');
    if (swap !== -1 && swap < memory) {
      throw bad('memorySwap', swap, `must be -1 (unlimited) or at least the memory limit (${memory})`);
    }
  }
  if (reservation !== undefined) {
    if (reservation < 0) throw bad('memoryReservation', reservation, 'must not be negative');
    if (memory !== undefined && reservation > memory) {
      throw bad('memoryReservation', reservation, `must not exceed the memory limit (${memory})`);
    }
  }
  if (shares !== undefined && (shares < MIN_CPU_SHARES || shares > MAX_CPU_SHARES)) {
    throw bad('cpuShares', shares, `must be between ${MIN_CPU_SHARES} and ${MAX_CPU_SHARES}`);
  }
  if (quota !== undefined && quota !== -1 && quota < MIN_CPU_QUOTA) {
    throw bad('cpuQuota', quota, `must be -1 (unlimited) or at least ${MIN_CPU_QUOTA} µs`);
  }
  if (period !== undefined && (period < MIN_CPU_PERIOD || period > MAX_CPU_PERIOD)) {
    throw bad('cpuPeriod', period, `must be between ${MIN_CPU_PERIOD} and ${MAX_CPU_PERIOD} µs`);
  }
  for (const field of ['cpusetCpus', 'cpusetMems'] as const) {
    const v = r[field];
    if (v !== undefined && (typeof v !== 'string' || !isCpuList(v))) {
      throw bad(field, v, 'expected a list such as 0-1,3');
    }
  }
  if (pids !== undefined && pids !== -1 && pids <= 0) throw bad('pidsLimit', pids, 'must be positive or -1 (unlimited)');
}

/** The controllers a set of limits needs (devices not included). */
export function requiredControllers(r: Resources): Set<LimitController> {
  const need = new Set<LimitController>();
  if (r.memory !== undefined || r.memorySwap !== undefined || r.memoryReservation !== undefined) need.add('memory');
  if (r.cpuShares !== undefined || r.cpuQuota !== undefined || r.cpuPeriod !== undefined) need.add('cpu');
  if (r.cpusetCpus !== undefined || r.cpusetMems !== undefined) need.add('cpuset');
  if (r.pidsLimit !== undefined) need.add('pids');
  return need;
}

/** Writes for v1 hierarchies, in order. `inherit` fills cpuset.cpus/mems the caller left out. */
export function renderV1(r: Resources, devices: DeviceMode, inherit: CpusetInherit = {}): CgroupWrite[] {
  return v1Backend.render(r, devices, inherit);
}

/**
 * Writes for the unified (v2) tree, in order. Device rules are not rendered: on cgroup v2 they
 * are a BPF program (devicefilter.ts).
 */
export function renderV2(r: Resources): CgroupWrite[] {
  return v2Backend.render(r, 'default');
}
