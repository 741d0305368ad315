import { statSync } from 'node:fs';
import { capabilityBits, capabilityNumber, keptCapabilities, type CapabilitySets } from '../capabilities.js';
import { envPath } from '../command.js';
import { ANNOTATION, capabilityNames, isBind, isTrue, namespaceOf, specNetwork } from '../spec/from-command.js';
import type { Spec } from '../spec/types.js';
import type { ResolvedUser } from '../users.js';
import { PROTOCOL_FRAME, type ContainerOp, type Op } from './protocol.js';

/** One op of the plan handed to the C init (native/PROTOCOL.md, typed in ./protocol.ts). */
export type { ContainerOp, Op } from './protocol.js';

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
  SHARED: 0x100000,
  UNBINDABLE: 0x20000,
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

/** The specification's namespace types as clone flags. */
const CLONE_OF: Partial<Record<string, number>> = {
  mount: CLONE.NEWNS, uts: CLONE.NEWUTS, ipc: CLONE.NEWIPC, pid: CLONE.NEWPID, network: CLONE.NEWNET, user: CLONE.NEWUSER, cgroup: CLONE.NEWCGROUP,
};

export interface PlanInputs {
  /** the container's model (src/spec/): everything about the container itself comes from here */
  spec: Spec;
  /** capabilities the host can grant (from this process's bounding set) */
  hostCapabilities: string[];
  lastCap: number;
  exitFile: string;
  oomCounterFile?: string;
  cleanupCgroups: string[];
  /** ops (pause): after the monitor SIGKILLs the container, this write thaws its freezer */
  thawOnKill?: { file: string; value: string };
  /** a BPF device program (hex, src/cgroups/devicefilter.ts) for the container's cgroup2 directory */
  deviceFilter?: { dir: string; program: string };
  detach: boolean;
  /** detached without a terminal: the output file and its bound (`log-rotate`) */
  logRotate?: { path: string; maxSize: number; maxFiles: number };
  /** `--net slirp4netns`: the helper's argv, started by the monitor at `go` (net-helper) */
  netHelper?: string[];
  /** rootless (a non-root caller): the child binds the rootfs and volumes itself, nothing is idmapped */
  rootless?: boolean;
  /** with `tty`: the terminal's initial size (else the spec's consoleSize); detached: the attach socket and its output buffer */
  console?: { rows: number; cols: number; attachSocket?: string; bufferSize?: number };
  /**
   * the container's compiled seccomp filter (hexadecimal BPF, src/native/seccomp.ts), from the
   * spec's linux.seccomp; absent: none
   */
  seccompFilter?: string;
}

/** The capabilities the container keeps: its mask, limited to what this kernel and the host have. */
export function finalCapabilities(mask: Record<string, boolean>, hostCapabilities: string[], lastCap: number): string[] {
  return keptCapabilities(mask, lastCap).filter((x) => hostCapabilities.includes(x));
}

/** The output a detached terminal keeps for the next attach (bytes). */
export const ATTACH_BUFFER = 64 * 1024;

/** An rlimit value for the `rlimit` op: -1 (or RLIM_INFINITY) is `unlimited`. */
export const limitText = (n: number) => (n < 0 || n >= 2 ** 63 ? 'unlimited' : String(n));
const rel = (containerPath: string) => containerPath.replace(/^\/+/, '');
const num = (n: number) => String(n);

/** mount(8) flag options → MS_* bits; the other options are the filesystem's data. */
const FLAG_OPTIONS: Record<string, number> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, strictatime: MS.STRICTATIME,
};
const IGNORED_OPTIONS = new Set(['rw', 'suid', 'dev', 'exec', 'bind', 'rbind', 'relatime']);
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** A mount's options as [flags, data, propagation flags]. */
function mountOptions(options: readonly string[] = []): { flags: number; data: string; propagation: number } {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const o of options) {
    if (o in FLAG_OPTIONS) flags |= FLAG_OPTIONS[o]!;
    else if (o in PROPAGATION) propagation |= PROPAGATION[o]!;
    else if (!IGNORED_OPTIONS.has(o)) data.push(o);
  }
  return { flags, data: data.join(','), propagation };
}

/** A capability set of the spec, limited to what the host can grant. */
function capSet(list: readonly string[] | undefined, host: readonly string[], lastCap: number): string[] {
  return capabilityNames(list).filter((c) => host.includes(c) && capabilityNumber(c) <= lastCap);
}

