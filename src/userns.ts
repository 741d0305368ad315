import { readFileSync } from 'node:fs';
import { InvalidConfigError } from './errors.js';

/** One line of a uid_map or gid_map (the OCI runtime spec's LinuxIDMapping). */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** The user namespace a container asks for (`--userns`). */
export type UsernsOption = 'host' | 'remap' | { mode: 'remap'; user?: string };

/** A container's user namespace, resolved: its maps, and where they came from. */
export interface UsernsConfig {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** the user whose /etc/subuid and /etc/subgid ranges were used (remap), if any */
  user?: string;
}

/** The user whose subordinate ranges `--userns=remap` uses by default (Docker's is `dockremap`). */
export const DEFAULT_REMAP_USER = 'execdriver';

const MAX_ID = 0xffffffff;

/** The ranges of `name` (or of its uid) in /etc/subuid or /etc/subgid text: [start, count]. */
export function parseSubIds(text: string, name: string, uid?: number): [number, number][] {
  const out: [number, number][] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length !== 3 || line.startsWith('#')) continue;
    if (f[0] !== name && (uid === undefined || f[0] !== String(uid))) continue;
    const start = Number(f[1]);
    const count = Number(f[2]);
    if (Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count > 0 && start + count <= MAX_ID) out.push([start, count]);
  }
  return out;
}

/** The first id after every range of the given /etc/subuid and /etc/subgid texts (at least 100000). */
export function freeSubIdStart(...texts: string[]): number {
  let end = 100000;
  for (const line of texts.join('\n').split('\n')) {
    const f = line.trim().split(':');
    if (f.length === 3 && Number(f[1]) + Number(f[2]) > end) end = Number(f[1]) + Number(f[2]);
  }
  return end;
}

/** The command that gives `user` the ranges `--userns=remap` needs (named in the error). */
export function remapSetupCommand(user: string, start = 100000): string {
  const range = `${start}-${start + 65535}`;
  return (
    `useradd --system --no-create-home --shell /usr/sbin/nologin ${user} && ` +
    `usermod --add-subuids ${range} --add-subgids ${range} ${user}`
  );
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The uid of `name` in the host's /etc/passwd, if any. */
function hostUid(name: string): number | undefined {
  for (const line of readOr('/etc/passwd').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3) return Number(f[2]);
  }
  return undefined;
}

/**
 * `--userns=remap[:USER]`: container ids 0..N-1 on the first subordinate range of USER (default
 * `execdriver`) in /etc/subuid and /etc/subgid. No range is an error naming the command that makes one.
 */
export function remapMappings(user: string, files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }, containerId?: string): UsernsConfig {
  const uid = hostUid(user);
  const ctx = containerId ? { containerId } : {};
  const maps: IdMapping[][] = [];
  for (const [file, kind] of [[files.subuid, 'uid'], [files.subgid, 'gid']] as const) {
    const range = parseSubIds(readOr(file), user, uid)[0];
    if (!range) {
      throw new InvalidConfigError(
        `--userns=remap: user "${user}" has no subordinate ${kind} range in ${file}; create one with: ${remapSetupCommand(user, freeSubIdStart(readOr(files.subuid), readOr(files.subgid)))}`,
        { ...ctx, path: file },
      );
    }
    maps.push([{ containerID: 0, hostID: range[0], size: range[1] }]);
  }
  return { uidMappings: maps[0]!, gidMappings: maps[1]!, user };
}

/** Check OCI-style mappings: integers, sizes > 0, at most 340 lines, no overlap on either side. */
export function validateMappings(maps: unknown, what: string, containerId?: string): IdMapping[] {
  const ctx = containerId ? { containerId } : {};
  if (!Array.isArray(maps) || maps.length === 0 || maps.length > 340) {
    throw new InvalidConfigError(`${what} must be a list of 1 to 340 {containerID, hostID, size}`, ctx);
  }
  const out = maps.map((m: Partial<IdMapping>) => {
    const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_ID;
    if (typeof m !== 'object' || m === null || !ok(m.containerID) || !ok(m.hostID) || !ok(m.size) || m.size! < 1 ||
        m.containerID! + m.size! > MAX_ID || m.hostID! + m.size! > MAX_ID) {
      throw new InvalidConfigError(`${what}: invalid mapping ${JSON.stringify(m)} (integers containerID, hostID, size ≥ 1, within 32 bits)`, ctx);
    }
    return { containerID: m.containerID!, hostID: m.hostID!, size: m.size! };
  });
  for (const key of ['containerID', 'hostID'] as const) {
    const sorted = [...out].sort((a, b) => a[key] - b[key]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i - 1]![key] + sorted[i - 1]!.size > sorted[i]![key]) {
        throw new InvalidConfigError(`${what}: the ranges overlap on the ${key === 'hostID' ? 'host' : 'container'} side`, ctx);
      }
    }
  }
  return out;
}

/** The user namespace of a command: undefined for the host's. */
export function resolveUserns(
  opt: unknown,
  uidMappings: unknown,
  gidMappings: unknown,
  containerId?: string,
): UsernsConfig | undefined {
  const ctx = containerId ? { containerId } : {};
  if (uidMappings !== undefined || gidMappings !== undefined) {
    if (opt !== undefined && opt !== 'remap' && !(typeof opt === 'object' && opt !== null)) {
      throw new InvalidConfigError(`uidMappings/gidMappings cannot be combined with userns ${JSON.stringify(opt)}`, ctx);
    }
    if (opt !== undefined && typeof opt === 'object') {
      throw new InvalidConfigError('give either userns remap with a user or uidMappings/gidMappings, not both', ctx);
    }
    return {
      uidMappings: validateMappings(uidMappings, 'uidMappings', containerId),
      gidMappings: validateMappings(gidMappings, 'gidMappings', containerId),
    };
  }
  if (opt === undefined || opt === 'host') return undefined;
  if (opt === 'remap') return remapMappings(DEFAULT_REMAP_USER, undefined, containerId);
  if (typeof opt === 'object' && opt !== null && (opt as { mode?: unknown }).mode === 'remap') {
    const user = (opt as { user?: unknown }).user ?? DEFAULT_REMAP_USER;
    if (typeof user !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(user)) {
      throw new InvalidConfigError(`invalid --userns remap user ${JSON.stringify(user)}`, ctx);
    }
    return remapMappings(user, undefined, containerId);
  }
  throw new InvalidConfigError(`invalid userns ${JSON.stringify(opt)} (host, remap, remap:USER)`, ctx);
}

/** The host id that container id `id` maps to, or undefined when it is not mapped. */
export function hostIdOf(maps: IdMapping[], id: number): number | undefined {
  for (const m of maps) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

/** The text of a uid_map / gid_map file (written in one write). */
export function mapText(maps: IdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/** `--userns VALUE` on the command line. */
export function parseUsernsFlag(v: string): UsernsOption {
  if (v === 'host' || v === 'remap') return v;
  if (v.startsWith('remap:') && v.length > 6) return { mode: 'remap', user: v.slice(6) };
  throw new InvalidConfigError(`invalid --userns ${JSON.stringify(v)} (host, remap, remap:USER)`);
}

/** The container's user must be mapped in its user namespace. */
export function checkMappable(userns: UsernsConfig, user: { uid: number; gid: number }, containerId: string): void {
  if (hostIdOf(userns.uidMappings, user.uid) === undefined || hostIdOf(userns.gidMappings, user.gid) === undefined) {
    throw new InvalidConfigError(`user ${user.uid}:${user.gid} is not mapped in the container's user namespace`, { containerId });
  }
}
