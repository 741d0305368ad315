import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_COMMAND } from './stop.js';
import { isAbsolute, resolve } from 'node:path';
import { parseSize } from '../cgroups/resources.js';
import type { Command, MountSpec, NetworkConfig, Resources } from '../driver.js';
import { generateId } from '../id.js';
import { InvalidConfigError } from '../errors.js';
import { parseUsernsFlag } from '../userns.js';
import { parsePublish } from '../network/publish.js';
import { isRootless } from '../rootless.js';
import { validateSeccompProfile, type SeccompProfile } from '../security/seccomp/profile.js';
import { int, list, str, type Context, type Values, type Verb } from './args.js';
import { driverFor } from './drivers.js';
import { rawMode, watchResize, windowSize } from './terminal.js';
import { applyDockerFlags, DOCKER_OPTIONS, DOCKER_USAGE, envFromFlags, parseLogOpts, namingTheFlag } from './docker-flags.js';
import { sysctlRefusal } from '../command-extra.js';
import { existsSync } from 'node:fs';

/** The --net modes; any other word names a network (`network create`). */
const NET_MODES = ['bridge', 'none', 'host', 'slirp4netns'];

/** `-v SRC:DST[:OPTS]`, OPTS a comma-separated list of `ro`, `rw`, `idmap` */
export function parseVolume(spec: string): MountSpec {
  const parts = spec.split(':');
  let opts: string[] = [];
  if (parts.length === 3) opts = parts.pop()!.split(',');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new InvalidConfigError(`invalid volume "${spec}" (expected SRC:DST or SRC:DST:ro)`);
  }
  for (const o of opts) {
    if (o !== 'ro' && o !== 'rw' && o !== 'idmap') throw new InvalidConfigError(`invalid volume mode "${o}" in "${spec}" (ro, rw, idmap)`);
  }
  if (!isAbsolute(parts[0])) throw new InvalidConfigError(`volume source "${parts[0]}" must be an absolute host path`);
  if (!isAbsolute(parts[1])) throw new InvalidConfigError(`volume destination "${parts[1]}" must be an absolute path`);
  return { source: parts[0], destination: parts[1], writable: !opts.includes('ro'), ...(opts.includes('idmap') ? { idmap: true } : {}) };
}

/** `--security-opt` values: `seccomp=unconfined|FILE`, `no-new-privileges[=true|false]` (also Docker's `:` form). */
export function parseSecurityOpts(opts: string[]): Pick<Command, 'seccomp' | 'noNewPrivileges'> {
  const out: Pick<Command, 'seccomp' | 'noNewPrivileges'> = {};
  for (const opt of opts) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt);
    const key = m?.[1];
    const value = m?.[2];
    if (key === 'no-new-privileges') {
      if (value !== undefined && value !== 'true' && value !== 'false') {
        throw new InvalidConfigError(`invalid --security-opt "${opt}": no-new-privileges takes true or false`);
      }
      out.noNewPrivileges = value !== 'false';
    } else if (key === 'seccomp' && value) {
      out.seccomp = value === 'unconfined' ? 'unconfined' : readProfile(value);
    } else {
      throw new InvalidConfigError(`invalid --security-opt "${opt}" (seccomp=unconfined, seccomp=FILE, no-new-privileges[=true|false])`);
    }
  }
  return out;
}

/** A seccomp profile file (Docker's format or an OCI linux.seccomp object), checked. */
function readProfile(file: string): SeccompProfile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidConfigError(`seccomp profile ${file}: cannot be read: ${(e as Error).message}`, { path: file, cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InvalidConfigError(`seccomp profile ${file}: not JSON: ${(e as Error).message}`, { path: file, cause: e });
  }
  try {
    const p = validateSeccompProfile(json);
    return p.name ? p : { ...p, name: file };
  } catch (e) {
    throw new InvalidConfigError(`${file}: ${(e as Error).message}`, { path: file, cause: e });
  }
}

/** The resource flags of `run` and `update` (read by resourcesFromFlags). */
export const RESOURCE_OPTIONS = {
    memory: { type: 'string', short: 'm' },
    'memory-swap': { type: 'string' },
    'memory-reservation': { type: 'string' },
    'cpu-shares': { type: 'string' },
    'cpu-quota': { type: 'string' },
    'cpu-period': { type: 'string' },
    'cpuset-cpus': { type: 'string' },
    'cpuset-mems': { type: 'string' },
    'pids-limit': { type: 'string' },
} as const;

