import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

export const pidsVerb: Verb = {
  name: 'pids',
  summary: "list the host pids of a container's processes",
  usage: 'execdriver pids ID',
  options: { driver: { type: 'string' } },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('pids: which container? (execdriver pids ID)');
    const pids = await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).getPidsForContainer(id);
    process.stdout.write(pids.map((p) => `${p}\n`).join(''));
    return 0;
  },
};
