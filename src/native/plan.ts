import { statSync } from 'node:fs';
import { capabilityBits, capabilitySets, keptCapabilities, type CapabilitySets } from '../capabilities.js';
import { envPath } from '../command.js';
import { MASKED_PATHS, READONLY_PATHS } from '../restrictions.js';
import type { ResolvedUser } from '../users.js';
import type { ContainerJson } from './template.js';
import { monitorEventOps } from '../events/log.js';

/** One op of the plan handed to the C init (native/PROTOCOL.md): its name and arguments. */
export type Op = [string, ...string[]];

/** The container's end of its veth pair. */
export const VETH_PEER = 'eth0';

/** The broadcast address of `ip/prefixLen`. */
function broadcastOf(ip: string, prefixLen: number): string {
  const n = ip.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  const host = prefixLen >= 32 ? 0 : (0xffffffff >>> prefixLen) >>> 0;
  const b = (n | host) >>> 0;
  return [24, 16, 8, 0].map((s) => (b >>> s) & 255).join('.');
}

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  STRICTATIME: 0x1000000,
} as const;

export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

/** Device nodes every container gets (SPEC §2), as [name, major, minor]. */
const DEVICES: [string, number, number][] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];

export interface PlanInputs {
  config: ContainerJson;
  user: ResolvedUser;
  /** capabilities the host can grant (from this process's bounding set) */
  hostCapabilities: string[];
  lastCap: number;
  exitFile: string;
  oomCounterFile?: string;
  cleanupCgroups: string[];
  /** a BPF device program (hex, src/cgroups/devicefilter.ts) for the container's cgroup2 directory */
  deviceFilter?: { dir: string; program: string };
  detach: boolean;
  /** the net namespace to join (network mode container:<id>) */
  netnsPath?: string;
  /** `--net slirp4netns`: the helper's argv, started by the monitor at `go` (net-helper) */
  netHelper?: string[];
  /** rootless (a non-root caller): the child binds the rootfs and volumes itself, nothing is idmapped */
  rootless?: boolean;
  /** with `tty`: the terminal's initial size; detached: the attach socket and its output buffer */
  console?: { rows: number; cols: number; attachSocket?: string; bufferSize?: number };
  /**
   * the container's compiled seccomp filter (hexadecimal BPF, src/native/seccomp.ts), from its
   * profile resolved against finalCapabilities(); absent: none
   */
  seccompFilter?: string;
  /** the state root whose event log the monitor appends `start`, `oom` (live) and `die` to (src/events) */
  eventLog?: { root: string; id: string };
}

/** The capabilities the container keeps: its mask, limited to what this kernel and the host have. */
export function finalCapabilities(mask: Record<string, boolean>, hostCapabilities: string[], lastCap: number): string[] {
  return keptCapabilities(mask, lastCap).filter((x) => hostCapabilities.includes(x));
}

/** The output a detached terminal keeps for the next attach (bytes). */
export const ATTACH_BUFFER = 64 * 1024;

const rel = (containerPath: string) => containerPath.replace(/^\/+/, '');
const num = (n: number) => String(n);

