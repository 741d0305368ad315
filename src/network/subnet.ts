import { readFile } from 'node:fs/promises';
import { ExecDriverError, InvalidConfigError } from '../errors.js';
import { run } from './run.js';
import { tryParseIPv4 } from './ipv4.js';

export { tryParseIPv4 };

/** An IPv4 network: `network` is the address as an unsigned 32-bit integer, host bits zero. */
export interface Ipv4Net {
  network: number;
  prefixLen: number;
}

/** `10.88.0.1` → 0x0a580001, or null when the text is not a plain dotted quad (no leading zeros). */
export function isIPv4(text: string): boolean {
  return tryParseIPv4(text) !== null;
}

/** Parse a dotted quad; InvalidConfigError naming `what` when it is not one. */
export function parseIPv4(text: string, what = 'IPv4 address'): number {
  const n = tryParseIPv4(text);
  if (n === null) throw new InvalidConfigError(`${what} "${text}" is not an IPv4 address (a.b.c.d)`);
  return n;
}

export function formatIPv4(n: number): string {
  const u = n >>> 0;
  return `${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`;
}

/** The netmask of a prefix length as an unsigned integer (`/16` → 0xffff0000). */
export function netmask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** The network an address belongs to (host bits cleared). */
export function netOf(address: number, prefixLen: number): Ipv4Net {
  return { network: (address & netmask(prefixLen)) >>> 0, prefixLen };
}

export function broadcastOf(net: Ipv4Net): number {
  return (net.network | ~netmask(net.prefixLen)) >>> 0;
}

/** Number of addresses in the network (including network and broadcast). */
export function sizeOf(net: Ipv4Net): number {
  return 2 ** (32 - net.prefixLen);
}

export function contains(net: Ipv4Net, address: number): boolean {
  return (address & netmask(net.prefixLen)) >>> 0 === net.network;
}

export function overlaps(a: Ipv4Net, b: Ipv4Net): boolean {
  return a.network <= broadcastOf(b) && b.network <= broadcastOf(a);
}

/** First usable host address (network + 1): the bridge's gateway by convention. */
export function firstHost(net: Ipv4Net): number {
  return net.network + 1;
}

/** Last usable host address (broadcast − 1). */
export function lastHost(net: Ipv4Net): number {
  return broadcastOf(net) - 1;
}

function parsePrefix(text: string, whole: string, what: string): number {
  if (!/^(0|[1-9]\d?)$/.test(text) || Number(text) > 32) {
    throw new InvalidConfigError(`${what} "${whole}": prefix length must be 0 to 32`);
  }
  return Number(text);
}

/** `10.88.0.0/16` → { network, prefixLen }. Host bits must be zero (`10.88.0.5/16` is refused). */
export function parseCidr(text: string, what = 'subnet'): Ipv4Net {
  const slash = text.indexOf('/');
  if (slash < 0) throw new InvalidConfigError(`${what} "${text}" is not a CIDR (a.b.c.d/len)`);
  const address = parseIPv4(text.slice(0, slash), `${what} "${text}":`);
  const prefixLen = parsePrefix(text.slice(slash + 1), text, what);
  const net = netOf(address, prefixLen);
  if (net.network !== address) {
    throw new InvalidConfigError(
      `${what} "${text}" has host bits set (did you mean ${formatCidr(net)}?)`,
    );
  }
  return net;
}

/** Like parseCidr, but host bits are allowed and cleared (`10.88.0.5/16` → 10.88.0.0/16); null when invalid. */
export function tryParseNetwork(text: string): Ipv4Net | null {
  const [addr, len] = text.split('/');
  const a = addr === undefined ? null : tryParseIPv4(addr);
  if (a === null) return null;
  if (len === undefined) return { network: a, prefixLen: 32 };
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return null;
  return netOf(a, Number(len));
}

export function formatCidr(net: Ipv4Net): string {
  return `${formatIPv4(net.network)}/${net.prefixLen}`;
}

