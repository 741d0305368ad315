import { InvalidConfigError } from '../errors.js';
import { int, type Verb } from './args.js';
import { driverOf } from './drivers.js';

export const waitVerb: Verb = {
  name: 'wait',
  summary: 'wait until a container exits; print its exit code and exit with it',
  usage: `execdriver wait [--timeout MS] ID`,
  options: { timeout: { type: 'string' }, driver: { type: 'string' } },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('wait: which container? (execdriver wait ID)');
    const status = await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).wait(
      id,
      int(values['timeout'], '--timeout') ?? 0,
    );
    process.stdout.write(`${status.exitCode}${status.signal ? ` ${status.signal}` : ''}${status.oomKilled ? ' oom-killed' : ''}\n`);
    return status.exitCode;
  },
};
