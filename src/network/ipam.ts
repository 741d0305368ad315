/**
 * Address allocation from a bridge's subnet, shared by every process on the host.
 *
 * `<stateRoot>/network/<bridge>/<address>` is one file per allocated address, holding the owner
 * (container id). A file only ever appears complete: the owner is written to a private temporary
 * file which is then hard-linked to the address's name. link(2) fails with EEXIST when the name
 * is taken, so two processes can never both get an address, and no lock is needed. (A plain
 * `open(O_EXCL)` followed by a write would leave a moment, or after a crash for ever, where the
 * file exists but is empty, and `reclaim` could not tell whose it is.)
 *
 * `.last` holds the last address handed out: the next allocation starts just after it, so the
 * usual case costs one link(2), and a released address is not reused at once (stale ARP caches).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExecDriverError, InvalidConfigError, systemError } from '../errors.js';
import {
  broadcastOf,
  contains,
  firstHost,
  formatCidr,
  formatIPv4,
  lastHost,
  parseIPv4,
  tryParseIPv4,
} from './subnet.js';
import { validateBridgeSubnet, validateInterfaceName } from './validate.js';

export interface AllocateOptions {
  /** the driver's state root, e.g. `/run/execdriver` */
  stateRoot: string;
  bridge: string;
  /** the bridge's subnet, e.g. `10.88.0.0/16` */
  subnet: string;
  /** the bridge's address (never handed out) */
  gateway: string;
  /** the container id */
  owner: string;
  /** a specific address (`--ip`); otherwise the next free one */
  requested?: string;
}

export interface Allocation {
  bridge: string;
  address: string;
  owner: string;
}

export interface AllocatedAddress extends Allocation {
  prefixLen: number;
  gateway: string;
  subnet: string;
}

const HINT = '.last';

export function ipamDir(stateRoot: string, bridge: string): string {
  return join(stateRoot, 'network', bridge);
}

function validateOwner(owner: unknown): string {
  if (typeof owner !== 'string' || owner === '' || owner.length > 1024 || /[\n\r\0]/.test(owner)) {
    throw new InvalidConfigError(`allocation owner ${JSON.stringify(owner)} must be a non-empty single-line string`);
  }
  return owner;
}

const rand = () => randomBytes(6).toString('hex');
const tmpName = (kind: 'tmp' | 'rel') => `.${kind}-${process.pid}-${rand()}`;

async function readOwner(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).replace(/\n$/, '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw systemError('ERR_STATE', `read allocation ${path}`, err, { path });
  }
}

async function readHint(dir: string): Promise<number | null> {
  try {
    return tryParseIPv4((await readFile(join(dir, HINT), 'utf8')).trim());
  } catch {
    return null;
  }
}

/**
 * Allocate an address for `owner`. A `requested` address outside the subnet, equal to the network,
 * broadcast or gateway address, or already allocated is an InvalidConfigError, and nothing is created.
 * A full subnet is an ExecDriverError `ERR_NETWORK`.
 */
