/**
 * Named networks (issue 12 item 4): `network create|ls|inspect|rm`. A network is a bridge of the
 * same name (so NAME is an interface name, at most 15 characters) with its subnet and gateway,
 * recorded in `<root>/networks/NAME.json`; `--nat` adds outbound masquerade for its subnet in an
 * nftables table of its own (`ip execdriver-nat-NAME`), removed with the network. Containers
 * join it with `--net NAME`; `rm` is refused while one of them holds an address on it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidConfigError, ExecDriverError } from '../errors.js';
import { allocations, ipamDir } from './ipam.js';
import { run } from './run.js';
import { localnetTable } from './ports.js';
import { chooseSubnet, tryParseNetwork, contains, firstHost, formatCidr, formatIPv4, hostUsedCidrs, overlaps, parseCidr, tryParseIPv4, broadcastOf, type Ipv4Net } from './subnet.js';
import { DEFAULT_MTU } from './bridge.js';
import { validateInterfaceName, validateMtu, validateBridgeSubnet } from './validate.js';

export interface NetworkRecord {
  name: string;
  /** the bridge: the network's name */
  bridge: string;
  subnet: string;
  gateway: string;
  mtu: number;
  nat: boolean;
  createdAt: string;
}

export interface CreateNetworkOptions {
  subnet?: string;
  gateway?: string;
  mtu?: number;
  nat?: boolean;
}

const dirOf = (root: string) => join(root, 'networks');
const fileOf = (root: string, name: string) => join(dirOf(root), `${name}.json`);
/** The nftables table of a network's outbound NAT (a table of its own: nothing else is touched). */
export const natTable = (name: string) => `execdriver-nat-${name}`;

/** A network name: an interface name (its bridge's), checked before anything is made. */
export function validateNetworkName(name: unknown): string {
  if (typeof name !== 'string' || !name) throw new InvalidConfigError('network: a name is required');
  if (['bridge', 'none', 'host', 'slirp4netns', 'default'].includes(name) || name.startsWith('container:')) {
    throw new InvalidConfigError(`network ${JSON.stringify(name)}: a reserved name (a --net mode)`);
  }
  return validateInterfaceName(name, 'network name');
}

export function readNetwork(root: string, name: string): NetworkRecord | undefined {
  try {
    return JSON.parse(readFileSync(fileOf(root, name), 'utf8')) as NetworkRecord;
  } catch {
    return undefined;
  }
}

/** The network `name`, or a one-line error naming it. */
export function networkOrThrow(root: string, name: string): NetworkRecord {
  const rec = readNetwork(root, validateNetworkName(name));
  if (!rec) throw new InvalidConfigError(`network ${name} does not exist (execdriver network ls)`);
  return rec;
}

