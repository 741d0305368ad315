/**
 * LXC's cgroups of one container, as LXC 5 makes them: `lxc.payload.<id>` (the container) and
 * `lxc.monitor.<id>` (lxc-start itself) at the root of every hierarchy (NOTES.md).
 *
 * Integration note: the shared ContainerCgroup (src/cgroups) wants a non-empty parent, so these
 * few root-level operations are done here with its layout and io helpers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { childCgroups, errCode, parsePids, pidsOfTree, readText, sleep } from '../cgroups/io.js';
import { controllerVersion, hostLayout, type CgroupLayout } from '../cgroups/layout.js';
import type { LimitController } from '../cgroups/resources.js';
import { systemError } from '../errors.js';

export const payloadName = (id: string) => `lxc.payload.${id}`;
export const monitorName = (id: string) => `lxc.monitor.${id}`;

function mountpoints(layout: CgroupLayout): { hierarchy: string; version: 1 | 2; controllers: string[]; mountpoint: string }[] {
  const out: { hierarchy: string; version: 1 | 2; controllers: string[]; mountpoint: string }[] = [];
  for (const [hierarchy, h] of layout.v1) out.push({ hierarchy, version: 1, controllers: h.controllers, mountpoint: h.mountpoint });
  if (layout.v2) out.push({ hierarchy: 'unified', version: 2, controllers: layout.v2.controllers, mountpoint: layout.v2.mountpoint });
  return out;
}

/** Where LXC puts the container's cgroup in each hierarchy (it escapes to the root). */
export function payloadDirs(id: string, layout: CgroupLayout = hostLayout()): string[] {
  return mountpoints(layout).map((m) => join(m.mountpoint, payloadName(id)));
}

/** Both of LXC's cgroups of the container in each hierarchy. */
export function lxcDirs(id: string, layout: CgroupLayout = hostLayout()): string[] {
  return mountpoints(layout).flatMap((m) => [join(m.mountpoint, payloadName(id)), join(m.mountpoint, monitorName(id))]);
}

/**
 * The container's cgroup paths as the kernel says for its init (`/proc/<pid>/cgroup`), one per
 * hierarchy mounted here; falls back to the computed ones for a hierarchy it does not list.
 */
export function payloadDirsOfPid(pid: number, id: string, layout: CgroupLayout = hostLayout()): string[] {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return payloadDirs(id, layout);
  }
  const byKey = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) byKey.set(m[1] === '' ? 'unified' : m[1]!, m[2]!);
  }
  return mountpoints(layout).map((m) => {
    const rel = byKey.get(m.hierarchy);
    return rel && rel.includes(payloadName(id)) ? join(m.mountpoint, rel) : join(m.mountpoint, payloadName(id));
  });
}

/** Which hierarchy carries `controller` among `dirs` (as payloadDirs returns them). */
function dirFor(dirs: string[], controller: string, layout: CgroupLayout): string | undefined {
  const ms = mountpoints(layout);
  for (const version of [1, 2] as const) {
    const i = ms.findIndex((m) => m.version === version && m.controllers.includes(controller));
    if (i >= 0) return dirs[i];
  }
  return undefined;
}

/** The file with the container's `oom_kill` counter (v1 memory.oom_control / v2 memory.events). */
export function oomCounterFile(id: string, layout: CgroupLayout = hostLayout()): string | undefined {
  const dir = dirFor(payloadDirs(id, layout), 'memory', layout);
  if (!dir) return undefined;
  return join(dir, controllerVersion(layout, 'memory') === 1 ? 'memory.oom_control' : 'memory.events');
}

/** `oom_kill N` of an OOM counter file's text. */
export function parseOomKills(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** The directory whose cgroup.procs lists the container's processes (memory, pids, else the first). */
export function pidsDir(dirs: string[], layout: CgroupLayout = hostLayout()): string | undefined {
  return dirFor(dirs, 'memory', layout) ?? dirFor(dirs, 'pids', layout) ?? dirs[0];
}

/** Pids of the container's cgroup (child cgroups included), sorted, no duplicates. */
export async function payloadPids(dirs: string[], id: string, layout: CgroupLayout = hostLayout()): Promise<number[]> {
  const dir = pidsDir(dirs, layout);
  if (!dir) return [];
  try {
    return [...new Set(await pidsOfTree(dir))].sort((a, b) => a - b);
  } catch (err) {
    throw systemError('ERR_CGROUP', `read ${join(dir, 'cgroup.procs')}`, err, { containerId: id, path: dir, step: 'cgroup pids' });
  }
}

/** Where each limit controller lives on this host (for the template). */
export function controllerHomes(layout: CgroupLayout = hostLayout()): Partial<Record<LimitController, 1 | 2>> {
  const out: Partial<Record<LimitController, 1 | 2>> = {};
  for (const c of ['devices', 'memory', 'cpu', 'cpuset', 'pids'] as const) {
    const v = controllerVersion(layout, c);
    if (v) out[c] = v;
  }
  return out;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/**
 * Remove whatever LXC left of the container's cgroups (after a crash of lxc-start, or a
 * SIGKILL of it): kill what still runs in them, then rmdir, children first. Idempotent.
 */
export async function removeLeftovers(dirs: string[], id: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const remove = async (path: string): Promise<void> => {
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      let err: unknown;
      try {
        await rmdir(path);
        return;
      } catch (e) {
        if (errCode(e) === 'ENOENT') return;
        err = e;
      }
      if (errCode(err) !== 'EBUSY') throw systemError('ERR_CGROUP', `rmdir ${path}`, err, { containerId: id, path, step: 'cgroup remove' });
      for (const child of await childCgroups(path)) await remove(child);
      const left = await readText(join(path, 'cgroup.procs')).then(parsePids, () => []);
      signalAll(left, 'SIGKILL');
      if (Date.now() >= deadline) {
        throw systemError('ERR_CGROUP', `rmdir ${path} (still busy after ${timeoutMs} ms)`, err, { containerId: id, path, step: 'cgroup remove' });
      }
      await sleep(delay);
    }
  };
  // Usually LXC removed them all: a stat each is far cheaper than an rmdir through the thread pool.
  await Promise.all(dirs.filter((d) => existsSync(d)).map(remove));
}
