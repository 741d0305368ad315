import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

export const deleteVerb: Verb = {
  name: 'delete',
  aliases: ['rm'],
  summary: 'remove what is left of stopped containers (--force: terminate running ones)',
  usage: `execdriver delete [--force] ID...

  -f, --force    terminate a running container first (SIGKILL)
      --on-exit  wait until the container exits, then remove it (what run -d --rm starts)`,
  options: { force: { type: 'boolean', short: 'f' }, 'on-exit': { type: 'boolean' }, driver: { type: 'string' } },
  async run(ctx, values, ids) {
    if (ids.length === 0) throw new InvalidConfigError('delete: which container? (execdriver delete ID...)');
    const { removeCreated } = await import('./create.js');
    const left = ids.filter((id) => !removeCreated(ctx.root, id)); // a created one: only forgotten
    const drivers = await Promise.all(left.map((id) => driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)));
    let rc = 0;
    for (const [i, id] of left.entries()) {
      try {
        if (values['on-exit']) await drivers[i]!.wait(id, 0);
        await drivers[i]!.delete(id, { force: !!values['force'] });
      } catch (e) {
        if (ids.length === 1) throw e;
        process.stderr.write(`execdriver: ${(e as Error).message}\n`);
        rc = 1;
      }
    }
    return rc;
  },
};
