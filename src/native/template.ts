import { capabilityMask } from '../capabilities.js';
import type { NormalizedCommand } from '../command.js';
import { rootTag } from '../state/index.js';
import type { NetworkState } from '../network/container.js';
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

/**
 * The default template (SPEC §2): five namespaces (plus cgroup), the default capability allow-list,
 * a tmpfs /dev, restrictions on. Privileged: every capability, access to every device, no restrictions.
 */
export function buildContainerJson(
  cmd: NormalizedCommand,
  opts: { cgroupNamespace: boolean; network?: NetworkState; cgroupName?: string },
): ContainerJson {
  const native = cmd.config.native ?? {};
  const netMode = cmd.network.mode;
  const namespaces: Record<string, boolean> = { NEWNS: true, NEWUTS: true, NEWIPC: true, NEWPID: true };
  if (netMode !== 'host') namespaces['NEWNET'] = true;
  if (opts.cgroupNamespace) namespaces['NEWCGROUP'] = true;
  if (cmd.userns) namespaces['NEWUSER'] = true;

  const networks: NetworkJson[] = [];
  if (netMode !== 'host') {
    if (netMode.startsWith('container:')) {
      // filled with the other container's namespace path when it is started
      networks.push({ type: 'netns', context: { container: netMode.slice('container:'.length) } });
      delete namespaces['NEWNET'];
    } else {
      networks.push({ type: 'loopback', address: '127.0.0.1/0', gateway: 'localhost', mtu: cmd.network.mtu ?? 1500 });
      const n = opts.network;
      if (netMode === 'bridge' && n?.ipAddress && n.bridge) {
        networks.push({
          type: 'veth',
          context: { bridge: n.bridge, prefix: 'veth' },
          address: `${n.ipAddress}/${n.prefixLen}`,
          ...(n.gateway ? { gateway: n.gateway } : {}),
          ...(n.mtu ? { mtu: n.mtu } : {}),
        });
      }
    }
  }

  const r = cmd.resources;
  const cgroups: CgroupJson = compact({
    name: opts.cgroupName ?? cmd.id,
    parent: CGROUP_PARENT,
    device_access: cmd.privileged,
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
  for (const m of cmd.mounts) {
    mounts.push(compact({ type: 'bind' as const, source: m.source, destination: m.destination, writable: m.writable, private: m.private, idmap: m.idmap }));
  }

  return compact({
    id: cmd.id,
    rootfs: cmd.rootfs,
    args: [cmd.entrypoint, ...cmd.arguments],
    hostname: cmd.hostname,
    readonly_fs: cmd.readonlyRootfs,
    no_pivot_root: native['no_pivot_root'] === true || native['no_pivot_root'] === 'true',
    user: cmd.user,
    working_dir: cmd.workingDir,
    environment: cmd.env,
    tty: cmd.tty,
    init: cmd.init,
    namespaces,
    capabilities_mask: capabilityMask(cmd.privileged, cmd.capAdd, cmd.capDrop),
    capabilities_ambient: cmd.capAmbient,
    networks,
    cgroups,
    context: compact({
      apparmor_profile: '',
      mount_label: '',
      process_label: '',
      restrictions: cmd.privileged ? '' : 'true',
    }),
    mounts,
    uid_mappings: cmd.userns?.uidMappings,
    gid_mappings: cmd.userns?.gidMappings,
    seccomp: cmd.seccomp === 'unconfined' ? 'unconfined' : (cmd.seccomp.name ?? 'custom'),
    no_new_privileges: cmd.noNewPrivileges,
  });
}
