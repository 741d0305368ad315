import { statSync } from 'node:fs';
import { isAbsolute, normalize, resolve } from 'node:path';
import { capabilityMask, normalizeCapability } from './capabilities.js';
import { validateResources } from './cgroups/resources.js';
import type { Command, MountSpec, NetworkConfig, Resources, RootfsMode } from './driver.js';
import { InvalidConfigError } from './errors.js';
import { generateId, validateId } from './id.js';
export { validateId };
import { validateNetworkConfig } from './network/container.js';
import { defaultHostname, validateHostname } from './network/validate.js';
import { resolveUserns, type UsernsConfig } from './userns.js';
import { checkExtraFields, type ExtraFields } from './command-extra.js';
import { DEFAULT_PROFILE } from './security/seccomp/default-profile.js';
import { validateSeccompProfile, type SeccompProfile } from './security/seccomp/profile.js';

/** A Command after validation: every field present, paths absolute and clean. */
export interface NormalizedCommand {
  id: string;
  /** the lowest rootfs layer (the only one in `direct` mode) */
  rootfs: string;
  /** every rootfs layer, the lowest first (`rootfs` is the first) */
  rootfsLayers: string[];
  /** `overlay`: the layers are read-only lower layers of a per-container overlay; `direct`: the directory itself */
  rootfsMode: RootfsMode;
  /** the mode was chosen by the caller (not the default): a driver that cannot do it refuses it */
  rootfsModeExplicit: boolean;
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
  /** cli (issue 12): tmpfs, ulimits, sysctl, devices, groupAdd, shmSize, stop signal/timeout, labels (src/command-extra.ts) */
  extra: ExtraFields;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ENV_NAME_RE = /^[^=\0]+$/;


function containerPath(p: unknown, what: string, id: string): string {
  noNul(str(p, what, id), what, id);
  if (p === '' || !isAbsolute(p as string)) {
    throw new InvalidConfigError(`${what} ${JSON.stringify(p)} must be an absolute path`, { containerId: id });
  }
  if ((p as string).split('/').includes('..')) {
    throw new InvalidConfigError(`${what} ${JSON.stringify(p)} must not contain '..'`, { containerId: id });
  }
  return normalize(p as string).replace(/(.)\/$/, '$1');
}

export { generateId };

// ---- field checks: each refuses with ERR_INVALID_CONFIG naming the field ("mounts[0].source: …")

const bad = (field: string, why: string, id?: string) =>
  new InvalidConfigError(`${field}: ${why}`, id === undefined ? {} : { containerId: id });

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? JSON.stringify(v) : typeof v);

function str(v: unknown, field: string, id?: string): string {
  if (typeof v !== 'string') throw bad(field, `must be a string, not ${describe(v)}`, id);
  return v;
}

function noNul(v: string, field: string, id?: string): string {
  if (v.includes('\0')) throw bad(field, 'must not contain a NUL byte', id);
  return v;
}

function optBool(v: unknown, field: string, id: string): boolean {
  if (v !== undefined && typeof v !== 'boolean') throw bad(field, `must be true or false, not ${describe(v)}`, id);
  return v === true;
}

function strList(v: unknown, field: string, id: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(field, `must be an array of strings, not ${describe(v)}`, id);
  return v.map((x, i) => noNul(str(x, `${field}[${i}]`, id), `${field}[${i}]`, id));
}

/**
 * The one resource validation (`run`, and `update` of a running container): a plain object of
 * known fields with valid values. Returns a copy; InvalidConfigError naming the field otherwise.
 */
export function checkResources(value: unknown, id: string): Resources {
  const resources = { ...plainObject(value, 'resources', id) } as Resources;
  knownKeys(resources as Record<string, unknown>, RESOURCE_FIELDS, 'resources.', id);
  try {
    validateResources(resources);
  } catch (e) {
    if (e instanceof InvalidConfigError) throw new InvalidConfigError(e.message, { containerId: id, cause: e });
    throw e;
  }
  for (const k of Object.keys(resources) as (keyof Resources)[]) if (resources[k] === undefined) delete resources[k];
  return resources;
}

function plainObject(v: unknown, field: string, id: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(field, `must be an object, not ${describe(v)}`, id);
  return v as Record<string, unknown>;
}

