/**
 * execdriver-oci: runc's command line over an OCI bundle (global flags, verbs, exit codes and
 * output formats as go-runc, Docker and Podman/conmon use them). Errors: exit status 1, one
 * line on stderr, and a line in --log (JSON lines `level`, `msg`, `time` with --log-format json,
 * which containerd reads errors from). The driver is imported lazily: `state`, `kill`, `list`
 * load only what they use.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { ExecDriverError } from '../errors.js';
import { packageVersion } from '../version.js';
import type { OciDriver } from './driver.js';

export const DEFAULT_OCI_ROOT = '/run/execdriver-oci';

export type Kind = 'bool' | 'string' | 'list';
export interface FlagSpec { [name: string]: { kind: Kind; alias?: string } }
export interface Parsed { flags: Record<string, string | boolean | string[]>; args: string[] }

export class UsageError extends Error {}

/** `--name value`, `--name=value`, `-x value`; a bool may be `--name=false`. Flags stop at the first positional argument when `stopAtArg`. */
export function parseFlags(argv: string[], spec: FlagSpec, stopAtArg = false): Parsed {
  const flags: Parsed['flags'] = {};
  const args: string[] = [];
  const byName = new Map<string, [string, Kind]>();
  for (const [n, s] of Object.entries(spec)) {
    byName.set(n, [n, s.kind]);
    if (s.alias) byName.set(s.alias, [n, s.kind]);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-' || (stopAtArg && args.length)) {
      args.push(a);
      if (stopAtArg && args.length) {
        args.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    const eq = a.indexOf('=');
    const key = a.replace(/^--?/, '').slice(0, eq > 0 ? eq - (a.startsWith('--') ? 2 : 1) : undefined);
    const found = byName.get(key);
    if (!found) throw new UsageError(`flag provided but not defined: ${a.slice(0, eq > 0 ? eq : undefined)}`);
    const [name, kind] = found;
    let value: string | undefined = eq > 0 ? a.slice(eq + 1) : undefined;
    if (kind === 'bool') {
      flags[name] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${a}`);
      value = argv[++i]!;
    }
    if (kind === 'list') (flags[name] = (flags[name] as string[] | undefined) ?? []).push(value!);
    else flags[name] = value!;
  }
  return { flags, args };
}

const GLOBAL: FlagSpec = {
  root: { kind: 'string' }, log: { kind: 'string' }, 'log-format': { kind: 'string' }, debug: { kind: 'bool' },
  'systemd-cgroup': { kind: 'bool' }, version: { kind: 'bool', alias: 'v' }, help: { kind: 'bool', alias: 'h' },
  criu: { kind: 'string' }, rootless: { kind: 'string' },
};
const CREATE: FlagSpec = {
  bundle: { kind: 'string', alias: 'b' }, 'pid-file': { kind: 'string' }, 'console-socket': { kind: 'string' },
  'no-pivot': { kind: 'bool' }, 'no-new-keyring': { kind: 'bool' }, 'preserve-fds': { kind: 'string' },
};

const HELP = `execdriver-oci: an OCI runtime (runc's command line) on execdriver's native driver

usage: execdriver-oci [global options] command [command options] [arguments...]

commands:
   create    create a container from a bundle (its process waits for start)
   start     start the process of a created container
   run       create and start a container (--detach: do not wait)
   state     print the state of a container (JSON)
   kill      send a signal to the container's init (--all: every process)
   delete    delete a stopped container (--force: any)
   list      list containers (--format table|json, -q)
   ps        the processes of a container (--format table|json)
   exec      run another process in a running container
   pause     freeze every process of a container
   resume    thaw a paused container
   events    statistics and OOM events (--stats: once; --interval D)
   update    change a running container's resources
   spec      write a default config.json (--bundle, --rootless)
   features  what this runtime supports (JSON)

global options:
   --root DIR            state root (default ${DEFAULT_OCI_ROOT})
   --log FILE            write log lines there (default stderr)
   --log-format FORMAT   text or json
   --debug               log debug lines
   --systemd-cgroup      cgroupsPath is slice:prefix:name (needs systemd)
   --version, -v         print the version
   --help, -h            this text
`;

interface Ctx {
  root: string;
  systemd: boolean;
  log: (level: 'error' | 'warning' | 'debug' | 'info', msg: string) => void;
  driver: () => Promise<OciDriver>;
}

function signalOf(s: string | undefined): NodeJS.Signals | number {
  if (s === undefined || s === '') return 'SIGTERM';
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw new UsageError(`invalid signal ${s}`);
    return n;
  }
  const name = (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in constants.signals)) throw new UsageError(`unknown signal "${s}"`);
  return name;
}

/** A container id as the engine takes them (it names a directory under the root). */
function validId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) throw new UsageError(`invalid container id ${JSON.stringify(id)}`);
  return id;
}

function oneId(args: string[], verb: string, extra = 0): string {
  if (args.length < 1 || args.length > 1 + extra) throw new UsageError(`"${verb}" requires ${extra ? 'at least ' : 'exactly '}1 argument (the container id)`);
  return args[0]!;
}

function out(text: string): void {
  process.stdout.write(text);
}

const verbs: Record<string, (ctx: Ctx, argv: string[]) => Promise<number>> = {
  async create(ctx, argv) {
    const { flags, args } = parseFlags(argv, CREATE);
    const id = oneId(args, 'create');
    preserveFds(flags);
    const d = await ctx.driver();
    await d.ociCreate({ id, ...createOpts(flags), systemdCgroup: ctx.systemd });
    return 0;
  },

  async start(ctx, argv) {
    const { args } = parseFlags(argv, {});
    const { ociStart } = await import('./light.js');
    await ociStart(ctx.root, validId(oneId(args, 'start')), (m) => ctx.log('warning', m));
    return 0;
  },

  async run(ctx, argv) {
    const { flags, args } = parseFlags(argv, { ...CREATE, detach: { kind: 'bool', alias: 'd' }, keep: { kind: 'bool' } });
    const id = oneId(args, 'run');
    preserveFds(flags);
    const d = await ctx.driver();
    const detach = !!flags['detach'];
    await d.ociCreate({ id, ...createOpts(flags), systemdCgroup: ctx.systemd, relayTerminal: !detach });
    if (detach) {
      await d.ociStart(id);
      return 0;
    }
    const forward = (sig: NodeJS.Signals) => void d.ociKill(id, sig, false).catch(() => {});
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(s, forward);
    try {
      await d.ociStart(id);
      return await d.ociWait(id);
    } finally {
      if (!flags['keep']) await d.ociDelete(id, true).catch((e) => ctx.log('warning', (e as Error).message));
    }
  },

  async state(ctx, argv) {
    const { args } = parseFlags(argv, {});
    const { ociState } = await import('./light.js');
    out(JSON.stringify(ociState(ctx.root, validId(oneId(args, 'state'))), null, 2) + '\n');
    return 0;
  },

  async kill(ctx, argv) {
    const { flags, args } = parseFlags(argv, { all: { kind: 'bool', alias: 'a' } });
    const id = oneId(args, 'kill', 1);
    const { ociKill } = await import('./light.js');
    ociKill(ctx.root, validId(id), signalOf(args[1]), !!flags['all']);
    return 0;
  },

  async delete(ctx, argv) {
    const { flags, args } = parseFlags(argv, { force: { kind: 'bool', alias: 'f' } });
    const id = oneId(args, 'delete');
    const d = await ctx.driver();
    try {
      await d.ociDelete(id, !!flags['force']);
    } catch (e) {
      // --force: a container that does not exist is no error (as runc)
      if (!(flags['force'] && (e as ExecDriverError).code === 'ERR_NOT_FOUND')) throw e;
    }
    return 0;
  },

  async list(ctx, argv) {
    const { flags } = parseFlags(argv, { format: { kind: 'string', alias: 'f' }, quiet: { kind: 'bool', alias: 'q' } });
    const format = (flags['format'] as string | undefined) ?? 'table';
    if (format !== 'table' && format !== 'json') throw new UsageError(`invalid format option "${format}" (table or json)`);
    const { ociList } = await import('./light.js');
    const all = ociList(ctx.root);
    if (flags['quiet']) return out(all.map((s) => s.id + '\n').join('')), 0;
    if (format === 'json') return out(JSON.stringify(all) + '\n'), 0;
    const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...all.map((s) => [s.id, String(s.pid ?? 0), s.status, s.bundle, s.created, s.owner])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    out(rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]! + 3) : c)).join('').trimEnd() + '\n').join(''));
    return 0;
  },

  async ps(ctx, argv) {
    const { flags, args } = parseFlags(argv, { format: { kind: 'string', alias: 'f' } }, true);
    const id = oneId(args.slice(0, 1), 'ps');
    const format = (flags['format'] as string | undefined) ?? 'table';
    if (format !== 'table' && format !== 'json') throw new UsageError(`invalid format option "${format}" (table or json)`);
    const pids = await (await ctx.driver()).ociPids(id);
    if (format === 'json') return out(JSON.stringify(pids) + '\n'), 0;
    const { execFileSync } = await import('node:child_process');
    const psArgs = args.length > 1 ? args.slice(1) : ['-ef'];
    const lines = execFileSync('ps', psArgs, { encoding: 'utf8' }).split('\n');
    const col = lines[0]!.trim().split(/\s+/).indexOf('PID');
    if (col < 0) throw new UsageError('ps: the output has no PID column');
    const keep = new Set(pids.map(String));
    out([lines[0], ...lines.slice(1).filter((l) => keep.has(l.trim().split(/\s+/)[col]!))].join('\n') + '\n');
    return 0;
  },

  async exec(ctx, argv) {
    const { execVerb } = await import('./exec.js');
    return execVerb(await ctx.driver(), argv, parseFlags);
  },

  async pause(ctx, argv) {
    const { args } = parseFlags(argv, {});
    await (await ctx.driver()).pause(oneId(args, 'pause'));
    return 0;
  },

  async resume(ctx, argv) {
    const { args } = parseFlags(argv, {});
    await (await ctx.driver()).resume(oneId(args, 'resume'));
    return 0;
  },

  async events(ctx, argv) {
    const { eventsVerb } = await import('./events.js');
    return eventsVerb(await ctx.driver(), argv, parseFlags);
  },

  async update(ctx, argv) {
    const { updateVerb } = await import('./update.js');
    return updateVerb(await ctx.driver(), argv, parseFlags);
  },

  async spec(_ctx, argv) {
    const { flags, args } = parseFlags(argv, { bundle: { kind: 'string', alias: 'b' }, rootless: { kind: 'bool' } });
    if (args.length) throw new UsageError('"spec" takes no arguments');
    const { defaultSpec } = await import('./defaults.js');
    const file = join(resolve((flags['bundle'] as string | undefined) ?? '.'), 'config.json');
    if (existsSync(file)) throw new ExecDriverError('ERR_INVALID_CONFIG', `File ${file} exists. Remove it first`);
    writeFileSync(file, JSON.stringify(defaultSpec(!!flags['rootless']), null, '\t') + '\n');
    return 0;
  },

  async features(_ctx, argv) {
    parseFlags(argv, {});
    const { features } = await import('./defaults.js');
    out(JSON.stringify(features(), null, '    ') + '\n');
    return 0;
  },
};

function createOpts(flags: Parsed['flags']) {
  const s = (k: string) => flags[k] as string | undefined;
  return {
    bundle: s('bundle') ?? '.',
    ...(s('pid-file') ? { pidFile: s('pid-file')! } : {}),
    ...(s('console-socket') ? { consoleSocket: s('console-socket')! } : {}),
    ...(flags['no-pivot'] ? { noPivot: true } : {}),
    ...(flags['no-new-keyring'] ? { noNewKeyring: true } : {}),
  };
}

function preserveFds(flags: Parsed['flags']): void {
  const n = flags['preserve-fds'];
  if (n !== undefined && n !== '0') throw new UsageError(`--preserve-fds ${n}: passing extra file descriptors is not supported by execdriver-oci yet`);
}

/** Run the command line; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let logFile: string | undefined;
  let json = false;
  let debug = false;
  const log: Ctx['log'] = (level, msg) => {
    if (level === 'debug' && !debug) return;
    const time = new Date().toISOString();
    const line = json ? JSON.stringify({ level, msg, time }) + '\n' : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    if (logFile) {
      try {
        appendFileSync(logFile, line);
      } catch {
        /* the log is best effort */
      }
    }
    if (level === 'error' || level === 'warning') process.stderr.write(`${level === 'error' ? '' : 'warning: '}${msg}\n`);
  };
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) i += GLOBAL_TAKES.has(argv[i]!.replace(/^--?/, '')) && !argv[i]!.includes('=') ? 2 : 1;
  try {
    const g = parseFlags(argv.slice(0, i), GLOBAL).flags;
    logFile = g['log'] as string | undefined;
    const fmt = (g['log-format'] as string | undefined) ?? 'text';
    if (fmt !== 'text' && fmt !== 'json') throw new UsageError(`unknown log-format "${fmt}" (text or json)`);
    json = fmt === 'json';
    debug = !!g['debug'];
    if (g['version']) {
      out(`execdriver-oci version ${packageVersion()}\nspec: 1.1.0\n`);
      return 0;
    }
    const verb = argv[i];
    if (g['help'] || !verb || verb === 'help') {
      out(HELP);
      return verb || g['help'] ? 0 : 1;
    }
    const fn = verbs[verb];
    if (!fn) throw new UsageError(`No help topic for '${verb}' (unknown command; see --help)`);
    const root = resolve((g['root'] as string | undefined) ?? DEFAULT_OCI_ROOT);
    let d: OciDriver | undefined;
    const ctx: Ctx = {
      root,
      systemd: !!g['systemd-cgroup'],
      log,
      driver: async () => {
        if (d) return d;
        const m = await import('./driver.js');
        m.setWarn((msg) => log('warning', msg));
        return (d = new m.OciDriver(root));
      },
    };
    log('debug', `${verb} ${argv.slice(i + 1).join(' ')}`);
    return await fn(ctx, argv.slice(i + 1));
  } catch (e) {
    const err = e as ExecDriverError;
    const id = err.containerId;
    let msg = err.message ?? String(e);
    if (err.code === 'ERR_NOT_FOUND' && id) msg = `container "${id}" does not exist`;
    else if (err.code === 'ERR_CONTAINER_EXISTS' && id) msg = `container with id exists: ${id}`;
    log('error', msg);
    return 1;
  }
}

const GLOBAL_TAKES = new Set(['root', 'log', 'log-format', 'criu', 'rootless']);

/** `--version` output for tests: the package's version. */
export function versionLine(): string {
  return `execdriver-oci version ${packageVersion()}`;
}
