import { InvalidConfigError } from '../errors.js';
import { signalName } from '../command-extra.js';
import { validateId } from '../id.js';
import { str, type Verb } from './args.js';
import { driverOf } from './drivers.js';

/** `KILL`, `SIGKILL`, `9`, `SIGRTMIN+1`'s number → a signal the kernel takes; else one clear line. */
export function parseSignal(s: string, flag = 'signal'): NodeJS.Signals | number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw new InvalidConfigError(`${flag}: unknown signal ${s} (1 to 64, or a name such as TERM)`);
    return signalName(s) ?? n;
  }
  const name = signalName(s);
  if (!name) throw new InvalidConfigError(`${flag}: unknown signal "${s}" (a name such as TERM, KILL, HUP, or a number)`);
  return name;
}

export const killVerb: Verb = {
  name: 'kill',
  summary: "send a signal to containers' init (or, with --all, to all their processes)",
  usage: `execdriver kill [-s SIGNAL] [--all] ID...
execdriver kill ID SIGNAL

SIGNAL is a name (TERM, SIGTERM) or a number; the default is KILL.
  -s, --signal SIGNAL  the signal to send
  -a, --all            signal every process of the container's cgroup, not just its init`,
  options: { all: { type: 'boolean', short: 'a' }, signal: { type: 'string', short: 's' }, driver: { type: 'string' } },
  async run(ctx, values, args) {
    if (!args.length) throw new InvalidConfigError('kill: which container? (execdriver kill [-s SIGNAL] ID...)');
    let ids = args;
    let sig: NodeJS.Signals | number = 'SIGKILL';
    const flag = str(values['signal']);
    if (flag !== undefined) sig = parseSignal(flag, '--signal');
    else if (args.length === 2) {
      // the older form `kill ID SIGNAL`: a second word that is not a valid id, or names a signal
      const second = args[1]!;
      let isId = true;
      try {
        validateId(second);
      } catch {
        isId = false;
      }
      if (!isId || /^\d+$/.test(second) || /^(SIG)?[A-Z]+[0-9+-]*$/.test(second)) {
        sig = parseSignal(second);
        ids = [args[0]!];
      }
    }
    let rc = 0;
    for (const id of ids) {
      try {
        await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).kill(id, sig, { all: !!values['all'] });
      } catch (e) {
        if (ids.length === 1) throw e;
        process.stderr.write(`execdriver: ${(e as Error).message}\n`);
        rc = 1;
      }
    }
    return rc;
  },
};
