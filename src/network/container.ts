/**
 * One container's network, as both drivers need it: what to validate before anything exists,
 * the bridge and address to take before the container starts, the /etc files to bind, and the
 * release once it is gone. The veth itself is the driver's business (the native driver calls
 * attachVeth, LXC makes its own from config.lxc).
 */
import { applyEtcExtras, type EtcExtras } from './etc-extras.js';
import type { NetworkConfig } from '../driver.js';
import { ensureBridge, DEFAULT_BRIDGE } from './bridge.js';
import { allocate, reclaim, release } from './ipam.js';
import { writeContainerNetFiles, type ContainerNetFiles } from './files.js';
import { isIPv4 } from './subnet.js';
import { validateBridgeSubnet, validateInterfaceName, validateMtu } from './validate.js';
import { InvalidConfigError } from '../errors.js';
import { networkOrThrow, validateNetworkName } from './networks.js';
import { publishPorts, unpublishPorts, validatePorts, type PortSpec } from './ports.js';

/** What `info` shows of a container's network, and what is needed to release it. */
export interface NetworkState {
  mode: NetworkConfig['mode'];
  ipAddress?: string;
  prefixLen?: number;
  gateway?: string;
  bridge?: string;
  subnet?: string;
  hostInterface?: string;
  mtu?: number;
  /** issue 12: the named network (`--net NAME`), its outbound NAT, the published ports */
  network?: string;
  nat?: boolean;
  ports?: PortSpec[];
  /** whether the name servers of its resolv.conf (the host's) can be reached, and why not */
  dns?: string;
}

/** Check the network part of a command (types, names, addresses, ranges): nothing is created. */
export function validateNetworkConfig(n: NetworkConfig, containerId: string): void {
  try {
    if (n.mtu !== undefined) validateMtu(n.mtu, 'network.mtu');
    for (const k of ['bridge', 'subnet', 'ipAddress', 'gateway'] as const) {
      const v: unknown = n[k];
      if (v !== undefined && (typeof v !== 'string' || v.includes('\0'))) {
        throw new InvalidConfigError(`network.${k}: must be a string without NUL bytes, not ${JSON.stringify(v) ?? typeof v}`);
      }
    }
    if (n.prefixLen !== undefined && (!Number.isInteger(n.prefixLen) || n.prefixLen < 8 || n.prefixLen > 30)) {
      throw new InvalidConfigError(`network.prefixLen: ${JSON.stringify(n.prefixLen)} must be an integer from 8 to 30`);
    }
    if (n.ports !== undefined && n.mode !== 'bridge') throw new InvalidConfigError(`-p needs a bridge network (this is --net ${n.mode})`);
    if (n.ports !== undefined) validatePorts(n.ports);
    if (n.name !== undefined) {
      validateNetworkName(n.name);
      if (n.mode !== 'bridge') throw new InvalidConfigError(`network ${n.name}: its mode is bridge, not ${n.mode}`);
      for (const k of ['bridge', 'subnet'] as const) if (n[k] !== undefined) throw new InvalidConfigError(`network.${k}: not with a named network (${n.name} has its own)`);
    }
    if (n.mode !== 'bridge') {
      for (const k of ['bridge', 'subnet', 'ipAddress', 'prefixLen', 'gateway'] as const) {
        if (n[k] !== undefined) throw new InvalidConfigError(`${k} is only for --net bridge (this is --net ${n.mode})`);
      }
      return;
    }
    validateInterfaceName(n.bridge ?? DEFAULT_BRIDGE, 'network.bridge');
    if (n.subnet !== undefined) validateBridgeSubnet(n.subnet, 'network.subnet');
    if (n.ipAddress !== undefined && !isIPv4(n.ipAddress)) throw new InvalidConfigError(`network.ipAddress: invalid IPv4 address "${n.ipAddress}"`);
    if (n.gateway !== undefined && !isIPv4(n.gateway)) throw new InvalidConfigError(`network.gateway: invalid IPv4 address "${n.gateway}"`);
  } catch (e) {
    if (e instanceof InvalidConfigError) throw new InvalidConfigError(e.message, { containerId, cause: e });
    throw e;
  }
}

/** Owner of a container's address in the allocator: `<driver>/<id>`. */
export const ownerOf = (driver: string, id: string) => `${driver}/${id}`;

/**
 * Bridge mode: make sure the bridge exists and take an address (the asked one or the next free).
 * Other modes: nothing. The caller releases with releaseNetwork() on every path.
 */
