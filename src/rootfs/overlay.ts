/**
 * The copy-on-write rootfs (issue 12 item 3): the container's own upper and work directories of an
 * overlay whose lower layers are the rootfs directories given, kept in its state directory
 * (`<state>/rootfs/{upper,work}`) and removed with it.
 *
 * Where the overlay is mounted:
 * - native: by the child, in its own mount namespace (src/native/plan.ts): nothing is ever mounted
 *   on the host, so a crash cannot leave a mount; in a user namespace each layer is idmapped by the
 *   monitor (an overlay itself cannot be idmapped on this kernel) and the overlay is mounted over
 *   them inside the namespace (overlayfs allows it since 5.11), its upper directory owned by the
 *   container's root;
 * - lxc: at `<state>/rootfs/merged` by the C monitor's child in a mount namespace of its own (a
 *   slave of the host's) before it execs lxc-start (src/lxc/terminal.ts, overlayPlan): LXC binds
 *   it as a `dir:` rootfs, and it goes with lxc-start's namespace; nothing on the host either.
 * Only `cp` into a stopped container mounts on the host (src/cli/cp.ts), for the copy's time; a
 * crash then leaves the mount, which the engine's settling or the removal unmounts (releaseRootfs).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod } from '../fs-async.js';
import { join } from 'node:path';
import { ExecDriverError } from '../errors.js';

/** The overlay's mount data: the layers top first (overlayfs's order), our lowest-first list reversed. */
export function overlayData(layers: readonly string[], upper: string, work: string, userns: boolean): string {
  // in a user namespace, overlayfs keeps its own attributes in user.* xattrs (trusted.* needs init-ns CAP_SYS_ADMIN)
  return `lowerdir=${[...layers].reverse().join(':')},upperdir=${upper},workdir=${work}${userns ? ',userxattr' : ''}`;
}

/** The rootfs directory of a container's state directory. */
export const ROOTFS_DIR = 'rootfs';

export interface OverlayDirs {
  upper: string;
  work: string;
  /** lxc: where the overlay is mounted on the host */
  merged: string;
}

export function overlayDirs(stateDir: string): OverlayDirs {
  const base = join(stateDir, ROOTFS_DIR);
  return { upper: join(base, 'upper'), work: join(base, 'work'), merged: join(base, 'merged') };
}

/**
 * Make the container's upper and work directories. `owner`: the host ids of the container's root
 * in a user namespace (they own them, and the state directory becomes searchable for it: 0711,
 * its files stay 0600).
 */
export function prepareOverlay(stateDir: string, owner?: { uid: number; gid: number }): OverlayDirs {
  const d = overlayDirs(stateDir);
  mkdirSync(d.upper, { recursive: true, mode: 0o755 });
  mkdirSync(d.work, { mode: 0o755 });
  if (owner) {
    chmodSync(stateDir, 0o711);
    chmodSync(join(stateDir, ROOTFS_DIR), 0o711);
    chownSync(d.upper, owner.uid, owner.gid);
    chownSync(d.work, owner.uid, owner.gid);
  }
  return d;
}

/** Whether PATH is a mount point in our mount namespace (from /proc/self/mountinfo). */
export function isMountPoint(path: string): boolean {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  const esc = path.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
  return info.split('\n').some((l) => l.split(' ')[4] === esc);
}

/** Mount the overlay of `layers` (lowest first) on the host at `<state>/rootfs/merged` (tests: what a crashed `cp` leaves). */
export function mountOverlayOnHost(id: string, layers: readonly string[], d: OverlayDirs): string {
  mkdirSync(d.merged, { mode: 0o755 });
  const r = spawnSync('mount', ['-t', 'overlay', '-o', overlayData(layers, d.upper, d.work, false), 'overlay', d.merged], { encoding: 'utf8' });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit status ${r.status}`).trim().split('\n')[0];
    throw new ExecDriverError('ERR_START_FAILED', `container ${id}: mount the overlay rootfs on ${d.merged}: ${why}`, { containerId: id, step: 'overlay', path: d.merged });
  }
  return d.merged;
}

/** Lazily unmount a host overlay of a container that a crash left (a no-op when it is not mounted). */
export function unmountOverlayOnHost(stateDir: string): void {
  const merged = overlayDirs(stateDir).merged;
  if (existsSync(merged) && isMountPoint(merged)) spawnSync('umount', ['-l', merged], { stdio: 'ignore' });
}

/**
 * What a container's rootfs holds on the host, given back (settling, delete): the host mount (lxc)
 * is unmounted; with `remove`, the upper and work directories go (overlayfs leaves a 000
 * directory in the work directory that a rootless owner could not list: made 0700 first).
 */
export function releaseRootfs(stateDir: string, remove: boolean): void {
  unmountOverlayOnHost(stateDir);
  if (!remove) return;
  const d = overlayDirs(stateDir);
  const inner = join(d.work, 'work');
  try {
    if (existsSync(inner)) chmodSync(inner, 0o700);
  } catch {
    /* not ours to change: root removes it anyway */
  }
  rmSync(join(stateDir, ROOTFS_DIR), { recursive: true, force: true });
}

/**
 * What releaseRootfs(stateDir, true) does before the state directory goes, for a removal on the
 * thread pool: the caller's one recursive `rm` of the state directory then takes the layer with it.
 * Root removes overlayfs's 000 directory as it is (no chmod, one thread-pool round less).
 */
export async function releaseRootfsAsync(stateDir: string): Promise<void> {
  unmountOverlayOnHost(stateDir); // what a crashed `cp` left (a read of mountinfo when merged exists)
  if (process.getuid?.() === 0) return;
  await chmod(join(overlayDirs(stateDir).work, 'work'), 0o700).catch(() => {}); // absent, or not ours to change
}

/** The layer whose /etc/passwd the container sees: the highest that has one (else the lowest). */
export function userRootfs(layers: readonly string[]): string {
  for (let i = layers.length - 1; i >= 0; i--) if (existsSync(join(layers[i]!, 'etc/passwd'))) return layers[i]!;
  return layers[0]!;
}
