import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { validateId } from '../id.js';
import { InvalidConfigError, NotFoundError } from '../errors.js';
import { driverFor, knownDrivers } from './drivers.js';
import type { Verb } from './args.js';

/** `ID:/path` → [id, path]; a host path → undefined. */
function containerSide(arg: string): [string, string] | undefined {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(.*)$/s.exec(arg);
  if (!m || arg.startsWith('/') || arg.startsWith('.')) return undefined;
  return [validateId(m[1]!), m[2]!.startsWith('/') ? m[2]! : `/${m[2]!}`];
}

interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** A container's files: where they are, its id maps, and what to undo after the copy. */
interface ContainerRoot {
  root: string;
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  running: boolean;
  release: () => void;
}

/**
 * Where a container's files are: a running container's own root (/proc/PID/root, its volumes and
 * tmpfs included); a stopped one's rootfs: its overlay (its layers and its own upper directory)
 * mounted for the copy on `<state>/rootfs/merged`, or the directory itself (`--rootfs-mode
 * direct`). The path inside is resolved by the C init, never here.
 */
async function rootOf(root: string, id: string): Promise<ContainerRoot> {
  const driver = knownDrivers().find((d) => existsSync(join(root, d, id)));
  if (!driver) throw new NotFoundError(id, root);
  const stateDir = join(root, driver, id);
  const info = (await driverFor(driver, root)).inspect(id);
  type Spec = import('../spec/types.js').Spec;
  let spec: Spec;
  try {
    spec = JSON.parse(readFileSync(join(stateDir, 'config.json'), 'utf8')) as Spec;
  } catch {
    throw new InvalidConfigError(`cp: container ${id} records no root filesystem (no config.json)`);
  }
  const maps = { uidMappings: (spec.linux?.uidMappings ?? []) as IdMapping[], gidMappings: (spec.linux?.gidMappings ?? []) as IdMapping[] };
  if (info.running && info.pid) return { root: `/proc/${info.pid}/root`, ...maps, running: true, release: () => {} };
  if (!spec.root?.path) throw new InvalidConfigError(`cp: container ${id} records no root filesystem`);
  const { rootfsLayersOf } = await import('../spec/from-command.js');
  const layers = rootfsLayersOf(spec);
  const { overlayDirs, overlayData } = await import('../rootfs/overlay.js');
  const d = overlayDirs(stateDir);
  if (!layers || !existsSync(d.upper)) {
    if (!existsSync(spec.root.path)) throw new InvalidConfigError(`cp: the rootfs of container ${id} (${spec.root.path}) is gone`);
    return { root: spec.root.path, ...maps, running: false, release: () => {} };
  }
  const { mkdirSync, rmdirSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const made = !existsSync(d.merged);
  mkdirSync(d.merged, { recursive: true, mode: 0o755 });
  const r = spawnSync('mount', ['-t', 'overlay', '-o', overlayData(layers, d.upper, d.work, maps.uidMappings.length > 0), 'overlay', d.merged], { encoding: 'utf8' });
  if (r.status !== 0) throw new InvalidConfigError(`cp: mount the overlay rootfs of stopped container ${id}: ${(r.stderr || `exit ${r.status}`).trim().split('\n')[0]}`);
  return {
    root: d.merged,
    ...maps,
    running: false,
    release: () => {
      spawnSync('umount', [d.merged]);
      try {
        if (made) rmdirSync(d.merged);
      } catch {
        /* still mounted (busy): the container's removal unmounts it */
      }
    },
  };
}

/** `FROM:TO:COUNT,…` for the C init: container → host ids (or back, `inverse`). */
const idMap = (m: IdMapping[], inverse = false) => m.map((e) => (inverse ? `${e.hostID}:${e.containerID}:${e.size}` : `${e.containerID}:${e.hostID}:${e.size}`)).join(',');
const hostIdOf = (m: IdMapping[], id: number) => {
  if (!m.length) return id;
  const e = m.find((x) => id >= x.containerID && id < x.containerID + x.size);
  return e ? e.hostID + (id - e.containerID) : 65534;
};

type Kind = 'dir' | 'file' | 'link' | 'other' | 'missing';

export const cpVerb: Verb = {
  name: 'cp',
  summary: 'copy files or directories between the host and a container (ID:/path)',
  usage: `execdriver cp [-a] [-L] SRC DST

One side is ID:/PATH, the other a host path. Docker's rules: a file goes to DST, or into DST when
it is a directory; a directory is copied as DST when DST does not exist, into DST (under its own
name) when it does, and only its contents when SRC ends with /. ; DST ending with / must be an
existing directory. Symbolic links are copied as links, never followed (-L: a host SRC's own
link is). A path in the container is resolved inside its root as the container sees it: its
links never lead to a host file. A running container's files are its own (volumes and tmpfs
included); a stopped one's are its rootfs (its copy-on-write layer included).
Modes and times are kept; the copies belong to the container's root (into it) or to you (out
of it); -a keeps the owners (in the container's ids). '-' as SRC or DST: one regular file's
bytes on stdin or stdout (not Docker's tar archive).
  -a, --archive       keep the owners (uid, gid)
  -L, --follow-link   copy what a host SRC's symbolic link points to
  -q, --quiet         (accepted: nothing is printed anyway)`,
  options: { archive: { type: 'boolean', short: 'a' }, 'follow-link': { type: 'boolean', short: 'L' }, quiet: { type: 'boolean', short: 'q' } },
  async run(ctx, values, args) {
    if (args.length !== 2) throw new InvalidConfigError('cp: expected SRC DST (one of them ID:/PATH)');
    const [src, dst] = args as [string, string];
    const from = containerSide(src);
    const to = containerSide(dst);
    if (!!from === !!to) throw new InvalidConfigError('cp: exactly one of SRC and DST is a container path (ID:/PATH)');
    const { INIT_BINARY } = await import('../init/monitor.js');
    const run = (argv: string[], stdin: NodeJS.ReadableStream | 'ignore', stdout: NodeJS.WritableStream | 'ignore' | 'capture') =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(INIT_BINARY, argv, { stdio: [stdin === 'ignore' ? 'ignore' : 'pipe', stdout === 'ignore' ? 'ignore' : 'pipe', 'pipe'] });
        let err = '';
        let out = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        if (stdin !== 'ignore') stdin.pipe(child.stdin!);
        if (stdout === 'capture') child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        else if (stdout !== 'ignore') child.stdout!.pipe(stdout, { end: stdout !== process.stdout });
        child.on('error', reject);
        child.on('close', (code) => {
          if (code === 0) return resolve(out);
          reject(new InvalidConfigError(`cp: ${err.trim().split('\n')[0]!.replace(/^execdriver-init: /, '') || `failed (exit ${code})`}`));
        });
      });
    const c = await rootOf(ctx.root, (from ?? to)![0]);
    try {
      // '-': one file's bytes (as before)
      if (from && dst === '-') return await run(['copy-out', c.root, from[1]], 'ignore', process.stdout).then(() => 0);
      if (to && src === '-') {
        await run(['copy-in', c.root, to[1], 'stdin', '644'], process.stdin, 'ignore');
        return 0;
      }
      const follow = !!values['follow-link'];
      // both sides as (root, path): the host's root is /, its paths absolute
      const hostPath = (p: string) => {
        const abs = resolve(p);
        return p.endsWith('/.') ? `${abs}/.` : p.endsWith('/') && abs !== '/' ? `${abs}/` : abs;
      };
      const trim = (p: string) => p.replace(/\/\.$/, '').replace(/(.)\/+$/, '$1');
      const hostSrc = (p: string) => (follow ? realpathOr(trim(p)) + (p.endsWith('/.') ? '/.' : p.endsWith('/') ? '/' : '') : p);
      const s = from ? { root: c.root, path: from[1] } : { root: '/', path: hostSrc(hostPath(src)) };
      const d = to ? { root: c.root, path: to[1] } : { root: '/', path: hostPath(dst) };
      const kindOf = async (side: { root: string; path: string }, followLast: boolean, isContainer: boolean): Promise<Kind> => {
        if (isContainer) return (await run(['copy-stat', side.root, side.path, followLast ? '1' : '0'], 'ignore', 'capture')).trim() as Kind;
        try {
          const st = followLast ? statSync(side.path) : lstatSync(side.path);
          return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(dirname(side.path))) return 'missing';
          throw new InvalidConfigError(`cp: ${side.path}: ${(e as Error).message.replace(/^[A-Z]+: /, '').split(',')[0]}`);
        }
      };
      const sk = await kindOf({ root: s.root, path: trim(s.path) }, follow && !from, !!from);
      if (sk === 'missing') throw new InvalidConfigError(`cp: ${src}: no such file or directory`);
      const dk = await kindOf({ root: d.root, path: trim(d.path) }, true, !!to);
      const sName = basename(trim(s.path));
      let ddir: string;
      let name: string;
      if (sk !== 'dir') {
        if (/\/\.?$/.test(s.path)) throw new InvalidConfigError(`cp: ${src}: not a directory`);
        if (dk === 'dir') [ddir, name] = [trim(d.path), sName];
        else if (dk === 'missing' && d.path.endsWith('/')) throw new InvalidConfigError(`cp: the destination directory ${dst} must exist`);
        else [ddir, name] = [dirname(trim(d.path)), basename(trim(d.path))];
      } else if (dk === 'missing') {
        [ddir, name] = [dirname(trim(d.path)), basename(trim(d.path))];
      } else if (dk !== 'dir') {
        throw new InvalidConfigError(`cp: cannot copy a directory (${src}) to a file (${dst})`);
      } else {
        [ddir, name] = [trim(d.path), s.path.endsWith('/.') || sName === '/' ? '' : sName];
      }
      if (name === '/' || name === '.') name = '';
      // the owners: into the container its root's (-a: the source's, as container ids); out of it ours (-a: its ids)
      const archive = !!values['archive'];
      const [um, gm] = to
        ? archive ? [idMap(c.uidMappings), idMap(c.gidMappings)] : [`*:${hostIdOf(c.uidMappings, 0)}`, `*:${hostIdOf(c.gidMappings, 0)}`]
        : archive ? [idMap(c.uidMappings, true), idMap(c.gidMappings, true)] : [`*:${process.getuid?.() ?? 0}`, `*:${process.getgid?.() ?? 0}`];
      // into a running container in a user namespace: created as its root (its mounts take only its ids)
      const as = to && c.running && c.uidMappings.length ? `${hostIdOf(c.uidMappings, 0)}:${hostIdOf(c.gidMappings, 0)}` : '';
      await run(['copy-tree', s.root, trim(s.path), d.root, ddir, name, um, gm, as], 'ignore', 'ignore');
      return 0;
    } finally {
      c.release();
    }
  },
};

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
