import { InvalidConfigError } from '../errors.js';
import type { Verb } from './args.js';

/** `port ID` (issue 12): the container's published ports, Docker's format (`8080/tcp -> 127.0.0.1:18080`). */
export const portVerb: Verb = {
  name: 'port',
  summary: "list a container's published ports",
  usage: `execdriver port ID [PORT[/PROTO]]

With PORT (tcp unless /udp): only where that container port is published (Docker's lines).`,
  options: { driver: { type: 'string' } },
  async run(ctx, values, [id, port, ...more]) {
    if (!id) throw new InvalidConfigError('port: which container? (execdriver port ID [PORT[/PROTO]])');
    if (more.length) throw new InvalidConfigError(`port: one container and one port at most (${more.join(' ')} too)`);
    const m = port === undefined ? undefined : /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(port);
    if (port !== undefined && (!m || Number(m[1]) < 1 || Number(m[1]) > 65535)) throw new InvalidConfigError(`port: "${port}" is not PORT[/tcp|udp]`);
    const { driverOf } = await import('./drivers.js');
    const info = (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).inspect(id);
    const ports = (info.network?.ports ?? []).filter((p) => !m || (p.containerPort === Number(m[1]) && p.protocol === (m[2] ?? 'tcp')));
    if (m && !ports.length) throw new InvalidConfigError(`port: no public port ${m[1]}/${m[2] ?? 'tcp'} published for ${id}`);
    for (const p of ports) process.stdout.write(m ? `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}\n` : `${p.containerPort}/${p.protocol} -> ${p.hostIp ?? '0.0.0.0'}:${p.hostPort}\n`);
    return 0;
  },
};
