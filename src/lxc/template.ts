/**
 * A container's spec (src/spec/) → config.lxc, in the key names LXC 5 accepts (see NOTES.md for
 * what was measured). Pure: everything it needs about the host and the container's surroundings
 * comes in `ctx`; every decision about the container itself is the spec's.
 *
 * The sections follow the seed's sample file (network, rootfs, ptys, console, tty, devices,
 * mounts, resources), then what LXC 5 can do that 0.11's dockerinit did by hand (user, working
 * directory, environment, capabilities), then the raw `lxc.*` lines of the command, last.
 */
import { CAPABILITIES } from '../capabilities.js';
import { renderLxcSeccomp } from '../security/seccomp/lxc.js';
import { resolveSeccomp, type Platform, type SeccompProfile } from '../security/seccomp/profile.js';
import { renderV1, renderV2, type CgroupWrite, type LimitController } from '../cgroups/resources.js';
import { ExecDriverError, InvalidConfigError } from '../errors.js';
import type { NetworkState } from '../network/container.js';
import { ANNOTATION, capabilityNames, deviceSourceOf, isBind, namespaceOf, specNetwork } from '../spec/from-command.js';
import { extraDevices } from './plan.js';
import { deviceModeOf, resourcesOf } from '../spec/resources.js';
import type { Spec } from '../spec/types.js';
import { limitText } from '../native/plan.js';

/** What config.lxc depends on about this host. */
export interface LxcHostFacts {
  /** where each limit controller lives: 1 = a v1 hierarchy, 2 = the cgroup2 tree; absent = nowhere */
  controllers: Partial<Record<LimitController, 1 | 2>>;
  /** `memory.memsw.*` (v1) or `memory.swap.*` (v2) exist (swap accounting on) */
  swapAccounting: boolean;
  /** /proc/sys/kernel/cap_last_cap */
  lastCap: number;
  /**
   * where LXC mounts the rootfs in the container's mount namespace before its pivot
   * (`lxc.rootfs.mount`, LXC's built-in default): read-only binds of /proc paths take their
   * source there, in the container's own /proc. Without it, no read-only /proc paths beyond LXC's.
   */
  rootfsMount?: string;
}

/** Everything else config.lxc is made of, decided by the driver before rendering. */
export interface LxcRenderContext {
  facts: LxcHostFacts;
  /** the container's id (the spec has none) */
  id: string;
  /** the container's network as prepared: the name of the host end of its veth (the rest is in the spec) */
  network?: NetworkState;
  /**
   * the names of the container's and lxc-start's cgroups (`lxc.cgroup.dir.*`, at the root of every
   * hierarchy); unset: LXC's own `lxc.payload.<name>`, or `…-1` when that is taken
   */
  cgroupDirs?: { container: string; monitor: string };
  /**
   * where each of `cmd.mounts` goes, as made inside the rootfs (makeMountTargets: existing, every
   * symlink resolved in the rootfs); unset: the destinations as they are (unit tests)
   */
  mountTargets?: readonly string[];
  /** the command of an `lxc.hook.stop` hook (runs on the host before LXC removes the cgroups) */
  stopHook?: string;
  /**
   * the host's execdriver-init, bound read-only on CONSOLE_HELPER to run the command through
   * `console-exec` (tty with lxc-start: LXC's console is not the command's controlling terminal)
   * or `exec` (lxc-execute: its init leaks a descriptor of LXC's to the command)
   */
  consoleHelper?: string;
  /** the file of the container's seccomp profile in LXC's language (lxcSeccompProfile); absent: none */
  seccompProfile?: string;
  /** a non-root caller: no cgroup keys (nothing is delegated), the rootfs not idmapped (its own uid is root) */
  rootless?: boolean;
  /**
   * the host file of the process plan (`execdriver-init run-plan`): our helper, not LXC, sets the
   * keyring, capabilities, seccomp filter and user of the command (bound on PROCESS_PLAN)
   */
  processPlan?: string;
  /** rootfs (issue 12): the overlay mounted on the host for LXC to use as a `dir:` rootfs; unset: spec.root.path */
  rootfsPath?: string;
  /**
   * rootfs: a copy-on-write overlay of one layer that LXC mounts itself in the container's mount
   * namespace (its `overlay:` backend; the work directory is the upper's sibling `work`)
   */
  rootfsOverlay?: { lower: string; upper: string };
}

