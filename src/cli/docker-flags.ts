/**
 * The flags of `run`/`create` that Docker users type (issue 12, part cli): each parsed into the
 * Command's fields, each error naming its flag. run.ts calls `applyDockerFlags`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { isIP } from 'node:net';
import { parseSize } from '../cgroups/resources.js';
import type { Command, DeviceSpec, LogOptions, MountSpec, TmpfsSpec, Ulimit } from '../driver.js';
import { ULIMITS, signalName } from '../command-extra.js';
import { InvalidConfigError } from '../errors.js';
import { list, str, type OptionSpec, type Values } from './args.js';

export const DOCKER_OPTIONS: OptionSpec = {
  name: { type: 'string' },
  rm: { type: 'boolean' },
  network: { type: 'string' },
  'env-file': { type: 'string', multiple: true },
  entrypoint: { type: 'string' },
  tmpfs: { type: 'string', multiple: true },
  mount: { type: 'string', multiple: true },
  cpus: { type: 'string' },
  ulimit: { type: 'string', multiple: true },
  device: { type: 'string', multiple: true },
  'group-add': { type: 'string', multiple: true },
  'shm-size': { type: 'string' },
  sysctl: { type: 'string', multiple: true },
  'stop-signal': { type: 'string' },
  'stop-timeout': { type: 'string' },
  label: { type: 'string', short: 'l', multiple: true },
  'log-opt': { type: 'string', multiple: true },
  dns: { type: 'string', multiple: true },
  'dns-search': { type: 'string', multiple: true },
  'add-host': { type: 'string', multiple: true },
};

export const DOCKER_USAGE = `      --name NAME              the container's id (as --id)
      --rm                     remove the container when it exits (the default without -d)
      --network MODE           as --net
  -e, --env VAR                without '=': VAR's value from this environment (skipped when unset)
      --env-file FILE          KEY=VALUE lines (# comments; KEY alone: from this environment)
      --entrypoint CMD         the command to run; the words after the options become its arguments
      --tmpfs DST[:OPTS]       a tmpfs at DST (OPTS: size=64m,mode=1777,ro,exec…; default noexec,nosuid,nodev)
      --mount type=bind|tmpfs,src=SRC,dst=DST[,readonly][,tmpfs-size=N][,tmpfs-mode=M]
      --cpus N                 cpu time as a number of cpus (1.5)
      --ulimit TYPE=SOFT[:HARD]  a resource limit (nofile, nproc, core, stack, memlock…; -1: unlimited)
      --device HOST[:DST][:rwm]  a host device node in the container, allowed by its device rules
      --group-add GROUP        a supplementary group (name in the container's /etc/group, or number)
      --shm-size SIZE          size of /dev/shm (default 64m)
      --sysctl KEY=VALUE       a namespaced kernel parameter (net.*, fs.mqueue.*, kernel IPC)
      --stop-signal SIG        what 'stop' sends first (default TERM)
      --stop-timeout N         seconds 'stop' waits before SIGKILL (default 10)
  -l, --label KEY=VALUE        a label (inspect shows it; ps --filter label=KEY[=VALUE])
      --dns IP, --dns-search DOMAIN  (bridge) resolv.conf's name servers, search list ('.': none)
      --add-host NAME:IP       (bridge) a line of /etc/hosts
      --log-opt OPT            -d without -t: max-size=10m, max-file=3 (the defaults) bound container.log`;

const bad = (flag: string, value: string, why: string) => new InvalidConfigError(`${flag} ${JSON.stringify(value)}: ${why}`);

/** `-e VAR` (from our environment), `--env-file FILE` lines: KEY=VALUE entries, the files' first. */
export function envFromFlags(values: Values): string[] {
  const out: string[] = [];
  const fromEnv = (name: string, flag: string, where: string) => {
    if (name === '' || name.includes('\0')) throw bad(flag, where, 'empty variable name');
    const v = process.env[name];
    if (v !== undefined) out.push(`${name}=${v}`);
  };
  for (const file of list(values['env-file'])) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw bad('--env-file', file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
      if (line === '' || line.startsWith('#')) return;
      const eq = line.indexOf('=');
      if (eq === 0) throw bad('--env-file', file, `line ${i + 1}: no variable name`);
      if (eq < 0) fromEnv(line.trimEnd(), '--env-file', file);
      else out.push(line);
    });
  }
  for (const e of list(values['env'])) {
    if (e.includes('=')) out.push(e);
    else fromEnv(e, '--env', e);
  }
  return out;
}

/** `--tmpfs DST[:OPTS]` */
export function parseTmpfs(spec: string): TmpfsSpec {
  const i = spec.indexOf(':');
  const destination = i < 0 ? spec : spec.slice(0, i);
  if (!isAbsolute(destination)) throw bad('--tmpfs', spec, 'the destination must be an absolute path');
  const options = i < 0 ? [] : spec.slice(i + 1).split(',').filter(Boolean);
  return { destination, options };
}

