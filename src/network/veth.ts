import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, open, stat, type FileHandle } from 'node:fs/promises';
import { InvalidConfigError, systemError } from '../errors.js';
import { isFileExists, isNoSuchDevice, NetworkCommandError, run } from './run.js';
import { broadcastOf, contains, formatCidr, netOf, parseIPv4 } from './subnet.js';
import { MAX_IFNAME, validateInterfaceName, validateMtu } from './validate.js';

export interface AttachVethOptions {
  /** a process in the target network namespace (the container's init, blocked before exec) */
  pid: number;
  /** the bridge the host end is enslaved to */
  bridge: string;
  /** host end = prefix + random hex suffix, ≤ 15 characters in all; default `veth` */
  hostPrefix?: string;
  mtu: number;
  /** the container's address */
  address: string;
  prefixLen: number;
  /** the default route's next hop (the bridge's address); no default route when omitted */
  gateway?: string;
  /** the interface's name inside the namespace; default `eth0` */
  peerName?: string;
  /**
   * configure the address, `up` and the route inside the namespace too (a second process,
   * `nsenter … ip -batch`); false when whoever runs in the namespace does it (the native
   * driver's C init, which saves that process). Default true.
   */
  configureInside?: boolean;
}

export interface AttachedVeth {
  /** the host end, e.g. `veth3fa9c01b` */
  hostInterface: string;
  /** the container end, e.g. `eth0` */
  peerName: string;
}

const HOST_PREFIX = /^[A-Za-z0-9_-]{1,11}$/;

function hostName(prefix: string): string {
  const len = Math.min(8, MAX_IFNAME - prefix.length);
  return prefix + randomBytes(4).toString('hex').slice(0, len);
}

async function linkExists(name: string): Promise<boolean> {
  return access(`/sys/class/net/${name}`, fsConstants.F_OK).then(
    () => true,
    () => false,
  );
}

function validate(o: AttachVethOptions) {
  if (!Number.isInteger(o.pid) || o.pid <= 0) throw new InvalidConfigError(`pid ${String(o.pid)} must be a positive integer`);
  const bridge = validateInterfaceName(o.bridge);
  const prefix = o.hostPrefix ?? 'veth';
  if (!HOST_PREFIX.test(prefix)) {
    throw new InvalidConfigError(
      `veth prefix "${prefix}" must be 1 to 11 letters, digits, '_' or '-' (a random suffix of at least 4 follows)`,
    );
  }
  const peerName = validateInterfaceName(o.peerName ?? 'eth0', 'container interface name');
  const mtu = validateMtu(o.mtu);
  const address = parseIPv4(o.address, 'container address');
  if (!Number.isInteger(o.prefixLen) || o.prefixLen < 1 || o.prefixLen > 30) {
    throw new InvalidConfigError(`prefix length ${String(o.prefixLen)} must be 1 to 30`);
  }
  const net = netOf(address, o.prefixLen);
  if (address === net.network || address === broadcastOf(net)) {
    throw new InvalidConfigError(`container address ${o.address} is the network or broadcast address of ${formatCidr(net)}`);
  }
  if (o.gateway !== undefined) {
    const gw = parseIPv4(o.gateway, 'gateway');
    if (!contains(net, gw) || gw === address) {
      throw new InvalidConfigError(`gateway ${o.gateway} must be another address of ${formatCidr(net)}`);
    }
  }
  return { bridge, prefix, peerName, mtu };
}

/**
 * Give the network namespace of `pid` an interface on `bridge`: a veth pair whose host end
 * (`veth…`, enslaved, up) stays here and whose peer is created directly inside the namespace as
 * `eth0`, with the address, MTU, loopback up and a default route via the gateway.
 *
 * Two processes: `ip link add … netns` on the host and `nsenter --net … ip -batch -` inside. The
 * namespace is opened once and handed to both as an fd, so a pid reused meanwhile cannot redirect
 * them. On failure whatever was created is deleted and an ExecDriverError `ERR_NETWORK` names the
 * command and its stderr.
 */
