import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from '../fs-async.js';
import { releaseRootfs, releaseRootfsAsync } from '../rootfs/overlay.js';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { DEFAULT_ROOT } from '../driver.js';
import { ContainerExistsError, ExecDriverError, NotFoundError, NotRunningError, systemError } from '../errors.js';

/**
 * What tells the kernel objects (cgroups) of one state root's containers from another's with the
 * same id: '' for the default root (`/run/execdriver`), else `@` and 8 hex digits of the sha256
 * of the root's absolute path. Ids cannot hold `@`, so `<id><tag>` never is another id's name.
 * The tag is kept in the root's `root-tag` file (the path, a newline, the tag), so a command
 * line that finds it there does not load `node:crypto` (~7 ms of its start) to hash the path again.
 */
export function rootTag(root: string): string {
  const abs = resolve(root);
  if (abs === DEFAULT_ROOT) return '';
  let tag = tags.get(abs);
  if (tag) return tag;
  const file = join(abs, ROOT_TAG_FILE);
  try {
    const [path, kept] = readFileSync(file, 'utf8').split('\n');
    if (path === abs && kept && /^@[0-9a-f]{8}$/.test(kept)) tag = kept;
  } catch {
    /* not kept yet */
  }
  if (!tag) {
    tag = `@${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`;
    try {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${abs}\n${tag}\n`, { mode: 0o644 });
      renameSync(tmp, file);
    } catch {
      /* a root not made yet, or read-only: computed again next time */
    }
  }
  tags.set(abs, tag);
  return tag;
}
const tags = new Map<string, string>();
/** The file in a state root that keeps its tag (rootTag). */
export const ROOT_TAG_FILE = 'root-tag';

/**
 * The state directory of one container: `<root>/<driver>/<id>/`.
 * Files are written whole (tmp + rename) so a reader never sees half a file.
 */
export class StateDir {
  readonly dir: string;
  constructor(
    readonly root: string,
    readonly driver: string,
    readonly id: string,
  ) {
    this.dir = join(root, driver, id);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Create the directory; a directory that exists already means the id is taken. */
  create(): void {
    try {
      mkdirSync(join(this.root, this.driver), { recursive: true, mode: 0o711 });
    } catch (e) {
      throw systemError('ERR_STATE', `create state root ${join(this.root, this.driver)}`, e, { containerId: this.id });
    }
    try {
      mkdirSync(this.dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ContainerExistsError(this.id, this.dir);
      throw systemError('ERR_STATE', `create state directory ${this.dir}`, e, { containerId: this.id, path: this.dir });
    }
  }

  exists(): boolean {
    try {
      readdirSync(this.dir);
      return true;
    } catch {
      return false;
    }
  }

  writeJson(name: string, value: unknown): void {
    this.writeText(name, JSON.stringify(value, null, 2) + '\n');
  }

  writeText(name: string, text: string): void {
    const target = this.path(name);
    const tmp = `${target}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, text, { mode: 0o600 });
      renameSync(tmp, target);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw systemError('ERR_STATE', `write ${target}`, e, { containerId: this.id, path: target });
    }
  }

  /** writeText on the thread pool (tmp + rename as well). */
  async writeTextAsync(name: string, text: string): Promise<void> {
    const target = this.path(name);
    const tmp = `${target}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw systemError('ERR_STATE', `write ${target}`, e, { containerId: this.id, path: target });
    }
  }

  /** Read a JSON file; undefined if it does not exist. */
  readJson<T>(name: string): T | undefined {
    const file = this.path(name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw systemError('ERR_STATE', `read ${file}`, e, { containerId: this.id, path: file });
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new ExecDriverError('ERR_STATE', `${file} is not valid JSON: ${(e as Error).message}`, {
        containerId: this.id,
        path: file,
        cause: e,
      });
    }
  }

  /** Like readJson, but a missing file means there is no such container. */
  requireJson<T>(name: string): T {
    const v = this.readJson<T>(name);
    if (v === undefined) throw new NotFoundError(this.id, this.dir);
    return v;
  }

  remove(): void {
    releaseRootfs(this.dir, true); // the copy-on-write layer, and a host mount (lxc) a crash left
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * remove(), its unlinks and rmdirs on libuv's thread pool instead of Node's main thread (the
   * run's end: under 8 runs at a time the synchronous removal was a fifth of the main thread's time).
   */
  async removeAsync(): Promise<void> {
    await releaseRootfsAsync(this.dir); // then the copy-on-write layer goes with the directory
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * The run's end, without waiting for the unlinks (~10 journal operations on a disk-backed
   * `/run`, ~2 ms): the directory is renamed to `<root>/.retired/<driver>.<id>.<pid>.<n>` (one
   * operation: the id is free at once and nothing of it is left under `<driver>/`) and removed
   * on the thread pool afterwards. What is still there when this process exits is removed then
   * (synchronously, even on process.exit()); a process killed before that leaves it to the next
   * settleAll of any process (sweepRetired). A rename that fails falls back to removeAsync.
   */
  async retire(): Promise<void> {
    await releaseRootfsAsync(this.dir); // as removeAsync: a host mount a crashed `cp` left, rootless chmod
    const bin = join(this.root, RETIRED_DIR);
    const dest = join(bin, `${this.driver}.${this.id}.${process.pid}.${retiredCount++}`);
    try {
      try {
        renameSync(this.dir, dest);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync(this.dir)) throw e;
        mkdirSync(bin, { mode: 0o700 }); // its first use under this root
        renameSync(this.dir, dest);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(this.dir)) return; // removed meanwhile
      return this.removeAsync();
    }
    retiring.add(dest);
    if (retiring.size === 1 && !exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const d of retiring) rmSync(d, { recursive: true, force: true, maxRetries: 2 });
      });
    }
    void rm(dest, { recursive: true, force: true, maxRetries: 2 })
      .catch(() => {})
      .finally(() => retiring.delete(dest));
  }
}

/** `<root>/.retired/`: state directories renamed away at a run's end, being removed (StateDir.retire). */
export const RETIRED_DIR = '.retired';
let retiredCount = 0;
let exitHook = false;
const retiring = new Set<string>();

/**
 * Remove what a process killed before it had removed its retired state directories left in
 * `<root>/.retired/` (`<driver>.<id>.<pid>.<n>`, the pid no longer alive). One readdir when
 * there is nothing to do.
 */
export function sweepRetired(root: string): void {
  const bin = join(root, RETIRED_DIR);
  let names: string[];
  try {
    names = readdirSync(bin);
  } catch {
    return;
  }
  for (const name of names) {
    const parts = name.split('.');
    const pid = Number(parts[parts.length - 2]);
    if (retiring.has(join(bin, name)) || (Number.isInteger(pid) && pid > 0 && isSameProcessAlive(pid, undefined))) continue;
    try {
      rmSync(join(bin, name), { recursive: true, force: true });
    } catch {
      /* another process sweeps it too */
    }
  }
}

/** The ids of the containers that have a state directory under `<root>/<driver>`. */
export function listIds(root: string, driver: string): string[] {
  try {
    return readdirSync(join(root, driver), { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.')) // `.<id>.<pid>.new`: a creation not yet in place
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/**
 * The start time of a process (field 22 of /proc/<pid>/stat, clock ticks since boot), or
 * undefined if there is no such process. Together with the pid it names one process for good.
 */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseStatStartTime(stat);
}

/** Parse field 22 of a /proc/<pid>/stat line (the command name may hold spaces and parentheses). */
export function parseStatStartTime(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  // fields after the name start at field 3 (state)
  const rest = stat.slice(close + 2).split(' ');
  const v = Number(rest[22 - 3]);
  return Number.isFinite(v) ? v : undefined;
}

/** The state letter (field 3) of /proc/<pid>/stat: R, S, D, Z, T … */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** The process `pid` is alive (not a zombie) and is the one that started at `startTime`. */
export function isSameProcessAlive(pid: number | undefined, startTime: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  const st = processStartTime(pid);
  if (st === undefined || (startTime !== undefined && st !== startTime)) return false;
  return processState(pid) !== 'Z';
}

/**
 * Whether `<driver>/<id>` still holds what it was given (an address …): its state directory
 * exists, it has not exited, and (once started) its monitor or its init is alive. A container
 * still being created counts as alive.
 */
export function ownerAlive(root: string, owner: string): boolean {
  const [driver, id, extra] = owner.split('/');
  if (!driver || !id || extra !== undefined) return false;
  const dir = new StateDir(root, driver, id);
  if (!dir.exists()) return false;
  if (existsSync(dir.path('exit.json'))) return false;
  let rec:
    | { pid?: number; startTime?: number; monitorPid?: number; monitorStartTime?: number; status?: string; detached?: boolean; owner?: { pid: number; startTime: number } }
    | undefined;
  try {
    rec = dir.readJson(STATE_FILE);
  } catch {
    return true;
  }
  if (!rec) return true;
  // still being created, or run in the foreground: held by the Node process that makes or waits for it
  if (rec.owner && (rec.status === 'creating' || rec.status === 'created')) return isSameProcessAlive(rec.owner.pid, rec.owner.startTime);
  if (rec.owner && rec.detached === false && !isSameProcessAlive(rec.owner.pid, rec.owner.startTime)) return false;
  return isSameProcessAlive(rec.pid, rec.startTime) || isSameProcessAlive(rec.monitorPid, rec.monitorStartTime);
}

/** The record of a started container, in every driver's state directory. */
export const STATE_FILE = 'state.json';

/** What every driver's state.json holds about the container's init. */
export interface InitRecord {
  pid: number;
  startTime: number;
}

/**
 * The record of a running container: NotFoundError without a state directory, NotRunningError
 * before the container has a pid or once that process (pid + start time) is gone.
 */
export function runningRecord<T extends InitRecord>(state: StateDir): T {
  const rec = state.readJson<T>(STATE_FILE);
  if (!rec) {
    if (!state.exists()) throw new NotFoundError(state.id, state.dir);
    throw new NotRunningError(state.id, 'is not running (not started yet)');
  }
  if (!rec.pid || !isSameProcessAlive(rec.pid, rec.startTime)) throw new NotRunningError(state.id);
  return rec;
}

/** Signal a container's init (NotRunningError if it is gone), or with `pids` every one of them. */
export function signalContainer(id: string, signal: NodeJS.Signals | number, init: number, pids?: number[]): void {
  if (pids) {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    }
    return;
  }
  try {
    process.kill(init, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') throw new NotRunningError(id);
    throw e;
  }
}
