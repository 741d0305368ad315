import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ExecDriverError, InvalidConfigError } from '../errors.js';
import { str, type Verb } from './args.js';
import { driverOf } from './drivers.js';
import { rawMode, watchResize, windowSize } from './terminal.js';

export const attachVerb: Verb = {
  name: 'attach',
  summary: "connect to a detached tty container's terminal (Ctrl-P Ctrl-Q detaches)",
  usage: `execdriver attach [--detach-keys KEYS] [--no-stdin] ID

Connects this terminal to a container started with run -d -t: first the output no attach has
seen yet (the last 64 KiB at most), then live. The detach keys leave it running; when it exits,
attach exits with its exit code. A container run -d without -t: its output (stdout and stderr)
from now on, until it exits (Ctrl-C leaves it running); it has no stdin to attach to.
      --detach-keys KEYS   keys that detach: ctrl-p,ctrl-q (default), ctrl-a,d …; '' for none
      --no-stdin           do not send what is typed`,
  options: { 'detach-keys': { type: 'string' }, 'no-stdin': { type: 'boolean' }, driver: { type: 'string' } },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('attach: which container? (execdriver attach ID)');
    const driver = await driverOf(id, ctx.root, str(values['driver']) ?? ctx.driver);
    // without a terminal (run -d without -t): its output as it comes (logs -f from now), until it exits
    const dir = join(ctx.root, driver.name().split('-')[0]!, id);
    if (!existsSync(join(dir, 'attach.sock')) && existsSync(join(dir, 'container.log'))) {
      const { logsVerb } = await import('./logs.js');
      return logsVerb.run(ctx, { follow: true, tail: '0', ...(values['driver'] ? { driver: values['driver'] } : {}) }, [id]).then(async () => (await driver.wait(id)).exitCode);
    }
    if (!driver.attach) {
      throw new ExecDriverError('ERR_DRIVER_UNAVAILABLE', `the ${driver.name()} driver cannot attach to a terminal`, { containerId: id });
    }
    const stdin = values['no-stdin'] ? null : process.stdin;
    const detachKeys = str(values['detach-keys']);
    const size = windowSize(process.stdout);
    const restore = stdin ? rawMode(stdin) : () => {};
    try {
      const session = await driver.attach(id, {
        stdin,
        stdout: process.stdout,
        ...(detachKeys !== undefined ? { detachKeys } : {}),
        ...(size ? { size } : {}),
      });
      const unwatch = watchResize(process.stdout, (rows, cols) => session.resize(rows, cols));
      const how = await session.done;
      unwatch();
      return how === 'detached' ? 0 : (await driver.wait(id)).exitCode;
    } finally {
      restore();
    }
  },
};