export async function attachVeth(options: AttachVethOptions): Promise<AttachedVeth> {
  const { bridge, prefix, peerName, mtu } = validate(options);
  const { pid } = options;

  let ns: FileHandle;
  try {
    ns = await open(`/proc/${pid}/ns/net`, 'r');
  } catch (err) {
    throw systemError('ERR_NETWORK', `open the network namespace of process ${pid}`, err, {
      step: 'attach veth',
      path: `/proc/${pid}/ns/net`,
    });
  }
  try {
    const [target, own] = await Promise.all([ns.stat(), stat('/proc/self/ns/net')]);
    if (target.ino === own.ino && target.dev === own.dev) {
      throw new InvalidConfigError(
        `process ${pid} is in this process's network namespace: refusing to add ${peerName} and a default route to it`,
      );
    }
    const nsPath = '/proc/self/fd/3';

    let hostInterface = '';
    for (let attempt = 0; ; attempt++) {
      do hostInterface = hostName(prefix);
      while (await linkExists(hostInterface));
      try {
        await run(
          'ip',
          ['link', 'add', hostInterface, 'mtu', String(mtu), 'master', bridge, 'up',
            'type', 'veth', 'peer', 'name', peerName, 'mtu', String(mtu), 'netns', nsPath],
          { step: `create veth pair on ${bridge} for process ${pid}`, fds: [ns.fd] },
        );
        break;
      } catch (err) {
        // EEXIST: our random name was just taken by someone else (retry), or the namespace
        // already has an interface called `peerName` (give up, and say so).
        if (isFileExists(err) && attempt < 4 && (await linkExists(hostInterface))) continue;
        if (isFileExists(err) && err instanceof NetworkCommandError) {
          throw new NetworkCommandError(
            'ERR_NETWORK',
            `${err.message} (does process ${pid}'s network namespace already have an interface named ${peerName}?)`,
            { command: err.command, stderr: err.stderr, status: err.status },
            { step: err.step ?? 'attach veth', ...(err.path ? { path: err.path } : {}), cause: err },
          );
        }
        throw err;
      }
    }

    if (options.configureInside === false) return { hostInterface, peerName };
    const lines = [
      `addr add ${options.address}/${options.prefixLen} brd + dev ${peerName}`,
      `link set dev ${peerName} up`,
      'link set dev lo up',
    ];
    if (options.gateway !== undefined) lines.push(`route add default via ${options.gateway} dev ${peerName}`);
    try {
      await run('nsenter', [`--net=${nsPath}`, 'ip', '-batch', '-'], {
        input: lines.join('\n') + '\n',
        step: `configure ${peerName} in the network namespace of process ${pid}`,
        fds: [ns.fd],
      });
    } catch (err) {
      // deleting the host end deletes the peer too
      await run('ip', ['link', 'del', 'dev', hostInterface], { step: `remove veth ${hostInterface}` }).catch(() => {});
      throw err;
    }
    return { hostInterface, peerName };
  } finally {
    await ns.close().catch(() => {});
  }
}

/**
 * Delete the host end of a veth pair (its peer goes with it). Idempotent: a missing interface is
 * fine (the pair also disappears on its own when the container's namespace dies). Refuses to
 * delete an interface that is not a veth.
 */
export async function detachVeth(hostInterface: string): Promise<void> {
  validateInterfaceName(hostInterface, 'veth name');
  if (!(await linkExists(hostInterface))) return;
  const step = `remove veth ${hostInterface}`;
  try {
    const out = await run('ip', ['-j', '-d', 'link', 'show', 'dev', hostInterface], { step });
    const kind = (JSON.parse(out.stdout || '[]') as Array<{ linkinfo?: { info_kind?: string } }>)[0]?.linkinfo?.info_kind;
    if (kind !== 'veth') throw new InvalidConfigError(`${hostInterface} is not a veth (it is a ${kind ?? 'device of unknown kind'})`);
    await run('ip', ['link', 'del', 'dev', hostInterface], { step });
  } catch (err) {
    if (!isNoSuchDevice(err)) throw err;
  }
}
