/**
 * The checks of the Command fields of issue 12 (Docker's habits: tmpfs, ulimits, sysctl, devices,
 * groupAdd, shmSize, stop signal and timeout, labels), called from normalizeCommand. Each refusal
 * is an InvalidConfigError naming the field, before anything is created.
 */
import { statSync } from 'node:fs';
import { constants } from 'node:os';
import { isAbsolute, normalize } from 'node:path';
import type { Command, DeviceSpec, TmpfsSpec, Ulimit } from './driver.js';
import { InvalidConfigError } from './errors.js';
import { readInRootfs, parseGroup } from './users.js';
import { checkEtcExtras, type EtcExtras } from './network/etc-extras.js';

/** setrlimit's resources, by Docker's names (the C init maps them to RLIMIT_*). */
export const ULIMITS = [
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
] as const;

/** Kernel parameters a container may set (they belong to its own namespaces), as Docker allows. */
const IPC_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

/** Why a sysctl is refused for a container, or undefined when it may be set. */
export function sysctlRefusal(key: string, networkMode: string): string | undefined {
  if (!/^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/.test(key)) return 'is not a kernel parameter name (such as net.ipv4.ip_forward)';
  if (IPC_SYSCTLS.includes(key) || key.startsWith('fs.mqueue.')) return undefined;
  if (key.startsWith('net.')) {
    if (networkMode === 'host') return 'cannot be set with the host network (it would change the host)';
    if (networkMode.startsWith('container:')) return "cannot be set when joining another container's network";
    return undefined;
  }
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'is set with the hostname, not a sysctl';
  return "is not namespaced (only net.*, fs.mqueue.* and kernel's IPC parameters: it would change the host)";
}

export interface CheckedDevice {
  path: string;
  destination: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  access: string;
}

export interface ExtraFields {
  tmpfs: TmpfsSpec[];
  ulimits: Ulimit[];
  sysctl: Record<string, string>;
  devices: CheckedDevice[];
  groupAdd: number[];
  shmSize?: number;
  stopSignal: string;
  stopTimeout: number;
  labels: Record<string, string>;
  /** --dns, --dns-search, --add-host: bridge mode only (the files are the network's) */
  etc?: EtcExtras;
}

const bad = (field: string, why: string, id: string) => new InvalidConfigError(`${field}: ${why}`, { containerId: id });
const TMPFS_OPTION = /^(ro|rw|nosuid|suid|nodev|dev|noexec|exec|size=\d+[kmgKMG%]?|nr_inodes=\d+[kmgKMG]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+)$/;

