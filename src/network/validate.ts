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
