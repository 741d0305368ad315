import { accessSync, constants, writeSync } from 'node:fs';
import { DEFAULT_ROOT } from '../driver.js';
import { isRootless, rootlessRoot } from '../rootless.js';
import { ExecDriverError } from '../errors.js';
import { packageVersion } from '../version.js';
import { parseVerbArgs, splitAtCommand, type Verb } from './args.js';

/**
 * The verbs, in the order of the help, each module imported only when its verb runs (or its help is
 * asked for): `--help` and a bad verb load none of them (issue 13, start-up; bench/STARTUP.md). The
 * name, aliases and summary are the verb's own (test/unit/cli-verbs.test.ts checks them).
 */
export interface VerbEntry {
  name: string;
  aliases?: string[];
  summary: string;
  load: () => Promise<Verb>;
}

export const VERBS: VerbEntry[] = [
  { name: 'run', summary: 'run a command in a new container',
    load: async () => (await import('./run.js')).runVerb },
  { name: 'kill', summary: "send a signal to containers' init (or, with --all, to all their processes)",
    load: async () => (await import('./kill.js')).killVerb },
  { name: 'terminate', summary: 'kill a container at once (SIGKILL) and remove everything it had',
    load: async () => (await import('./terminate.js')).terminateVerb },
  { name: 'pids', summary: "list the host pids of a container's processes",
    load: async () => (await import('./pids.js')).pidsVerb },
  { name: 'info', aliases: ['inspect'], summary: 'show what is known of containers, as JSON',
    load: async () => (await import('./info.js')).infoVerb },
  { name: 'list', summary: 'list containers (a table, or --json)',
    load: async () => (await import('./list.js')).listVerb },
  { name: 'wait', summary: 'wait until containers exit; print each exit code (one a line) and exit with the last',
    load: async () => (await import('./wait.js')).waitVerb },
  { name: 'delete', aliases: ['rm'], summary: 'remove what is left of stopped containers (--force: terminate running ones)',
    load: async () => (await import('./delete.js')).deleteVerb },
  { name: 'logs', summary: "print a detached container's output (stdout and stderr)",
    load: async () => (await import('./logs.js')).logsVerb },
  { name: 'attach', summary: "connect to a detached tty container's terminal (Ctrl-P Ctrl-Q detaches)",
    load: async () => (await import('./attach.js')).attachVerb },
  { name: 'exec', summary: 'run another command in a running container',
    load: async () => (await import('./exec.js')).execVerb },
  { name: 'pause', summary: 'freeze every process of a running container (the cgroup freezer)',
    load: async () => (await import('./pause.js')).pauseVerb },
  { name: 'unpause', summary: 'thaw a paused container',
    load: async () => (await import('./pause.js')).unpauseVerb },
  { name: 'stats', summary: "containers' resource use: memory, CPU, network, block I/O, pids (live, like docker stats)",
    load: async () => (await import('./stats.js')).statsVerb },
  { name: 'update', summary: "change a running container's limits",
    load: async () => (await import('./update.js')).updateVerb },
  { name: 'top', summary: "list a container's processes (host pid, container pid, user, command)",
    load: async () => (await import('./top.js')).topVerb },
  { name: 'events', summary: 'print the events of every container under the root (follows until ^C without --until)',
    load: async () => (await import('./events.js')).eventsVerb },
  { name: 'network', summary: 'manage networks: ls, create [--subnet] [--gateway] [--mtu] [--nat] NAME, inspect NAME, rm NAME',
    load: async () => (await import('./network.js')).networkVerb },
  { name: 'port', summary: "list a container's published ports",
    load: async () => (await import('./port.js')).portVerb },
  { name: 'stop', summary: 'stop containers: their stop signal (default TERM), then KILL after the timeout',
    load: async () => (await import('./stop.js')).stopVerb },
  { name: 'restart', summary: 'stop containers (as stop), then start each again detached with the same command',
    load: async () => (await import('./stop.js')).restartVerb },
  { name: 'ps', summary: "list running containers (-a: all), Docker's habits",
    load: async () => (await import('./list.js')).psVerb },
  { name: 'cp', summary: 'copy a file between the host and a container (ID:/path)',
    load: async () => (await import('./cp.js')).cpVerb },
  { name: 'create', summary: "check a container's command and keep it, to be run by 'start' (run's options)",
    load: async () => (await import('./create.js')).makeCreateVerb((await import('./run.js')).runVerb) },
  { name: 'start', summary: 'run created containers detached; start stopped ones again',
    load: async () => (await import('./create.js')).startVerb },
];

