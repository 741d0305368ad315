import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

export const infoVerb: Verb = {
  name: 'info',
  summary: 'show what is known of a container, as JSON',
  usage: 'execdriver info ID',
  options: { driver: { type: 'string' } },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('info: which container? (execdriver info ID)');
    const info = (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).inspect(id);
    process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    return 0;
  },
};
