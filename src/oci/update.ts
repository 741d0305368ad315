/** `execdriver-oci update`: a running container's resources, from --resources (OCI linux.resources JSON) or flags. */
import { readFileSync } from 'node:fs';
import type { Resources } from '../driver.js';
import { ExecDriverError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import { UsageError, type parseFlags as ParseFlags } from './cli.js';
import type { OciDriver } from './driver.js';

const SIZE = /^(\d+)([kmgKMG]?)[bB]?$/;
function bytes(v: string, flag: string): number {
  const m = SIZE.exec(v);
  if (!m) throw new UsageError(`invalid value for --${flag}: ${v}`);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()] ?? 1);
}

export async function updateVerb(d: OciDriver, argv: string[], parseFlags: typeof ParseFlags): Promise<number> {
  const { flags, args } = parseFlags(argv, {
    resources: { kind: 'string', alias: 'r' }, memory: { kind: 'string' }, 'memory-swap': { kind: 'string' }, 'memory-reservation': { kind: 'string' },
    'cpu-shares': { kind: 'string' }, 'cpu-quota': { kind: 'string' }, 'cpu-period': { kind: 'string' }, 'cpuset-cpus': { kind: 'string' },
    'cpuset-mems': { kind: 'string' }, 'pids-limit': { kind: 'string' }, 'kernel-memory': { kind: 'string' }, 'blkio-weight': { kind: 'string' },
  });
  const id = args[0];
  if (!id || args.length > 1) throw new UsageError('"update" requires exactly 1 argument (the container id)');
  const r: Resources = {};
  if (flags['resources']) {
    const file = flags['resources'] as string;
    let lr: LinuxResources;
    try {
      lr = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as LinuxResources;
    } catch (e) {
      throw new ExecDriverError('ERR_INVALID_CONFIG', `--resources ${file}: ${(e as Error).message}`, { containerId: id });
    }
    if (lr.memory?.limit !== undefined && lr.memory.limit > 0) r.memory = lr.memory.limit;
    if (lr.memory?.swap !== undefined && lr.memory.swap !== 0) r.memorySwap = lr.memory.swap;
    if (lr.memory?.reservation) r.memoryReservation = lr.memory.reservation;
    if (lr.cpu?.shares) r.cpuShares = lr.cpu.shares;
    if (lr.cpu?.quota) r.cpuQuota = lr.cpu.quota;
    if (lr.cpu?.period) r.cpuPeriod = lr.cpu.period;
    if (lr.cpu?.cpus) r.cpusetCpus = lr.cpu.cpus;
    if (lr.cpu?.mems) r.cpusetMems = lr.cpu.mems;
    if (lr.pids?.limit) r.pidsLimit = lr.pids.limit;
  }
  const s = (k: string) => flags[k] as string | undefined;
  const n = (k: string) => {
    const v = Number(s(k));
    if (!Number.isSafeInteger(v)) throw new UsageError(`invalid value for --${k}: ${s(k)}`);
    return v;
  };
  if (s('memory')) r.memory = bytes(s('memory')!, 'memory');
  if (s('memory-swap')) r.memorySwap = s('memory-swap') === '-1' ? -1 : bytes(s('memory-swap')!, 'memory-swap');
  if (s('memory-reservation')) r.memoryReservation = bytes(s('memory-reservation')!, 'memory-reservation');
  if (s('cpu-shares')) r.cpuShares = n('cpu-shares');
  if (s('cpu-quota')) r.cpuQuota = n('cpu-quota');
  if (s('cpu-period')) r.cpuPeriod = n('cpu-period');
  if (s('cpuset-cpus')) r.cpusetCpus = s('cpuset-cpus')!;
  if (s('cpuset-mems')) r.cpusetMems = s('cpuset-mems')!;
  if (s('pids-limit')) r.pidsLimit = n('pids-limit');
  for (const k of ['kernel-memory', 'blkio-weight']) if (s(k)) throw new UsageError(`--${k} is not supported by execdriver-oci`);
  await d.update(id, r);
  return 0;
}
