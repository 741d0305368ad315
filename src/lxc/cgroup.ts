/**
 * LXC's cgroups of one container: `lxc.payload.<id><tag>` (the container) and
 * `lxc.monitor.<id><tag>` (lxc-start itself) at the root of every hierarchy, where <tag> tells
 * state roots apart (rootTag: empty for the default root). LXC 5 would name them
 * `lxc.payload.<id>` whatever `-P` is, and give a second container of that name `…-1`, which we
 * would not find: config.lxc names them itself (`lxc.cgroup.dir.container`/`.monitor`), and LXC
 * then refuses to start when the name is taken instead of picking another. They are LXC's to make
 * and remove; the shared ContainerCgroup reads them (pids, OOM counter) and removes what a crash
 * of lxc-start left.
 */
import { ContainerCgroup } from '../cgroups/index.js';
import { controllerVersion, hostLayout, type CgroupLayout } from '../cgroups/layout.js';
import type { LimitController } from '../cgroups/resources.js';
import { rootTag } from '../state/index.js';

export const payloadName = (root: string, id: string) => `lxc.payload.${id}${rootTag(root)}`;
export const monitorName = (root: string, id: string) => `lxc.monitor.${id}${rootTag(root)}`;

/** The container's cgroup, in every hierarchy (parent '': the root, where LXC escapes to). */
export function payloadCgroup(root: string, id: string): ContainerCgroup {
  return ContainerCgroup.open({ parent: '', name: payloadName(root, id), containerId: id });
}

/** Every directory of LXC's two cgroups of the container. */
export function lxcDirs(root: string, id: string): string[] {
  return [...payloadCgroup(root, id).paths, ...ContainerCgroup.open({ parent: '', name: monitorName(root, id), containerId: id }).paths];
}

/** The file with the container's `oom_kill` counter (v1 memory.oom_control / v2 memory.events). */
export function oomCounterFile(root: string, id: string): string | undefined {
  return payloadCgroup(root, id).oomCounterFile;
}

/** `oom_kill N` of an OOM counter file's text. */
export function parseOomKills(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Pids of the container's cgroup (child cgroups included), sorted, no duplicates. */
export function payloadPids(root: string, id: string): Promise<number[]> {
  return payloadCgroup(root, id).pids();
}

/** Where each limit controller lives on this host (for the template). */
export function controllerHomes(layout: CgroupLayout = hostLayout()): Partial<Record<LimitController, 1 | 2>> {
  const out: Partial<Record<LimitController, 1 | 2>> = {};
  for (const c of ['devices', 'memory', 'cpu', 'cpuset', 'pids'] as const) {
    const v = controllerVersion(layout, c);
    if (v) out[c] = v;
  }
  // cgroup2 has no `devices` controller to list: LXC 5 enforces `lxc.cgroup2.devices.*` with a
  // BPF program of its own wherever there is a cgroup2 tree and no v1 devices hierarchy
  if (!out.devices && layout.v2) out.devices = 2;
  return out;
}

/**
 * Remove whatever LXC left of the container's cgroups (after a crash of lxc-start, or a SIGKILL of
 * it): kill what still runs in them, then rmdir, children first. Idempotent, cheap when LXC
 * removed them itself.
 */
export async function removeLeftovers(root: string, id: string): Promise<void> {
  await payloadCgroup(root, id).remove();
  await ContainerCgroup.open({ parent: '', name: monitorName(root, id), containerId: id }).remove();
}