function mainHelp(): string {
  const w = Math.max(...VERBS.map((v) => v.name.length));
  return `execdriver ${packageVersion()}: run commands in Linux containers (native or lxc driver)

Usage: execdriver [--root DIR] [--driver NAME] VERB [OPTIONS] [ARGS]

Global options:
  --root DIR       state directory (default ${DEFAULT_ROOT}, not root: $XDG_RUNTIME_DIR/execdriver
                   or /tmp/execdriver-UID; env EXECDRIVER_ROOT)
  --driver NAME    native (default) or lxc
  --version        print the version

Verbs:
${VERBS.map((v) => `  ${v.name.padEnd(w)}  ${v.summary}${v.aliases ? ` (also: ${v.aliases.join(', ')})` : ''}`).join('\n')}

Run 'execdriver VERB --help' for a verb's options.
`;
}

/**
 * Help and version text on stdout, written to fd 1 directly: process.stdout would first load Node's
 * stream modules (~4 ms CPU of a `--help`, bench/STARTUP.md); a non-blocking stdout that is full
 * (EAGAIN) gets the rest through process.stdout.
 */
function print(text: string): void {
  const buf = Buffer.from(text);
  let done = 0;
  try {
    while (done < buf.length) done += writeSync(1, buf, done);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    process.stdout.write(buf.subarray(done));
  }
}

/** A state root this (non-root) user can list; a missing one is fine (it is made at the first run). */
function rootReadable(root: string): boolean {
  try {
    accessSync(root, constants.R_OK | constants.X_OK);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

export async function main(argv: string[]): Promise<number> {
  const globalOptions = { root: { type: 'string' as const }, driver: { type: 'string' as const } };
  const [globals, rest] = splitAtCommand(argv, globalOptions);
  let root = process.env['EXECDRIVER_ROOT'] || (isRootless() ? rootlessRoot() : DEFAULT_ROOT);
  let driver: string | undefined;
  for (let i = 0; i < globals.length; i++) {
    const a = globals[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? globals[++i];
    if (flag === '--root') root = value() ?? root;
    else if (flag === '--driver') driver = value();
    else if (flag === '--help' || flag === '-h') return print(mainHelp()), 0;
    else if (flag === '--version' || flag === '-V') return print(`${packageVersion()}\n`), 0;
    else {
      process.stderr.write(`execdriver: unknown option ${a}\n\n${mainHelp()}`);
      return 125;
    }
  }
  if (process.getuid?.() !== 0 && !rootReadable(root)) {
    process.stderr.write(`execdriver: the state root ${root} is not ours (it is root's): run as root, or without --root (a rootless user's own)\n`);
    return 125;
  }
  const [verbName, ...args] = rest;
  if (!verbName) {
    print(mainHelp());
    return 0;
  }
  if (verbName === 'help') {
    const v = VERBS.find((x) => x.name === args[0] || x.aliases?.includes(args[0]!));
    print(v ? `${(await v.load()).usage}\n` : mainHelp());
    return 0;
  }
  const entry = VERBS.find((v) => v.name === verbName || v.aliases?.includes(verbName));
  if (!entry) {
    process.stderr.write(`execdriver: unknown verb "${verbName}" (known: ${VERBS.map((v) => v.name).join(', ')})\n`);
    return 125;
  }
  try {
    const verb = await entry.load();
    const { values, positionals } = parseVerbArgs(verb, args);
    if (values['help']) {
      print(`${verb.summary}\n\n${verb.usage}\n`);
      return 0;
    }
    return await verb.run({ root, ...(driver ? { driver } : {}) }, values, positionals);
  } catch (e) {
    if (e instanceof ExecDriverError) {
      process.stderr.write(`execdriver: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`execdriver: ${(e as Error)?.stack ?? String(e)}\n`);
    return 125;
  }
}
