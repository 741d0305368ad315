/**
 * Policy, in one place: a normalized Command → the container's OCI spec. Every default a
 * container gets is decided here (namespaces, the capability sets, the seccomp profile, masked
 * and read-only kernel paths, device nodes and device rules, the standard mounts, volumes and
 * the /etc files of its network, limits, user namespace maps); the backends only render the
 * result (src/native/plan.ts → the C init's plan, src/lxc/template.ts → config.lxc).
 *
 * What the specification has no field for (our network modes, `--init`, the user as asked) is
 * carried in annotations under `org.execdriver.` (the specification's place for such data),
 * read back with the helpers below.
 */
import { capabilityMask, CAPABILITIES, capabilitySets, hostCapabilities, keptCapabilities } from '../capabilities.js';
import type { NormalizedCommand } from '../command.js';
import { InvalidConfigError } from '../errors.js';
import type { NetworkState } from '../network/container.js';
import { MASKED_PATHS, READONLY_PATHS } from '../restrictions.js';
import { ociSeccomp, type Platform } from '../security/seccomp/profile.js';
import type { ResolvedUser } from '../users.js';
import { deviceRules, linuxResources } from './resources.js';
import { OCI_VERSION, type LinuxDevice, type LinuxNamespace, type LinuxSeccomp, type Mount, type Spec } from './types.js';

/** Our annotations (the specification's extension point); values are strings. */
export const ANNOTATION = {
  /** the user as the Command gave it (`nobody`, `1000:1000`); the spec has the resolved ids */
  user: 'org.execdriver.user',
  /** `true`: a minimal init runs as pid 1 in front of the command (`--init`) */
  init: 'org.execdriver.init',
  /** `true`: no pivot_root (MS_MOVE + chroot), `config.native.no_pivot_root` */
  noPivotRoot: 'org.execdriver.no-pivot-root',
  /** the seccomp profile's name: `default`, `unconfined`, or a custom profile's `name` */
  seccomp: 'org.execdriver.seccomp',
  /** the network as prepared, JSON (SpecNetwork) */
  network: 'org.execdriver.network',
  /** rootfs (issue 12): `overlay` or `direct` (absent: direct, an older spec or an OCI bundle) */
  rootfsMode: 'org.execdriver.rootfs-mode',
  /** rootfs: every layer, the lowest first, a JSON list (root.path is the lowest) */
  rootfsLayers: 'org.execdriver.rootfs-layers',
  /** raw `lxc.*` lines for the lxc driver (`config.lxc` of the Command), a JSON list */
  lxc: 'org.execdriver.lxc',
  /** cli (issue 12): the labels, a JSON object; what `stop` sends first, and its seconds before SIGKILL */
  labels: 'org.execdriver.labels',
  /** --device HOST:DST: the host's node of each DST that differs (a user namespace binds it), JSON */
  deviceSources: 'org.execdriver.device-sources',
  stopSignal: 'org.execdriver.stop-signal',
  stopTimeout: 'org.execdriver.stop-timeout',
} as const;

/** The network of a container, as its spec records it (ANNOTATION.network). */
export interface SpecNetwork {
  /** `bridge`, `none`, `host`, `slirp4netns`, `container:<id>` */
  mode: string;
  /** the MTU asked for (the loopback's; default 1500) */
  mtu?: number;
  /** bridge mode: the bridge, the container's address and prefix, the gateway, the veth's MTU */
  bridge?: string;
  address?: string;
  prefixLen?: number;
  gateway?: string;
  vethMtu?: number;
}

/** What a spec is built from besides the Command: what the driver resolved or prepared. */
export interface SpecContext {
  /** the user, resolved in the container's own /etc/passwd and /etc/group */
  user: ResolvedUser;
  /** the host has cgroup namespaces */
  cgroupNamespace: boolean;
  /** the network as prepared (bridge: bridge, address, gateway, MTU) */
  network?: NetworkState;
  /**
   * the network's /etc files as written on the host (setupNetwork: `hosts`, `hostname`,
   * `resolv.conf`), by their place in the container; each becomes a read-only, private bind
   */
  etcFiles?: readonly { source: string; destination: string }[];
  /** `container:<id>` mode: the namespace to join (`/proc/<pid>/ns/net`) */
  netnsPath?: string;
  /** the container's cgroups, relative to each hierarchy's root (`execdriver/<name>`) */
  cgroupsPath?: string;
  /** with a terminal: its initial size */
  consoleSize?: { rows: number; cols: number };
  /** what this host can grant (the seccomp profile is resolved against what the container really keeps) */
  host?: { names: string[]; lastCap: number };
  platform?: Platform;
}