/** The limit flags (`run`, `update`): --memory 64m… → Resources; only the flags given. */
export function resourcesFromFlags(values: Values): Resources {
  const size = (k: string, what: string) => {
    const v = str(values[k]);
    if (v === undefined) return undefined;
    if (v === '-1') return -1;
    return parseSize(v, what);
  };
  const resources: Resources = {};
  const set = <K extends keyof Resources>(k: K, v: Resources[K] | undefined) => {
    if (v !== undefined) resources[k] = v;
  };
  set('memory', size('memory', '--memory'));
  set('memorySwap', size('memory-swap', '--memory-swap'));
  set('memoryReservation', size('memory-reservation', '--memory-reservation'));
  set('cpuShares', int(values['cpu-shares'], '--cpu-shares'));
  set('cpuQuota', int(values['cpu-quota'], '--cpu-quota'));
  set('cpuPeriod', int(values['cpu-period'], '--cpu-period'));
  set('cpusetCpus', str(values['cpuset-cpus']));
  set('cpusetMems', str(values['cpuset-mems']));
  set('pidsLimit', int(values['pids-limit'], '--pids-limit'));
  return resources;
}

export function commandFromFlags(values: Values, argv: string[]): Command {
  const ep = str(values['entrypoint']);
  const [entrypoint, ...args] = ep !== undefined && ep !== '' ? [ep, ...argv] : argv;
  if (!entrypoint) throw new InvalidConfigError('run: no command given (execdriver run [OPTIONS] -- CMD [ARG...])');
  // rootfs (issue 12): --rootfs repeated stacks layers, the first the lowest
  const rootfsList = list(values['rootfs']);
  if (!rootfsList.length || rootfsList.some((r) => !r)) throw new InvalidConfigError('run: --rootfs DIR is required');
  const rootfsMode = str(values['rootfs-mode']);
  if (rootfsMode !== undefined && rootfsMode !== 'overlay' && rootfsMode !== 'direct') {
    throw new InvalidConfigError(`run: --rootfs-mode ${JSON.stringify(rootfsMode)}: overlay or direct`);
  }
  const resources = resourcesFromFlags(values);

  const net = str(values['network']) ?? str(values['net']) ?? (isRootless() ? 'none' : 'bridge'); // a rootless caller has no bridge
  // issue 12: `--net NAME` is a network made by `network create` (a bridge of its own)
  const named = !NET_MODES.includes(net) && !net.startsWith('container:');
  const network: NetworkConfig = named ? { mode: 'bridge', name: net } : { mode: net as NetworkConfig['mode'] };
  const publish = list(values['publish']);
  if (publish.length) network.ports = publish.map(parsePublish);
  const bridge = str(values['bridge']);
  if (bridge !== undefined) network.bridge = bridge;
  const subnet = str(values['subnet']);
  if (subnet !== undefined) network.subnet = subnet;
  const ip = str(values['ip']);
  if (ip !== undefined) network.ipAddress = ip;
  const mtu = int(values['mtu'], '--mtu');
  if (mtu !== undefined) network.mtu = mtu;

  const cmd: Command = {
    id: str(values['name']) ?? str(values['id']) ?? generateId(),
    rootfs: rootfsList.length === 1 ? resolve(rootfsList[0]!) : rootfsList.map((r) => resolve(r)),
    ...(rootfsMode !== undefined ? { rootfsMode } : {}),
    entrypoint,
    arguments: args,
    env: envFromFlags(values),
    mounts: list(values['volume']).map(parseVolume),
    capAdd: list(values['cap-add']),
    capDrop: list(values['cap-drop']),
    capAmbient: list(values['cap-ambient']),
    privileged: !!values['privileged'],
    readonlyRootfs: !!values['read-only'],
    tty: !!values['tty'],
    init: !!values['init'],
    ...(str(values['userns']) !== undefined ? { userns: parseUsernsFlag(str(values['userns'])!) } : {}),
    network,
    resources,
  };
  const hostname = str(values['hostname']);
  if (hostname !== undefined) cmd.hostname = hostname;
  const workdir = str(values['workdir']);
  if (workdir !== undefined) cmd.workingDir = workdir;
  const user = str(values['user']);
  if (user !== undefined) cmd.user = user;
  Object.assign(cmd, parseSecurityOpts(list(values['security-opt'])));
  const lxc = list(values['lxc-conf']);
  if (lxc.length) cmd.config = { lxc };
  if (values['cgroup2-devices']) cmd.config = { ...cmd.config, native: { cgroup2_devices: true } };
  applyDockerFlags(cmd, values);
  // the flag named in what the library would refuse by its field
  for (const k of Object.keys(cmd.sysctl ?? {})) {
    const why = sysctlRefusal(k, network.mode);
    if (why) throw new InvalidConfigError(`--sysctl ${k}: ${why}`);
  }
  if ((cmd.dns || cmd.dnsSearch || cmd.extraHosts) && network.mode !== 'bridge') {
    throw new InvalidConfigError(`--dns, --dns-search, --add-host: only with --net bridge (the /etc files are the bridge network's), not --net ${network.mode}`);
  }
  for (const d of cmd.devices ?? []) if (!existsSync(d.path)) throw new InvalidConfigError(`--device ${d.path}: no such device on the host`);
  if (values['name'] !== undefined && values['id'] !== undefined && str(values['name']) !== str(values['id'])) {
    throw new InvalidConfigError('--name and --id name the container twice (--name is --id)');
  }
  return cmd;
}

