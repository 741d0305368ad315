/**
 * Which cgroup hierarchies this host has mounted, from /proc/self/mountinfo.
 *
 * - `v1`: only legacy hierarchies (`cgroup` mounts, one per controller set, plus named ones
 *   such as `name=systemd`).
 * - `v2`: only the unified `cgroup2` mount (usually /sys/fs/cgroup).
 * - `hybrid`: both, e.g. systemd's hybrid mode with cgroup2 at /sys/fs/cgroup/unified.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

export interface V1Hierarchy {
  mountpoint: string;
  /** the kernel controllers bound to it (`['cpu', 'cpuacct']`); empty for a named hierarchy */
  controllers: string[];
}

export interface V2Hierarchy {
  mountpoint: string;
  /** the controllers available at its root (`cgroup.controllers`) */
  controllers: string[];
}

export interface CgroupLayout {
  mode: CgroupMode;
  /** keyed by the hierarchy's super options: `memory`, `cpu,cpuacct`, `name=systemd` */
  v1: Map<string, V1Hierarchy>;
  v2?: V2Hierarchy;
}

/** Super options of a v1 cgroup mount that are not controllers. */
const V1_MOUNT_OPTIONS = new Set(['rw', 'ro', 'none', 'noprefix', 'xattr', 'clone_children', 'cpuset_v2_mode', 'favordynmods', 'nofavordynmods']);

/** Undo the octal escapes of /proc/self/mountinfo (`\040` is a space). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

interface CgroupMount {
  fstype: 'cgroup' | 'cgroup2';
  root: string;
  mountpoint: string;
  superOptions: string[];
}

function parseCgroupMounts(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('cgroup')) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0) continue;
    const fstype = fields[sep + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = fields[3];
    const mountpoint = fields[4];
    if (root === undefined || mountpoint === undefined) continue;
    mounts.push({
      fstype,
      root: unescapeMountField(root),
      mountpoint: unescapeMountField(mountpoint),
      superOptions: (fields[sep + 3] ?? '').split(','),
    });
  }
  // A hierarchy may be mounted more than once (bind mounts of a sub-tree): prefer the mount of its root.
  return mounts.sort((a, b) => Number(a.root !== '/') - Number(b.root !== '/'));
}

/**
 * Parse mountinfo text into a layout. Pure when both texts are given; otherwise reads
 * /proc/self/mountinfo and `<cgroup2 mount>/cgroup.controllers`.
 */
export function detectLayout(mountinfoText?: string, v2ControllersText?: string): CgroupLayout {
  const text = mountinfoText ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const v1 = new Map<string, V1Hierarchy>();
  let v2: V2Hierarchy | undefined;
  for (const m of parseCgroupMounts(text)) {
    if (m.fstype === 'cgroup2') {
      if (v2) continue;
      const controllersText = v2ControllersText ?? readControllers(m.mountpoint);
      v2 = { mountpoint: m.mountpoint, controllers: controllersText.split(/\s+/).filter(Boolean) };
      continue;
    }
    const opts = m.superOptions.filter((o) => !V1_MOUNT_OPTIONS.has(o) && !o.startsWith('release_agent='));
    const name = opts.find((o) => o.startsWith('name='));
    const controllers = opts.filter((o) => !o.startsWith('name='));
    const key = [...controllers, ...(name ? [name] : [])].join(',');
    if (key === '' || v1.has(key)) continue;
    v1.set(key, { mountpoint: m.mountpoint, controllers });
  }
  const mode: CgroupMode = v1.size === 0 ? 'v2' : v2 ? 'hybrid' : 'v1';
  return v2 ? { mode, v1, v2 } : { mode, v1 };
}

function readControllers(mountpoint: string): string {
  try {
    return readFileSync(join(mountpoint, 'cgroup.controllers'), 'utf8');
  } catch {
    return '';
  }
}

let cached: CgroupLayout | undefined;

/** The layout of this host, read once per process. */
export function hostLayout(): CgroupLayout {
  cached ??= detectLayout();
  return cached;
}

/** The v1 hierarchy that carries `controller`, if any. */
export function v1HierarchyOf(layout: CgroupLayout, controller: string): [string, V1Hierarchy] | undefined {
  for (const entry of layout.v1) if (entry[1].controllers.includes(controller)) return entry;
  return undefined;
}

/** Where a controller lives on this host: a v1 hierarchy, the v2 tree, or nowhere. */
export function controllerVersion(layout: CgroupLayout, controller: string): 1 | 2 | undefined {
  if (v1HierarchyOf(layout, controller)) return 1;
  if (layout.v2?.controllers.includes(controller)) return 2;
  return undefined;
}
