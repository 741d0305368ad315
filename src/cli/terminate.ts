import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

export const terminateVerb: Verb = {
  name: 'terminate',
  summary: 'kill a container at once (SIGKILL) and remove everything it had',
  usage: 'execdriver terminate ID',
  options: { driver: { type: 'string' } },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('terminate: which container? (execdriver terminate ID)');
    await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).terminate(id);
    return 0;
  },
};
