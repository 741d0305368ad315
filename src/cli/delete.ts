import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

export const deleteVerb: Verb = {
  name: 'delete',
  summary: 'remove what is left of a stopped container (--force: terminate a running one)',
  usage: 'execdriver delete [--force] ID...',
  options: { force: { type: 'boolean', short: 'f' }, driver: { type: 'string' } },
  async run(ctx, values, ids) {
    if (ids.length === 0) throw new InvalidConfigError('delete: which container? (execdriver delete ID...)');
    for (const id of ids) {
      await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).delete(id, { force: !!values['force'] });
    }
    return 0;
  },
};
