import { accessSync, constants } from 'node:fs';
import { DEFAULT_ROOT } from '../driver.js';
import { isRootless, rootlessRoot } from '../rootless.js';
import { ExecDriverError } from '../errors.js';
import { packageVersion } from '../version.js';
import { parseVerbArgs, splitAtCommand, type Verb } from './args.js';
import { attachVerb } from './attach.js';
import { deleteVerb } from './delete.js';
import { eventsVerb } from './events.js';
import { execVerb } from './exec.js';
import { infoVerb } from './info.js';
import { killVerb } from './kill.js';
import { listVerb, psVerb } from './list.js';
import { restartVerb, stopVerb } from './stop.js';
import { cpVerb } from './cp.js';
import { makeCreateVerb, startVerb } from './create.js';
import { logsVerb } from './logs.js';
import { pauseVerb, unpauseVerb } from './pause.js';
import { pidsVerb } from './pids.js';
import { networkVerb } from './network.js';
import { portVerb } from './port.js';
import { runVerb } from './run.js';
import { statsVerb } from './stats.js';
import { terminateVerb } from './terminate.js';
import { topVerb } from './top.js';
import { updateVerb } from './update.js';
import { waitVerb } from './wait.js';

const verbs: Verb[] = [runVerb, killVerb, terminateVerb, pidsVerb, infoVerb, listVerb, waitVerb, deleteVerb, logsVerb, attachVerb, execVerb,
  pauseVerb, unpauseVerb, statsVerb, updateVerb, topVerb, eventsVerb, // ops (issue 9), events
  networkVerb, portVerb, // networks and ports (issue 12)
  stopVerb, restartVerb, psVerb, cpVerb, makeCreateVerb(runVerb), startVerb]; // cli (issue 12)

function mainHelp(): string {
  const w = Math.max(...verbs.map((v) => v.name.length));
  return `execdriver ${packageVersion()}: run commands in Linux containers (native or lxc driver)

Usage: execdriver [--root DIR] [--driver NAME] VERB [OPTIONS] [ARGS]

Global options:
  --root DIR       state directory (default ${DEFAULT_ROOT}, not root: $XDG_RUNTIME_DIR/execdriver
                   or /tmp/execdriver-UID; env EXECDRIVER_ROOT)
  --driver NAME    native (default) or lxc
  --version        print the version

Verbs:
${verbs.map((v) => `  ${v.name.padEnd(w)}  ${v.summary}${v.aliases ? ` (also: ${v.aliases.join(', ')})` : ''}`).join('\n')}

Run 'execdriver VERB --help' for a verb's options.
`;
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
    else if (flag === '--help' || flag === '-h') return void process.stdout.write(mainHelp()), 0;
    else if (flag === '--version' || flag === '-V') return void process.stdout.write(`${packageVersion()}\n`), 0;
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
    process.stdout.write(mainHelp());
    return 0;
  }
  if (verbName === 'help') {
    const v = verbs.find((x) => x.name === args[0] || x.aliases?.includes(args[0]!));
    process.stdout.write(v ? `${v.usage}\n` : mainHelp());
    return 0;
  }
  const verb = verbs.find((v) => v.name === verbName || v.aliases?.includes(verbName));
  if (!verb) {
    process.stderr.write(`execdriver: unknown verb "${verbName}" (known: ${verbs.map((v) => v.name).join(', ')})\n`);
    return 125;
  }
  try {
    const { values, positionals } = parseVerbArgs(verb, args);
    if (values['help']) {
      process.stdout.write(`${verb.summary}\n\n${verb.usage}\n`);
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
