import { statSync } from 'node:fs';
import { capabilityNumber, keptCapabilities } from '../capabilities.js';
import { ANNOTATION, capabilityNames, isBind, isTrue, namespaceOf, rootfsLayersOf, specNetwork, deviceSourceOf } from '../spec/from-command.js';
import type { Spec } from '../spec/types.js';
import type { ContainerOp, Op } from '../init/protocol.js';
import { processTail } from '../init/tail.js';
import { ATTACH_BUFFER } from '../init/console.js';
import { monitorEventOps } from '../events/log.js';
import { overlayData } from '../rootfs/overlay.js';


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
  /** the `cgroup.procs` files the monitor writes the child's pid to before `pid` (else Node joins it) */
  joinCgroups?: string[];
  /** ops (pause): after the monitor SIGKILLs the container, this write thaws its freezer */
  thawOnKill?: { file: string; value: string };
  /** a BPF device program (hex, src/cgroups/devicefilter.ts) for the container's cgroup2 directory */
  deviceFilter?: { dir: string; program: string };
  detach: boolean;
  /** not detached: the caller gave descriptors for the output (Pipes), the monitor copies to them */
  relayOutput?: boolean;
  /** detached without a terminal: the output file and its bound (`log-rotate`) */
  logRotate?: { path: string; maxSize: number; maxFiles: number };
  /** detached: the records of when each chunk of the output was written (`log-times`) */
  logTimes?: string;
  /** `--net slirp4netns`: the helper's argv, started by the monitor at `go` (net-helper) */
  netHelper?: string[];
  /** rootless (a non-root caller): the child binds the rootfs and volumes itself, nothing is idmapped */
  rootless?: boolean;
  /** with `tty`: the terminal's initial size (else the spec's consoleSize); detached: the attach socket and its output buffer */
  console?: { rows: number; cols: number; attachSocket?: string; bufferSize?: number };
  /**
   * execdriver-oci (create/start): the exec fifo the child blocks on before its last steps until
   * `start` opens it, and the unix socket its terminal's master is sent to (`--console-socket`)
   */
  oci?: { execFifo: string; consoleSocket?: string; leave?: boolean; hookState?: string };
  /**
   * the container's compiled seccomp filter (hexadecimal BPF, src/security/seccomp/compile.ts), from the
   * spec's linux.seccomp; absent: none
   */
  seccompFilter?: string;
  /**
   * rootfs (issue 12): the overlay's upper and work directories (host paths, one filesystem), when
   * the spec's rootfs is an overlay of its layers; the child mounts it in its own mount namespace
   */
  overlay?: { upper: string; work: string };
  /** the state root whose event log the monitor appends `start`, `oom` (live) and `die` to (src/events) */
  eventLog?: { root: string; id: string };
}


