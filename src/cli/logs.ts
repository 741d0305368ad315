import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidConfigError, NotFoundError } from '../errors.js';
import { knownDrivers } from './drivers.js';
import type { Verb } from './args.js';

export const logsVerb: Verb = {
  name: 'logs',
  summary: "print a detached container's output (stdout and stderr)",
  usage: 'execdriver logs ID',
  options: {},
  async run(ctx, _values, [id]) {
    if (!id) throw new InvalidConfigError('logs: which container? (execdriver logs ID)');
    const file = knownDrivers()
      .map((d) => join(ctx.root, d, id, 'container.log'))
      .find((f) => existsSync(f));
    if (!file) throw new NotFoundError(id, ctx.root);
    await new Promise<void>((resolve, reject) => {
      createReadStream(file).on('error', reject).on('end', resolve).pipe(process.stdout, { end: false });
    });
    return 0;
  },
};
