import { statSync } from 'node:fs';
import { isAbsolute, normalize, resolve } from 'node:path';
import { capabilityMask, normalizeCapability } from './capabilities.js';
import { validateResources } from './cgroups/resources.js';
import type { Command, MountSpec, NetworkConfig, Resources } from './driver.js';
import { InvalidConfigError } from './errors.js';
import { resolveUserns, type UsernsConfig } from './userns.js';
import { DEFAULT_PROFILE } from './security/seccomp/default-profile.js';
import { validateSeccompProfile, type SeccompProfile } from './security/seccomp/profile.js';

/** A Command after validation: every field present, paths absolute and clean. */
export interface NormalizedCommand {
  id: string;
  rootfs: string;
  entrypoint: string;
  arguments: string[];
  workingDir: string;
  user: string;
  env: string[];
  hostname: string;
  tty: boolean;
  privileged: boolean;
  readonlyRootfs: boolean;
  network: NetworkConfig;
  resources: Resources;
  mounts: (MountSpec & { kind: 'dir' | 'file' })[];
  capAdd: string[];
  capDrop: string[];
  capAmbient: string[];
  init: boolean;
  /** the user namespace; undefined: the host's */
  userns?: UsernsConfig;
  /** the profile to apply (resolved against the final capabilities by the backend), or none */
  seccomp: SeccompProfile | 'unconfined';
  noNewPrivileges: boolean;
  config: NonNullable<Command['config']>;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/;
const ENV_NAME_RE = /^[^=\0]+$/;

export function validateId(id: unknown): string {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new InvalidConfigError(
      `invalid container id ${JSON.stringify(id)}: 1 to 64 characters of letters, digits, '_', '.', '-', starting with a letter or digit`,
    );
  }
  return id;
}

function containerPath(p: unknown, what: string, id: string): string {
  if (typeof p !== 'string' || p === '' || !isAbsolute(p) || p.includes('\0')) {
    throw new InvalidConfigError(`${what} ${JSON.stringify(p)} must be an absolute path`, { containerId: id });
  }
  if (p.split('/').includes('..')) {
    throw new InvalidConfigError(`${what} ${JSON.stringify(p)} must not contain '..'`, { containerId: id });
  }
  return normalize(p).replace(/(.)\/$/, '$1');
}

function validateNetwork(n: NetworkConfig | undefined, id: string): NetworkConfig {
  const net: NetworkConfig = { ...(n ?? { mode: 'bridge' }) };
  const mode = net.mode as string;
  if (!['none', 'host', 'bridge', 'slirp4netns'].includes(mode) && !/^container:.+$/.test(mode)) {
    throw new InvalidConfigError(`unknown network mode "${mode}" (none, host, bridge, slirp4netns, container:<id>)`, { containerId: id });
  }
  if (mode.startsWith('container:')) validateId(mode.slice('container:'.length));
  if (net.mtu !== undefined && (!Number.isInteger(net.mtu) || net.mtu < 68 || net.mtu > 65535)) {
    throw new InvalidConfigError(`invalid MTU ${net.mtu}: must be an integer from 68 to 65535`, { containerId: id });
  }
  if (net.bridge !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(net.bridge)) {
    throw new InvalidConfigError(
      `invalid bridge name "${net.bridge}": 1 to 15 characters of letters, digits, '_', '.', '-'`,
      { containerId: id },
    );
  }
  return net;
}

/**
 * Check a Command and fill in its defaults. Everything a caller can get wrong is found here,
 * before any directory, cgroup or process exists.
 */
