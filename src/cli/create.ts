/**
 * `create` and `start` (Docker's): `create` checks a container's Command (run's flags) and keeps
 * it under `<root>/created/ID.json`: nothing else exists yet. `start` runs a created container
 * detached (as run -d), or starts again a stopped one that `run -d` made, with its kept Command.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, LogOptions } from '../driver.js';
import { validateId } from '../id.js';
import { driverFor, knownDrivers } from './drivers.js';
import { ContainerExistsError, InvalidConfigError, NotFoundError } from '../errors.js';
import { list, str, type Verb } from './args.js';
import { namingTheFlag, parseLogOpts } from './docker-flags.js';

export interface Created {
  driver: string;
  command: Command & { id: string };
  log?: LogOptions;
  /** -i without -t: its stdin stays open for attach */
  openStdin?: boolean;
  createdAt: string;
}

export const createdFile = (root: string, id: string) => join(root, 'created', `${validateId(id)}.json`);

export function readCreated(root: string, id: string): Created | undefined {
  try {
    return JSON.parse(readFileSync(createdFile(root, id), 'utf8')) as Created;
  } catch {
    return undefined;
  }
}

/** Forget a created container; false when there is none of that id. */
export function removeCreated(root: string, id: string): boolean {
  const f = createdFile(root, id);
  if (!existsSync(f)) return false;
  rmSync(f, { force: true });
  try {
    rmdirSync(join(root, 'created')); // only when empty
  } catch {
    /* others are kept */
  }
  return true;
}

/** Every created (never started) container. */
export function listCreated(root: string): Created[] {
  const dir = join(root, 'created');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readCreated(root, f.slice(0, -5)))
    .filter((c): c is Created => !!c);
}

export function makeCreateVerb(run: Verb): Verb {
  return {
    name: 'create',
    summary: "check a container's command and keep it, to be run by 'start' (run's options)",
    usage: `execdriver create [run's options] [--] CMD [ARG...]

Takes run's options (not -d, --rm); prints the id. Nothing runs and nothing is set up until
'execdriver start ID', which runs it detached (as run -d, with -i and -t as given: attach to it).
'rm ID' forgets it.`,
    options: run.options,
    stopAtPositional: true,
    async run(ctx, values, positionals) {
      for (const f of ['detach', 'rm'] as const) {
        if (values[f]) throw new InvalidConfigError(`create: --${f} is not taken (start runs it detached)`);
      }
      const { commandFromFlags } = await import('./run.js');
      const command = commandFromFlags(values, positionals) as Command & { id: string };
      const log = parseLogOpts(list(values['log-opt']));
      const driver = str(values['driver']) ?? ctx.driver ?? 'native';
      await driverFor(driver, ctx.root); // an unknown name: refused, every driver named
      const { normalizeCommand } = await import('../command.js');
      try {
        normalizeCommand(command); // every check of run's, before anything is kept
      } catch (e) {
        throw namingTheFlag(e);
      }
      if (readCreated(ctx.root, command.id) || knownDrivers().some((d) => existsSync(join(ctx.root, d, command.id)))) {
        throw new ContainerExistsError(command.id, ctx.root);
      }
      mkdirSync(join(ctx.root, 'created'), { recursive: true, mode: 0o700 });
      const openStdin = !!values['interactive'] && !command.tty;
      const rec: Created = { driver, command, ...(log ? { log } : {}), ...(openStdin ? { openStdin } : {}), createdAt: new Date().toISOString() };
      writeFileSync(createdFile(ctx.root, command.id), JSON.stringify(rec), { mode: 0o600, flag: 'wx' });
      process.stdout.write(`${command.id}\n`);
      return 0;
    },
  };
}

export const startVerb: Verb = {
  name: 'start',
  summary: 'run created containers detached; start stopped ones again',
  usage: `execdriver start ID...

A created container runs detached (as run -d); a stopped one that run -d made starts again with
the same command (its old output and status go); a running one is left as it is.`,
  options: {},
  async run(ctx, _values, ids) {
    if (!ids.length) throw new InvalidConfigError('start: which container? (execdriver start ID...)');
    const { CLI_COMMAND } = await import('./stop.js');
    for (const id of ids) {
      validateId(id);
      const created = readCreated(ctx.root, id);
      if (created) {
        const driver = await driverFor(created.driver, ctx.root);
        const more = { ...(created.log ? { log: created.log } : {}), ...(created.openStdin ? { openStdin: true } : {}) };
        await driver.start(created.command, { detach: true, ...more });
        removeCreated(ctx.root, id);
        try {
          writeFileSync(join(ctx.root, created.driver, id, CLI_COMMAND), JSON.stringify({ command: created.command, ...more }), { mode: 0o600 });
        } catch {
          /* it has exited and is gone already */
        }
      } else {
        const name = knownDrivers().find((d) => existsSync(join(ctx.root, d, id)));
        if (!name) throw new NotFoundError(id, ctx.root);
        const driver = await driverFor(name, ctx.root);
        if (!driver.inspect(id).running) {
          let saved: { command: Command; log?: LogOptions; openStdin?: boolean };
          try {
            saved = JSON.parse(readFileSync(join(ctx.root, name, id, CLI_COMMAND), 'utf8'));
          } catch {
            throw new InvalidConfigError(`start: container ${id} was not made by 'execdriver run -d' or 'create' (its command is not kept)`);
          }
          await driver.delete(id);
          await driver.start(saved.command, { detach: true, ...(saved.log ? { log: saved.log } : {}), ...(saved.openStdin ? { openStdin: true } : {}) });
          writeFileSync(join(ctx.root, name, id, CLI_COMMAND), JSON.stringify(saved), { mode: 0o600 });
        }
      }
      process.stdout.write(`${id}\n`);
    }
    return 0;
  },
};
