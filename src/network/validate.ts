import { InvalidConfigError } from '../errors.js';
import { parseCidr, type Ipv4Net } from './subnet.js';

export const MIN_MTU = 68;
export const MAX_MTU = 65535;
/** Linux IFNAMSIZ − 1 */
export const MAX_IFNAME = 15;

/** Interface names: 1–15 characters of letters, digits, `_`, `.`, `-`; not `.` or `..`. */
export function validateInterfaceName(name: unknown, what = 'bridge name'): string {
  if (typeof name !== 'string' || name === '') throw new InvalidConfigError(`${what} must be a non-empty string`);
  if (name.length > MAX_IFNAME) {
    throw new InvalidConfigError(
      `${what} "${name}" is ${name.length} characters long; interface names are at most ${MAX_IFNAME}`,
    );
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
    throw new InvalidConfigError(`${what} "${name}" may only contain letters, digits, '_', '.' and '-'`);
  }
  return name;
}

export function validateMtu(mtu: unknown, what = 'mtu'): number {
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new InvalidConfigError(`${what} ${String(mtu)} must be an integer from ${MIN_MTU} to ${MAX_MTU}`);
  }
  return mtu;
}

/** A bridge subnet: a CIDR (host bits zero) with room for a gateway and containers: /8 to /30. */
export function validateBridgeSubnet(subnet: string, what = 'subnet'): Ipv4Net {
  const net = parseCidr(subnet, what);
  if (net.prefixLen < 8 || net.prefixLen > 30) {
    throw new InvalidConfigError(`${what} "${subnet}": prefix length must be 8 to 30`);
  }
  return net;
}

/** The longest host name: a label's limit, within the kernel's 64-byte UTS name. */
export const MAX_HOSTNAME = 63;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/**
 * The one host name rule (RFC 1123), for the container's UTS name and its /etc/hostname and
 * /etc/hosts: 1 to 63 characters; dot-separated labels of letters, digits and '-', a label
 * neither empty nor starting or ending with '-'. No '_' (a container id may have one: see
 * defaultHostname).
 */
export function validateHostname(hostname: unknown, what = 'hostname'): string {
  if (typeof hostname !== 'string') throw new InvalidConfigError(`${what}: must be a string, not ${typeof hostname}`);
  if (hostname.length === 0 || hostname.length > MAX_HOSTNAME || !HOSTNAME_RE.test(hostname)) {
    throw new InvalidConfigError(
      `${what}: ${JSON.stringify(hostname)} is not a valid host name (1 to ${MAX_HOSTNAME} characters: ` +
        `dot-separated labels of letters, digits and '-', a label not starting or ending with '-')`,
    );
  }
  return hostname;
}

/** Docker's short id: a container's default host name is at most this long. */
export const DEFAULT_HOSTNAME_LENGTH = 12;

/**
 * A container's default host name, from its id: the id's first 12 characters (Docker's short
 * id), '_' (and anything else a host name cannot hold) turned into '-', each dot-separated label
 * trimmed of leading and trailing '-', empty labels dropped. `web_1` → `web-1`,
 * `abcdefghijk-x` → `abcdefghijk`, `a..b` → `a.b`. Never empty ('container' if nothing is left);
 * always passes validateHostname.
 */
export function defaultHostname(id: string): string {
  const name = id
    .slice(0, DEFAULT_HOSTNAME_LENGTH)
    .replace(/[^A-Za-z0-9.-]/g, '-')
    .split('.')
    .map((label) => label.replace(/^-+|-+$/g, ''))
    .filter((label) => label !== '')
    .join('.');
  return name === '' ? 'container' : name;
}
