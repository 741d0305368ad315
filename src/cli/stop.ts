import { InvalidConfigError } from '../errors.js';
import { int, type Verb } from './args.js';
import { driverOf, specExtras } from './drivers.js';

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
    const { parseSignal } = await import('./kill.js');
    const asked = values['signal'] === undefined ? undefined : parseSignal(String(values['signal']), '--signal');
    const drivers = ids.map((id) => driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver));
    let rc = 0;
    await Promise.all(
      ids.map(async (id, i) => {
        const driver = drivers[i]!;
        try {
          const info = driver.inspect(id);
          if (info.running) {
            const extras = specExtras(ctx.root, info.driver.split('-')[0]!, id);
            const timeout = t ?? extras.stopTimeout;
            const sig = asked ?? parseSignal(extras.stopSignal);
            if (timeout > 0) await driver.kill(id, sig).catch(() => {});
            try {
              if (timeout === 0) throw new Error('no grace');
              await driver.wait(id, timeout * 1000);
            } catch {
              await driver.kill(id, 'SIGKILL', { all: true }).catch(() => {});
              await driver.wait(id, 0);
            }
          }
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
