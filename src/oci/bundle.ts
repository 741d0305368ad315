/**
 * What execdriver-oci checks in a bundle beyond validateSpec (before anything is created): mount
 * destinations whose path inside the rootfs goes through a symlink that leads out of it, namespace
 * paths that are no namespace (or one of another type), the cgroupsPath's form.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, statfsSync } from 'node:fs';
import { join, normalize, posix, relative } from 'node:path';
import { InvalidConfigError } from '../errors.js';
import type { Spec } from '../spec/types.js';

/** the cgroup parent of containers whose bundle gives no cgroupsPath */
export const DEFAULT_PARENT = 'execdriver-oci';
const NSFS_MAGIC = 0x6e736673;
/** the names /proc/PID/ns/* links carry, by the specification's type */
const NS_LINK: Record<string, string> = { network: 'net', ipc: 'ipc', uts: 'uts', cgroup: 'cgroup', pid: 'pid', mount: 'mnt', user: 'user', time: 'time' };

/**
 * The first symlink on `dest` (absolute, in the container) inside `rootfs` whose target climbs
 * above the rootfs ('..' past its top); undefined when there is none. Absolute targets are taken
 * inside the rootfs (as the init resolves them), so they never escape.
 */
export function escapingSymlink(rootfs: string, dest: string): string | undefined {
  const parts = dest.split('/').filter((p) => p && p !== '.');
  let at: string[] = [];
  for (let hops = 0, i = 0; i < parts.length && hops < 40; i++) {
    const next = [...at, parts[i]!];
    let st;
    try {
      st = lstatSync(join(rootfs, ...next));
    } catch {
      return undefined; // missing: the init creates it, inside the root
    }
    if (!st.isSymbolicLink()) {
      at = next;
      continue;
    }
    hops++;
    const target = readlinkSync(join(rootfs, ...next));
    const joined = target.startsWith('/') ? normalize(target).slice(1) : posix.normalize([...at, target].join('/'));
    if (joined === '..' || joined.startsWith('../')) return '/' + next.join('/');
    at = joined.split('/').filter((p) => p && p !== '.');
  }
  return undefined;
}

/** Where the container's cgroups go: parent and name (relative to each hierarchy's root). */
export function cgroupPlace(spec: Spec, id: string, systemd: boolean): { parent: string; name: string } {
  const path = spec.linux?.cgroupsPath;
  const fail = (why: string) => {
    throw new InvalidConfigError(`linux.cgroupsPath ${JSON.stringify(path)}: ${why}`, { containerId: id, step: 'spec' });
  };
  if (systemd || (path !== undefined && /^[^/]*:[^/]*:[^/]*$/.test(path))) {
    if (!systemd) fail('is a systemd slice:prefix:name path, but --systemd-cgroup was not given');
    let runs = false;
    try {
      runs = lstatSync('/run/systemd/system').isDirectory();
    } catch {
      /* no systemd */
    }
    if (!runs) fail('--systemd-cgroup needs systemd as init, and no systemd runs on this host (no /run/systemd/system): use cgroupfs paths');
    fail('--systemd-cgroup is not supported by execdriver-oci yet: use cgroupfs paths');
  }
  if (!path) return { parent: DEFAULT_PARENT, name: id };
  let full = path;
  if (!path.startsWith('/')) {
    // relative: under the cgroup of this runtime process (its cgroup2 entry)
    const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
    full = posix.join(own, path);
  }
  const segs = full.split('/').filter(Boolean);
  if (!segs.length) fail('must name a cgroup below the root');
  return { parent: segs.slice(0, -1).join('/'), name: segs.at(-1)! };
}

/** The bundle's checks that need the host (validateSpec has checked the shape). */
export function checkBundle(spec: Spec, id: string, bundle: string): void {
  const fail = (field: string, why: string): never => {
    throw new InvalidConfigError(`${field} ${why}`, { containerId: id, step: 'spec' });
  };
  // a relative root.path must stay inside the bundle (readBundle made it absolute)
  const raw = (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { root: { path: string } }).root.path;
  if (!raw.startsWith('/')) {
    const rel = relative(bundle, spec.root!.path);
    if (rel === '..' || rel.startsWith('../')) fail('root.path', `${JSON.stringify(raw)} is relative and leads out of the bundle ${bundle}`);
  }
  const rootfs = spec.root!.path;
  (spec.mounts ?? []).forEach((m, i) => {
    const bad = escapingSymlink(rootfs, m.destination);
    if (bad) fail(`mounts[${i}].destination`, `${m.destination} goes through the symlink ${bad}, which leads out of the root filesystem`);
  });
  (spec.linux?.namespaces ?? []).forEach((n, i) => {
    if (!n.path) return;
    const f = `linux.namespaces[${i}].path`;
    let magic = 0;
    try {
      magic = Number(statfsSync(n.path).type);
    } catch (e) {
      fail(f, `${n.path}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`);
    }
    if (magic !== NSFS_MAGIC) fail(f, `${n.path} is not a namespace (not on nsfs)`);
    let link: string | undefined;
    try {
      link = readlinkSync(n.path); // /proc/PID/ns/net: net:[4026…]; a bind-mounted one is no link
    } catch {
      /* the kernel checks the type at setns */
    }
    const want = NS_LINK[n.type]!;
    if (link && !link.startsWith(`${want}:[`)) fail(f, `${n.path} is a ${link.replace(/:.*/, '')} namespace, not ${want} (${n.type})`);
  });
  if (spec.process?.terminal && !(spec.mounts ?? []).some((m) => m.destination === '/dev/pts')) {
    fail('process.terminal', 'needs a devpts mount at /dev/pts (the terminal is made there)');
  }
}

/**
 * `tmpcopyup` (a tmpfs option of runc's and crun's: the directory's content is copied into the new
 * tmpfs; Podman puts it on /run, /tmp and /var/tmp): nothing to copy when the rootfs has no such
 * directory or an empty one, and the option is dropped; a directory with content is refused by
 * name (the copy is not done yet).
 */
export function tmpCopyUp(spec: Spec, id: string): Spec {
  const rootfs = spec.root?.path ?? '';
  if (!spec.mounts?.some((m) => m.options?.includes('tmpcopyup'))) return spec;
  const mounts = spec.mounts.map((m, i) => {
    if (!m.options?.includes('tmpcopyup')) return m;
    if (m.type !== 'tmpfs') throw new InvalidConfigError(`mounts[${i}] (${m.destination}): tmpcopyup is for tmpfs mounts only, not ${m.type}`, { containerId: id, step: 'spec' });
    let entries: string[] = [];
    try {
      const at = join(rootfs, ...m.destination.split('/').filter(Boolean));
      if (lstatSync(at).isSymbolicLink()) throw new InvalidConfigError(`mounts[${i}] (${m.destination}): tmpcopyup of a symlink is not supported by execdriver-oci`, { containerId: id, step: 'spec' });
      entries = readdirSync(at);
    } catch (e) {
      if (e instanceof InvalidConfigError) throw e;
      /* missing (or not a directory): nothing to copy */
    }
    if (entries.length) {
      throw new InvalidConfigError(`mounts[${i}] (${m.destination}): tmpcopyup of a directory with content is not supported by execdriver-oci yet (the rootfs has ${entries.length} entries there)`, { containerId: id, step: 'spec' });
    }
    return { ...m, options: m.options.filter((o) => o !== 'tmpcopyup') };
  });
  return { ...spec, mounts };
}