/** `/dev`'s and `/dev/shm`'s size (Docker 0.11's). */
export const SHM_SIZE = '65536k';

/** The device nodes every container gets (SPEC §2). */
export const DEFAULT_DEVICES: readonly LinuxDevice[] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
].map(([name, major, minor]) => ({ path: `/dev/${name}`, type: 'c', major: major as number, minor: minor as number, fileMode: 0o666, uid: 0, gid: 0 }));

const cap = (names: readonly string[]) => names.map((c) => `CAP_${c}`);

/** The namespaces of a container: its own mount, uts, ipc and pid; network unless host (or joined); cgroup, user. */
function namespacesOf(cmd: NormalizedCommand, ctx: SpecContext): LinuxNamespace[] {
  const ns: LinuxNamespace[] = [{ type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'pid' }];
  const mode = cmd.network.mode;
  if (mode.startsWith('container:')) {
    if (!ctx.netnsPath) throw new InvalidConfigError(`network mode ${mode}: no network namespace to join`, { containerId: cmd.id });
    ns.push({ type: 'network', path: ctx.netnsPath });
  } else if (mode !== 'host') {
    ns.push({ type: 'network' });
  }
  if (ctx.cgroupNamespace) ns.push({ type: 'cgroup' });
  if (cmd.userns) ns.push({ type: 'user' });
  return ns;
}