/**
 * `-d --rm`: a detached helper (this CLI's `rm --on-exit`, in its own session) waits for the
 * container's exit and removes it, whether or not this process is still there.
 */
function removeOnExit(ctx: Context, driver: string, id: string): void {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--root', ctx.root, '--driver', driver, 'rm', '--on-exit', id], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export const runVerb: Verb = {
  name: 'run',
  summary: 'run a command in a new container',
  usage: `execdriver run [OPTIONS] [--] CMD [ARG...]

Options:
      --driver NAME            native (default) or lxc
      --id ID                  container id (default: 12 random hex digits)
      --rootfs DIR             root filesystem (required); repeated: layers, the first the lowest
      --rootfs-mode MODE       overlay (default): the rootfs is the read-only lower layer of a
                               per-container overlay; direct: run on the directory itself
      --hostname H             hostname (default: the first 12 characters of the id)
  -e, --env K=V                environment variable (repeatable)
  -w, --workdir DIR            working directory inside the container
  -u, --user USER[:GROUP]      user, from the container's /etc/passwd and /etc/group, or numeric
      --read-only              mount the root filesystem read-only
      --privileged             every capability the host has, every device, no restrictions
      --cap-add CAP            add a capability (repeatable; ALL)
      --cap-drop CAP           drop a capability (repeatable; ALL)
      --security-opt OPT       seccomp=unconfined, seccomp=FILE (Docker's or the OCI profile
                               format; default: Docker's default policy), no-new-privileges
      --cap-ambient CAP        raise a kept capability into the ambient set, for a non-root -u (repeatable)
  -m, --memory SIZE            memory limit (bytes, or 64m, 1g, 512k)
      --memory-swap SIZE       memory + swap limit (-1: unlimited swap)
      --memory-reservation SIZE  soft memory limit
      --cpu-shares N           relative cpu weight (2..262144)
      --cpu-quota N            microseconds of cpu time per period
      --cpu-period N           the period, in microseconds (default 100000)
      --cpuset-cpus LIST       cpus the container may use (0-1,3)
      --cpuset-mems LIST       memory nodes the container may use
      --pids-limit N           the most processes the container may have
  -v, --volume SRC:DST[:OPTS]  bind a host path into the container (repeatable); OPTS: ro, rw,
                               idmap (with --userns: seen through the container's id maps)
      --userns MODE            remap: a user namespace, container root is an unprivileged host
                               uid (the subordinate ranges of user execdriver, or remap:USER);
                               host (the default)
      --net MODE               bridge (default; not root: none), none, host, slirp4netns
                               (user-mode networking, native driver), container:ID
                               or the NAME of a network made by 'execdriver network create'
  -p, --publish [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]
                               publish a port of a bridge container on the host (repeatable)
      --bridge NAME            bridge for --net bridge (default execdriver0)
      --subnet CIDR            subnet of the bridge, when it is created
      --ip ADDR                the container's address on the bridge
      --mtu N                  MTU of the container's interface
      --lxc-conf KEY=VALUE     raw lxc.* line for the lxc driver (repeatable)
      --cgroup2-devices        native driver, hybrid host: enforce the device rules with a BPF
                               program on the cgroup2 directory too (always so on a cgroup v2 host)
      --init                   run a minimal init as pid 1 (reaps zombies, forwards signals)
  -t, --tty                    allocate a pseudo-terminal (stderr goes to it too); with -d,
                               'execdriver attach ID' connects to it later
  -i, --interactive            keep stdin open
  -d, --detach                 run in the background and print the container's id
${DOCKER_USAGE}

The exit status is the container's; 125 when it could not be created, 126 when the command is
not executable, 127 when it is not found.`,
  stopAtPositional: true,
  options: {
    driver: { type: 'string' },
    id: { type: 'string' },
    rootfs: { type: 'string', multiple: true },
    'rootfs-mode': { type: 'string' },
    hostname: { type: 'string' },
    env: { type: 'string', short: 'e', multiple: true },
    workdir: { type: 'string', short: 'w' },
    user: { type: 'string', short: 'u' },
    'read-only': { type: 'boolean' },
    privileged: { type: 'boolean' },
    'cap-add': { type: 'string', multiple: true },
    'cap-drop': { type: 'string', multiple: true },
    'security-opt': { type: 'string', multiple: true },
    'cap-ambient': { type: 'string', multiple: true },
    ...RESOURCE_OPTIONS,
    volume: { type: 'string', short: 'v', multiple: true },
    net: { type: 'string' },
    publish: { type: 'string', short: 'p', multiple: true },
    bridge: { type: 'string' },
    subnet: { type: 'string' },
    ip: { type: 'string' },
    mtu: { type: 'string' },
    'lxc-conf': { type: 'string', multiple: true },
    'cgroup2-devices': { type: 'boolean' },
    init: { type: 'boolean' },
    userns: { type: 'string' },
    tty: { type: 'boolean', short: 't' },
    interactive: { type: 'boolean', short: 'i' },
    detach: { type: 'boolean', short: 'd' },
    ...DOCKER_OPTIONS,
  },
  async run(ctx: Context, values: Values, positionals: string[]): Promise<number> {
    const command = commandFromFlags(values, positionals);
    const log = parseLogOpts(list(values['log-opt']));
    if (log && (!values['detach'] || command.tty)) throw new InvalidConfigError('--log-opt: only for -d without -t (the output goes to container.log)');
    const driver = await driverFor(str(values['driver']) ?? ctx.driver, ctx.root);
    if (values['detach']) {
      const consoleSize = command.tty ? windowSize(process.stdout) : undefined;
      const openStdin = !!values['interactive'] && !command.tty; // attach writes to its stdin
      const started = await driver.start(command, { detach: true, ...(consoleSize ? { consoleSize } : {}), ...(log ? { log } : {}), ...(openStdin ? { openStdin } : {}) });
      const driverDir = driver.name().split('-')[0]!;
      if (values['rm']) removeOnExit(ctx, driverDir, started.id);
      else {
        // kept for `restart` and `start`
        try {
          writeFileSync(join(ctx.root, driverDir, started.id, CLI_COMMAND), JSON.stringify({ command: { ...command, id: started.id }, ...(log ? { log } : {}), ...(openStdin ? { openStdin } : {}) }), { mode: 0o600 });
        } catch {
          /* it has exited and is gone already */
        }
      }
      process.stdout.write(`${started.id}\n`);
      return 0;
    }
    let id: string | undefined;
    const pending: NodeJS.Signals[] = [];
    const forward = (sig: NodeJS.Signals) => {
      if (!id) return void pending.push(sig); // delivered once the container runs
      driver.kill(id, sig).catch(() => {});
      if (sig === 'SIGHUP' && command.tty) {
        // our terminal hung up: the container gets SIGHUP, and is killed if it does not end by itself
        const cid = id;
        setTimeout(() => driver.kill(cid, 'SIGKILL', { all: true }).catch(() => {}), 2000).unref();
      }
    };
    for (const s of FORWARDED) process.on(s, forward);
    // -t: the container's terminal relays ours, raw while typing goes to it (-i); sizes follow ours
    const restore = command.tty && values['interactive'] ? rawMode(process.stdin) : () => {};
    const unwatch = command.tty ? watchResize(process.stdout, (r, c) => void (id && driver.resize?.(id, r, c).catch(() => {}))) : () => {};
    try {
      const status = await driver.run(
        command,
        // without a terminal our fds 1 and 2 go to the monitor, which copies the container's output
        // to them: no relay in Node, and no process.stdout/stderr streams to make (~5 ms)
        { stdin: values['interactive'] ? process.stdin : null, stdout: command.tty ? process.stdout : 1, stderr: command.tty ? null : 2, end: false },
        (info) => {
          id = info.id;
          for (const sig of pending.splice(0)) forward(sig);
        },
      );
      return status.exitCode;
    } finally {
      unwatch();
      restore();
      for (const s of FORWARDED) process.off(s, forward);
    }
  },
};

// the library's checks name Command fields: the user typed flags
const runCommand = runVerb.run;
runVerb.run = (ctx, values, positionals) => runCommand.call(runVerb, ctx, values, positionals).catch((e: unknown) => Promise.reject(namingTheFlag(e)));