/** Render a container's spec (plus what was resolved at start) as the C init's plan, in order. */
export function buildPlan(p: PlanInputs): Op[] {
  const spec = p.spec;
  const proc = spec.process!;
  const linux = spec.linux ?? {};
  const ops: Op[] = [];
  const init = isTrue(spec, ANNOTATION.init);
  const noPivot = isTrue(spec, ANNOTATION.noPivotRoot);
  const tty = !!proc.terminal;

  // --- the monitor's part
  let flags = 0;
  for (const ns of linux.namespaces ?? []) {
    if (!ns.path && ns.type !== 'cgroup') flags |= CLONE_OF[ns.type] ?? 0;
  }
  ops.push(['clone', num(flags)]);
  ops.push(['exit-file', p.exitFile]);
  if (p.oomCounterFile) ops.push(['oom-counter', p.oomCounterFile]);
  for (const dir of p.cleanupCgroups) ops.push(['cleanup-cgroup', dir]);
  if (p.thawOnKill) ops.push(['thaw-on-kill', p.thawOnKill.file, p.thawOnKill.value]);
  // attached before the clone: the child is moved into the cgroup before it runs anything
  if (p.deviceFilter) ops.push(['device-filter', p.deviceFilter.dir, p.deviceFilter.program]);
  if (p.detach) ops.push(['detach']);
  ops.push(['signals-forward']);
  if (init) ops.push(['init']);
  // detached, the output goes to a log: through pipes the monitor copies, never the file itself
  if (p.detach && !tty) ops.push(['log-relay']);
  if (p.detach && !tty && p.logRotate) ops.push(['log-rotate', p.logRotate.path, num(p.logRotate.maxSize), num(p.logRotate.maxFiles)]);
  if (tty) {
    const size = proc.consoleSize ? { rows: proc.consoleSize.height, cols: proc.consoleSize.width } : { rows: 24, cols: 80 };
    const t: PlanInputs["console"] & object = p.console ?? size;
    ops.push(['tty', num(t.rows), num(t.cols)]);
    if (t.attachSocket) ops.push(['attach-socket', t.attachSocket, num(t.bufferSize ?? ATTACH_BUFFER)]);
  }
  if (p.netHelper) ops.push(['net-helper', ...(p.netHelper as [string, ...string[]])]);
  const root = spec.root!.path;
  const userns = !!namespaceOf(spec, 'user');
  const ownNetns = linux.namespaces?.some((n) => n.type === 'network' && !n.path) ?? false;
  // the host paths a bind takes its source from (not the kernel's own /sys)
  const hostBinds = (spec.mounts ?? []).filter((m) => isBind(m) && m.source && m.destination !== '/sys');
  // a user namespace: the monitor opens the rootfs (idmapped) and every bind source for the child
  // (which cannot make an idmapped mount, nor reach host paths only host root may search)
  const source = new Map<string, string>();
  if (userns && !p.rootless) {
    source.set(root, num(ops.length));
    ops.push(['mount-source', root, 'idmap']);
    for (const m of hostBinds) {
      source.set(m.destination, num(ops.length));
      ops.push(['mount-source', m.source!, m.uidMappings ? 'idmap' : '']);
    }
  }

  // --- the container's part; the child is in its cgroups by now
  // in a user namespace, first become its root: files made on its own mounts need a mapped owner
  if (userns) ops.push(['user', '0', '0', '']);
  if (namespaceOf(spec, 'cgroup') && !namespaceOf(spec, 'cgroup')!.path) ops.push(['unshare', num(CLONE.NEWCGROUP)]);
  for (const ns of linux.namespaces ?? []) if (ns.path) ops.push(['setns', ns.path, num(CLONE_OF[ns.type] ?? 0)]);
  if (ownNetns) {
    ops.push(['ifup', 'lo']);
    const n = specNetwork(spec);
    if (n.mode === 'bridge' && n.address) {
      // the pair exists by now (made from the host before `go`); its inside end is ours to configure
      const prefix = n.prefixLen ?? 32;
      ops.push(['ifaddr', VETH_PEER, n.address, num(prefix), broadcastOf(n.address, prefix)]);
      ops.push(['ifup', VETH_PEER]);
      if (n.gateway) ops.push(['route-default', n.gateway]);
    }
  }

  // mounts
  ops.push(['root', root]);
  ops.push(['mount', '', '/', '', num(PROPAGATION[linux.rootfsPropagation ?? 'rprivate'] ?? MS.REC | MS.PRIVATE), '', '']);
  if (source.has(root)) ops.push(['move-mount', source.get(root)!, root, '']);
  else ops.push(['mount', root, root, '', num(MS.BIND | MS.REC), '', '']);
  for (const m of spec.mounts ?? []) {
    const target = rel(m.destination);
    const o = mountOptions(m.options);
    if (isBind(m)) {
      const kind = statSync(m.source!).isDirectory() ? 'dir' : 'file';
      const recursive = m.options?.includes('rbind') ?? false;
      if (source.has(m.destination)) ops.push(['move-mount', source.get(m.destination)!, target, kind]);
      else ops.push(['mount', m.source!, target, '', num(MS.BIND | (recursive ? MS.REC : 0)), '', kind]);
      // a bind takes its flags from a remount of it
      if (o.flags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC)) ops.push(['mount', '', target, '', num(MS.REMOUNT | MS.BIND | o.flags), '', '']);
    } else {
      ops.push(['mount', m.source ?? m.type ?? '', target, m.type ?? '', num(o.flags), o.data, 'dir']);
    }
    if (o.propagation) ops.push(['mount', '', target, '', num(o.propagation), '', '']);
  }
  for (const d of linux.devices ?? []) {
    const path = rel(d.path);
    // no mknod in a user namespace: the host's node is bound instead (the same set)
    if (userns) ops.push(['mount', d.path, path, '', num(MS.BIND), '', 'file']);
    else ops.push(['mknod', path, d.type, (d.fileMode ?? 0o666).toString(8), num(d.major ?? 0), num(d.minor ?? 0)]);
  }
  ops.push(['symlink', 'pts/ptmx', 'dev/ptmx']);
  ops.push(['symlink', '/proc/self/fd', 'dev/fd']);
  ops.push(['symlink', '/proc/self/fd/0', 'dev/stdin']);
  ops.push(['symlink', '/proc/self/fd/1', 'dev/stdout']);
  ops.push(['symlink', '/proc/self/fd/2', 'dev/stderr']);
  // the terminal: from the container's own devpts, on fds 0-2 and /dev/console (SPEC §2)
  if (tty) {
    ops.push(['console', 'dev/pts/ptmx', 'dev/console']);
    // the terminal belongs to the user the command runs as, as a login's does
    if (proc.user.uid !== 0) ops.push(['chown', '/proc/self/fd/0', num(proc.user.uid), num(proc.user.gid)]);
  }
  ops.push([noPivot ? 'chroot-move' : 'pivot']);
  // --sysctl: the container's own /proc/sys, before it is made read-only
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) ops.push(['sysctl', k, v]);
  for (const path of linux.readonlyPaths ?? []) ops.push(['readonly', path]);
  for (const path of linux.maskedPaths ?? []) ops.push(['mask', path]);
  if (spec.root!.readonly) ops.push(['mount', '', '/', '', num(MS.REMOUNT | MS.BIND | MS.RDONLY), '', '']);
  ops.push(['umask', (proc.user.umask ?? 0o022).toString(8)]);

  if (namespaceOf(spec, 'uts') && spec.hostname) ops.push(['sethostname', spec.hostname]);

  for (const r of proc.rlimits ?? []) ops.push(['rlimit', r.type, limitText(r.soft), limitText(r.hard)]);

  const caps = proc.capabilities ?? {};
  const set = (list: string[] | undefined) => capSet(list, p.hostCapabilities, p.lastCap);
  ops.push(
    ...processTail({
      sets: { bounding: set(caps.bounding), effective: set(caps.effective), permitted: set(caps.permitted), inheritable: set(caps.inheritable), ambient: set(caps.ambient) },
      user: { uid: proc.user.uid, gid: proc.user.gid, groups: proc.user.additionalGids ?? [] },
      noNewPrivileges: !!proc.noNewPrivileges,
      ...(p.seccompFilter ? { seccompFilter: p.seccompFilter } : {}),
      // if the monitor dies, so does the container (set after `user`: a uid change clears it)
      middle: [['pdeathsig', '9'], ['chdir', proc.cwd || '/']],
      workdir: proc.cwd || '/',
      env: proc.env ?? [],
      args: proc.args ?? [],
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
  /** the container's working directory: made (owned by the user) when missing, before the user is set */
  workdir?: string;
  /** the driver's own steps, after the credentials and before the environment */
  middle: ContainerOp[];
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
export function processTail(t: TailInputs): ContainerOp[] {
  const ops: ContainerOp[] = [];
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
  if (t.workdir && t.workdir !== '/') ops.push(['workdir', t.workdir, num(t.user.uid), num(t.user.gid)]);
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

/** A plan on the wire: the protocol frame, its ops, `["end"]`. */
export function encodePlan(ops: readonly Op[]): Buffer {
  return encodeFrames([PROTOCOL_FRAME, ...ops]);
}

/** Frames up to `["end"]`, with no protocol frame (the seccomp compiler's input). */
export function encodeFrames(frames: readonly (readonly string[])[]): Buffer {
  return Buffer.concat([...frames.map(encodeFrame), encodeFrame(['end'])]);
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
