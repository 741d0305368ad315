/**
 * Where a container's cgroup directories are: one per mounted v1 hierarchy, one in the v2 tree.
 */
import { join } from 'node:path';
import { InvalidConfigError } from '../errors.js';
import type { CgroupLayout } from './layout.js';

export interface CgroupDir {
  /** `memory`, `cpu,cpuacct`, `name=systemd` (v1), or `unified` (v2) */
  hierarchy: string;
  version: 1 | 2;
  /** the controllers of the hierarchy (v2: those available at its root) */
  controllers: readonly string[];
  /** the hierarchy's mountpoint */
  mountpoint: string;
  /** `<mountpoint>/<parent>/<name>` */
  path: string;
}

const SEGMENT = /^[A-Za-z0-9_@:+=-][A-Za-z0-9_.@:+=-]*$/;

function checkSegment(what: string, value: string, segment: string): void {
  if (!SEGMENT.test(segment) || segment.length > 255) {
    throw new InvalidConfigError(
      `invalid cgroup ${what} ${JSON.stringify(value)}: use letters, digits and _ . @ : + = - (no leading dot)`,
    );
  }
}

/**
 * Throws InvalidConfigError for a name with a slash, `..`, an empty part… A parent of '' is the
 * root of each hierarchy (where LXC puts its containers).
 */
export function checkNames(parent: string, name: string): void {
  if (typeof parent !== 'string') throw new InvalidConfigError(`invalid cgroup parent ${JSON.stringify(parent)}`);
  if (parent !== '') for (const seg of parent.split('/')) checkSegment('parent', parent, seg);
  if (typeof name !== 'string') throw new InvalidConfigError(`invalid cgroup name ${JSON.stringify(name)}`);
  checkSegment('name', name, name);
}

/** The container's directories, v1 hierarchies first (in mount order), then the v2 tree. */
export function containerDirs(layout: CgroupLayout, parent: string, name: string): CgroupDir[] {
  const dirs: CgroupDir[] = [];
  for (const [hierarchy, h] of layout.v1) {
    dirs.push({ hierarchy, version: 1, controllers: h.controllers, mountpoint: h.mountpoint, path: join(h.mountpoint, parent, name) });
  }
  if (layout.v2) {
    const { mountpoint, controllers } = layout.v2;
    dirs.push({ hierarchy: 'unified', version: 2, controllers, mountpoint, path: join(mountpoint, parent, name) });
  }
  return dirs;
}

/** The directory that enforces `controller`: its v1 hierarchy, else the v2 tree if it has it. */
export function homeOf(dirs: readonly CgroupDir[], controller: string): CgroupDir | undefined {
  return (
    dirs.find((d) => d.version === 1 && d.controllers.includes(controller)) ??
    dirs.find((d) => d.version === 2 && d.controllers.includes(controller))
  );
}
