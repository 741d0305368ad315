import type { ContainerSummary } from '../driver.js';
import type { Verb } from './args.js';
import { driverFor, presentDrivers } from './drivers.js';

function table(rows: ContainerSummary[]): string {
  const head = ['ID', 'DRIVER', 'PID', 'STATUS', 'CREATED', 'COMMAND'];
  const body = rows.map((r) => [
    r.id,
    r.driver,
    r.pid === null ? '-' : String(r.pid),
    r.status === 'exited' ? `exited (${r.exitCode})` : r.status,
    r.createdAt ?? '-',
    r.command.join(' ').slice(0, 40),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export const listVerb: Verb = {
  name: 'list',
  summary: 'list containers (a table, or --json)',
  usage: 'execdriver list [--json]',
  options: { json: { type: 'boolean' }, driver: { type: 'string' } },
  async run(ctx, values) {
    const asked = (values['driver'] as string | undefined) ?? ctx.driver;
    const rows: ContainerSummary[] = [];
    for (const name of asked ? [asked] : presentDrivers(ctx.root)) {
      try {
        rows.push(...(await (await driverFor(name, ctx.root)).list()));
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_DRIVER_UNAVAILABLE' || asked) throw e;
      }
    }
    process.stdout.write(values['json'] ? JSON.stringify(rows, null, 2) + '\n' : table(rows));
    return 0;
  },
};