/** `--mount type=bind|tmpfs,src=…,dst=…,readonly` → a volume or a tmpfs. */
export function parseMount(spec: string): { volume?: MountSpec; tmpfs?: TmpfsSpec } {
  const kv = new Map<string, string>();
  for (const part of spec.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    kv.set(k, eq < 0 ? 'true' : part.slice(eq + 1));
  }
  const type = kv.get('type') ?? 'volume';
  const src = kv.get('source') ?? kv.get('src');
  const dst = kv.get('destination') ?? kv.get('dst') ?? kv.get('target');
  const ro = kv.get('readonly') ?? kv.get('ro');
  const readonly = ro === undefined ? false : ro === 'true' || ro === '1' ? true : ro === 'false' || ro === '0' ? false : undefined;
  if (readonly === undefined) throw bad('--mount', spec, `readonly takes true or false, not ${JSON.stringify(ro)}`);
  const known = new Set(['type', 'source', 'src', 'destination', 'dst', 'target', 'readonly', 'ro', 'tmpfs-size', 'tmpfs-mode', 'bind-propagation']);
  for (const k of kv.keys()) if (!known.has(k)) throw bad('--mount', spec, `unknown key ${JSON.stringify(k)}`);
  if (!dst || !isAbsolute(dst)) throw bad('--mount', spec, 'dst= must be an absolute path in the container');
  if (type === 'bind') {
    if (!src || !isAbsolute(src)) throw bad('--mount', spec, 'src= must be an absolute host path');
    if (kv.has('tmpfs-size') || kv.has('tmpfs-mode')) throw bad('--mount', spec, 'tmpfs-size and tmpfs-mode are for type=tmpfs');
    const prop = kv.get('bind-propagation');
    if (prop !== undefined && prop !== 'private' && prop !== 'rprivate') throw bad('--mount', spec, 'bind-propagation: only private is supported');
    return { volume: { source: src, destination: dst, writable: !readonly } };
  }
  if (type === 'tmpfs') {
    if (src) throw bad('--mount', spec, 'a tmpfs has no src=');
    const options: string[] = [];
    if (readonly) options.push('ro');
    const size = kv.get('tmpfs-size');
    if (size !== undefined) options.push(`size=${parseSizeFlag(size, '--mount tmpfs-size')}`);
    const mode = kv.get('tmpfs-mode');
    if (mode !== undefined) {
      if (!/^[0-7]{1,4}$/.test(mode)) throw bad('--mount', spec, `tmpfs-mode must be octal, not ${JSON.stringify(mode)}`);
      options.push(`mode=${mode.padStart(4, '0')}`);
    }
    return { tmpfs: { destination: dst, options } };
  }
  throw bad('--mount', spec, `unknown type ${JSON.stringify(type)} (bind, tmpfs)`);
}

function parseSizeFlag(v: string, flag: string): number {
  try {
    return parseSize(v, flag);
  } catch (e) {
    throw bad(flag, v, (e as Error).message.replace(/^.*?:\s*/, ''));
  }
}

/** `--ulimit nofile=1024:2048` (a single number: both) */
export function parseUlimit(spec: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
  if (!m) throw bad('--ulimit', spec, 'expected TYPE=SOFT[:HARD] with numbers (nofile=1024:2048)');
  const type = m[1]!;
  if (!(ULIMITS as readonly string[]).includes(type)) throw bad('--ulimit', spec, `unknown limit ${type} (${ULIMITS.join(', ')})`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft < -1 || hard < -1) throw bad('--ulimit', spec, 'a limit is a number of at least 0, or -1 (unlimited)');
  if (hard !== -1 && (soft === -1 || soft > hard)) throw bad('--ulimit', spec, 'the soft limit must not exceed the hard one');
  return { type, soft, hard };
}

/** `--device /dev/fuse[:DST][:rwm]` */
export function parseDevice(spec: string): DeviceSpec {
  const parts = spec.split(':');
  let access: string | undefined;
  if (parts.length > 1 && /^[rwm]{1,3}$/.test(parts.at(-1)!)) access = parts.pop();
  if (parts.length > 2 || !parts[0]) throw bad('--device', spec, 'expected HOST[:DST][:rwm]');
  const [path, destination] = parts as [string, string | undefined];
  if (!isAbsolute(path)) throw bad('--device', spec, 'the host path must be absolute');
  if (destination !== undefined && !isAbsolute(destination)) throw bad('--device', spec, 'the destination must be absolute');
  return { path, ...(destination ? { destination } : {}), ...(access ? { access } : {}) };
}

function keyValue(flag: string, spec: string): [string, string] {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw bad(flag, spec, 'expected KEY=VALUE');
  return [spec.slice(0, eq), spec.slice(eq + 1)];
}

