/**
 * Looking at the container's rootfs from the host, with the container's view of paths:
 * symlinks are followed inside the rootfs (an absolute link starts again at the rootfs), never
 * out of it. Used before start to find the command (127/126 before LXC runs anything) and to
 * create mount targets (through the C init's resolver).
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { INIT_BINARY } from '../init/monitor.js';

const MAX_LINKS = 40;

export type Lookup =
  | { kind: 'found'; hostPath: string; containerPath: string }
  | { kind: 'missing'; containerPath: string }
  /** a path the host cannot judge (under a volume, an odd link): let the container decide */
  | { kind: 'unknown'; containerPath: string };

/**
 * The host path of `containerPath` in `rootfs`, following links within the rootfs.
 * `missing` when a component does not exist.
 */
export function resolveInRootfs(rootfs: string, containerPath: string): Lookup {
  const parts = posix.normalize('/' + containerPath).split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(rootfs, ...done, part);
    let st;
    try {
      st = lstatSync(host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing', containerPath };
      return { kind: 'unknown', containerPath };
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return { kind: 'unknown', containerPath };
      const to = readlinkSync(host);
      const rest = to.split('/').filter(Boolean);
      if (to.startsWith('/')) done.length = 0;
      parts.unshift(...rest);
      continue;
    }
    if (parts.length && !st.isDirectory()) return { kind: 'missing', containerPath };
    done.push(part);
  }
  return { kind: 'found', hostPath: join(rootfs, ...done), containerPath };
}

export type ExecLookup =
  | { kind: 'ok'; path: string }
  | { kind: 'not-found'; path: string }
  | { kind: 'not-executable'; path: string }
  | { kind: 'unknown'; path: string };

function underMount(p: string, mounts: readonly { destination: string }[]): boolean {
  return mounts.some((m) => p === m.destination || p.startsWith(m.destination.replace(/\/$/, '') + '/'));
}

function judge(rootfs: string, containerPath: string, mounts: readonly { destination: string }[]): ExecLookup {
  if (underMount(containerPath, mounts)) return { kind: 'unknown', path: containerPath };
  const r = resolveInRootfs(rootfs, containerPath);
  if (r.kind === 'missing') return { kind: 'not-found', path: containerPath };
  if (r.kind === 'unknown') return { kind: 'unknown', path: containerPath };
  let st;
  try {
    st = statSync(r.hostPath);
  } catch {
    return { kind: 'unknown', path: containerPath };
  }
  if (st.isDirectory() || !st.isFile() || (st.mode & 0o111) === 0) return { kind: 'not-executable', path: containerPath };
  return { kind: 'ok', path: containerPath };
}

/**
 * Find the command as execvp(3) would in the container: a name with a slash is taken as it is
 * (relative to the working directory), a bare name is searched on PATH. A PATH entry that has
 * the name but cannot execute it is remembered (EACCES) while the search goes on.
 */
export function findExecutable(
  rootfs: string,
  entrypoint: string,
  path: string,
  workingDir: string,
  mounts: readonly { destination: string }[] = [],
): ExecLookup {
  if (entrypoint.includes('/')) {
    const p = entrypoint.startsWith('/') ? entrypoint : posix.join(workingDir || '/', entrypoint);
    return judge(rootfs, posix.normalize(p), mounts);
  }
  let denied: ExecLookup | undefined;
  let unknown: ExecLookup | undefined;
  for (const dir of path.split(':')) {
    const p = posix.join(dir.startsWith('/') ? dir : posix.join(workingDir || '/', dir || '.'), entrypoint);
    const r = judge(rootfs, p, mounts);
    if (r.kind === 'ok') return r;
    if (r.kind === 'not-executable') denied ??= r;
    if (r.kind === 'unknown') unknown ??= r;
  }
  return unknown ?? denied ?? { kind: 'not-found', path: entrypoint };
}

/** Thrown by makeMountTargets: the destination and one line saying why. */
export class MountTargetError extends Error {
  constructor(
    readonly destination: string,
    message: string,
  ) {
    super(message);
  }
}

function mkpath(root: string, items: readonly { kind: 'dir' | 'file'; path: string; destination: string }[]): string[] {
  try {
    const out = execFileSync(INIT_BINARY, ['mkpath', root, ...items.map((i) => `${i.kind}:${i.path}`)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
    return out.split('\n').slice(0, items.length);
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    const line = (err.stderr ?? '').trim().split('\n').pop() || err.message;
    const done = (err.stdout ?? '').split('\n').filter(Boolean).length;
    const what = items[Math.min(done, items.length - 1)]!;
    throw new MountTargetError(what.destination, line.replace(/^execdriver-init: mkpath: /, ''));
  }
}

/**
 * Create the targets of `mounts` (in order) inside the rootfs, and say where each one is: its
 * path in the container with every symlink resolved as the container sees it. Done by the C init
 * (`execdriver-init mkpath`, openat2 with RESOLVE_IN_ROOT: a link never leads out of the rootfs,
 * a dangling one is not followed to create), so that LXC is handed existing, resolved targets and
 * creates nothing itself (LXC's `create=` follows the rootfs's links onto the host). A mount under
 * an earlier directory mount's destination has its target made in that mount's source, where it
 * will be once mounted. Throws MountTargetError for the first that fails.
 */
export function makeMountTargets(rootfs: string, mounts: readonly { source: string; destination: string; kind: 'dir' | 'file' }[]): string[] {
  const dests = mounts.map((m) => posix.normalize('/' + m.destination).replace(/(.)\/$/, '$1'));
  const parentOf = dests.map((d, i) => {
    for (let j = i - 1; j >= 0; j--) {
      const p = dests[j]!;
      if (mounts[j]!.kind === 'dir' && p !== d && d.startsWith(p === '/' ? '/' : p + '/')) return j;
    }
    return -1;
  });
  const targets: string[] = new Array<string>(mounts.length);
  const top = mounts.map((m, i) => ({ i, kind: m.kind, path: dests[i]!, destination: m.destination })).filter((x) => parentOf[x.i] === -1);
  if (top.length) mkpath(rootfs, top).forEach((t, k) => (targets[top[k]!.i] = t));
  mounts.forEach((m, i) => {
    const j = parentOf[i]!;
    if (j < 0) return;
    const within = dests[i]!.slice(dests[j]! === '/' ? 0 : dests[j]!.length);
    const [t] = mkpath(mounts[j]!.source, [{ kind: m.kind, path: within, destination: m.destination }]);
    targets[i] = posix.join(targets[j]!, t!);
  });
  return targets;
}
