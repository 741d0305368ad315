import { CAPABILITIES, compareCapabilities } from '../capabilities.js';
import type { NormalizedCommand } from '../command.js';
import { rootTag } from '../state/index.js';
import type { NetworkState } from '../network/container.js';
import { ANNOTATION, buildSpec, capabilityNames, isBind, isTrue, specNetwork } from '../spec/from-command.js';
import { deviceModeOf, resourcesOf } from '../spec/resources.js';
import type { Spec } from '../spec/types.js';
import type { ResolvedUser } from '../users.js';
import type { IdMapping } from '../userns.js';

/** One entry of container.json's `networks` (the seed's libcontainer.Network). */
export interface NetworkJson {
  type: 'loopback' | 'veth' | 'netns';
  context?: Record<string, string>;
  address?: string;
  gateway?: string;
  mtu?: number;
}

export interface MountJson {
  type: 'devtmpfs' | 'bind';
  source?: string;
  destination?: string;
  writable?: boolean;
  private?: boolean;
  idmap?: boolean;
}

export interface CgroupJson {
  name: string;
  parent: string;
  device_access?: boolean;
  memory?: number;
  memory_reservation?: number;
  memory_swap?: number;
  cpu_shares?: number;
  cpu_quota?: number;
  cpu_period?: number;
  cpuset_cpus?: string;
  cpuset_mems?: string;
  pids_limit?: number;
  freezer?: string;
}

/** container.json: the seed's libcontainer.Container, with our additions in the same style. */
export interface ContainerJson {
  id: string;
  rootfs: string;
  args: string[];
  hostname?: string;
  readonly_fs?: boolean;
  no_pivot_root?: boolean;
  user?: string;
  working_dir?: string;
  environment?: string[];
  tty?: boolean;
  init?: boolean;
  namespaces: Record<string, boolean>;
  capabilities_mask?: Record<string, boolean>;
  /** raised into the ambient set (with inheritable and permitted), for a non-root user */
  capabilities_ambient?: string[];
  networks?: NetworkJson[];
  cgroups: CgroupJson;
  context?: Record<string, string>;
  mounts?: MountJson[];
  /** with NEWUSER: the maps Node writes (OCI's linux.uidMappings / gidMappings) */
  uid_mappings?: IdMapping[];
  gid_mappings?: IdMapping[];
  /** the seccomp profile applied: `default`, `unconfined`, or the custom profile's name */
  seccomp?: string;
  no_new_privileges?: boolean;
}

export const CGROUP_PARENT = 'execdriver';

/**
 * The name of a container's cgroup under CGROUP_PARENT, unique per state root: `<id>` under the
 * default root, `<id>@<8 hex digits>` under another (rootTag), so the same id under two roots
 * never shares a cgroup.
 */
export function cgroupName(root: string, id: string): string {
  return id + rootTag(root);
}

function compact<T extends object>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && v !== '' && v !== false && !(Array.isArray(v) && v.length === 0)),
  ) as T;
}

let sorted: string[] | undefined;
/** The capability names in the record's order (as capabilityMask sorts them). */
const sortedCapabilities = () => (sorted ??= [...CAPABILITIES].sort(compareCapabilities));

const NS_NAMES: Partial<Record<string, string>> = {
  mount: 'NEWNS', uts: 'NEWUTS', ipc: 'NEWIPC', pid: 'NEWPID', network: 'NEWNET', cgroup: 'NEWCGROUP', user: 'NEWUSER',
};

/**
 * container.json, the seed's record of a native container, derived from its spec (src/spec/):
 * the seed's field names (SPEC §2), written at `<root>/native/<id>/container.json`. Nothing
 * reads it to start a container (the plan is rendered from the spec); it is what `info` points
 * to and what a reader of the seed expects.
 */