/** Edit distance (case-insensitive, a swap of neighbours counts 1), for "did you mean". */
function distance(x: string, y: string): number {
  const a = x.toLowerCase();
  const b = y.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** Unknown keys are refused (a typo such as `readOnlyRootfs` would otherwise be silently ignored). */
function knownKeys(o: Record<string, unknown>, known: Record<string, unknown>, where: string, id: string): void {
  for (const key of Object.keys(o)) {
    if (Object.hasOwn(known, key) || o[key] === undefined) continue;
    const near = Object.keys(known)
      .map((k) => [k, distance(key, k)] as const)
      .filter(([, n]) => n <= Math.min(2, Math.floor(key.length / 3)))
      .sort((a, b) => a[1] - b[1])[0];
    throw bad(`${where}${key}`, `unknown field${near ? ` (did you mean "${where}${near[0]}"?)` : ''}`, id);
  }
}

// Every field, so that an unknown one is refused; `satisfies` makes a field added to the type
// without a check here a compile error.
const COMMAND_FIELDS = {
  id: 1, rootfs: 1, entrypoint: 1, arguments: 1, workingDir: 1, user: 1, env: 1, hostname: 1, tty: 1,
  privileged: 1, readonlyRootfs: 1, network: 1, resources: 1, mounts: 1, capAdd: 1, capDrop: 1,
  capAmbient: 1, init: 1, userns: 1, uidMappings: 1, gidMappings: 1, seccomp: 1, noNewPrivileges: 1, config: 1,
  tmpfs: 1, ulimits: 1, sysctl: 1, devices: 1, groupAdd: 1, shmSize: 1, stopSignal: 1, stopTimeout: 1, labels: 1,
  dns: 1, dnsSearch: 1, extraHosts: 1,
  rootfsMode: 1,
} satisfies Record<keyof Command, 1>;
const NETWORK_FIELDS = { mode: 1, bridge: 1, subnet: 1, ipAddress: 1, prefixLen: 1, gateway: 1, mtu: 1, name: 1, ports: 1 } satisfies Record<keyof NetworkConfig, 1>;
const RESOURCE_FIELDS = {
  memory: 1, memorySwap: 1, memoryReservation: 1, cpuShares: 1, cpuQuota: 1, cpuPeriod: 1, cpusetCpus: 1, cpusetMems: 1, pidsLimit: 1,
} satisfies Record<keyof Resources, 1>;
const MOUNT_FIELDS = { source: 1, destination: 1, writable: 1, private: 1, idmap: 1 } satisfies Record<keyof MountSpec, 1>;
const CONFIG_FIELDS = { lxc: 1, native: 1 } satisfies Record<keyof NonNullable<Command['config']>, 1>;

/** `config`: raw `lxc.<key> = <value>` lines (one line each), `native.*` keys of strings or booleans. */
function validateDriverConfig(v: unknown, id: string): NonNullable<Command['config']> {
  if (v === undefined) return {};
  const o = plainObject(v, 'config', id);
  knownKeys(o, CONFIG_FIELDS, 'config.', id);
  const out: NonNullable<Command['config']> = {};
  if (o['lxc'] !== undefined) {
    out.lxc = strList(o['lxc'], 'config.lxc', id).map((line, i) => {
      if (/[\n\r]/.test(line)) throw bad(`config.lxc[${i}]`, 'must be one line (it holds a line break)', id);
      if (!/^lxc\.[A-Za-z0-9_.\-[\]]+\s*=/.test(line.trim())) {
        throw bad(`config.lxc[${i}]`, `invalid lxc config line ${JSON.stringify(line)}: expected "lxc.<key> = <value>"`, id);
      }
      return line;
    });
  }
  if (o['native'] !== undefined) {
    const n = plainObject(o['native'], 'config.native', id);
    for (const [k, x] of Object.entries(n)) {
      noNul(k, 'config.native key', id);
      if (typeof x === 'string') noNul(x, `config.native.${k}`, id);
      else if (typeof x !== 'boolean') throw bad(`config.native.${k}`, `must be a string or a boolean, not ${describe(x)}`, id);
    }
    out.native = { ...(n as Record<string, string | boolean>) };
  }
  return out;
}

function validateNetwork(n: unknown, id: string): NetworkConfig {
  if (n === undefined) return { mode: 'bridge' };
  const net = { ...plainObject(n, 'network', id) } as unknown as NetworkConfig;
  knownKeys(net as unknown as Record<string, unknown>, NETWORK_FIELDS, 'network.', id);
  const mode = str(net.mode, 'network.mode', id);
  if (!['none', 'host', 'bridge', 'slirp4netns'].includes(mode) && !/^container:.+$/.test(mode)) {
    throw new InvalidConfigError(`unknown network mode "${mode}" (none, host, bridge, slirp4netns, container:<id>)`, { containerId: id });
  }
  if (mode.startsWith('container:')) validateId(mode.slice('container:'.length));
  // bridge, subnet, address, mtu: the network code's own checks (src/network/validate.ts)
  validateNetworkConfig(net, id);
  return net;
}

/** The overlay's data is split at `,` and `:` (and `\\` escapes): a layer path holds none of them. */
const OVERLAY_UNSAFE = /[,:\\]/;

/** The rootfs layers (the lowest first), each an existing directory, and the mode (rootfs, issue 12). */
export function rootfsOf(value: unknown, modeValue: unknown, id: string): { layers: string[]; mode: RootfsMode } {
  if (modeValue !== undefined && modeValue !== 'overlay' && modeValue !== 'direct') {
    throw new InvalidConfigError(`rootfsMode ${JSON.stringify(modeValue)} must be overlay or direct`, { containerId: id });
  }
  const mode: RootfsMode = modeValue ?? 'overlay';
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new InvalidConfigError('rootfs: no layer given', { containerId: id });
  if (list.length > 1 && mode === 'direct') {
    throw new InvalidConfigError(`rootfs: ${list.length} layers need the overlay mode (not direct)`, { containerId: id });
  }
  if (list.length > 64) throw new InvalidConfigError(`rootfs: ${list.length} layers (at most 64)`, { containerId: id });
  const layers = list.map((v) => {
    noNul(str(v, 'rootfs', id), 'rootfs', id);
    const p = v as string;
    if (!isAbsolute(p)) throw new InvalidConfigError(`rootfs ${JSON.stringify(p)} must be an absolute path`, { containerId: id });
    const dir = resolve(p);
    let st;
    try {
      st = statSync(dir);
    } catch (e) {
      throw new InvalidConfigError(`rootfs ${dir} does not exist`, { containerId: id, path: dir, cause: e });
    }
    if (!st.isDirectory()) throw new InvalidConfigError(`rootfs ${dir} is not a directory`, { containerId: id, path: dir });
    if (mode === 'overlay' && OVERLAY_UNSAFE.test(dir)) {
      throw new InvalidConfigError(`rootfs ${dir}: a layer path with ',' ':' or '\\' cannot be an overlay layer (use --rootfs-mode direct)`, { containerId: id, path: dir });
    }
    return dir;
  });
  if (new Set(layers).size !== layers.length) throw new InvalidConfigError('rootfs: a layer is given twice', { containerId: id });
  return { layers, mode };
}

/**
 * Check a Command and fill in its defaults. Everything a caller can get wrong is found here,
 * before any directory, cgroup or process exists.
 */
export function normalizeCommand(command: Command): NormalizedCommand {
  if (typeof command !== 'object' || command === null || Array.isArray(command)) {
    throw new InvalidConfigError('the command must be an object');
  }
  const c = command as Command & Record<string, unknown>;
  const id = c.id === undefined ? generateId() : validateId(c.id);
  knownKeys(c, COMMAND_FIELDS, '', id);

  const { layers: rootfsLayers, mode: rootfsMode } = rootfsOf(c.rootfs, c.rootfsMode, id);
  const rootfs = rootfsLayers[0]!;

  if (c.entrypoint === '') throw new InvalidConfigError('no command to run (entrypoint is empty)', { containerId: id });
  const entrypoint = noNul(str(c.entrypoint, 'entrypoint', id), 'entrypoint', id);
  const args = strList(c.arguments, 'arguments', id);

  const env = strList(c.env, 'env', id);
  env.forEach((e, i) => {
    const eq = e.indexOf('=');
    if (eq <= 0 || !ENV_NAME_RE.test(e.slice(0, eq))) {
      throw bad(`env[${i}]`, `invalid environment entry ${JSON.stringify(e)} (expected KEY=VALUE)`, id);
    }
  });

  let hostname: string;
  try {
    hostname = c.hostname === undefined ? defaultHostname(id) : validateHostname(c.hostname);
  } catch (e) {
    if (e instanceof InvalidConfigError) throw new InvalidConfigError(e.message, { containerId: id, cause: e });
    throw e;
  }
  const workingDir = c.workingDir === undefined || c.workingDir === '' ? '' : containerPath(c.workingDir, 'workingDir', id);
  const user = c.user === undefined ? '' : noNul(str(c.user, 'user', id), 'user', id);
  const tty = optBool(c.tty, 'tty', id);
  const privileged = optBool(c.privileged, 'privileged', id);
  const readonlyRootfs = optBool(c.readonlyRootfs, 'readonlyRootfs', id);
  const init = optBool(c.init, 'init', id);
  const noNewPrivileges = optBool(c.noNewPrivileges, 'noNewPrivileges', id);

  if (c.mounts !== undefined && !Array.isArray(c.mounts)) throw bad('mounts', `must be an array, not ${describe(c.mounts)}`, id);
  const mounts = (c.mounts ?? []).map((spec: unknown, i) => {
    const field = `mounts[${i}]`;
    const m = plainObject(spec, field, id) as unknown as MountSpec;
    knownKeys(m as unknown as Record<string, unknown>, MOUNT_FIELDS, `${field}.`, id);
    noNul(str(m.source, `${field}.source`, id), `${field}.source`, id);
    if (!isAbsolute(m.source)) {
      throw new InvalidConfigError(`volume source ${JSON.stringify(m.source)} must be an absolute host path`, { containerId: id });
    }
    const destination = containerPath(m.destination, `${field}.destination`, id);
    const writable = m.writable === undefined ? true : optBool(m.writable, `${field}.writable`, id);
    const priv = m.private === undefined ? true : optBool(m.private, `${field}.private`, id);
    const idmap = optBool(m.idmap, `${field}.idmap`, id);
    let s;
    try {
      s = statSync(m.source);
    } catch (e) {
      throw new InvalidConfigError(`volume source ${m.source} does not exist`, { containerId: id, path: m.source, cause: e });
    }
    if (destination === '/') throw new InvalidConfigError('a volume cannot be mounted on /', { containerId: id });
    return {
      source: resolve(m.source),
      destination,
      writable,
      private: priv,
      ...(idmap ? { idmap: true } : {}),
      kind: s.isDirectory() ? ('dir' as const) : ('file' as const),
    };
  });

  const capList = (list: unknown, field: string): string[] => {
    if (list !== undefined && !Array.isArray(list)) {
      throw bad(field, `must be an array of capability names, not ${describe(list)}`, id);
    }
    return strList(list, field, id).map((x, i) => {
      try {
        return normalizeCapability(x);
      } catch (e) {
        throw bad(`${field}[${i}]`, (e as Error).message, id);
      }
    });
  };
  const capAdd = capList(c.capAdd, 'capAdd');
  const capDrop = capList(c.capDrop, 'capDrop');
  const capAmbient = capList(c.capAmbient, 'capAmbient');
  const keptMask = capabilityMask(privileged, capAdd, capDrop);
  const notKept = capAmbient.filter((x) => x === 'ALL' || !keptMask[x]);
  if (notKept.length) {
    throw new InvalidConfigError(`ambient capabilities ${notKept.join(', ')} are not kept by the container (add them with capAdd)`, {
      containerId: id,
    });
  }

  const resources = c.resources === undefined ? {} : checkResources(c.resources, id);

  const network = validateNetwork(c.network, id);
  const userns = resolveUserns(c.userns, c.uidMappings, c.gidMappings, id);
  if (!userns && mounts.some((m) => m.idmap)) {
    throw new InvalidConfigError('an idmapped volume needs a user namespace (--userns=remap)', { containerId: id });
  }
  if (userns && network.mode.startsWith('container:')) {
    throw new InvalidConfigError('network mode container:<id> cannot be joined from a user namespace of its own', { containerId: id });
  }
  const seccomp = normalizeSeccomp(c, id);
  const config = validateDriverConfig(c.config, id);
  const extra = checkExtraFields(c, id, rootfs, network.mode, privileged);

  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${hostname}`);
  if (tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');

  return {
    id,
    rootfs,
    rootfsLayers,
    rootfsMode,
    rootfsModeExplicit: c.rootfsMode !== undefined,
    entrypoint,
    arguments: args,
    workingDir,
    user,
    env,
    hostname,
    tty,
    privileged,
    readonlyRootfs,
    network,
    resources,
    mounts,
    capAdd,
    capDrop,
    capAmbient,
    init,
    ...(userns ? { userns } : {}),
    seccomp,
    noNewPrivileges,
    config,
    extra,
  };
}

/** The profile a container gets: the default, none (unconfined, privileged) or the caller's, checked. */
function normalizeSeccomp(c: Command, id: string): SeccompProfile | 'unconfined' {
  const s = c.seccomp;
  if (s === 'unconfined') return 'unconfined';
  let profile = DEFAULT_PROFILE;
  if (s !== undefined && (typeof s !== 'object' || s === null || Array.isArray(s))) {
    throw bad('seccomp', `must be 'unconfined' or a profile object (Docker's format or OCI linux.seccomp), not ${describe(s)}`, id);
  }
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
