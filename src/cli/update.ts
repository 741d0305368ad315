import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';
import { RESOURCE_OPTIONS, resourcesFromFlags } from './run.js';

export const updateVerb: Verb = {
  name: 'update',
  summary: "change a running container's limits",
  usage: `execdriver update [OPTIONS] ID

Limits are checked as for 'run'; bad input changes nothing (exit 125).
  -m, --memory SIZE            memory limit (bytes, or 64m, 1g, 512k)
      --memory-swap SIZE       memory + swap limit (-1: unlimited swap)
      --memory-reservation SIZE  soft memory limit
      --cpu-shares N           relative cpu weight (2..262144)
      --cpu-quota N            microseconds of cpu time per period (-1: none)
      --cpu-period N           the period, in microseconds
      --cpuset-cpus LIST       cpus the container may use (0-1,3)
      --cpuset-mems LIST       memory nodes the container may use
      --pids-limit N           the most processes the container may have (-1: none)`,
  options: {
    ...RESOURCE_OPTIONS,
    driver: { type: 'string' },
  },
  async run(ctx, values, ids) {
    const resources = resourcesFromFlags(values);
    if (ids.length !== 1) throw new InvalidConfigError('update: give exactly one container (execdriver update [OPTIONS] ID)');
    if (Object.keys(resources).length === 0) throw new InvalidConfigError('update: no limit given (see execdriver update --help)');
    const id = ids[0]!;
    await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).update(id, resources);
    return 0;
  },
};
