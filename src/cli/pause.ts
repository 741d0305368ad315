import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

/** `pause` and `unpause`: the same verb over the freezer, one way or the other. */
function freezerVerb(name: 'pause' | 'unpause', summary: string, done: string): Verb {
  return {
    name,
    summary,
    usage: `execdriver ${name} ID...

${done}`,
    options: { driver: { type: 'string' } },
    async run(ctx, values, ids) {
      if (ids.length === 0) throw new InvalidConfigError(`${name}: which container? (execdriver ${name} ID...)`);
      for (const id of ids) {
        const driver = await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver);
        await (name === 'pause' ? driver.pause(id) : driver.resume(id));
      }
      return 0;
    },
  };
}

export const pauseVerb = freezerVerb(
  'pause',
  'freeze every process of a running container (the cgroup freezer)',
  'Returns once the kernel reports the container frozen. A container that is not running: exit 1.',
);

export const unpauseVerb = freezerVerb(
  'unpause',
  'thaw a paused container',
  'Returns once the kernel reports the container thawed. A container that is not paused: exit 1.',
);
