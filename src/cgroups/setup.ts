/**
 * Creating a container's cgroups: mkdir in every hierarchy, fill v1 cpusets, enable v2
 * controllers, write the limits, and undo it all when a step fails.
 *
 * Synchronous on purpose: these are a few dozen tiny in-memory cgroupfs operations on every
 * container start; going through the thread pool would cost more than the calls themselves.
 */
import { closeSync, constants, mkdirSync, openSync, readFileSync, rmdirSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExecDriverError, systemError } from '../errors.js';
import type { CgroupDir } from './paths.js';
import { homeOf } from './paths.js';
import type { CgroupWrite, CpusetInherit, DeviceMode, LimitController, Resources } from './resources.js';
import { requiredControllers } from './resources.js';
import { v1Backend } from './v1.js';
import { v2Backend } from './v2.js';

export interface SetupContext {
  dirs: readonly CgroupDir[];
  parent: string;
  name: string;
  containerId?: string;
}

const HINTS: Record<string, string> = {
  'memory.memsw.limit_in_bytes': 'swap accounting is off on this host (kernel parameter swapaccount=1)',
  'memory.swap.max': 'swap accounting is off on this host',
};

function details(ctx: SetupContext, step: string, path: string) {
  return { step, path, ...(ctx.containerId !== undefined ? { containerId: ctx.containerId } : {}) };
}