export async function allocate(options: AllocateOptions): Promise<AllocatedAddress> {
  const bridge = validateInterfaceName(options.bridge);
  const net = validateBridgeSubnet(options.subnet, `subnet of bridge ${bridge}`);
  const subnet = formatCidr(net);
  const owner = validateOwner(options.owner);
  const gateway = parseIPv4(options.gateway, 'gateway');
  if (!contains(net, gateway) || gateway === net.network || gateway === broadcastOf(net)) {
    throw new InvalidConfigError(`gateway ${options.gateway} is not a host address of ${subnet}`);
  }
  let requested: number | undefined;
  if (options.requested !== undefined) {
    requested = parseIPv4(options.requested, 'requested address');
    if (!contains(net, requested)) {
      throw new InvalidConfigError(`requested address ${options.requested} is outside the subnet ${subnet} of bridge ${bridge}`);
    }
    if (requested === net.network) {
      throw new InvalidConfigError(`requested address ${options.requested} is the network address of ${subnet}`);
    }
    if (requested === broadcastOf(net)) {
      throw new InvalidConfigError(`requested address ${options.requested} is the broadcast address of ${subnet}`);
    }
    if (requested === gateway) {
      throw new InvalidConfigError(`requested address ${options.requested} is the gateway of bridge ${bridge}`);
    }
  }

  const dir = ipamDir(options.stateRoot, bridge);
  const tmp = join(dir, tmpName('tmp'));
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await writeFile(tmp, `${owner}\n`, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw systemError('ERR_STATE', `prepare address allocation in ${dir}`, err, { path: dir });
  }
  const result = (address: number): AllocatedAddress => ({
    bridge,
    address: formatIPv4(address),
    owner,
    prefixLen: net.prefixLen,
    gateway: formatIPv4(gateway),
    subnet,
  });
  const claim = async (address: number): Promise<boolean> => {
    const path = join(dir, formatIPv4(address));
    try {
      await link(tmp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw systemError('ERR_STATE', `allocate ${formatIPv4(address)}`, err, { path });
    }
  };

  try {
    if (requested !== undefined) {
      if (await claim(requested)) return result(requested);
      const holder = await readOwner(join(dir, formatIPv4(requested)));
      throw new InvalidConfigError(
        `requested address ${options.requested} is already allocated on bridge ${bridge}${holder ? ` (to ${holder})` : ''}`,
      );
    }
    const first = firstHost(net);
    const count = lastHost(net) - first + 1;
    const hint = await readHint(dir);
    const start = hint !== null && hint >= first && hint - first < count ? (hint - first + 1) % count : 0;
    for (let i = 0; i < count; i++) {
      const candidate = first + ((start + i) % count);
      if (candidate === gateway) continue;
      if (await claim(candidate)) {
        // A hint only: a torn or stale value just costs a few EEXISTs next time.
        await writeFile(join(dir, HINT), formatIPv4(candidate)).catch(() => {});
        return result(candidate);
      }
    }
    throw new ExecDriverError(
      'ERR_NETWORK',
      `no free address in ${subnet} on bridge ${bridge} (${count - 1} addresses, all allocated)`,
      { step: 'allocate address', path: dir },
    );
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/**
 * Remove `dir/name` only if it still holds `owner`. The file is first renamed to a private name
 * (atomic), then checked: if someone else's allocation was caught in between, it is put back.
 */
async function removeIfOwned(dir: string, name: string, owner: string): Promise<boolean> {
  const path = join(dir, name);
  const grave = join(dir, tmpName('rel'));
  try {
    await rename(path, grave);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw systemError('ERR_STATE', `release ${name}`, err, { path });
  }
  try {
    if ((await readOwner(grave)) === owner) return true;
    await link(grave, path).catch(() => {}); // not ours: put it back
    return false;
  } finally {
    await unlink(grave).catch(() => {});
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw systemError('ERR_STATE', `list ${dir}`, err, { path: dir });
  }
}

async function bridgesUnder(stateRoot: string): Promise<string[]> {
  const names = await listDir(join(stateRoot, 'network'));
  return names.filter((n) => /^[A-Za-z0-9_.-]{1,15}$/.test(n) && n !== '.' && n !== '..');
}

/**
 * Release what `owner` holds on `bridge` (only `address` when given: no directory scan).
 * Returns the released addresses; releasing twice is harmless.
 */
export async function release(stateRoot: string, bridge: string, owner: string, address?: string): Promise<string[]> {
  validateInterfaceName(bridge);
  validateOwner(owner);
  const dir = ipamDir(stateRoot, bridge);
  let names: string[];
  if (address !== undefined) {
    parseIPv4(address, 'address');
    names = [address];
  } else {
    names = [];
    for (const n of await listDir(dir)) {
      if (tryParseIPv4(n) !== null && (await readOwner(join(dir, n))) === owner) names.push(n);
    }
  }
  const released: string[] = [];
  for (const n of names) if (await removeIfOwned(dir, n, owner)) released.push(n);
  return released;
}

/** Current allocations, on one bridge or on all, sorted by bridge then address. */
export async function allocations(stateRoot: string, bridge?: string): Promise<Allocation[]> {
  const bridges = bridge !== undefined ? [validateInterfaceName(bridge)] : await bridgesUnder(stateRoot);
  const out: Array<Allocation & { n: number }> = [];
  for (const b of bridges) {
    const dir = ipamDir(stateRoot, b);
    for (const name of await listDir(dir)) {
      const n = tryParseIPv4(name);
      if (n === null) continue;
      const owner = await readOwner(join(dir, name));
      if (owner !== null) out.push({ bridge: b, address: name, owner, n });
    }
  }
  out.sort((a, b) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : a.n - b.n));
  return out.map(({ bridge: b, address, owner }) => ({ bridge: b, address, owner }));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove every allocation (on every bridge under `stateRoot`) whose owner `isAlive` says is gone,
 * and temporary files left by crashed processes. Returns what was reclaimed.
 */
export async function reclaim(
  stateRoot: string,
  isAlive: (owner: string) => boolean | Promise<boolean>,
): Promise<Allocation[]> {
  const reclaimed: Allocation[] = [];
  const verdicts = new Map<string, boolean>();
  for (const bridge of await bridgesUnder(stateRoot)) {
    const dir = ipamDir(stateRoot, bridge);
    for (const name of await listDir(dir)) {
      const temp = /^\.(?:tmp|rel)-(\d+)-[0-9a-f]+$/.exec(name);
      if (temp?.[1]) {
        const pid = Number(temp[1]);
        if (pid !== process.pid && !pidAlive(pid)) await unlink(join(dir, name)).catch(() => {});
        continue;
      }
      if (tryParseIPv4(name) === null) continue;
      const owner = await readOwner(join(dir, name));
      if (owner === null) continue;
      let alive = verdicts.get(owner);
      if (alive === undefined) {
        alive = await isAlive(owner);
        verdicts.set(owner, alive);
      }
      if (!alive && (await removeIfOwned(dir, name, owner))) reclaimed.push({ bridge, address: name, owner });
    }
  }
  return reclaimed;
}