export function containerJsonFromSpec(id: string, spec: Spec): ContainerJson {
  const proc = spec.process!;
  const linux = spec.linux ?? {};
  const net = specNetwork(spec);
  const namespaces: Record<string, boolean> = {};
  for (const n of linux.namespaces ?? []) {
    const name = NS_NAMES[n.type];
    if (name && !n.path) namespaces[name] = true;
  }

  const networks: NetworkJson[] = [];
  if (net.mode.startsWith('container:')) {
    networks.push({ type: 'netns', context: { container: net.mode.slice('container:'.length) } });
  } else if (namespaces['NEWNET']) {
    networks.push({ type: 'loopback', address: '127.0.0.1/0', gateway: 'localhost', mtu: net.mtu ?? 1500 });
    if (net.mode === 'bridge' && net.address && net.bridge) {
      networks.push({
        type: 'veth',
        context: { bridge: net.bridge, prefix: 'veth' },
        address: `${net.address}/${net.prefixLen ?? 32}`,
        ...(net.gateway ? { gateway: net.gateway } : {}),
        ...(net.vethMtu ? { mtu: net.vethMtu } : {}),
      });
    }
  }

  const r = resourcesOf(linux.resources);
  const cgroupsPath = linux.cgroupsPath ?? `${CGROUP_PARENT}/${id}`;
  const slash = cgroupsPath.lastIndexOf('/');
  const cgroups: CgroupJson = compact({
    name: cgroupsPath.slice(slash + 1),
    parent: slash > 0 ? cgroupsPath.slice(0, slash) : CGROUP_PARENT,
    device_access: deviceModeOf(linux.resources?.devices) === 'allow-all',
    memory: r.memory,
    memory_reservation: r.memoryReservation,
    memory_swap: r.memorySwap,
    cpu_shares: r.cpuShares,
    cpu_quota: r.cpuQuota,
    cpu_period: r.cpuPeriod,
    cpuset_cpus: r.cpusetCpus,
    cpuset_mems: r.cpusetMems,
    pids_limit: r.pidsLimit,
  });

  const mounts: MountJson[] = [{ type: 'devtmpfs' }];
  for (const m of spec.mounts ?? []) {
    if (!isBind(m) || m.destination === '/sys') continue;
    mounts.push(
      compact({
        type: 'bind' as const,
        source: m.source,
        destination: m.destination,
        writable: !m.options?.includes('ro'),
        private: !!m.options?.some((o) => o === 'private' || o === 'rprivate'),
        idmap: !!m.uidMappings,
      }),
    );
  }
  const bounding = new Set(capabilityNames(proc.capabilities?.bounding));
  const restricted = (linux.maskedPaths?.length ?? 0) + (linux.readonlyPaths?.length ?? 0) > 0;

  return compact({
    id,
    rootfs: spec.root!.path,
    args: proc.args ?? [],
    hostname: spec.hostname,
    readonly_fs: spec.root!.readonly,
    no_pivot_root: isTrue(spec, ANNOTATION.noPivotRoot),
    user: spec.annotations?.[ANNOTATION.user],
    working_dir: proc.cwd === '/' ? '' : proc.cwd,
    environment: proc.env,
    tty: proc.terminal,
    init: isTrue(spec, ANNOTATION.init),
    namespaces,
    capabilities_mask: Object.fromEntries(sortedCapabilities().map((c) => [c, bounding.has(c)] as const)),
    capabilities_ambient: capabilityNames(proc.capabilities?.ambient),
    networks,
    cgroups,
    context: compact({
      apparmor_profile: '',
      mount_label: linux.mountLabel ?? '',
      process_label: '',
      restrictions: restricted ? 'true' : '',
    }),
    mounts,
    uid_mappings: linux.uidMappings,
    gid_mappings: linux.gidMappings,
    seccomp: spec.annotations?.[ANNOTATION.seccomp] ?? (linux.seccomp ? 'custom' : 'unconfined'),
    no_new_privileges: proc.noNewPrivileges,
  });
}

/**
 * The default template (SPEC §2) of a Command, as container.json: its spec (buildSpec) as the
 * seed's record. Five namespaces (plus cgroup), the default capability allow-list, a tmpfs /dev,
 * restrictions on; privileged: every capability, every device, no restrictions.
 */
export function buildContainerJson(
  cmd: NormalizedCommand,
  opts: { cgroupNamespace: boolean; network?: NetworkState; cgroupName?: string; user?: ResolvedUser; netnsPath?: string },
): ContainerJson {
  const spec = buildSpec(cmd, {
    user: opts.user ?? { uid: 0, gid: 0, groups: [] },
    cgroupNamespace: opts.cgroupNamespace,
    ...(opts.network ? { network: opts.network } : {}),
    cgroupsPath: `${CGROUP_PARENT}/${opts.cgroupName ?? cmd.id}`,
    netnsPath: opts.netnsPath ?? (cmd.network.mode.startsWith('container:') ? '/proc/self/ns/net' : undefined),
  });
  return containerJsonFromSpec(cmd.id, spec);
}