/** Turn container.json (plus what was resolved at start) into the C init's plan, in order. */
export function buildPlan(p: PlanInputs): Op[] {
  const c = p.config;
  const ops: Op[] = [];
  const restricted = c.context?.['restrictions'] === 'true';

  // --- the monitor's part
  let flags = 0;
  for (const [ns, on] of Object.entries(c.namespaces)) {
    if (on && ns !== 'NEWCGROUP') flags |= CLONE[ns as keyof typeof CLONE] ?? 0;
  }
  ops.push(['clone', num(flags)]);
  ops.push(['exit-file', p.exitFile]);
  if (p.oomCounterFile) ops.push(['oom-counter', p.oomCounterFile]);
  if (p.eventLog) ops.push(...monitorEventOps({ ...p.eventLog, driver: 'native', ...(p.oomCounterFile ? { oomWatch: p.oomCounterFile } : {}) }));
  for (const dir of p.cleanupCgroups) ops.push(['cleanup-cgroup', dir]);
  // attached before the clone: the child is moved into the cgroup before it runs anything
  if (p.deviceFilter) ops.push(['device-filter', p.deviceFilter.dir, p.deviceFilter.program]);
  if (p.detach) ops.push(['detach']);
  ops.push(['signals-forward']);
  if (c.init) ops.push(['init']);
  // detached, the output goes to a log: through pipes the monitor copies, never the file itself
  if (p.detach && !c.tty) ops.push(['log-relay']);
  if (c.tty) {
    const t = p.console ?? { rows: 24, cols: 80 };
    ops.push(['tty', num(t.rows), num(t.cols)]);
    if (t.attachSocket) ops.push(['attach-socket', t.attachSocket, num(t.bufferSize ?? ATTACH_BUFFER)]);
  }
  if (p.netHelper) ops.push(['net-helper', ...(p.netHelper as [string, ...string[]])]);
  // a user namespace: the monitor opens the rootfs (idmapped) and every bind source for the child
  // (which cannot make an idmapped mount, nor reach host paths only host root may search)
  const userns = !!c.namespaces['NEWUSER'];
  const source = new Map<string, string>();
  if (userns && !p.rootless) {
    source.set(c.rootfs, num(ops.length));
    ops.push(['mount-source', c.rootfs, 'idmap']);
    for (const m of c.mounts ?? []) {
      if (m.type !== 'bind' || !m.source || !m.destination) continue;
      source.set(m.destination, num(ops.length));
      ops.push(['mount-source', m.source, m.idmap ? 'idmap' : '']);
    }
  }

  // --- the container's part; the child is in its cgroups by now
  // in a user namespace, first become its root: files made on its own mounts need a mapped owner
  if (userns) ops.push(['user', '0', '0', '']);
  if (c.namespaces['NEWCGROUP']) ops.push(['unshare', num(CLONE.NEWCGROUP)]);
  if (p.netnsPath) ops.push(['setns', p.netnsPath, num(CLONE.NEWNET)]);
  for (const n of c.networks ?? []) {
    if (n.type === 'loopback') ops.push(['ifup', 'lo']);
    if (n.type === 'veth' && n.address) {
      // the pair exists by now (made from the host before `go`); its inside end is ours to configure
      const [ip = '', prefix = '32'] = n.address.split('/');
      ops.push(['ifaddr', VETH_PEER, ip, prefix, broadcastOf(ip, Number(prefix))]);
      ops.push(['ifup', VETH_PEER]);
      if (n.gateway) ops.push(['route-default', n.gateway]);
    }
  }

  // mounts
  const root = c.rootfs;
  ops.push(['root', root]);
  ops.push(['mount', '', '/', '', num(MS.REC | (c.no_pivot_root ? MS.SLAVE : MS.PRIVATE)), '', '']);
  if (source.has(root)) ops.push(['move-mount', source.get(root)!, root, '']);
  else ops.push(['mount', root, root, '', num(MS.BIND | MS.REC), '', '']);
  // nosuid,noexec as Docker's: nothing copied into /dev runs
  ops.push(['mount', 'tmpfs', 'dev', 'tmpfs', num(MS.NOSUID | MS.NOEXEC | MS.STRICTATIME), 'mode=755,size=65536k', 'dir']);
  ops.push(['mount', 'proc', 'proc', 'proc', num(MS.NOSUID | MS.NODEV | MS.NOEXEC), '', 'dir']);
  if (userns && !c.namespaces['NEWNET']) {
    // sysfs can be mounted only by the owner of the net namespace: the host's, bound
    ops.push(['mount', '/sys', 'sys', '', num(MS.BIND | MS.REC), '', 'dir']);
    if (restricted) ops.push(['mount', '', 'sys', '', num(MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC), '', '']);
  } else {
    ops.push(['mount', 'sysfs', 'sys', 'sysfs', num(MS.NOSUID | MS.NODEV | MS.NOEXEC | (restricted ? MS.RDONLY : 0)), '', 'dir']);
  }
  ops.push(['mount', 'shm', 'dev/shm', 'tmpfs', num(MS.NOSUID | MS.NODEV | MS.NOEXEC), 'mode=1777,size=65536k', 'dir']);
  ops.push(['mount', 'devpts', 'dev/pts', 'devpts', num(MS.NOSUID | MS.NOEXEC), 'newinstance,ptmxmode=0666,mode=0620,gid=5', 'dir']);
  ops.push(['mount', 'mqueue', 'dev/mqueue', 'mqueue', num(MS.NOSUID | MS.NODEV | MS.NOEXEC), '', 'dir']);
  for (const m of c.mounts ?? []) {
    if (m.type !== 'bind' || !m.source || !m.destination) continue;
    const target = rel(m.destination);
    const kind = statSync(m.source).isDirectory() ? 'dir' : 'file';
    if (source.has(m.destination)) ops.push(['move-mount', source.get(m.destination)!, target, kind]);
    else ops.push(['mount', m.source, target, '', num(MS.BIND | MS.REC), '', kind]);
    if (!m.writable) ops.push(['mount', '', target, '', num(MS.REMOUNT | MS.BIND | MS.RDONLY), '', '']);
    if (m.private) ops.push(['mount', '', target, '', num(MS.PRIVATE), '', '']);
  }
  for (const [name, major, minor] of DEVICES) {
    // no mknod in a user namespace: the host's node is bound instead (the same set)
    if (userns) ops.push(['mount', `/dev/${name}`, `dev/${name}`, '', num(MS.BIND), '', 'file']);
    else ops.push(['mknod', `dev/${name}`, 'c', '666', num(major), num(minor)]);
  }
  ops.push(['symlink', 'pts/ptmx', 'dev/ptmx']);
  ops.push(['symlink', '/proc/self/fd', 'dev/fd']);
  ops.push(['symlink', '/proc/self/fd/0', 'dev/stdin']);
  ops.push(['symlink', '/proc/self/fd/1', 'dev/stdout']);
  ops.push(['symlink', '/proc/self/fd/2', 'dev/stderr']);
  // the terminal: from the container's own devpts, on fds 0-2 and /dev/console (SPEC §2)
  if (c.tty) {
    ops.push(['console', 'dev/pts/ptmx', 'dev/console']);
    // the terminal belongs to the user the command runs as, as a login's does
    if (p.user.uid !== 0) ops.push(['chown', '/proc/self/fd/0', num(p.user.uid), num(p.user.gid)]);
  }
  ops.push([c.no_pivot_root ? 'chroot-move' : 'pivot']);
  if (restricted) {
    for (const path of READONLY_PATHS) ops.push(['readonly', path]);
    for (const path of MASKED_PATHS) ops.push(['mask', path]);
  }
  if (c.readonly_fs) ops.push(['mount', '', '/', '', num(MS.REMOUNT | MS.BIND | MS.RDONLY), '', '']);
  ops.push(['umask', '22']);

  if (c.namespaces['NEWUTS'] && c.hostname) ops.push(['sethostname', c.hostname]);

  const kept = finalCapabilities(c.capabilities_mask ?? {}, p.hostCapabilities, p.lastCap);
  ops.push(
    ...processTail({
      sets: capabilitySets(kept, p.user.uid, c.capabilities_ambient ?? []),
      user: p.user,
      noNewPrivileges: !!c.no_new_privileges,
      ...(p.seccompFilter ? { seccompFilter: p.seccompFilter } : {}),
      // if the monitor dies, so does the container (set after `user`: a uid change clears it)
      middle: [['pdeathsig', '9'], ['chdir', c.working_dir || '/']],
      env: c.environment ?? [],
      args: c.args,
    }),
  );
  return ops;
}