export function listNetworks(root: string): NetworkRecord[] {
  let names: string[];
  try {
    names = readdirSync(dirOf(root)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  } catch {
    return [];
  }
  return names.map((n) => readNetwork(root, n)).filter((r): r is NetworkRecord => !!r).sort((a, b) => a.name.localeCompare(b.name));
}

/** Check everything `create` needs, nothing made: the subnet, gateway and MTU resolved. */
export async function planNetwork(root: string, name: string, o: CreateNetworkOptions): Promise<NetworkRecord> {
  validateNetworkName(name);
  if (readNetwork(root, name)) throw new InvalidConfigError(`network ${name} already exists`);
  if (existsSync(`/sys/class/net/${name}`)) throw new InvalidConfigError(`network ${name}: an interface of that name exists on the host`);
  const mtu = validateMtu(o.mtu ?? DEFAULT_MTU, '--mtu');
  let net: Ipv4Net;
  const others = listNetworks(root);
  if (o.subnet !== undefined) {
    net = validateBridgeSubnet(o.subnet, '--subnet');
    for (const other of others) {
      if (overlaps(net, parseCidr(other.subnet))) throw new InvalidConfigError(`--subnet ${o.subnet} overlaps network ${other.name} (${other.subnet})`);
    }
    for (const used of await hostUsedCidrs()) {
      const u = tryParseNetwork(used);
      if (u && overlaps(net, u)) throw new InvalidConfigError(`--subnet ${o.subnet} overlaps ${formatCidr(u)}, in use on the host`);
    }
  } else {
    net = parseCidr(chooseSubnet([...(await hostUsedCidrs()), ...others.map((n) => n.subnet)], { prefixLen: 24 }));
  }
  let gateway = firstHost(net);
  if (o.gateway !== undefined) {
    const g = tryParseIPv4(o.gateway);
    if (g === null) throw new InvalidConfigError(`--gateway ${JSON.stringify(o.gateway)}: not an IPv4 address`);
    if (!contains(net, g) || g === net.network || g === broadcastOf(net)) {
      throw new InvalidConfigError(`--gateway ${o.gateway} is not a host address of ${formatCidr(net)}`);
    }
    gateway = g;
  }
  return { name, bridge: name, subnet: formatCidr(net), gateway: formatIPv4(gateway), mtu, nat: !!o.nat, createdAt: new Date().toISOString() };
}

/** The nft script of a network's outbound NAT: its subnet masqueraded when it leaves by another interface. */
export function natScript(rec: NetworkRecord): string {
  const t = natTable(rec.name);
  return [
    `table ip ${t} {`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    `    ip saddr ${rec.subnet} oifname != "${rec.bridge}" masquerade`,
    `  }`,
    `}`,
  ].join('\n') + '\n';
}

/** Write a sysctl under /proc/sys (one line). */
function sysctl(path: string, value: string): void {
  writeFileSync(join('/proc/sys', path), value);
}

/**
 * Create the network: the bridge (address, MTU, up), with `nat` its masquerade table, the bridge's
 * forwarding on and (`hostForwarding`, the default) the host's `net.ipv4.ip_forward`, as Docker
 * does; then its record. A failure half-way removes what was made.
 */
export async function createNetwork(root: string, name: string, o: CreateNetworkOptions & { hostForwarding?: boolean } = {}): Promise<NetworkRecord> {
  const rec = await planNetwork(root, name, o);
  const prefix = rec.subnet.split('/')[1];
  const script = [
    `link add ${name} mtu ${rec.mtu} type bridge`,
    `link set dev ${name} mtu ${rec.mtu}`,
    `addr add ${rec.gateway}/${prefix} brd + dev ${name}`,
    `link set dev ${name} up`,
  ].join('\n') + '\n';
  let made = false;
  try {
    await run('ip', ['-batch', '-'], { input: script, step: `create bridge ${name}` });
    made = true;
    if (rec.nat) {
      await run('nft', ['-f', '-'], { input: natScript(rec), step: `add the nat table of network ${name}` });
      sysctl(`net/ipv4/conf/${name}/forwarding`, '1');
      if (o.hostForwarding !== false && readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== '1') sysctl('net/ipv4/ip_forward', '1');
    }
    mkdirSync(dirOf(root), { recursive: true, mode: 0o711 });
    const tmp = `${fileOf(root, name)}.tmp`;
    writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n', { mode: 0o644 });
    renameSync(tmp, fileOf(root, name));
    return rec;
  } catch (e) {
    if (rec.nat) await run('nft', ['delete', 'table', 'ip', natTable(name)], { step: 'undo' }).catch(() => {});
    if (made) await run('ip', ['link', 'del', 'dev', name], { step: 'undo' }).catch(() => {});
    throw e;
  }
}

/** The containers holding an address on the network (`driver/id` owners). */
export async function networkUsers(root: string, name: string): Promise<string[]> {
  return (await allocations(root, name)).map((a) => a.owner);
}

/** Remove the network: refused while a container uses it; its nat table, bridge, record go. */
export async function removeNetwork(root: string, name: string): Promise<void> {
  const rec = networkOrThrow(root, name);
  const users = await networkUsers(root, name);
  if (users.length) {
    throw new ExecDriverError('ERR_NETWORK', `network ${name} is in use by ${users.length} container(s): ${users.map((u) => u.split('/').pop()).join(', ')}`, { step: 'network rm', path: name });
  }
  if (rec.nat) await run('nft', ['delete', 'table', 'ip', natTable(name)], { step: `remove the nat table of network ${name}` }).catch(() => {});
  await run('nft', ['delete', 'table', 'ip', localnetTable(name)], { step: 'remove the localnet guard' }).catch(() => {});
  if (existsSync(`/sys/class/net/${name}`)) await run('ip', ['link', 'del', 'dev', name], { step: `remove bridge ${name}` });
  rmSync(ipamDir(root, name), { recursive: true, force: true });
  rmSync(fileOf(root, name), { force: true });
}
