/**
 * Rootless: the native driver run by a non-root user. The container gets a user namespace whose
 * root is the caller's own uid and whose other ids are the caller's subordinate range (written by
 * the setuid `newuidmap`/`newgidmap`), no cgroups (nothing is delegated to the user), and no host
 * network set-up. Whatever needs root is refused up front, in one line.
 */
import { accessSync, constants as fsConstants, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { NormalizedCommand } from './command.js';
import type { Command } from './driver.js';
import { ExecDriverError, InvalidConfigError, StartError } from './errors.js';
import { parseSubIds, type IdMapping, type UsernsConfig } from './userns.js';

/** True when this process is not root: the native driver then runs rootless. */
export function isRootless(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() !== 0;
}

/**
 * The state root of a rootless caller: `$XDG_RUNTIME_DIR/execdriver`, else `/tmp/execdriver-<uid>`
 * (a directory of its own, mode 0700, checked when the driver creates it).
 */
export function rootlessRoot(env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? 0): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  return xdg && xdg.startsWith('/') ? join(xdg, 'execdriver') : `/tmp/execdriver-${uid}`;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** `0 → the caller's uid` and `1.. → its first subordinate range`, for uids and for gids. */
export function rootlessMappings(
  files = { subuid: '/etc/subuid', subgid: '/etc/subgid' },
  me = { name: userInfo().username, uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 },
  containerId?: string,
): UsernsConfig {
  const maps: IdMapping[][] = [];
  for (const [file, kind, own] of [[files.subuid, 'uid', me.uid], [files.subgid, 'gid', me.gid]] as const) {
    const range = parseSubIds(readOr(file), me.name, me.uid)[0];
    if (!range) {
      throw new InvalidConfigError(
        `rootless: user ${me.name} has no subordinate ${kind} range in ${file} (root can add one: usermod --add-sub${kind}s START-END ${me.name})`,
        { ...(containerId ? { containerId } : {}), path: file },
      );
    }
    maps.push([
      { containerID: 0, hostID: own, size: 1 },
      { containerID: 1, hostID: range[0], size: range[1] },
    ]);
  }
  return { uidMappings: maps[0]!, gidMappings: maps[1]! };
}

/**
 * The command as a rootless container gets it: no network asked → none (there is no bridge), and
 * its user namespace is the caller's own (checkRootless refuses other maps from the original).
 */
export function rootlessCommand(command: Command): Command {
  if (typeof command !== 'object' || command === null) return command; // normalizeCommand refuses it
  const { userns: _userns, uidMappings: _u, gidMappings: _g, ...rest } = command;
  return { ...rest, network: command.network ?? { mode: 'none' } };
}

/** What a rootless container cannot have: one line each, before anything is created. */
export function checkRootless(cmd: NormalizedCommand, asked: { userns: unknown; mappings: boolean }): void {
  const no = (what: string) => new InvalidConfigError(`rootless: ${what}`, { containerId: cmd.id });
  const mode = cmd.network.mode;
  if (mode === 'bridge') throw no('bridge networking needs root (use --net none, slirp4netns or host)');
  if (mode.startsWith('container:')) throw no('joining another container\'s network needs root');
  if (cmd.privileged) throw no('--privileged needs root (a rootless container has only the capabilities of its own user namespace)');
  if (asked.userns === 'host') throw no('--userns=host needs root (a rootless container always has a user namespace)');
  if (typeof asked.userns === 'object' || asked.mappings) throw no('the maps of a rootless container are the caller\'s own uid and its /etc/subuid range; other maps need root');
  const limits = Object.entries(cmd.resources).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (limits.length) {
    throw no(`cgroup limits (${limits.join(', ')}) cannot be enforced: a rootless container gets no cgroup (delegated cgroup v2 subtrees are not used yet); run as root for limits`);
  }
  if (cmd.mounts.some((m) => m.idmap)) throw no('idmapped volumes need root (the idmap needs CAP_SYS_ADMIN on the host)');
}

async function run(file: string, args: string[]): Promise<void> {
  const { execFile } = await import('node:child_process'); // not at the top: the command line's start does not load it
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 10_000, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }, (err, _out, stderr) => {
      if (!err) return resolve();
      reject(Object.assign(err, { stderr: String(stderr).trim() }));
    });
  });
}

/** The container's maps, written by newuidmap and newgidmap (setuid: they check /etc/subuid). */
export async function writeRootlessMaps(id: string, pid: number, userns: UsernsConfig): Promise<void> {
  for (const [tool, maps] of [['newuidmap', userns.uidMappings], ['newgidmap', userns.gidMappings]] as const) {
    const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
    try {
      await run(`/usr/bin/${tool}`, args);
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      const why = err.code === 'ENOENT' ? `/usr/bin/${tool} is not installed (Debian package uidmap)` : err.stderr || err.message;
      throw new StartError('ERR_START_FAILED', `rootless: ${tool} ${args.join(' ')} failed: ${why}`, { containerId: id, step: 'userns', cause: e });
    }
  }
}

/** Every process in the pid namespace of `init` (a rootless container has no cgroup to list them). */
export function pidsInNamespaceOf(init: number): number[] {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${init}/ns/pid`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === ns && Number(name) !== process.pid) out.push(Number(name));
    } catch {
      /* gone, or not ours */
    }
  }
  // the monitor is in the host's pid namespace; anything else of ours with that namespace is the container
  return out;
}

/** A cgroup stand-in for a rootless container: nothing to create, join or remove. */
export class NoCgroup {
  readonly paths: string[] = [];
  readonly oomCounterFile: string | undefined = undefined;
  constructor(private readonly init: () => number | undefined) {}
  async join(): Promise<void> {}
  async remove(): Promise<void> {}
  async pids(): Promise<number[]> {
    const pid = this.init();
    return pid ? pidsInNamespaceOf(pid) : [];
  }
  async killAll(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<number> {
    const pids = await this.pids();
    for (const p of pids) {
      try {
        process.kill(p, signal);
      } catch {
        /* gone */
      }
    }
    return pids.length;
  }
}

/** The state root of a rootless caller must be its own and private. */
export function checkOwnRoot(root: string, st: { uid: number; mode: number }): void {
  const uid = process.geteuid?.() ?? 0;
  if (st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new ExecDriverError('ERR_STATE', `rootless: the state root ${root} must belong to uid ${uid} with mode 0700`, { path: root });
  }
}

/** slirp4netns opens /dev/net/tun as the caller: it must be readable and writable by it. */
export function checkTun(containerId: string, path = '/dev/net/tun'): void {
  try {
    accessSync(path, fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    let mode = '';
    try {
      mode = ` (it is mode 0${(statSync(path).mode & 0o777).toString(8)} here; Debian's udev makes it 0666)`;
    } catch {
      mode = ' (it does not exist)';
    }
    throw new InvalidConfigError(`rootless: --net slirp4netns needs ${path} readable and writable by uid ${process.geteuid?.()}${mode}`, {
      containerId, path,
    });
  }
}

/** A rootless caller's state root: created 0700 on first use, and it must be the caller's own. */
export function ownRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  checkOwnRoot(root, statSync(root));
}