/** The standard filesystems, then the volumes and /etc files in the Command's order. */
function mountsOf(cmd: NormalizedCommand, ownNetns: boolean, etcFiles: SpecContext['etcFiles'] = []): Mount[] {
  const restricted = !cmd.privileged;
  const mounts: Mount[] = [
    // nosuid,noexec as Docker's: nothing copied into /dev runs
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'noexec', 'strictatime', 'mode=755', `size=${SHM_SIZE}`] },
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  if (cmd.userns && !ownNetns) {
    // sysfs can be mounted only by the owner of the net namespace: the host's, bound
    mounts.push({ destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', ...(restricted ? ['ro', 'nosuid', 'nodev', 'noexec'] : [])] });
  } else {
    mounts.push({ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...(restricted ? ['ro'] : [])] });
  }
  mounts.push(
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${cmd.extra.shmSize !== undefined ? `${Math.ceil(cmd.extra.shmSize / 1024)}k` : SHM_SIZE}`] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  );
  for (const m of cmd.mounts) {
    mounts.push({
      destination: m.destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', m.writable === false ? 'ro' : 'rw', ...(m.private === false ? [] : ['private'])],
      ...(m.idmap && cmd.userns ? { uidMappings: cmd.userns.uidMappings, gidMappings: cmd.userns.gidMappings } : {}),
    });
  }
  // --tmpfs: Docker's defaults (noexec, nosuid, nodev) unless the options say otherwise
  for (const t of cmd.extra.tmpfs) {
    const o = t.options ?? [];
    const has = (a: string, b: string) => o.includes(a) || o.includes(b);
    const defaults = [...(has('exec', 'noexec') ? [] : ['noexec']), ...(has('suid', 'nosuid') ? [] : ['nosuid']), ...(has('dev', 'nodev') ? [] : ['nodev'])];
    mounts.push({ destination: t.destination, type: 'tmpfs', source: 'tmpfs', options: [...defaults, ...o] });
  }
  // the network's /etc/hosts, /etc/hostname, /etc/resolv.conf: the container reads, never writes them
  for (const f of etcFiles) mounts.push({ destination: f.destination, type: 'bind', source: f.source, options: ['rbind', 'ro', 'private'] });
  return mounts;
}

/** The container's network as recorded in its spec. */
function networkOf(cmd: NormalizedCommand, n: NetworkState | undefined): SpecNetwork {
  const out: SpecNetwork = { mode: cmd.network.mode, ...(cmd.network.mtu !== undefined ? { mtu: cmd.network.mtu } : {}) };
  if (cmd.network.mode === 'bridge' && n?.ipAddress && n.bridge) {
    out.bridge = n.bridge;
    out.address = n.ipAddress;
    out.prefixLen = n.prefixLen ?? 32;
    if (n.gateway) out.gateway = n.gateway;
    if (n.mtu) out.vethMtu = n.mtu;
  }
  return out;
}

/**
 * A normalized Command (plus what the driver resolved: the user, the prepared network, the
 * joined namespace) as the container's OCI spec.
 */
export function buildSpec(cmd: NormalizedCommand, ctx: SpecContext): Spec {
  const native = cmd.config.native ?? {};
  const noPivot = native['no_pivot_root'] === true || native['no_pivot_root'] === 'true';
  const namespaces = namespacesOf(cmd, ctx);
  const ownNetns = namespaces.some((n) => n.type === 'network' && !n.path);

  // capabilities: the allow-list (or every one), cap-add/cap-drop; the sets by the user
  const mask = capabilityMask(cmd.privileged, cmd.capAdd, cmd.capDrop);
  const sets = capabilitySets(keptCapabilities(mask), ctx.user.uid, cmd.capAmbient);

  // seccomp: the profile resolved against what the container really keeps on this host
  let seccomp: LinuxSeccomp | undefined;
  if (cmd.seccomp !== 'unconfined') {
    const host = ctx.host ?? hostCapabilities();
    const kept = keptCapabilities(mask, host.lastCap).filter((c) => host.names.includes(c));
    seccomp = ociSeccomp(cmd.seccomp, kept, ctx.platform) as LinuxSeccomp;
  }

  const annotations: Record<string, string> = {};
  if (cmd.user) annotations[ANNOTATION.user] = cmd.user;
  if (cmd.init) annotations[ANNOTATION.init] = 'true';
  if (cmd.rootfsMode === 'overlay') {
    annotations[ANNOTATION.rootfsMode] = 'overlay';
    annotations[ANNOTATION.rootfsLayers] = JSON.stringify(cmd.rootfsLayers);
  }
  if (noPivot) annotations[ANNOTATION.noPivotRoot] = 'true';
  annotations[ANNOTATION.seccomp] = cmd.seccomp === 'unconfined' ? 'unconfined' : (cmd.seccomp.name ?? 'custom');
  annotations[ANNOTATION.network] = JSON.stringify(networkOf(cmd, ctx.network));
  if (cmd.config.lxc?.length) annotations[ANNOTATION.lxc] = JSON.stringify(cmd.config.lxc);
  if (Object.keys(cmd.extra.labels).length) annotations[ANNOTATION.labels] = JSON.stringify(cmd.extra.labels);
  const moved = cmd.extra.devices.filter((d) => d.destination !== d.path);
  if (moved.length) annotations[ANNOTATION.deviceSources] = JSON.stringify(Object.fromEntries(moved.map((d) => [d.destination, d.path])));
  annotations[ANNOTATION.stopSignal] = cmd.extra.stopSignal;
  annotations[ANNOTATION.stopTimeout] = String(cmd.extra.stopTimeout);
  const groups = [...new Set([...ctx.user.groups, ...cmd.extra.groupAdd])];
  const extraDevices: LinuxDevice[] = cmd.extra.devices.map((d) => ({ path: d.destination, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: 0, gid: 0 }));
  const deviceMode = cmd.privileged ? 'allow-all' : cmd.extra.devices.length ? { extra: cmd.extra.devices.map((d) => `${d.type} ${d.major}:${d.minor} ${d.access}`) } : 'default';

  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: cmd.tty,
      ...(cmd.tty && ctx.consoleSize ? { consoleSize: { height: ctx.consoleSize.rows, width: ctx.consoleSize.cols } } : {}),
      user: { uid: ctx.user.uid, gid: ctx.user.gid, umask: 0o022, ...(groups.length ? { additionalGids: groups } : {}) },
      ...(cmd.extra.ulimits.length ? { rlimits: cmd.extra.ulimits.map((u) => ({ type: `RLIMIT_${u.type.toUpperCase()}`, soft: u.soft, hard: u.hard })) } : {}),
      args: [cmd.entrypoint, ...cmd.arguments],
      env: [...cmd.env],
      cwd: cmd.workingDir || '/',
      capabilities: {
        bounding: cap(sets.bounding),
        effective: cap(sets.effective),
        inheritable: cap(sets.inheritable),
        permitted: cap(sets.permitted),
        ambient: cap(sets.ambient),
      },
      noNewPrivileges: cmd.noNewPrivileges,
    },
    root: { path: cmd.rootfs, readonly: cmd.readonlyRootfs },
    hostname: cmd.hostname,
    mounts: mountsOf(cmd, ownNetns, ctx.etcFiles),
    annotations,
    linux: {
      namespaces,
      ...(cmd.userns ? { uidMappings: cmd.userns.uidMappings, gidMappings: cmd.userns.gidMappings } : {}),
      devices: [...DEFAULT_DEVICES.map((d) => ({ ...d })), ...extraDevices],
      ...(ctx.cgroupsPath ? { cgroupsPath: ctx.cgroupsPath } : {}),
      resources: { devices: deviceRules(deviceMode), ...linuxResources(cmd.resources) },
      ...(Object.keys(cmd.extra.sysctl).length ? { sysctl: { ...cmd.extra.sysctl } } : {}),
      ...(seccomp ? { seccomp } : {}),
      rootfsPropagation: noPivot ? 'rslave' : 'rprivate',
      maskedPaths: cmd.privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: cmd.privileged ? [] : [...READONLY_PATHS],
    },
  };
}

// ---- reading a spec back (for the renderers and the record)

/** The network the spec records; a spec without our annotation (a bundle's): its namespaces say. */
export function specNetwork(spec: Spec): SpecNetwork {
  const text = spec.annotations?.[ANNOTATION.network];
  if (text) {
    try {
      return JSON.parse(text) as SpecNetwork;
    } catch {
      /* validateSpec refuses it */
    }
  }
  const net = spec.linux?.namespaces?.find((n) => n.type === 'network');
  return { mode: !net ? 'host' : net.path ? 'container:' : 'none' };
}

export const isTrue = (spec: Spec, key: string) => spec.annotations?.[key] === 'true';

/** `CAP_CHOWN` → `CHOWN`, for the known ones. */
export function capabilityNames(list: readonly string[] | undefined): string[] {
  return (list ?? []).map((c) => c.replace(/^CAP_/, '')).filter((c) => CAPABILITIES.includes(c));
}

/** The namespace of a type, if the spec has one. */
export function namespaceOf(spec: Spec, type: LinuxNamespace['type']): LinuxNamespace | undefined {
  return spec.linux?.namespaces?.find((n) => n.type === type);
}

/** Options of a mount that are bind options. */
export const isBind = (m: Mount) => m.type === 'bind' || !!m.options?.some((o) => o === 'bind' || o === 'rbind');

/** The rootfs as a spec records it: its layers (the lowest first) when it is an overlay (issue 12). */
export function rootfsLayersOf(spec: Spec): string[] | undefined {
  if (spec.annotations?.[ANNOTATION.rootfsMode] !== 'overlay') return undefined;
  const raw = spec.annotations[ANNOTATION.rootfsLayers];
  const layers = raw ? (JSON.parse(raw) as string[]) : [spec.root!.path];
  return layers.length ? layers : [spec.root!.path];
}

/** The host's node of a device of the spec (`--device HOST:DST`: HOST; else the same path). */
export function deviceSourceOf(spec: Spec, path: string): string {
  try {
    const m = JSON.parse(spec.annotations?.[ANNOTATION.deviceSources] ?? '{}') as Record<string, string>;
    return typeof m[path] === 'string' ? m[path] : path;
  } catch {
    return path;
  }
}
