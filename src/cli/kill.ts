import { constants } from 'node:os';
import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

/** `KILL`, `SIGKILL`, `9` → a signal Node accepts. */
export function parseSignal(s: string): NodeJS.Signals | number {
  if (/^\d+$/.test(s)) return Number(s);
  const name = (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in constants.signals)) throw new InvalidConfigError(`unknown signal "${s}"`);
  return name;
}

export const killVerb: Verb = {
  name: 'kill',
  summary: "send a signal to a container's init (or, with --all, to all its processes)",
  usage: `execdriver kill [--all] ID [SIGNAL]

SIGNAL is a name (TERM, SIGTERM) or a number; the default is KILL.
  -a, --all    signal every process of the container's cgroup, not just its init`,
  options: { all: { type: 'boolean', short: 'a' }, driver: { type: 'string' } },
  async run(ctx, values, [id, sig]) {
    if (!id) throw new InvalidConfigError('kill: which container? (execdriver kill ID [SIGNAL])');
    const driver = await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver);
    await driver.kill(id, sig ? parseSignal(sig) : 'SIGKILL', { all: !!values['all'] });
    return 0;
  },
};
