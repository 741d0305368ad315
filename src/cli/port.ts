import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';

/** `port ID` (issue 12): the container's published ports, Docker's format (`8080/tcp -> 127.0.0.1:18080`). */
export const portVerb: Verb = {
  name: 'port',
  summary: "list a container's published ports",
  usage: 'execdriver port ID',
  options: { driver: { type: 'string' } },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('port: which container? (execdriver port ID)');
    const { driverOf } = await import('./drivers.js');
    const info = (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).inspect(id);
    for (const p of info.network?.ports ?? []) process.stdout.write(`${p.containerPort}/${p.protocol} -> ${p.hostIp ?? '0.0.0.0'}:${p.hostPort}\n`);
    return 0;
  },
};