/** Where automatic subnets are taken from, in order, each walked from its start and wrapping. */
const POOLS: ReadonlyArray<{ pool: string; start: string }> = [
  { pool: '10.0.0.0/8', start: '10.88.0.0' },
  { pool: '172.16.0.0/12', start: '172.18.0.0' },
  { pool: '192.168.0.0/16', start: '192.168.0.0' },
];

function toNet(x: string | Ipv4Net): Ipv4Net | null {
  return typeof x === 'string' ? tryParseNetwork(x) : x;
}

function pick(used: Ipv4Net[], prefixLen: number): Ipv4Net | null {
  for (const { pool, start } of POOLS) {
    const p = parseCidr(pool);
    if (p.prefixLen > prefixLen) continue;
    const step = 2 ** (32 - prefixLen);
    const count = 2 ** (prefixLen - p.prefixLen);
    const first = Math.floor(((tryParseIPv4(start) ?? p.network) - p.network) / step);
    for (let i = 0; i < count; i++) {
      const candidate: Ipv4Net = { network: p.network + ((first + i) % count) * step, prefixLen };
      if (!used.some((u) => overlaps(u, candidate))) return candidate;
    }
  }
  return null;
}

/**
 * A private subnet overlapping none of `usedCidrs` (CIDRs or bare addresses; host bits allowed).
 * Without `prefixLen`: a /16 from 10.88.0.0, 10.89.0.0 … then 172.18.0.0 … 172.31.0.0, then
 * 192.168.0.0/16; if none is free, a /24 from the same ranges.
 */
export function chooseSubnet(usedCidrs: Iterable<string | Ipv4Net>, options: { prefixLen?: number } = {}): string {
  const used: Ipv4Net[] = [];
  for (const u of usedCidrs) {
    const n = toNet(u);
    if (n) used.push(n);
  }
  const lens = options.prefixLen !== undefined ? [options.prefixLen] : [16, 24];
  for (const len of lens) {
    if (!Number.isInteger(len) || len < 8 || len > 30) {
      throw new InvalidConfigError(`subnet prefix length ${len} must be 8 to 30`);
    }
    const net = pick(used, len);
    if (net) return formatCidr(net);
  }
  throw new ExecDriverError(
    'ERR_NETWORK',
    `no free private subnet (/${lens.join(' or /')}) that overlaps nothing on the host; give one explicitly`,
    { step: 'choose subnet' },
  );
}

interface IpAddrJson {
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number; address?: string }>;
}
interface IpRouteJson {
  dst?: string;
  gateway?: string;
  prefsrc?: string;
}

/** IPv4 name servers of a resolv.conf text. */
export function resolvNameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m?.[1] && isIPv4(m[1])) out.push(m[1]);
  }
  return out;
}

/**
 * Every IPv4 network in use on the host: its interfaces' networks (`ip -j -4 addr`), its routes
 * in all tables except the default route (`ip -j -4 route show table all`), route gateways, and the
 * IPv4 name servers of /etc/resolv.conf (so a bridge never shadows the path to them).
 */
export async function hostUsedCidrs(): Promise<string[]> {
  const [addrs, routes, resolv] = await Promise.all([
    run('ip', ['-j', '-4', 'addr', 'show'], { step: 'list host addresses' }),
    run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { step: 'list host routes' }),
    readFile('/etc/resolv.conf', 'utf8').catch(() => ''),
  ]);
  const out = new Set<string>();
  const add = (n: Ipv4Net | null) => {
    if (n) out.add(formatCidr(n));
  };
  for (const link of JSON.parse(addrs.stdout || '[]') as IpAddrJson[]) {
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' || !a.local) continue;
      add(tryParseNetwork(`${a.local}/${a.prefixlen ?? 32}`));
      if (a.address && a.address !== a.local) add(tryParseNetwork(a.address)); // point-to-point peer
    }
  }
  for (const r of JSON.parse(routes.stdout || '[]') as IpRouteJson[]) {
    if (r.dst && r.dst !== 'default') add(tryParseNetwork(r.dst));
    if (r.gateway) add(tryParseNetwork(r.gateway));
  }
  for (const ns of resolvNameservers(resolv)) add(tryParseNetwork(ns));
  return [...out];
}