/** Where the console helper is in the container (/dev is LXC's autodev tmpfs: nothing lands in the rootfs). */
export const CONSOLE_HELPER = '/dev/.execdriver-init';

/** Docker 0.11's /dev/pts size and /dev/shm size. */
export const PTY_MAX = 1024;
export const SHM_SIZE = '65536k';

/** The masked paths (src/restrictions.ts) that are directories: they get an empty read-only tmpfs (any other path /dev/null). */
const MASKED_DIRS = new Set(['/proc/acpi', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap']);

/** A config value must stay on its line. */
function oneLine(value: string, what: string, id: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new InvalidConfigError(`${what} ${JSON.stringify(value)} cannot be written to config.lxc: it holds a line break or NUL`, {
      containerId: id,
    });
  }
  return value;
}

/**
 * A path in an `lxc.mount.entry` (fstab syntax): space, tab, newline and backslash as octal
 * escapes, as getmntent(3) decodes them.
 */
export function escapeMountPath(path: string): string {
  return path.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/** `/data/x` → `data/x`: LXC 5 takes relative targets against the container's rootfs. */
function target(destination: string): string {
  return destination.replace(/^\/+/, '');
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** `10.88.0.7`, 16 → `10.88.255.255` (LXC computes a wrong one when not given). */
export function broadcastAddress(ip: string, prefixLen: number): string {
  const mask = prefixLen === 0 ? 0 : (~0 << (32 - prefixLen)) >>> 0;
  return intToIpv4((ipv4ToInt(ip) | ~mask) >>> 0);
}

/** The spec's /sys is read-only (an unprivileged container): proc and sys restricted by LXC's own keys. */
function restrictedSys(spec: Spec): boolean {
  return !!spec.mounts?.find((m) => m.destination === '/sys')?.options?.includes('ro');
}

function networkSection(spec: Spec, ctx: LxcRenderContext): string[] {
  const id = ctx.id;
  const net = specNetwork(spec);
  const mode = net.mode;
  const joined = namespaceOf(spec, 'network')?.path;
  if (!namespaceOf(spec, 'network')) {
    // No lxc.net key at all would give a new namespace with lo only: `none` shares the host's.
    return ['# host networking: the host\'s network namespace', 'lxc.net.0.type = none'];
  }
  if (joined) return [`# network of ${mode}`, `lxc.namespace.share.net = ${oneLine(joined, 'network namespace', id)}`];
  if (mode !== 'bridge') {
    return ['# no network: an own namespace with the loopback only', 'lxc.net.0.type = empty', 'lxc.net.0.flags = up'];
  }
  if (!net.bridge || !net.address || net.prefixLen === undefined) {
    throw new InvalidConfigError('bridge networking without an allocated address (prepare the network first)', { containerId: id });
  }
  const lines = [
    '# network configuration',
    'lxc.net.0.type = veth',
    `lxc.net.0.link = ${net.bridge}`,
    'lxc.net.0.name = eth0',
    'lxc.net.0.flags = up',
  ];
  const mtu = net.vethMtu ?? net.mtu;
  if (mtu !== undefined) lines.push(`lxc.net.0.mtu = ${mtu}`);
  if (ctx.network?.hostInterface) lines.push(`lxc.net.0.veth.pair = ${ctx.network.hostInterface}`);
  lines.push(`lxc.net.0.ipv4.address = ${net.address}/${net.prefixLen} ${broadcastAddress(net.address, net.prefixLen)}`);
  if (net.gateway) lines.push(`lxc.net.0.ipv4.gateway = ${net.gateway}`);
  return lines;
}

function cgroupKey(version: 1 | 2, file: string): string {
  return `${version === 1 ? 'lxc.cgroup' : 'lxc.cgroup2'}.${file}`;
}

/**
 * The cgroup lines: each controller in the hierarchy that enforces it on this host (v1 keys
 * `lxc.cgroup.*`, v2 keys `lxc.cgroup2.*`; LXC 5 accepts a v2 key for a controller that is not in
 * the v2 tree and silently enforces nothing, so the choice matters).
 */
export function cgroupLines(spec: Spec, facts: LxcHostFacts, id: string): { devices: string[]; resources: string[] } {
  const devicesMode = deviceModeOf(spec.linux?.resources?.devices) ?? 'default';
  const limits = resourcesOf(spec.linux?.resources);
  const where = (c: LimitController) => facts.controllers[c];
  const writes: { version: 1 | 2; w: CgroupWrite }[] = [];
  for (const w of renderV1(limits, devicesMode)) if (where(w.controller) === 1) writes.push({ version: 1, w });
  for (const w of renderV2(limits)) if (where(w.controller) === 2) writes.push({ version: 2, w });
  if (where('devices') === 2) {
    // LXC 5 enforces device rules on cgroup2 itself (an eBPF program), with the v1 rule syntax.
    for (const w of renderV1(limits, devicesMode)) if (w.controller === 'devices') writes.push({ version: 2, w });
  }

  const needed = new Set<LimitController>();
  for (const w of renderV1(limits, devicesMode)) if (w.controller !== 'devices') needed.add(w.controller);
  for (const c of needed) {
    if (where(c) === undefined) {
      throw new ExecDriverError(
        'ERR_CGROUP',
        `cgroup ${c}: this host cannot enforce the ${c} limits asked for: the ${c} controller is neither a v1 hierarchy nor in the cgroup2 tree`,
        { containerId: id, step: `cgroup ${c}` },
      );
    }
  }

  const devices: string[] = [];
  const resources: string[] = [];
  for (const { version, w } of writes) {
    const isSwap = w.file === 'memory.memsw.limit_in_bytes' || w.file === 'memory.swap.max';
    if (isSwap && !facts.swapAccounting) {
      if (w.optional) continue; // unlimited swap asked, and nothing to limit it anyway
      throw new ExecDriverError(
        'ERR_CGROUP',
        `cgroup memory: a swap limit (${limits.memorySwap}) was asked for, but swap accounting is off on this host (kernel parameter swapaccount=1)`,
        { containerId: id, step: `cgroup ${w.file}` },
      );
    }
    (w.controller === 'devices' ? devices : resources).push(`${cgroupKey(version, w.file)} = ${w.value}`);
  }
  return { devices, resources };
}

/**
 * What `execdriver-init run-plan` needs until its own steps drop it: SETPCAP for the bounding set,
 * SETUID/SETGID for the user, SYS_ADMIN to load the seccomp filter without no_new_privs, CHOWN
 * for the terminal of a non-root user.
 */
export const PLAN_CAPABILITIES: readonly string[] = ['SETPCAP', 'SETUID', 'SETGID', 'SYS_ADMIN', 'CHOWN'];

/** Where the process plan is bound in the container (LXC's /dev, our tmpfs: nothing lands in the rootfs). */
export const PROCESS_PLAN = '/dev/.execdriver-plan';

/**
 * `lxc.cap.keep` with the capabilities the container keeps (its bounding set: an allow-list, so a
 * capability that a newer kernel adds is never kept by default); nothing when it keeps every
 * capability this kernel has.
 */
export function capabilityLines(spec: Spec, lastCap: number, processPlan = false, id = ''): string[] {
  if (spec.process?.capabilities?.ambient?.length && !processPlan) {
    throw new InvalidConfigError('the lxc driver cannot raise ambient capabilities (LXC 5 has no key for them): use the native driver', {
      containerId: id,
    });
  }
  const bounding = new Set(capabilityNames(spec.process?.capabilities?.bounding));
  const known = CAPABILITIES.filter((_c, i) => i <= lastCap);
  // with a process plan our helper needs these until it has set the final sets itself
  const kept = known.filter((c) => bounding.has(c) || (processPlan && PLAN_CAPABILITIES.includes(c)));
  if (kept.length === known.length && lastCap < CAPABILITIES.length) return [];
  return [`lxc.cap.keep = ${kept.length ? kept.map((n) => n.toLowerCase()).join(' ') : 'none'}`];
}

function mountSection(spec: Spec, ctx: LxcRenderContext): string[] {
  const id = ctx.id;
  const restricted = restrictedSys(spec);
  const lines = ['# NOTICE: these mounts are made inside the container\'s mount namespace'];
  // proc and sysfs: LXC 5's own keys also apply the restrictions (read-only /proc/sys and /sys).
  if (spec.mounts?.some((m) => m.destination === '/sys' && isBind(m))) {
    // sysfs can only be mounted by the owner of a net namespace: the host's, bound
    lines.push(restricted ? 'lxc.mount.auto = proc:mixed' : 'lxc.mount.auto = proc:rw');
    lines.push(`lxc.mount.entry = /sys sys none rbind,${restricted ? 'ro' : 'rw'},create=dir 0 0`);
  } else {
    lines.push(restricted ? 'lxc.mount.auto = proc:mixed sys:ro' : 'lxc.mount.auto = proc:rw sys:rw');
  }
  // LXC's autodev tmpfs is neither nosuid nor noexec, and LXC cannot remount it: a tmpfs of ours
  // on top of it, before anything else is mounted under /dev (LXC fills in the nodes and devpts after the entries)
  lines.push('# /dev: nosuid,noexec (over LXC\'s autodev tmpfs; LXC puts its nodes in this one)');
  lines.push(`lxc.mount.entry = none dev tmpfs nosuid,noexec,mode=755,size=${SHM_SIZE} 0 0`);
  lines.push('# devpts: LXC mounts a new instance on /dev/pts itself (lxc.pty.max), ptmxmode=0666');
  const shmSize = spec.mounts?.find((m) => m.destination === '/dev/shm')?.options?.find((o) => o.startsWith('size=')) ?? `size=${SHM_SIZE}`;
  lines.push(`lxc.mount.entry = shm dev/shm tmpfs ${oneLine(shmSize, 'shm size', id)},mode=1777,nosuid,nodev,noexec,create=dir 0 0`);
  // --tmpfs, --mount type=tmpfs
  for (const m of spec.mounts ?? []) {
    if (m.type !== 'tmpfs' || m.destination === '/dev' || m.destination === '/dev/shm') continue;
    lines.push(`lxc.mount.entry = tmpfs ${escapeMountPath(target(oneLine(m.destination, 'tmpfs', id)))} tmpfs ${oneLine((m.options ?? []).join(',') || 'defaults', 'tmpfs options', id)},create=dir 0 0`);
  }
  lines.push('lxc.mount.entry = mqueue dev/mqueue mqueue nosuid,nodev,noexec,create=dir 0 0');
  // --device in a user namespace: no mknod there, the host's node is bound (made by us before, as native)
  if (namespaceOf(spec, 'user')) {
    for (const d of extraDevices(spec)) {
      lines.push(`lxc.mount.entry = ${escapeMountPath(deviceSourceOf(spec, d.path))} ${escapeMountPath(target(d.path))} none bind,create=file 0 0`);
    }
  }
  const readonly = spec.linux?.readonlyPaths ?? [];
  const masked = spec.linux?.maskedPaths ?? [];
  // optional: a path this kernel does not have is skipped
  if (readonly.length && ctx.facts.rootfsMount) {
    lines.push('# read-only kernel paths: the container\'s own /proc, bound onto itself read-only');
    const at = escapeMountPath(oneLine(ctx.facts.rootfsMount, 'rootfs mount', id));
    for (const p of readonly) lines.push(`lxc.mount.entry = ${at}${escapeMountPath(p)} ${escapeMountPath(target(p))} none bind,ro,optional 0 0`);
  }
  if (masked.length) {
    lines.push('# masked kernel paths: an empty read-only tmpfs on a directory, /dev/null on a file');
    for (const p of masked) {
      lines.push(
        MASKED_DIRS.has(p)
          ? `lxc.mount.entry = tmpfs ${escapeMountPath(target(p))} tmpfs ro,nosuid,nodev,noexec,optional 0 0`
          : `lxc.mount.entry = /dev/null ${escapeMountPath(target(p))} none bind,ro,optional 0 0`,
      );
    }
  }
  if (ctx.consoleHelper) {
    const helper = escapeMountPath(oneLine(ctx.consoleHelper, 'console helper', id));
    lines.push(`lxc.mount.entry = ${helper} ${target(CONSOLE_HELPER)} none bind,ro,create=file 0 0`);
  }
  if (ctx.processPlan) {
    const plan = escapeMountPath(oneLine(ctx.processPlan, 'process plan', id));
    lines.push(`lxc.mount.entry = ${plan} ${target(PROCESS_PLAN)} none bind,ro,create=file 0 0`);
  }
  // the spec's binds (volumes, /etc files) onto targets made and resolved by us inside the rootfs
  // (mountTargets): LXC creates nothing
  binds(spec).forEach((m, i) => {
    const src = escapeMountPath(oneLine(m.source!, 'volume source', id));
    const dst = escapeMountPath(target(oneLine(ctx.mountTargets?.[i] ?? m.destination, 'volume destination', id)));
    const opts = ['bind', m.options?.includes('ro') ? 'ro' : 'rw', ...(m.uidMappings ? ['idmap=container'] : [])];
    lines.push(`lxc.mount.entry = ${src} ${dst} none ${opts.join(',')} 0 0`);
  });
  return lines;
}

/** The spec's bind mounts of host paths (volumes, /etc files), in order: not the kernel's /sys. */
export function binds(spec: Spec) {
  return (spec.mounts ?? []).filter((m) => isBind(m) && m.destination !== '/sys');
}

/**
 * The container's seccomp profile (the spec's linux.seccomp) in LXC's language; undefined when
 * it has none (unconfined, privileged). Throws for what LXC cannot express.
 */
export function lxcSeccompProfile(spec: Spec, lastCap: number, platform?: Platform, id?: string): string | undefined {
  const seccomp = spec.linux?.seccomp;
  if (!seccomp) return undefined;
  const caps = capabilityNames(spec.process?.capabilities?.bounding).filter((c) => CAPABILITIES.indexOf(c) <= lastCap);
  try {
    const resolved = resolveSeccomp(seccomp as SeccompProfile, caps, platform);
    resolved.name = spec.annotations?.[ANNOTATION.seccomp] ?? resolved.name;
    return renderLxcSeccomp(resolved);
  } catch (e) {
    if (e instanceof InvalidConfigError) throw new InvalidConfigError(e.message, { ...(id ? { containerId: id } : {}), cause: e });
    throw e;
  }
}

/** seccomp, no_new_privs and a session keyring of the container's own (as the native driver). */
function securityLines(spec: Spec, ctx: LxcRenderContext): string[] {
  if (ctx.processPlan) {
    return [
      '# seccomp, no_new_privs, a session keyring and the final capability sets: execdriver-init run-plan',
      '# (a compiled filter, loaded by our helper: LXC would parse and compile the profile at every start)',
    ];
  }
  return [
    ctx.seccompProfile
      ? `lxc.seccomp.profile = ${oneLine(ctx.seccompProfile, 'seccomp profile path', ctx.id)}`
      : '# seccomp: unconfined',
    ...(spec.process?.noNewPrivileges ? ['lxc.no_new_privs = 1'] : []),
    // a new session keyring is LXC's default; LXC 5.0 reads this key inverted (1 turns it off,
    // against its manual): no line for it, and a raw line cannot be relied on either way
    '# lxc.keyring.session: left to the default (a new session keyring)',
  ];
}

/** Raw lines from `command.config.lxc` (the spec's ANNOTATION.lxc), each `lxc.<key> = <value>` on one line. */
export function rawLines(spec: Spec, id = ''): string[] {
  const text = spec.annotations?.[ANNOTATION.lxc];
  if (!text) return [];
  const lines = JSON.parse(text) as unknown;
  if (!Array.isArray(lines) || lines.some((l) => typeof l !== 'string' || /[\n\r]/.test(l) || !/^lxc\.[A-Za-z0-9_.\-[\]]+\s*=/.test(l.trim()))) {
    throw new InvalidConfigError(`annotations["${ANNOTATION.lxc}"] must be a JSON list of "lxc.<key> = <value>" lines`, { containerId: id });
  }
  return (lines as string[]).map((line) => line.trim());
}

/** The text of config.lxc, rendered from the container's spec. */
export function renderConfig(spec: Spec, ctx: LxcRenderContext): string {
  const id = ctx.id;
  const proc = spec.process!;
  const { devices, resources } = cgroupLines(spec, ctx.facts, id);
  const raw = rawLines(spec, id);
  const out: string[][] = [];
  const userns = !!namespaceOf(spec, 'user');
  const privileged = deviceModeOf(spec.linux?.resources?.devices) === 'allow-all';

  out.push([`# config.lxc of container ${id}, written by execdriver for LXC 5`, `lxc.uts.name = ${oneLine(spec.hostname ?? '', 'hostname', id)}`]);
  out.push(networkSection(spec, ctx));
  const rootfs = [
    '# root filesystem',
    ctx.rootfsOverlay
      ? `lxc.rootfs.path = overlay:${oneLine(ctx.rootfsOverlay.lower, 'rootfs', id)}:${oneLine(ctx.rootfsOverlay.upper, 'rootfs', id)}`
      : `lxc.rootfs.path = dir:${oneLine(ctx.rootfsPath ?? spec.root!.path, 'rootfs', id)}`,
  ];
  if (ctx.facts.rootfsMount) rootfs.push(`lxc.rootfs.mount = ${oneLine(ctx.facts.rootfsMount, 'rootfs mount', id)}`);
  const rootfsOptions = [...(userns && !ctx.rootless ? ['idmap=container'] : []), ...(spec.root!.readonly ? ['ro'] : [])];
  if (rootfsOptions.length) rootfs.push(`lxc.rootfs.options = ${rootfsOptions.join(',')}`);
  out.push(rootfs);
  if (userns) {
    out.push([
      '# a user namespace: container ids on these host ranges; the rootfs is idmapped to it',
      ...(spec.linux?.uidMappings ?? []).map((m) => `lxc.idmap = u ${m.containerID} ${m.hostID} ${m.size}`),
      ...(spec.linux?.gidMappings ?? []).map((m) => `lxc.idmap = g ${m.containerID} ${m.hostID} ${m.size}`),
    ]);
  }
  out.push([
    '# a dedicated devpts instance, with a bounded number of pseudo terminals',
    `lxc.pty.max = ${PTY_MAX}`,
    ...(proc.terminal
      ? [
          '# tty: LXC\'s console, a pty of that devpts on the command\'s fds 0-2 and /dev/console,',
          '# relayed by lxc-start to its own terminal (lxc.console.path left to its default)',
        ]
      : ['# no console of LXC\'s own: the container\'s stdio are the ones lxc-start got', 'lxc.console.path = none']),
    '# no ttys',
    'lxc.tty.max = 0',
    '# a fresh /dev (tmpfs) with the standard nodes',
    'lxc.autodev = 1',
  ]);
  if (ctx.rootless) {
    out.push(['# rootless: no cgroup of ours (nothing is delegated), so no device rules; a user namespace makes no device node']);
  } else {
    out.push([
      privileged ? '# privileged: access to every device' : '# no implicit access to devices: Docker\'s allow-list',
      ...(devices.length ? devices : ['# (this host has no devices cgroup: no device rules)']),
    ]);
  }
  out.push(mountSection(spec, ctx));
  if (ctx.cgroupDirs) {
    out.push([
      '# our names for the cgroups (unique per state root): LXC refuses to start when one is taken',
      `lxc.cgroup.dir.container = ${oneLine(ctx.cgroupDirs.container, 'cgroup', id)}`,
      `lxc.cgroup.dir.monitor = ${oneLine(ctx.cgroupDirs.monitor, 'cgroup', id)}`,
    ]);
  }
  if (resources.length) out.push(['# resources', ...resources]);

  const user = proc.user;
  const lines = ['# the process'];
  if (ctx.processPlan) {
    lines.push(`# user ${user.uid}:${user.gid}: set by execdriver-init run-plan (${PROCESS_PLAN}), with the capabilities and seccomp`);
  } else {
    lines.push(`lxc.init.uid = ${user.uid}`, `lxc.init.gid = ${user.gid}`);
    if (user.additionalGids?.length) lines.push(`lxc.init.groups = ${user.additionalGids.join(',')}`);
  }
  // with a plan, the plan makes the working directory when missing and enters it
  lines.push(`lxc.init.cwd = ${ctx.processPlan ? '/' : oneLine(proc.cwd || '/', 'working directory', id)}`);
  // --ulimit, --sysctl (cli, issue 12)
  for (const r of proc.rlimits ?? []) lines.push(`lxc.prlimit.${r.type.slice(7).toLowerCase()} = ${limitText(r.soft)}:${limitText(r.hard)}`);
  // sysctl: LXC's lxc.sysctl comes after /proc/sys is read-only; a mount hook runs in the
  // container's namespaces before that, where the host's /proc/sys shows the container's own
  // net and IPC parameters (the keys are checked names: letters, digits, '_', '-', '.')
  for (const [k, v] of Object.entries(spec.linux?.sysctl ?? {})) {
    const path = `/proc/sys/${oneLine(k, 'sysctl', id).replace(/\./g, '/')}`;
    lines.push(`lxc.hook.mount = /bin/sh -c ${shellQuote('printf "%s\\n" "$0" > "$1"')} ${shellQuote(oneLine(v, 'sysctl', id))} ${shellQuote(path)}`);
  }
  for (const e of proc.env ?? []) lines.push(`lxc.environment = ${oneLine(e, 'environment entry', id)}`);
  out.push(lines);

  const caps = capabilityLines(spec, ctx.facts.lastCap, !!ctx.processPlan, id);
  out.push([
    '# capabilities and confinement',
    ...(caps.length ? caps : ['# (privileged: every capability kept)']),
    'lxc.apparmor.profile = unconfined',
    ...securityLines(spec, ctx),
  ]);
  if (ctx.stopHook) {
    out.push(['# copy the OOM-kill counter before LXC removes the cgroup', `lxc.hook.stop = ${oneLine(ctx.stopHook, 'hook', id)}`]);
  }
  if (raw.length) out.push(['# raw lines of the command', ...raw]);
  return out.map((s) => s.join('\n')).join('\n\n') + '\n';
}

/** Single-quote a word for /bin/sh. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `lxc.hook.stop` command that copies the OOM counter file of the container's memory cgroup
 * (v1 `memory.oom_control`, v2 `memory.events`) to `outFile`. LXC runs stop hooks on the host
 * after the container stopped and before it removes the cgroups, through `sh -c`, with the
 * container name, `lxc` and `stop` appended as arguments (hook version 0): they land after
 * `$0`/`$1` here and are ignored. The copy never fails the stop.
 */
export function stopHookCommand(oomCounterFile: string, outFile: string): string {
  return `/bin/sh -c ${shellQuote('/bin/cat "$0" > "$1" 2>/dev/null; exit 0')} ${shellQuote(oomCounterFile)} ${shellQuote(outFile)}`;
}
