import { sleep } from '../time.js';
import { readFile, readdir, rm } from 'node:fs/promises';
import { ExecDriverError, InvalidConfigError } from '../errors.js';
import { allocations, ipamDir } from './ipam.js';
import { isFileExists, isNoSuchDevice, run } from './run.js';
import { MIN_MTU, validateBridgeSubnet, validateInterfaceName, validateMtu } from './validate.js';
import {
  chooseSubnet,
  firstHost,
  formatCidr,
  formatIPv4,
  hostUsedCidrs,
  netOf,
  overlaps,
  parseCidr,
  parseIPv4,
  tryParseNetwork,
  type Ipv4Net,
} from './subnet.js';

export const DEFAULT_BRIDGE = 'execdriver0';
export const DEFAULT_MTU = 1500;

export interface BridgeOptions {
  /** default `execdriver0` */
  name?: string;
  /** used when the bridge is created (default: chosen by chooseSubnet); must match an existing bridge */
  subnet?: string;
  /** MTU when the bridge is created (default 1500); an existing bridge keeps its own */
  mtu?: number;
}

export interface BridgeInfo {
  name: string;
  /** e.g. `10.88.0.0/16` */
  subnet: string;
  prefixLen: number;
  /** the bridge's own address, the containers' default gateway */
  gateway: string;
  mtu: number;
}


async function readSys(name: string, file: string): Promise<string | null> {
  try {
    return (await readFile(`/sys/class/net/${name}/${file}`, 'utf8')).trim();
  } catch {
    return null;
  }
}

interface LinkState {
  ifindex: string;
  isBridge: boolean;
  up: boolean;
  mtu: number;
  /** primary IPv4 address and prefix, if any */
  inet?: { address: number; prefixLen: number };
}

/** Per process: name → (ifindex, network) so a steady-state ensureBridge needs no `ip` call. */
const addressCache = new Map<string, { ifindex: string; net: Ipv4Net; gateway: number }>();

/** Link state from sysfs (no process spawned), plus the address from `ip` unless cached. Null: no such link. */
async function readLink(name: string, useCache: boolean): Promise<LinkState | null> {
  const ifindex = await readSys(name, 'ifindex');
  if (ifindex === null) return null;
  const [flags, mtu, bridgeDir] = await Promise.all([
    readSys(name, 'flags'),
    readSys(name, 'mtu'),
    readdir(`/sys/class/net/${name}/bridge`).then(
      () => true,
      () => false,
    ),
  ]);
  const state: LinkState = {
    ifindex,
    isBridge: bridgeDir,
    up: flags !== null && (Number.parseInt(flags, 16) & 1) === 1,
    mtu: Number(mtu ?? DEFAULT_MTU),
  };
  const cached = addressCache.get(name);
  if (useCache && cached && cached.ifindex === ifindex) {
    state.inet = { address: cached.gateway, prefixLen: cached.net.prefixLen };
    return state;
  }
  let out;
  try {
    out = await run('ip', ['-j', '-4', 'addr', 'show', 'dev', name], { step: `read bridge ${name}` });
  } catch (err) {
    if (isNoSuchDevice(err)) return null; // deleted meanwhile
    throw err;
  }
  const links = JSON.parse(out.stdout || '[]') as Array<{
    ifindex?: number;
    addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
  }>;
  const link = links[0];
  if (link?.ifindex !== undefined) state.ifindex = String(link.ifindex);
  const a = link?.addr_info?.find((x) => x.family === 'inet' && x.local);
  if (a?.local) {
    const n = tryParseNetwork(`${a.local}/${a.prefixlen ?? 32}`);
    if (n) state.inet = { address: parseIPv4(a.local), prefixLen: n.prefixLen };
  }
  return state;
}

function infoFrom(name: string, state: LinkState & { inet: { address: number; prefixLen: number } }): BridgeInfo {
  const net = netOf(state.inet.address, state.inet.prefixLen);
  addressCache.set(name, { ifindex: state.ifindex, net, gateway: state.inet.address });
  return {
    name,
    subnet: formatCidr(net),
    prefixLen: net.prefixLen,
    gateway: formatIPv4(state.inet.address),
    mtu: state.mtu,
  };
}

async function pickSubnet(requested: Ipv4Net | undefined, name: string): Promise<Ipv4Net> {
  const used = (await hostUsedCidrs()).map((c) => tryParseNetwork(c)).filter((n): n is Ipv4Net => n !== null);
  if (requested) {
    const clash = used.find((u) => overlaps(u, requested));
    if (clash) {
      throw new InvalidConfigError(
        `subnet ${formatCidr(requested)} for bridge ${name} overlaps ${formatCidr(clash)}, already on the host`,
      );
    }
    return requested;
  }
  return parseCidr(chooseSubnet(used));
}

