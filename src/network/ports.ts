/**
 * Published ports (issue 12 item 4): `-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]`. Each
 * container's ports are one nftables table of its own, `ip execdriver-port-<driver>-<id>`:
 * - prerouting: DNAT of traffic to HOSTIP (or any local address) : HOSTPORT → the container;
 * - output: the same for connections made on the host itself (Docker's userland proxy gives that
 *   path; here the kernel does: DNAT in OUTPUT);
 * - postrouting: a connection from the host's loopback is masqueraded to the bridge's address, and
 *   the bridge has `route_localnet` on, so a 127.0.0.1 source may be routed onto it.
 * The table is removed with the container (releaseNetwork), by settling after a crash too.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { InvalidConfigError } from '../errors.js';
import { run } from './run.js';
import { parsePublish, type PortSpec } from './publish.js';

// the parser lives apart so that the command line's flag parsing does not load `ip`/`nft` runners (issue 13)
export { parsePublish, type PortSpec };

const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'];
export const nftPath = (): string | undefined => NFT.find((p) => existsSync(p));

/** Check a library caller's list (the same rules as `-p`). */
export function validatePorts(ports: unknown): PortSpec[] {
  if (!Array.isArray(ports)) throw new InvalidConfigError('network.ports: must be a list');
  const seen = new Set<string>();
  return ports.map((p: Partial<PortSpec>) => {
    const text = `${p?.hostIp ? `${p.hostIp}:` : ''}${p?.hostPort}:${p?.containerPort}/${p?.protocol ?? 'tcp'}`;
    const v = parsePublish(text);
    const key = `${v.hostIp ?? '*'}:${v.hostPort}/${v.protocol}`;
    if (seen.has(key)) throw new InvalidConfigError(`-p ${text}: host port ${v.hostPort}/${v.protocol} published twice`);
    seen.add(key);
    return v;
  });
}

/** The nftables table of a container's ports. */
export const portTable = (owner: string) => `execdriver-port-${owner.replace(/[^A-Za-z0-9_.-]/g, '-')}`;

export function portScript(owner: string, address: string, ports: readonly PortSpec[]): string {
  const rules = ports.map((p) => `${p.hostIp ? `ip daddr ${p.hostIp}` : 'fib daddr type local'} ${p.protocol} dport ${p.hostPort} dnat to ${address}:${p.containerPort}`);
  const masq = ports.map((p) => `ip saddr 127.0.0.0/8 ip daddr ${address} ${p.protocol} dport ${p.containerPort} masquerade`);
  const chain = (name: string, hook: string, prio: string, body: string[]) =>
    [`  chain ${name} {`, `    type nat hook ${hook} priority ${prio}; policy accept;`, ...body.map((r) => `    ${r}`), '  }'];
  return [
    `table ip ${portTable(owner)} {`,
    ...chain('prerouting', 'prerouting', 'dstnat', rules),
    ...chain('output', 'output', '-100', rules),
    ...chain('postrouting', 'postrouting', 'srcnat', masq),
    '}',
  ].join('\n') + '\n';
}

/** The guard of a bridge with route_localnet on (see localnetGuard). */
export const localnetTable = (bridge: string) => `execdriver-localnet-${bridge}`;

/**
 * `route_localnet` lets a 127.0.0.1 source be routed onto the bridge; it would also let a
 * container send to the host's loopback services (crafted packets to 127.0.0.0/8 arriving on the
 * bridge, as in CVE-2020-8558): they are dropped before routing. Rewritten whole each time (flush
 * then add, one transaction); kept as long as the bridge (removed with a network).
 */
export function localnetGuard(bridge: string): string {
  const t = localnetTable(bridge);
  return [
    `table ip ${t}`,
    `flush table ip ${t}`,
    `table ip ${t} {`,
    '  chain prerouting {',
    '    type filter hook prerouting priority raw; policy accept;',
    `    iifname "${bridge}" ip daddr 127.0.0.0/8 drop`,
    '  }',
    '}',
  ].join('\n') + '\n';
}

/** Publish the container's ports (its address on `bridge`). */
export async function publishPorts(owner: string, bridge: string, address: string, ports: readonly PortSpec[]): Promise<void> {
  if (!ports.length) return;
  const nft = nftPath();
  if (!nft) throw new InvalidConfigError('-p needs nftables (Debian package nftables)');
  // a connection from the host's 127.0.0.1, DNATed onto the bridge, keeps that source until postrouting
  await run(nft, ['-f', '-'], { input: localnetGuard(bridge) + portScript(owner, address, ports), step: `publish the ports of ${owner}` });
  writeFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, '1'); // guarded by now
}

/** Remove the container's ports (idempotent: no table, nothing to do). */
export async function unpublishPorts(owner: string): Promise<void> {
  const nft = nftPath();
  if (!nft) return;
  await run(nft, ['delete', 'table', 'ip', portTable(owner)], { step: `remove the ports of ${owner}` }).catch(() => {});
}
