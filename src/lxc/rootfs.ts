/**
 * Looking at the container's rootfs from the host, with the container's view of paths:
 * symlinks are followed inside the rootfs (an absolute link starts again at the rootfs), never
 * out of it. Used before start to find the command (127/126 before LXC runs anything) and to
 * create mount targets on a read-only rootfs.
 */
import { closeSync, constants as fsConstants, lstatSync, mkdirSync, openSync, readlinkSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

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

/**
 * Make sure a mount target exists in the rootfs (a directory, or an empty file), creating the
 * missing parts through the rootfs's own links. Used for a read-only rootfs, where LXC cannot
 * create them (`create=dir` fails with EROFS once the root is mounted read-only).
 */
export function ensureTarget(rootfs: string, containerPath: string, kind: 'dir' | 'file'): void {
  const parts = posix.normalize('/' + containerPath).split('/').filter(Boolean);
  let current = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = posix.join(current, parts[i]!);
    const r = resolveInRootfs(rootfs, next);
    const last = i === parts.length - 1;
    if (r.kind === 'found') {
      current = next;
      continue;
    }
    if (r.kind === 'unknown') throw new Error(`cannot resolve ${next} in ${rootfs}`);
    // missing: create it where its parent resolves to
    const parent = resolveInRootfs(rootfs, current);
    if (parent.kind !== 'found') throw new Error(`cannot resolve ${current} in ${rootfs}`);
    const host = join(parent.hostPath, parts[i]!);
    // O_EXCL: never through a (dangling) link, never onto something that appeared meanwhile
    if (last && kind === 'file') closeSync(openSync(host, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644));
    else mkdirSync(host, { mode: 0o755 });
    current = next;
  }
}