export function normalizeCommand(c: Command): NormalizedCommand {
  if (typeof c !== 'object' || c === null) throw new InvalidConfigError('the command must be an object');
  const id = validateId(c.id);

  if (typeof c.rootfs !== 'string' || !isAbsolute(c.rootfs)) {
    throw new InvalidConfigError(`rootfs ${JSON.stringify(c.rootfs)} must be an absolute path`, { containerId: id });
  }
  const rootfs = resolve(c.rootfs);
  let st;
  try {
    st = statSync(rootfs);
  } catch (e) {
    throw new InvalidConfigError(`rootfs ${rootfs} does not exist`, { containerId: id, path: rootfs, cause: e });
  }
  if (!st.isDirectory()) throw new InvalidConfigError(`rootfs ${rootfs} is not a directory`, { containerId: id, path: rootfs });

  if (typeof c.entrypoint !== 'string' || c.entrypoint === '') {
    throw new InvalidConfigError('no command to run (entrypoint is empty)', { containerId: id });
  }
  const args = c.arguments ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw new InvalidConfigError('arguments must be strings without NUL bytes', { containerId: id });
  }

  const env = [...(c.env ?? [])];
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq <= 0 || !ENV_NAME_RE.test(e.slice(0, eq)) || e.includes('\0')) {
      throw new InvalidConfigError(`invalid environment entry ${JSON.stringify(e)} (expected KEY=VALUE)`, { containerId: id });
    }
  }

  const hostname = c.hostname ?? id.slice(0, 12);
  if (!HOSTNAME_RE.test(hostname)) {
    throw new InvalidConfigError(`invalid hostname ${JSON.stringify(hostname)}`, { containerId: id });
  }

  const mounts = (c.mounts ?? []).map((m) => {
    if (typeof m.source !== 'string' || !isAbsolute(m.source)) {
      throw new InvalidConfigError(`volume source ${JSON.stringify(m.source)} must be an absolute host path`, { containerId: id });
    }
    let s;
    try {
      s = statSync(m.source);
    } catch (e) {
      throw new InvalidConfigError(`volume source ${m.source} does not exist`, { containerId: id, path: m.source, cause: e });
    }
    const destination = containerPath(m.destination, 'volume destination', id);
    if (destination === '/') throw new InvalidConfigError('a volume cannot be mounted on /', { containerId: id });
    return {
      source: resolve(m.source),
      destination,
      writable: m.writable ?? true,
      private: m.private ?? true,
      ...(m.idmap ? { idmap: true } : {}),
      kind: s.isDirectory() ? ('dir' as const) : ('file' as const),
    };
  });

  const capList = (list: unknown, field: string): string[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new InvalidConfigError(`${field} must be an array of capability names`, { containerId: id });
    return list.map((x) => {
      try {
        return normalizeCapability(String(x));
      } catch (e) {
        throw new InvalidConfigError((e as Error).message, { containerId: id });
      }
    });
  };
  const capAdd = capList(c.capAdd, 'capAdd');
  const capDrop = capList(c.capDrop, 'capDrop');
  const capAmbient = capList(c.capAmbient, 'capAmbient');
  const keptMask = capabilityMask(!!c.privileged, capAdd, capDrop);
  const notKept = capAmbient.filter((x) => x === 'ALL' || !keptMask[x]);
  if (notKept.length) {
    throw new InvalidConfigError(`ambient capabilities ${notKept.join(', ')} are not kept by the container (add them with capAdd)`, {
      containerId: id,
    });
  }

  const resources = { ...(c.resources ?? {}) };
  try {
    validateResources(resources);
  } catch (e) {
    if (e instanceof InvalidConfigError) throw new InvalidConfigError(e.message, { containerId: id, cause: e });
    throw e;
  }

  const userns = resolveUserns(c.userns, c.uidMappings, c.gidMappings, id);
  if (!userns && mounts.some((m) => m.idmap)) {
    throw new InvalidConfigError('an idmapped volume needs a user namespace (--userns=remap)', { containerId: id });
  }
  if (userns && validateNetwork(c.network, id).mode.startsWith('container:')) {
    throw new InvalidConfigError('network mode container:<id> cannot be joined from a user namespace of its own', { containerId: id });
  }
  const seccomp = normalizeSeccomp(c, id);
  if (c.noNewPrivileges !== undefined && typeof c.noNewPrivileges !== 'boolean') {
    throw new InvalidConfigError(`noNewPrivileges must be true or false, not ${JSON.stringify(c.noNewPrivileges)}`, { containerId: id });
  }

  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${hostname}`);
  if (c.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');

  return {
    id,
    rootfs,
    entrypoint: c.entrypoint,
    arguments: args,
    workingDir: c.workingDir ? containerPath(c.workingDir, 'working directory', id) : '',
    user: c.user ?? '',
    env,
    hostname,
    tty: !!c.tty,
    privileged: !!c.privileged,
    readonlyRootfs: !!c.readonlyRootfs,
    network: validateNetwork(c.network, id),
    resources,
    mounts,
    capAdd,
    capDrop,
    capAmbient,
    init: !!c.init,
    ...(userns ? { userns } : {}),
    seccomp,
    noNewPrivileges: !!c.noNewPrivileges,
    config: c.config ?? {},
  };
}

/** The profile a container gets: the default, none (unconfined, privileged) or the caller's, checked. */
function normalizeSeccomp(c: Command, id: string): SeccompProfile | 'unconfined' {
  const s = c.seccomp;
  if (s === 'unconfined') return 'unconfined';
  let profile = DEFAULT_PROFILE;
  if (s !== undefined) {
    try {
      profile = validateSeccompProfile(s);
    } catch (e) {
      if (e instanceof InvalidConfigError) throw new InvalidConfigError(e.message, { containerId: id, cause: e });
      throw e;
    }
  }
  // as Docker: privileged means no filter at all, whatever profile was asked for
  return c.privileged ? 'unconfined' : profile;
}

/** The value of PATH in an env list. */
export function envPath(env: string[]): string {
  const p = [...env].reverse().find((e) => e.startsWith('PATH='));
  return p ? p.slice(5) : DEFAULT_PATH;
}
