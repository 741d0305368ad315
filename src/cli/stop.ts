import { InvalidConfigError } from '../errors.js';
import type { ManagedDriver } from '../driver.js';
import { int, type Verb } from './args.js';
import { driverOf, specExtras } from './drivers.js';
import { parseSignal } from './kill.js';

/** Docker's stop: the stop signal, `timeout` seconds, then SIGKILL to every process; resolves once it exited. */
export async function stopContainer(root: string, driver: ManagedDriver, id: string, time?: number, signal?: NodeJS.Signals | number): Promise<void> {
  const info = driver.inspect(id);
  if (!info.running) return;
  const extras = specExtras(root, info.driver.split('-')[0]!, id);
  const timeout = time ?? extras.stopTimeout;
  const sig = signal ?? parseSignal(extras.stopSignal);
  if (timeout > 0) await driver.kill(id, sig).catch(() => {});
  try {
    if (timeout === 0) throw new Error('no grace');
    await driver.wait(id, timeout * 1000);
  } catch {
    await driver.kill(id, 'SIGKILL', { all: true }).catch(() => {});
    await driver.wait(id, 0);
  }
}

export const stopVerb: Verb = {
  name: 'stop',
  summary: 'stop containers: their stop signal (default TERM), then KILL after the timeout',
  usage: `execdriver stop [-t SECONDS] ID...

  -t, --time N   seconds to wait after the stop signal before SIGKILL (default: the container's
                 --stop-timeout, else 10)
  -s, --signal S the signal to send first (default: the container's --stop-signal, else TERM)`,
  options: { time: { type: 'string', short: 't' }, timeout: { type: 'string' }, signal: { type: 'string', short: 's' }, driver: { type: 'string' } },
  async run(ctx, values, ids) {
    if (!ids.length) throw new InvalidConfigError('stop: which container? (execdriver stop [-t N] ID...)');
    const t = int(values['time'] ?? values['timeout'], '--time');
    if (t !== undefined && t < 0) throw new InvalidConfigError(`--time: ${t} is not a number of seconds`);
    const asked = values['signal'] === undefined ? undefined : parseSignal(String(values['signal']), '--signal');
    const drivers = await Promise.all(ids.map((id) => driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)));
    let rc = 0;
    await Promise.all(
      ids.map(async (id, i) => {
        const driver = drivers[i]!;
        try {
          await stopContainer(ctx.root, driver, id, t, asked);
          process.stdout.write(`${id}\n`);
        } catch (e) {
          process.stderr.write(`execdriver: ${(e as Error).message}\n`);
          rc = 1;
        }
      }),
    );
    return rc;
  },
};

/** The Command of a container `run -d` started, kept beside its state for `restart`. */
export const CLI_COMMAND = 'cli-command.json';

export const restartVerb: Verb = {
  name: 'restart',
  summary: 'stop containers (as stop), then start each again detached with the same command',
  usage: `execdriver restart [-t SECONDS] ID...

Only for containers started with 'execdriver run -d' (their command is kept in their state
directory). The old output and exit status are removed with the old run.`,
  options: { time: { type: 'string', short: 't' }, driver: { type: 'string' } },
  async run(ctx, values, ids) {
    if (!ids.length) throw new InvalidConfigError('restart: which container? (execdriver restart [-t N] ID...)');
    const t = int(values['time'], '--time');
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    for (const id of ids) {
      const driver = await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver);
      const dir = join(ctx.root, driver.name().split('-')[0]!, id);
      let saved: { command: import('../driver.js').Command; log?: import('../driver.js').LogOptions; openStdin?: boolean };
      try {
        saved = JSON.parse(readFileSync(join(dir, CLI_COMMAND), 'utf8'));
      } catch {
        throw new InvalidConfigError(`restart: container ${id} was not started by 'execdriver run -d' (its command is not kept)`);
      }
      await stopContainer(ctx.root, driver, id, t);
      await driver.delete(id);
      const started = await driver.start(saved.command, { detach: true, ...(saved.log ? { log: saved.log } : {}), ...(saved.openStdin ? { openStdin: true } : {}) });
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, CLI_COMMAND), JSON.stringify(saved), { mode: 0o600 });
      process.stdout.write(`${started.id}\n`);
    }
    return 0;
  },
};
