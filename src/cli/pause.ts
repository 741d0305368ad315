import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

export const pauseVerb: Verb = {
  name: 'pause',
  summary: 'freeze every process of a running container (the cgroup freezer)',
  usage: `execdriver pause ID...

Returns once the kernel reports the container frozen. A container that is not running: exit 1.`,
  options: { driver: { type: 'string' } },
  async run(ctx, values, ids) {
    if (ids.length === 0) throw new InvalidConfigError('pause: which container? (execdriver pause ID...)');
    for (const id of ids) await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).pause(id);
    return 0;
  },
};

export const unpauseVerb: Verb = {
  name: 'unpause',
  summary: 'thaw a paused container',
  usage: `execdriver unpause ID...

Returns once the kernel reports the container thawed. A container that is not paused: exit 1.`,
  options: { driver: { type: 'string' } },
  async run(ctx, values, ids) {
    if (ids.length === 0) throw new InvalidConfigError('unpause: which container? (execdriver unpause ID...)');
    for (const id of ids) await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).resume(id);
    return 0;
  },
};
