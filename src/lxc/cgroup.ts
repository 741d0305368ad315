/**
 * LXC's cgroups of one container, as LXC 5 makes them: `lxc.payload.<id>` (the container) and
 * `lxc.monitor.<id>` (lxc-start itself) at the root of every hierarchy (NOTES.md). They are LXC's
 * to make and remove; the shared ContainerCgroup reads them (pids, OOM counter) and removes what a
 * crash of lxc-start left.
 */
import { ContainerCgroup } from '../cgroups/index.js';
import { controllerVersion, hostLayout, type CgroupLayout } from '../cgroups/layout.js';
import type { LimitController } from '../cgroups/resources.js';

export const payloadName = (id: string) => `lxc.payload.${id}`;
export const monitorName = (id: string) => `lxc.monitor.${id}`;

/** The container's cgroup, in every hierarchy (parent '': the root, where LXC escapes to). */
export function payloadCgroup(id: string): ContainerCgroup {
  return ContainerCgroup.open({ parent: '', name: payloadName(id), containerId: id });
}

/** Every directory of LXC's two cgroups of the container. */
export function lxcDirs(id: string): string[] {
  return [...payloadCgroup(id).paths, ...ContainerCgroup.open({ parent: '', name: monitorName(id), containerId: id }).paths];
}

/** The file with the container's `oom_kill` counter (v1 memory.oom_control / v2 memory.events). */
export function oomCounterFile(id: string): string | undefined {
  return payloadCgroup(id).oomCounterFile;
}

/** `oom_kill N` of an OOM counter file's text. */
export function parseOomKills(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Pids of the container's cgroup (child cgroups included), sorted, no duplicates. */
export function payloadPids(id: string): Promise<number[]> {
  return payloadCgroup(id).pids();
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

/**
 * Remove whatever LXC left of the container's cgroups (after a crash of lxc-start, or a SIGKILL of
 * it): kill what still runs in them, then rmdir, children first. Idempotent, cheap when LXC
 * removed them itself.
 */
export async function removeLeftovers(id: string): Promise<void> {
  await payloadCgroup(id).remove();
  await ContainerCgroup.open({ parent: '', name: monitorName(id), containerId: id }).remove();
}