export interface TailInputs {
  sets: CapabilitySets;
  user: ResolvedUser;
  noNewPrivileges: boolean;
  /** the compiled seccomp program (hex); absent: none */
  seccompFilter?: string;
  /** the driver's own steps, after the credentials and before the environment */
  middle: Op[];
  /** the command's environment (its PATH is searched for the command) */
  env: string[];
  /** false: the process has it already (an lxc container: LXC set it), no `env` ops */
  setEnv?: boolean;
  args: string[];
}

/**
 * The last steps of a container's process, the same on both drivers (the native child runs them
 * at the end of its plan; in an lxc container `execdriver-init run-plan` does): a session keyring
 * of its own, the bounding set, the seccomp filter, the user, its capability sets, then exec.
 */
export function processTail(t: TailInputs): Op[] {
  const ops: Op[] = [];
  // a session keyring of its own (before seccomp blocks keyctl): anonymous, so that nothing can
  // make one of the container's name in advance for it to join
  ops.push(['session-keyring', '']);
  if (t.noNewPrivileges) ops.push(['no-new-privs']);
  // capabilities: the bounding set first, then the user, then the process's own sets
  ops.push(['bounding', capabilityBits(t.sets.bounding)]);
  ops.push(['closefds']);
  // seccomp: without no_new_privs loading the filter needs CAP_SYS_ADMIN, so it goes in before
  // `user`/`caps` drop it; with it, last before exec (as runc does)
  if (t.seccompFilter && !t.noNewPrivileges) ops.push(['seccomp-filter', t.seccompFilter]);
  ops.push(['user', num(t.user.uid), num(t.user.gid), t.user.groups.join(',')]);
  ops.push(['caps', capabilityBits(t.sets.effective), capabilityBits(t.sets.permitted), capabilityBits(t.sets.inheritable)]);
  if (t.sets.ambient.length) ops.push(['ambient', capabilityBits(t.sets.ambient)]);
  ops.push(...t.middle);
  if (t.setEnv !== false) for (const e of t.env) ops.push(['env', e]);
  if (t.seccompFilter && t.noNewPrivileges) ops.push(['seccomp-filter', t.seccompFilter]);
  ops.push(['exec', envPath(t.env), ...(t.args as [string, ...string[]])]);
  return ops;
}


/** Frames on the wire: u32le count, then u32le length + bytes for every field. */
export function encodeFrame(fields: readonly (string | Uint8Array)[]): Buffer {
  const parts = fields.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
  const size = 4 + parts.reduce((n, b) => n + 4 + b.length, 0);
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(parts.length, 0);
  let off = 4;
  for (const b of parts) {
    out.writeUInt32LE(b.length, off);
    off += 4;
    b.copy(out, off);
    off += b.length;
  }
  return out;
}

export function encodePlan(ops: Op[]): Buffer {
  return Buffer.concat([...ops.map(encodeFrame), encodeFrame(['end'])]);
}

/** Incremental frame decoder for the monitor's replies. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): string[][] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: string[][] = [];
    for (;;) {
      const f = this.tryOne();
      if (!f) break;
      frames.push(f);
    }
    return frames;
  }
  private tryOne(): string[] | undefined {
    const b = this.buf;
    if (b.length < 4) return undefined;
    const count = b.readUInt32LE(0);
    let off = 4;
    const fields: string[] = [];
    for (let i = 0; i < count; i++) {
      if (b.length < off + 4) return undefined;
      const len = b.readUInt32LE(off);
      off += 4;
      if (b.length < off + len) return undefined;
      fields.push(b.toString('utf8', off, off + len));
      off += len;
    }
    this.buf = b.subarray(off);
    return fields;
  }
}
