import { InvalidConfigError } from '../errors.js';
import { int, str, type Verb } from './args.js';

/** `network ls|create|inspect|rm` (issue 12): named bridges, optionally with outbound NAT (src/network/networks.ts). */
export const networkVerb: Verb = {
  name: 'network',
  summary: 'manage networks: ls, create [--subnet] [--gateway] [--mtu] [--nat] NAME, inspect NAME, rm NAME',
  usage: `execdriver network ls
execdriver network create [--subnet CIDR] [--gateway ADDR] [--mtu N] [--nat] NAME
execdriver network inspect NAME...
execdriver network rm NAME...

A network is a bridge named NAME (an interface name, at most 15 characters); containers join it
with 'run --net NAME'. --nat masquerades its subnet's outbound traffic (nftables table
ip execdriver-nat-NAME; the host's net.ipv4.ip_forward is turned on). rm is refused while a
container uses the network.`,
  options: {
    subnet: { type: 'string' },
    gateway: { type: 'string' },
    mtu: { type: 'string' },
    nat: { type: 'boolean' },
  },
  async run(ctx, values, [sub, ...names]) {
    const n = await import('../network/networks.js');
    switch (sub) {
      case 'ls':
      case 'list': {
        const rows = n.listNetworks(ctx.root).map((r) => [r.name, r.subnet, r.gateway, r.nat ? 'yes' : 'no']);
        const all = [['NAME', 'SUBNET', 'GATEWAY', 'NAT'], ...rows];
        const w = [0, 1, 2].map((i) => Math.max(...all.map((r) => r[i]!.length)));
        process.stdout.write(all.map((r) => r.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c)).join('  ') + '\n').join(''));
        return 0;
      }
      case 'create': {
        if (names.length !== 1) throw new InvalidConfigError('network create: one NAME expected');
        const subnet = str(values['subnet']);
        const gateway = str(values['gateway']);
        const mtu = int(values['mtu'], '--mtu');
        const rec = await n.createNetwork(ctx.root, names[0]!, {
          ...(subnet !== undefined ? { subnet } : {}),
          ...(gateway !== undefined ? { gateway } : {}),
          ...(mtu !== undefined ? { mtu } : {}),
          nat: !!values['nat'],
        });
        process.stdout.write(`${rec.name}\n`);
        return 0;
      }
      case 'inspect': {
        if (!names.length) throw new InvalidConfigError('network inspect: which network? (network inspect NAME)');
        const out = [];
        for (const name of names) {
          const rec = n.networkOrThrow(ctx.root, name);
          out.push({ ...rec, containers: (await n.networkUsers(ctx.root, name)).map((o) => o.split('/').pop()) });
        }
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return 0;
      }
      case 'rm':
      case 'remove': {
        if (!names.length) throw new InvalidConfigError('network rm: which network? (network rm NAME)');
        for (const name of names) {
          await n.removeNetwork(ctx.root, name);
          process.stdout.write(`${name}\n`);
        }
        return 0;
      }
      default:
        throw new InvalidConfigError(`network: ${sub === undefined ? 'a subcommand is required' : `unknown subcommand ${JSON.stringify(sub)}`} (ls, create, inspect, rm)`);
    }
  },
};