function containerDir(p: unknown, field: string, id: string): string {
  if (typeof p !== 'string' || !isAbsolute(p) || p.includes('\0')) throw bad(field, `must be an absolute path, not ${JSON.stringify(p)}`, id);
  if (p.split('/').includes('..')) throw bad(field, `must not contain '..' (${JSON.stringify(p)})`, id);
  const n = normalize(p).replace(/(.)\/$/, '$1');
  if (n === '/') throw bad(field, 'must not be /', id);
  return n;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
function arr(v: unknown, field: string, id: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(field, 'must be an array', id);
  return v;
}

/** The numbers of a device node's rdev (glibc's encoding). */
export const majorOf = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
export const minorOf = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

/** A signal name (`TERM`, `SIGTERM`) or number as its name; undefined when unknown. */
export function signalName(s: string): NodeJS.Signals | undefined {
  if (/^\d+$/.test(s)) return (Object.entries(constants.signals).find(([, n]) => n === Number(s))?.[0] as NodeJS.Signals | undefined);
  const name = (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as NodeJS.Signals;
  return name in constants.signals ? name : undefined;
}

export function checkExtraFields(c: Command, id: string, rootfs: string, networkMode: string, privileged: boolean): ExtraFields {
  const tmpfs = arr(c.tmpfs, 'tmpfs', id).map((t, i) => {
    if (!isObj(t)) throw bad(`tmpfs[${i}]`, 'must be an object { destination, options }', id);
    const destination = containerDir(t['destination'], `tmpfs[${i}].destination`, id);
    const options = arr(t['options'], `tmpfs[${i}].options`, id).map((o, j) => {
      if (typeof o !== 'string' || !TMPFS_OPTION.test(o)) {
        throw bad(`tmpfs[${i}].options[${j}]`, `unknown tmpfs option ${JSON.stringify(o)} (size=, mode=, uid=, gid=, nr_inodes=, ro, rw, noexec, nosuid, nodev…)`, id);
      }
      return o;
    });
    return { destination, options };
  });

  const ulimits = arr(c.ulimits, 'ulimits', id).map((u, i) => {
    const f = `ulimits[${i}]`;
    if (!isObj(u)) throw bad(f, 'must be an object { type, soft, hard }', id);
    const type = u['type'];
    if (typeof type !== 'string' || !(ULIMITS as readonly string[]).includes(type)) {
      throw bad(`${f}.type`, `unknown limit ${JSON.stringify(type)} (${ULIMITS.join(', ')})`, id);
    }
    const n = (v: unknown, k: string) => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < -1) throw bad(`${f}.${k}`, `must be a non-negative integer or -1 (unlimited), not ${JSON.stringify(v)}`, id);
      return v;
    };
    const soft = n(u['soft'], 'soft');
    const hard = n(u['hard'], 'hard');
    if (hard !== -1 && (soft === -1 || soft > hard)) throw bad(f, `the soft limit (${soft}) must not exceed the hard limit (${hard})`, id);
    return { type, soft, hard };
  });
  const types = ulimits.map((u) => u.type);
  const twice = types.find((t, i) => types.indexOf(t) !== i);
  if (twice) throw bad('ulimits', `${twice} is given twice`, id);

  const sysctl: Record<string, string> = {};
  if (c.sysctl !== undefined) {
    if (!isObj(c.sysctl)) throw bad('sysctl', 'must be an object of key: value', id);
    for (const [k, v] of Object.entries(c.sysctl)) {
      const why = sysctlRefusal(k, networkMode);
      if (why) throw bad(`sysctl ${k}`, why, id);
      if (typeof v !== 'string' || /[\0\n]/.test(v) || v === '') throw bad(`sysctl ${k}`, `the value must be a one-line string, not ${JSON.stringify(v)}`, id);
      sysctl[k] = v;
    }
  }

  const devices = arr(c.devices, 'devices', id).map((d, i): CheckedDevice => {
    const f = `devices[${i}]`;
    if (!isObj(d)) throw bad(f, 'must be an object { path, destination, access }', id);
    const dev = d as unknown as DeviceSpec;
    if (typeof dev.path !== 'string' || !isAbsolute(dev.path)) throw bad(`${f}.path`, `must be an absolute host path, not ${JSON.stringify(dev.path)}`, id);
    let st;
    try {
      st = statSync(dev.path);
    } catch {
      throw bad(`${f}.path`, `${dev.path} does not exist on the host`, id);
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw bad(`${f}.path`, `${dev.path} is not a device node`, id);
    const destination = containerDir(dev.destination ?? dev.path, `${f}.destination`, id);
    const access = dev.access ?? 'rwm';
    if (typeof access !== 'string' || !/^(?!.*(.).*\1)[rwm]{1,3}$/.test(access)) throw bad(`${f}.access`, `must be some of r, w, m, not ${JSON.stringify(access)}`, id);
    return { path: dev.path, destination, type: st.isCharacterDevice() ? 'c' : 'b', major: majorOf(st.rdev), minor: minorOf(st.rdev), fileMode: st.mode & 0o777, access };
  });
  void privileged;

  let groupFile: string | undefined;
  const groupAdd = arr(c.groupAdd, 'groupAdd', id).map((g, i) => {
    if (typeof g === 'number' && Number.isInteger(g) && g >= 0 && g < 0xffffffff) return g;
    if (typeof g !== 'string' || g === '') throw bad(`groupAdd[${i}]`, `must be a group name or number, not ${JSON.stringify(g)}`, id);
    if (/^\d+$/.test(g)) return Number(g);
    groupFile ??= readInRootfs(rootfs, 'etc/group');
    const found = parseGroup(groupFile).find((x) => x.name === g);
    if (!found) throw bad(`groupAdd[${i}]`, `no group ${JSON.stringify(g)} in the container's /etc/group`, id);
    return found.gid;
  });

  let shmSize: number | undefined;
  if (c.shmSize !== undefined) {
    if (typeof c.shmSize !== 'number' || !Number.isSafeInteger(c.shmSize) || c.shmSize < 1) throw bad('shmSize', `must be a positive number of bytes, not ${JSON.stringify(c.shmSize)}`, id);
    shmSize = c.shmSize;
  }
  let stopSignal: string = 'SIGTERM';
  if (c.stopSignal !== undefined) {
    const s = typeof c.stopSignal === 'string' ? signalName(c.stopSignal) : undefined;
    if (!s) throw bad('stopSignal', `unknown signal ${JSON.stringify(c.stopSignal)}`, id);
    stopSignal = s;
  }
  let stopTimeout = 10;
  if (c.stopTimeout !== undefined) {
    if (typeof c.stopTimeout !== 'number' || !Number.isInteger(c.stopTimeout) || c.stopTimeout < 0) {
      throw bad('stopTimeout', `must be a whole number of seconds, not ${JSON.stringify(c.stopTimeout)}`, id);
    }
    stopTimeout = c.stopTimeout;
  }
  const labels: Record<string, string> = {};
  if (c.labels !== undefined) {
    if (!isObj(c.labels)) throw bad('labels', 'must be an object of key: value', id);
    for (const [k, v] of Object.entries(c.labels)) {
      if (k === '' || /[\0=]/.test(k) || typeof v !== 'string' || v.includes('\0')) throw bad(`labels[${JSON.stringify(k)}]`, 'must be a non-empty key without "=" and a string value', id);
      labels[k] = v;
    }
  }
  const etc = checkEtcExtras(c, id);
  if (Object.keys(etc).length && networkMode !== 'bridge') {
    throw bad(Object.keys(etc)[0]!, `needs the bridge network (the container's /etc files are the network's; this one is ${networkMode})`, id);
  }
  return { tmpfs, ulimits, sysctl, devices, groupAdd, ...(shmSize !== undefined ? { shmSize } : {}), stopSignal, stopTimeout, labels, ...(Object.keys(etc).length ? { etc } : {}) };
}
