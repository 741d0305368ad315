import { InvalidConfigError } from '../errors.js';
import { str, type Verb } from './args.js';
import { driverOf, specExtras } from './drivers.js';

export const infoVerb: Verb = {
  name: 'info',
  aliases: ['inspect'],
  summary: 'show what is known of containers, as JSON',
  usage: `execdriver info [--format json] ID...

One id: its object; several (or --format json): a JSON array of them. Labels, the stop signal
and timeout are included.`,
  options: { format: { type: 'string', short: 'f' }, driver: { type: 'string' } },
  async run(ctx, values, ids) {
    if (!ids.length) throw new InvalidConfigError('info: which container? (execdriver info ID...)');
    const format = str(values['format']);
    if (format !== undefined && format !== 'json') throw new InvalidConfigError(`--format: "${format}" is not known (json)`);
    const drivers = await Promise.all(ids.map((id) => driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)));
    const out = ids.map((id, i) => {
      const info = drivers[i]!.inspect(id);
      return { ...info, ...specExtras(ctx.root, info.driver.split('-')[0]!, id) };
    });
    process.stdout.write(JSON.stringify(ids.length === 1 && format === undefined ? out[0] : out, null, 2) + '\n');
    return 0;
  },
};