/** `--log-opt max-size=10m`, `--log-opt max-file=3` (also comma-separated). */
export function parseLogOpts(opts: string[]): LogOptions | undefined {
  if (!opts.length) return undefined;
  const out: LogOptions = {};
  for (const o of opts.flatMap((x) => x.split(','))) {
    const [k, v] = keyValue('--log-opt', o);
    if (k === 'max-size') out.maxSize = parseSizeFlag(v, '--log-opt max-size');
    else if (k === 'max-file') {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 100) throw bad('--log-opt', o, 'max-file is 1 to 100');
      out.maxFiles = Number(v);
    } else throw bad('--log-opt', o, 'unknown option (max-size, max-file)');
  }
  if (out.maxSize !== undefined && out.maxSize < 4096) throw bad('--log-opt', `max-size=${out.maxSize}`, 'must be at least 4k');
  return out;
}

/** The Command fields of these flags; `cmd` has the rest already (env, mounts, resources…). */
export function applyDockerFlags(cmd: Command, values: Values): void {
  for (const m of list(values['mount']).map(parseMount)) {
    if (m.volume) (cmd.mounts ??= []).push(m.volume);
    if (m.tmpfs) (cmd.tmpfs ??= []).push(m.tmpfs);
  }
  for (const t of list(values['tmpfs'])) (cmd.tmpfs ??= []).push(parseTmpfs(t));
  const cpus = str(values['cpus']);
  if (cpus !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(cpus) || Number(cpus) <= 0) throw bad('--cpus', cpus, 'expected a positive number of cpus (1.5)');
    const period = cmd.resources?.cpuPeriod ?? 100000;
    cmd.resources = { ...cmd.resources, cpuPeriod: period, cpuQuota: Math.round(Number(cpus) * period) };
  }
  const ulimits = list(values['ulimit']).map(parseUlimit);
  if (ulimits.length) cmd.ulimits = ulimits;
  const devices = list(values['device']).map(parseDevice);
  if (devices.length) cmd.devices = devices;
  const groups = list(values['group-add']);
  if (groups.length) cmd.groupAdd = groups;
  const shm = str(values['shm-size']);
  if (shm !== undefined) cmd.shmSize = parseSizeFlag(shm, '--shm-size');
  const sysctl = list(values['sysctl']);
  if (sysctl.length) cmd.sysctl = Object.fromEntries(sysctl.map((s) => keyValue('--sysctl', s)));
  const stopSignal = str(values['stop-signal']);
  if (stopSignal !== undefined) {
    if (!signalName(stopSignal)) throw bad('--stop-signal', stopSignal, 'unknown signal');
    cmd.stopSignal = stopSignal;
  }
  const stopTimeout = str(values['stop-timeout']);
  if (stopTimeout !== undefined) {
    if (!/^\d+$/.test(stopTimeout)) throw bad('--stop-timeout', stopTimeout, 'expected a whole number of seconds');
    cmd.stopTimeout = Number(stopTimeout);
  }
  const dns = list(values['dns']);
  for (const a of dns) if (!isIP(a)) throw bad('--dns', a, 'not an IP address');
  if (dns.length) cmd.dns = dns;
  const search = list(values['dns-search']);
  if (search.length) cmd.dnsSearch = search;
  const hosts = list(values['add-host']).map((h) => {
    const i = h.indexOf(':');
    if (i <= 0 || !isIP(h.slice(i + 1))) throw bad('--add-host', h, 'expected NAME:IP (an IP address)');
    return { host: h.slice(0, i), ip: h.slice(i + 1) };
  });
  if (hosts.length) cmd.extraHosts = hosts;
  const labels = list(values['label']);
  if (labels.length) cmd.labels = Object.fromEntries(labels.map((l) => (l.includes('=') ? keyValue('--label', l) : [l, ''])));
}

/** The Command fields the library's checks name, as the flags a `run` user typed. */
const FLAG_OF: Record<string, string> = {
  workingDir: '-w', groupAdd: '--group-add', ulimits: '--ulimit', sysctl: '--sysctl', tmpfs: '--tmpfs', devices: '--device',
  env: '-e', labels: '--label', shmSize: '--shm-size', stopSignal: '--stop-signal', stopTimeout: '--stop-timeout', mounts: '--mount',
  user: '-u', hostname: '--hostname', dns: '--dns', dnsSearch: '--dns-search', extraHosts: '--add-host', capAdd: '--cap-add',
  capDrop: '--cap-drop', capAmbient: '--cap-ambient', rootfs: '--rootfs', rootfsMode: '--rootfs-mode', 'volume source': '-v',
};
const FIELD = new RegExp(`^(?:container [^:]+: )?(${Object.keys(FLAG_OF).join('|')})(\\[\\d+\\](?:\\.\\w+(?:\\[\\d+\\])?)*)?(?=[: ])`);

/**
 * A `run`/`create` error that names a Command field (the library's check) names the flag instead:
 * `container 057b…: groupAdd[0]: no group …` → `--group-add: no group …` (nothing was created).
 */
export function namingTheFlag(e: unknown): unknown {
  if (!(e instanceof InvalidConfigError)) return e;
  const m = FIELD.exec(e.message);
  if (!m) return e;
  return new InvalidConfigError(`${FLAG_OF[m[1]!]}${e.message.slice(m[0].length)}`, { cause: e });
}
