/** `-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]`: the parser, pure (src/network/ports.ts publishes them). */
import { InvalidConfigError } from '../errors.js';
import { tryParseIPv4 } from './ipv4.js';

export interface PortSpec {
  /** the host address it listens on; absent: every local address */
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** `-p` text → a PortSpec, or a one-line error naming the flag's value. */
export function parsePublish(text: string): PortSpec {
  const bad = (why: string) => new InvalidConfigError(`-p ${text}: ${why} ([HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp])`);
  const [spec = '', proto = 'tcp', ...more] = text.split('/');
  if (more.length || (proto !== 'tcp' && proto !== 'udp')) throw bad(`protocol ${JSON.stringify(proto)} is not tcp or udp`);
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw bad('expected HOSTPORT:CONTAINERPORT');
  const [hostIp, hp, cp] = parts.length === 3 ? parts : [undefined, ...parts];
  if (hostIp !== undefined && hostIp !== '' && tryParseIPv4(hostIp) === null) throw bad(`host address ${JSON.stringify(hostIp)} is not IPv4`);
  return { ...(hostIp ? { hostIp } : {}), hostPort: port(hp!, 'host', bad), containerPort: port(cp!, 'container', bad), protocol: proto };
}

function port(v: string, what: string, bad: (why: string) => Error): number {
  const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 65535)) throw bad(`${what} port ${JSON.stringify(v)} is not 1-65535`);
  return n;
}