export async function prepareNetwork(stateRoot: string, owner: string, n: NetworkConfig): Promise<NetworkState> {
  if (n.mode !== 'bridge') return { mode: n.mode, ...(n.mtu !== undefined ? { mtu: n.mtu } : {}) };
  const named = n.name !== undefined ? networkOrThrow(stateRoot, n.name) : undefined;
  const bridge = named
    ? await ensureBridge({ name: named.bridge, subnet: named.subnet, mtu: named.mtu })
    : await ensureBridge({ name: n.bridge ?? DEFAULT_BRIDGE, ...(n.subnet ? { subnet: n.subnet } : {}) });
  const a = await allocate({
    stateRoot,
    bridge: bridge.name,
    subnet: bridge.subnet,
    gateway: bridge.gateway,
    owner,
    ...(n.ipAddress ? { requested: n.ipAddress } : {}),
  });
  return {
    mode: 'bridge',
    ipAddress: a.address,
    prefixLen: a.prefixLen,
    gateway: a.gateway,
    bridge: bridge.name,
    subnet: bridge.subnet,
    mtu: n.mtu ?? bridge.mtu,
    ...(named ? { network: named.name } : {}),
    nat: !!named?.nat,
    dns: named?.nat ? "the host's name servers, through the network's NAT" : "unreachable: resolv.conf names the host's name servers and this network has no NAT (network create --nat)",
    ...(n.ports?.length ? { ports: n.ports } : {}),
  };
}

/** /etc/hosts, /etc/hostname and /etc/resolv.conf for the container, in `dir`. */
export function writeNetworkFiles(dir: string, state: NetworkState, hostname: string): Promise<ContainerNetFiles> {
  return writeContainerNetFiles(dir, { ip: state.ipAddress ?? null, hostname });
}

/** Give the container's address back (idempotent). */
export async function releaseNetwork(stateRoot: string, owner: string, state: NetworkState | undefined): Promise<void> {
  // the ports' table: by the container's name, also when a crash left no network state
  if (state === undefined || state.ports?.length) await unpublishPorts(owner);
  if (state?.mode !== 'bridge' || !state.bridge) return;
  await release(stateRoot, state.bridge, owner, state.ipAddress).catch(() => {});
}

/** Release the addresses of owners that are gone (a crash of Node or of the monitor). */
export async function reclaimAddresses(stateRoot: string, isAlive: (owner: string) => boolean): Promise<void> {
  await reclaim(stateRoot, isAlive).catch(() => {});
}

/**
 * A container's network before it starts, as both drivers do it: in bridge mode reclaim what dead
 * containers left, take the bridge and an address, write /etc/hosts, /etc/hostname and
 * /etc/resolv.conf into `filesDir` and add them to `mounts` as read-only binds; other modes need
 * nothing. `isAlive` tells whether an owner of an address still holds it.
 */
export async function setupNetwork(opts: {
  stateRoot: string;
  owner: string;
  network: NetworkConfig;
  hostname: string;
  filesDir: string;
  mounts: { source: string; destination: string; writable?: boolean; private?: boolean; kind: 'dir' | 'file' }[];
  isAlive: (owner: string) => boolean;
  /** --dns, --dns-search, --add-host (cli, issue 12) */
  etc?: EtcExtras;
}): Promise<NetworkState> {
  const n = opts.network;
  if (n.mode !== 'bridge') return { mode: n.mode, ...(n.mtu !== undefined ? { mtu: n.mtu } : {}) };
  await reclaimAddresses(opts.stateRoot, opts.isAlive);
  const state = await prepareNetwork(opts.stateRoot, opts.owner, n);
  let files: ContainerNetFiles;
  try {
    if (state.ports?.length) await publishPorts(opts.owner, state.bridge!, state.ipAddress!, state.ports);
    files = await writeNetworkFiles(opts.filesDir, state, opts.hostname);
    await applyEtcExtras(files, opts.etc);
  } catch (err) {
    // the caller never sees this state, so the address is given back here
    await releaseNetwork(opts.stateRoot, opts.owner, state);
    throw err;
  }
  for (const [source, destination] of [
    [files.hosts, '/etc/hosts'],
    [files.hostname, '/etc/hostname'],
    [files.resolvConf, '/etc/resolv.conf'],
  ] as const) {
    opts.mounts.push({ source, destination, writable: false, private: true, kind: 'file' });
  }
  return state;
}