function readSync(ctx: SetupContext, label: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw systemError('ERR_CGROUP', `cgroup ${label}: read ${path}`, err, details(ctx, `cgroup ${basename(path)}`, path));
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Throws ERR_CGROUP, before anything is created, for a limit no hierarchy can enforce. */
export function checkEnforceable(ctx: SetupContext, resources: Resources): void {
  for (const c of requiredControllers(resources)) {
    if (homeOf(ctx.dirs, c)) continue;
    throw new ExecDriverError(
      'ERR_CGROUP',
      `cgroup ${c}: this host cannot enforce the ${c} limits asked for: the ${c} controller is neither mounted as a v1 hierarchy nor available in the cgroup2 tree`,
      ctx.containerId !== undefined ? { containerId: ctx.containerId, step: `cgroup ${c}` } : { step: `cgroup ${c}` },
    );
  }
}

/** The parent levels of `dir` below its mountpoint, outermost first. */
function parentLevels(dir: CgroupDir): string[] {
  const levels: string[] = [];
  for (let p = dirname(dir.path); p !== dir.mountpoint && p.startsWith(dir.mountpoint); p = dirname(p)) levels.unshift(p);
  return levels;
}

function mkdirContainer(ctx: SetupContext, dir: CgroupDir, created: string[]): void {
  // Usually the parent exists and this is one mkdir. Otherwise create the missing levels and try
  // again (a few times: another container's failed start may remove a parent it just created).
  for (let attempt = 1; ; attempt++) {
    try {
      mkdirSync(dir.path);
      created.push(dir.path);
      return;
    } catch (err) {
      if (code(err) === 'EEXIST') {
        throw systemError('ERR_CGROUP', `cgroup ${ctx.parent}/${ctx.name} already exists: mkdir ${dir.path}`, err, details(ctx, 'cgroup mkdir', dir.path));
      }
      if (code(err) !== 'ENOENT' || attempt === 3) {
        throw systemError('ERR_CGROUP', `cgroup ${dir.hierarchy}: mkdir ${dir.path}`, err, details(ctx, 'cgroup mkdir', dir.path));
      }
    }
    for (const level of parentLevels(dir)) {
      try {
        mkdirSync(level);
        created.push(level);
      } catch (err) {
        if (code(err) !== 'EEXIST') throw systemError('ERR_CGROUP', `cgroup ${dir.hierarchy}: mkdir ${level}`, err, details(ctx, 'cgroup mkdir', level));
      }
    }
  }
}

/**
 * A fresh v1 cpuset has empty cpuset.cpus/mems and refuses processes (ENOSPC) until they are
 * set. Fills `dir` (and any empty ancestor) from its parent; returns its values.
 */
function ensureCpuset(ctx: SetupContext, dir: string, mountpoint: string): Required<CpusetInherit> {
  const read = (f: string) => readSync(ctx, 'cpuset', join(dir, f));
  let cpus = read('cpuset.cpus');
  let mems = read('cpuset.mems');
  if ((cpus && mems) || dir === mountpoint || !dir.startsWith(mountpoint)) return { cpus, mems };
  const up = ensureCpuset(ctx, dirname(dir), mountpoint);
  const writes: CgroupWrite[] = [];
  if (!cpus) writes.push({ controller: 'cpuset', file: 'cpuset.cpus', value: (cpus = up.cpus) });
  if (!mems) writes.push({ controller: 'cpuset', file: 'cpuset.mems', value: (mems = up.mems) });
  applyWrites(ctx, dir, writes);
  return { cpus, mems };
}

/** On v2, controllers must be enabled in every ancestor's cgroup.subtree_control. */
export function enableV2Controllers(ctx: SetupContext, dir: CgroupDir, wanted: readonly string[]): void {
  if (wanted.length === 0) return;
  for (const level of [dir.mountpoint, ...parentLevels(dir)]) {
    const file = join(level, 'cgroup.subtree_control');
    const current = readSync(ctx, 'v2', file).split(/\s+/);
    const missing = wanted.filter((c) => !current.includes(c));
    if (missing.length === 0) continue;
    const value = missing.map((c) => `+${c}`).join(' ');
    try {
      const fd = openSync(file, constants.O_WRONLY);
      try {
        writeSync(fd, value);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw systemError('ERR_CGROUP', `cgroup v2: write ${value} to ${file}`, err, details(ctx, 'cgroup cgroup.subtree_control', file));
    }
  }
}

/**
 * Apply writes in order; consecutive writes to one file share one descriptor.
 * A missing file for an asked limit means the host cannot enforce it.
 */
export function applyWrites(ctx: SetupContext, dir: string, writes: readonly CgroupWrite[]): void {
  for (let i = 0; i < writes.length; ) {
    const first = writes[i] as CgroupWrite;
    let j = i + 1;
    while (j < writes.length && writes[j]?.file === first.file) j++;
    const group = writes.slice(i, j);
    i = j;
    const path = join(dir, first.file);
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY);
    } catch (err) {
      if (code(err) === 'ENOENT') {
        if (group.every((w) => w.optional)) continue;
        const hint = HINTS[first.file];
        throw systemError(
          'ERR_CGROUP',
          `cgroup ${first.controller}: this host cannot enforce ${first.field ?? first.file}=${first.value}: ${path} does not exist${hint ? ` (${hint})` : ''}`,
          err,
          details(ctx, `cgroup ${first.file}`, path),
        );
      }
      throw systemError('ERR_CGROUP', `cgroup ${first.controller}: open ${path}`, err, details(ctx, `cgroup ${first.file}`, path));
    }
    try {
      for (const w of group) {
        try {
          writeSync(fd, w.value);
        } catch (err) {
          throw systemError('ERR_CGROUP', `cgroup ${w.controller}: write ${w.value} to ${path}`, err, details(ctx, `cgroup ${w.file}`, path));
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Controllers we always enable on v2 when present: memory (OOM counter) and pids. */
const V2_ALWAYS: readonly LimitController[] = ['memory', 'pids'];

/**
 * Create and configure every directory. On failure everything created is removed again and the
 * error is rethrown. An existing container directory is a clash: nothing of it is touched.
 */
export function setupCgroups(ctx: SetupContext, resources: Resources, devices: DeviceMode): void {
  const created: string[] = [];
  try {
    for (const dir of ctx.dirs) mkdirContainer(ctx, dir, created);
    const homes = new Map<LimitController, CgroupDir | undefined>();
    const home = (c: LimitController) => {
      if (!homes.has(c)) homes.set(c, homeOf(ctx.dirs, c));
      return homes.get(c);
    };
    const v1Writes = v1Backend.render(resources, devices);
    for (const dir of ctx.dirs) {
      let writes: CgroupWrite[];
      if (dir.version === 1) {
        writes = dir.controllers.includes('cpuset')
          ? v1Backend.render(resources, devices, ensureCpuset(ctx, dirname(dir.path), dir.mountpoint))
          : v1Writes;
      } else {
        writes = v2Backend.render(resources, devices);
        const needed = new Set<string>(V2_ALWAYS);
        for (const w of writes) needed.add(w.controller);
        enableV2Controllers(ctx, dir, [...needed].filter((c) => home(c as LimitController) === dir));
      }
      applyWrites(ctx, dir.path, writes.filter((w) => home(w.controller) === dir));
    }
  } catch (err) {
    for (const path of created.reverse()) {
      try {
        rmdirSync(path);
      } catch {
        // a parent another container now uses: leave it
      }
    }
    throw err;
  }
}
