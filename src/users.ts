import { readFileSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { InvalidConfigError } from './errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** supplementary groups */
  groups: number[];
  /** the home directory from passwd, if any */
  home?: string;
  name?: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

/** Parse /etc/passwd text. Malformed lines are skipped, as libc does. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5]! });
  }
  return out;
}

/** Parse /etc/group text. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, gid, members: f[3]! ? f[3]!.split(',').filter(Boolean) : [] });
  }
  return out;
}

const isId = (s: string) => /^\d+$/.test(s) && Number(s) <= 0xfffffffe;

/**
 * Resolve `user`, `uid`, `user:group`, `uid:gid` against the container's own /etc/passwd and
 * /etc/group (given as text), with a numeric fallback. An unknown name is an error.
 */
export function resolveUserFrom(spec: string | undefined, passwd: string, group: string): ResolvedUser {
  const s = (spec ?? '').trim() || '0';
  const [userPart, groupPart, extra] = s.split(':');
  if (extra !== undefined || userPart === undefined || userPart === '') {
    throw new InvalidConfigError(`invalid user "${spec}" (expected USER, UID, USER:GROUP or UID:GID)`);
  }
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  let uid: number;
  let gid: number;
  let home: string | undefined;
  let name: string | undefined;
  const byName = users.find((u) => u.name === userPart);
  const byUid = isId(userPart) ? users.find((u) => u.uid === Number(userPart)) : undefined;
  if (byName) {
    ({ uid, gid, home, name } = byName);
  } else if (isId(userPart)) {
    uid = Number(userPart);
    gid = byUid ? byUid.gid : uid === 0 ? 0 : uid;
    if (byUid) ({ home, name } = byUid);
    if (!byUid) gid = uid;
  } else {
    throw new InvalidConfigError(`unknown user "${userPart}": not in the container's /etc/passwd`);
  }
  if (groupPart !== undefined) {
    if (groupPart === '') throw new InvalidConfigError(`invalid user "${spec}": empty group`);
    const g = groups.find((x) => x.name === groupPart);
    if (g) gid = g.gid;
    else if (isId(groupPart)) gid = Number(groupPart);
    else throw new InvalidConfigError(`unknown group "${groupPart}": not in the container's /etc/group`);
  }
  // Supplementary groups: the ones naming the user (only when it is known by name), as initgroups does.
  const supplementary = name
    ? groups.filter((g) => g.members.includes(name!) && g.gid !== gid).map((g) => g.gid)
    : [];
  const out: ResolvedUser = { uid, gid, groups: [...new Set(supplementary)] };
  if (home !== undefined) out.home = home;
  if (name !== undefined) out.name = name;
  return out;
}

export function readInRootfs(rootfs: string, rel: string): string {
  try {
    // A symlink in the container's /etc must not make us read a host file.
    const real = realpathSync(join(rootfs, rel));
    const root = realpathSync(rootfs);
    if (real !== root && !real.startsWith(root + sep)) {
      throw new InvalidConfigError(`/${rel} of the rootfs ${rootfs} leads out of it (to ${real})`);
    }
    return readFileSync(real, 'utf8');
  } catch (e) {
    if (e instanceof InvalidConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return '';
    throw e;
  }
}

/** Resolve a user spec from the rootfs's /etc/passwd and /etc/group (missing files: numeric only). */
export function resolveUser(rootfs: string, spec: string | undefined): ResolvedUser {
  return resolveUserFrom(spec, readInRootfs(rootfs, 'etc/passwd'), readInRootfs(rootfs, 'etc/group'));
}