/** The capabilities the container keeps: its mask, limited to what this kernel and the host have. */
export function finalCapabilities(mask: Record<string, boolean>, hostCapabilities: string[], lastCap: number): string[] {
  return keptCapabilities(mask, lastCap).filter((x) => hostCapabilities.includes(x));
}


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
  // fsync'd when the record outlives its owner (detached, OCI); a foreground record is removed
  // once its owner is gone (lifecycle/engine.ts verdictOf), so after a host crash nothing reads it
  ops.push(p.detach || p.oci ? ['exit-file', p.exitFile] : ['exit-file', p.exitFile, 'nosync']);
  if (p.oomCounterFile) ops.push(['oom-counter', p.oomCounterFile]);
  if (p.eventLog) ops.push(...monitorEventOps({ ...p.eventLog, driver: 'native', ...(p.oomCounterFile ? { oomWatch: p.oomCounterFile } : {}) }));
  for (const dir of p.cleanupCgroups) ops.push(['cleanup-cgroup', dir]);
  for (const file of p.joinCgroups ?? []) ops.push(['cgroup-join', file]);
  if (p.thawOnKill) ops.push(['thaw-on-kill', p.thawOnKill.file, p.thawOnKill.value]);
  // attached before the clone: the child is moved into the cgroup before it runs anything
  if (p.deviceFilter) ops.push(['device-filter', p.deviceFilter.dir, p.deviceFilter.program]);
  if (p.detach) ops.push(['detach']);
  ops.push(['signals-forward']);
  if (init) ops.push(['init']);
  // detached, the output goes to a log: through pipes the monitor copies, never the file itself;
  // so do the caller's own descriptors (relayOutput) (not for the OCI runtime: the container
  // writes to the fds its caller gave, as runc's does, and the monitor may leave)
  // (the caller's: socketpairs, as Node's relay gave, so a container's open of /proc/self/fd/1 fails)
  if ((p.detach || p.relayOutput) && !tty && !p.oci) ops.push(p.relayOutput ? ['log-relay', 'socket'] : ['log-relay']);
  if (p.detach && !tty && p.logRotate) ops.push(['log-rotate', p.logRotate.path, num(p.logRotate.maxSize), num(p.logRotate.maxFiles)]);
  if (p.detach && p.logTimes) ops.push(['log-times', p.logTimes]);
  if (tty) {
    const size = proc.consoleSize ? { rows: proc.consoleSize.height, cols: proc.consoleSize.width } : { rows: 24, cols: 80 };
    const t: PlanInputs["console"] & object = p.console ?? size;
    ops.push(['tty', num(t.rows), num(t.cols)]);
    if (t.attachSocket) ops.push(['attach-socket', t.attachSocket, num(t.bufferSize ?? ATTACH_BUFFER)]);
    if (p.oci?.consoleSocket) ops.push(['console-socket', p.oci.consoleSocket]);
  }
  if (p.oci) ops.push(['mkfifo', p.oci.execFifo, '0622']); // made by the monitor: no mkfifo(1) process
  if (p.oci?.leave) ops.push(['leave']);
  if (p.netHelper) ops.push(['net-helper', ...(p.netHelper as [string, ...string[]])]);
  const root = spec.root!.path;
  const userns = !!namespaceOf(spec, 'user');
  const ownNetns = linux.namespaces?.some((n) => n.type === 'network' && !n.path) ?? false;
  // the host paths a bind takes its source from (not the kernel's own /sys)
  const hostBinds = (spec.mounts ?? []).filter((m) => isBind(m) && m.source && m.destination !== '/sys');
  // a user namespace: the monitor opens the rootfs (idmapped) and every bind source for the child
  // (which cannot make an idmapped mount, nor reach host paths only host root may search)
  const source = new Map<string, string>();
  const layers = p.overlay ? rootfsLayersOf(spec) : undefined;
  const layerSource = new Map<string, string>();
  if (userns && !p.rootless) {
    // an overlay is not idmappable: each layer is, and the overlay is mounted over them in the child
    if (layers) {
      for (const l of layers) {
        layerSource.set(l, num(ops.length));
        ops.push(['mount-source', l, 'idmap']);
      }
    } else {
      source.set(root, num(ops.length));
      ops.push(['mount-source', root, 'idmap']);
    }
    for (const m of hostBinds) {
      source.set(m.destination, num(ops.length));
      ops.push(['mount-source', m.source!, m.uidMappings ? 'idmap' : '']);
    }
  }

  // --- the container's part; the child is in its cgroups by now
  // in a user namespace, first become its root: files made on its own mounts need a mapped owner
  // execdriver-oci: the exec fifo, opened while the state directory is reachable
  if (p.oci) ops.push(['exec-fifo', p.oci.execFifo]);
  // and the state the hooks inside the container get on stdin (written by Node before `go`)
  const inside = (kind: 'createContainer' | 'startContainer'): ContainerOp[] =>
    (spec.hooks?.[kind] ?? []).map((h) => ['hook', h.path, num(h.timeout ?? 0), num(h.args?.length ?? 0), ...(h.args ?? []), ...(h.env ?? [])] as ContainerOp);
  if (p.oci?.hookState && (spec.hooks?.createContainer?.length || spec.hooks?.startContainer?.length)) ops.push(['hook-state', p.oci.hookState]);
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
  if (layers && p.overlay) {
    // copy-on-write: the layers (idmapped in a user namespace) under an overlay mounted on the
    // lowest one, in the child's own mount namespace (nothing is mounted on the host: no leak)
    for (const [l, i] of layerSource) ops.push(['move-mount', i, l, '']);
    ops.push(['mount', 'overlay', root, 'overlay', '0', overlayData(layers, p.overlay.upper, p.overlay.work, userns), '']);
  } else if (source.has(root)) ops.push(['move-mount', source.get(root)!, root, '']);
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
    if (userns) ops.push(['mount', deviceSourceOf(spec, d.path), path, '', num(MS.BIND), '', 'file']);
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
  if (namespaceOf(spec, 'uts') && spec.domainname) ops.push(['setdomainname', spec.domainname]);
  if (linux.personality) ops.push(['personality', linux.personality.domain === 'LINUX32' ? '8' : '0']);
  // execdriver-oci: created; the rest (credentials, exec) once `start` opens the fifo
  // createContainer hooks: after pivot, before start; startContainer: at start, before the process
  if (p.oci) ops.push(...inside('createContainer'), ['exec-wait'], ...inside('startContainer'));

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
      // (not when the monitor leaves at create: the init then belongs to the engine's subreaper)
      middle: [...(p.oci?.leave ? [] : [['pdeathsig', '9'] as ContainerOp]), ['chdir', proc.cwd || '/']],
      workdir: proc.cwd || '/',
      env: proc.env ?? [],
      args: proc.args ?? [],
    }),
  );
  return ops;
}