/** Give an address-less bridge its gateway address and bring it up (EEXIST tolerated). */
async function addAddress(name: string, net: Ipv4Net): Promise<void> {
  const gw = `${formatIPv4(firstHost(net))}/${net.prefixLen}`;
  try {
    await run('ip', ['addr', 'add', gw, 'brd', '+', 'dev', name], { step: `address bridge ${name}` });
  } catch (err) {
    if (!isFileExists(err)) throw err;
  }
  await run('ip', ['link', 'set', 'dev', name, 'up'], { step: `bring up bridge ${name}` });
}

/**
 * The bridge `name`, created when missing: `ip link add NAME type bridge`, its first host address as
 * the gateway, MTU, up. An existing bridge is reused as it is (its address and MTU are read from it);
 * a `subnet` that disagrees with it is an InvalidConfigError. Safe against other processes creating
 * the same bridge at the same moment. Never removes anything.
 */
export async function ensureBridge(options: BridgeOptions = {}): Promise<BridgeInfo> {
  const name = validateInterfaceName(options.name ?? DEFAULT_BRIDGE);
  const mtu = validateMtu(options.mtu ?? DEFAULT_MTU);
  const requested = options.subnet !== undefined ? validateBridgeSubnet(options.subnet) : undefined;

  let waitedMs = 0;
  let useCache = true;
  for (;;) {
    const state = await readLink(name, useCache);
    if (state) {
      if (!state.isBridge) throw new InvalidConfigError(`${name} exists on the host and is not a bridge`);
      if (!state.inet) {
        // Another process is between `link add` and `addr add` (wait for it), or a creator
        // died half-way (after a while, finish its job).
        if (waitedMs < 2000) {
          await sleep(25);
          waitedMs += 25;
          continue;
        }
        await addAddress(name, await pickSubnet(requested, name));
        useCache = false;
        waitedMs = 0;
        continue;
      }
      const info = infoFrom(name, state as LinkState & { inet: { address: number; prefixLen: number } });
      if (requested && formatCidr(requested) !== info.subnet) {
        throw new InvalidConfigError(
          `bridge ${name} already exists with subnet ${info.subnet} (gateway ${info.gateway}), not ${formatCidr(requested)}`,
        );
      }
      if (!state.up) {
        await run('ip', ['link', 'set', 'dev', name, 'up'], { step: `bring up bridge ${name}` });
      }
      return info;
    }

    const net = await pickSubnet(requested, name);
    // A bridge whose MTU was never set explicitly follows the smallest MTU of its ports, so it is
    // created with another MTU and then set: the second set marks it as chosen by the user.
    const script =
      [
        `link add ${name} mtu ${mtu === MIN_MTU ? mtu + 1 : mtu - 1} type bridge`,
        `link set dev ${name} mtu ${mtu}`,
        `addr add ${formatIPv4(firstHost(net))}/${net.prefixLen} brd + dev ${name}`,
        `link set dev ${name} up`,
      ].join('\n') + '\n';
    try {
      await run('ip', ['-batch', '-'], { input: script, step: `create bridge ${name}` });
    } catch (err) {
      const line = (err as { batchLine?: { number: number } }).batchLine?.number;
      if (isFileExists(err) && line === 1) {
        useCache = false; // someone else created it: reuse theirs
        continue;
      }
      if (line !== undefined && line > 1) {
        await run('ip', ['link', 'del', 'dev', name], { step: `remove half-made bridge ${name}` }).catch(() => {});
      }
      throw err;
    }
    useCache = false;
  }
}

/** The bridge as it is now, or null if there is no such link. Throws if `name` is not a bridge. */
export async function inspectBridge(name: string): Promise<BridgeInfo | null> {
  validateInterfaceName(name);
  const state = await readLink(name, false);
  if (!state) return null;
  if (!state.isBridge) throw new InvalidConfigError(`${name} exists on the host and is not a bridge`);
  if (!state.inet) {
    throw new ExecDriverError('ERR_NETWORK', `bridge ${name} has no IPv4 address`, { step: 'inspect bridge', path: name });
  }
  return infoFrom(name, state as LinkState & { inet: { address: number; prefixLen: number } });
}

/**
 * Delete the bridge if nothing uses it: no port enslaved and (with `stateRoot`) no address
 * allocated on it; then its allocation directory goes too. Returns whether it was deleted.
 * Meant for tests and explicit cleanup; the driver never calls it on its own.
 */
export async function removeBridgeIfUnused(name: string, options: { stateRoot?: string } = {}): Promise<boolean> {
  validateInterfaceName(name);
  if ((await readSys(name, 'ifindex')) === null) return false;
  const ports = await readdir(`/sys/class/net/${name}/brif`).catch(() => null);
  if (ports === null) throw new InvalidConfigError(`${name} is not a bridge`);
  if (ports.length > 0) return false;
  if (options.stateRoot !== undefined) {
    if ((await allocations(options.stateRoot, name)).length > 0) return false;
    await rm(ipamDir(options.stateRoot, name), { recursive: true, force: true });
  }
  try {
    await run('ip', ['link', 'del', 'dev', name], { step: `remove bridge ${name}` });
  } catch (err) {
    if (isNoSuchDevice(err)) return false;
    throw err;
  }
  addressCache.delete(name);
  return true;
}
