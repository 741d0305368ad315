import { InvalidConfigError } from '../errors.js';
import { int, type Verb } from './args.js';
import { driverOf } from './drivers.js';

export const waitVerb: Verb = {
  name: 'wait',
  summary: 'wait until containers exit; print each exit code (one a line) and exit with the last',
  usage: `execdriver wait [--timeout MS] ID...

Prints the exit code only, as docker wait does (128+N for a signal N); the signal and whether
the memory cgroup killed it are in 'execdriver inspect'.`,
  options: { timeout: { type: 'string' }, driver: { type: 'string' } },
  async run(ctx, values, ids) {
    if (!ids.length) throw new InvalidConfigError('wait: which container? (execdriver wait ID...)');
    const timeout = int(values['timeout'], '--timeout') ?? 0;
    const drivers = await Promise.all(ids.map((id) => driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)));
    let last = 0;
    for (const [i, id] of ids.entries()) {
      const status = await drivers[i]!.wait(id, timeout);
      process.stdout.write(`${status.exitCode}\n`);
      last = status.exitCode;
    }
    return last;
  },
};
