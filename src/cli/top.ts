import { InvalidConfigError } from '../errors.js';
import type { ProcessInfo } from '../ops/index.js';
import type { Verb } from './args.js';
import { driverOf } from './drivers.js';

export function topTable(rows: ProcessInfo[]): string {
  const head = ['PID', 'CPID', 'PPID', 'USER', 'STAT', 'COMMAND'];
  const body = rows.map((r) => [String(r.pid), String(r.containerPid), String(r.ppid), r.user, r.state, r.command.join(' ')]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export const topVerb: Verb = {
  name: 'top',
  summary: "list a container's processes (host pid, container pid, user, command)",
  usage: `execdriver top [--json] ID

PID is the host's pid, CPID the pid inside the container's pid namespace.
      --json    one JSON array`,
  options: { json: { type: 'boolean' }, driver: { type: 'string' } },
  async run(ctx, values, [id]) {
    if (!id) throw new InvalidConfigError('top: which container? (execdriver top ID)');
    const rows = await (await driverOf(id, ctx.root, (values['driver'] as string | undefined) ?? ctx.driver)).top(id);
    process.stdout.write(values['json'] ? JSON.stringify(rows) + '\n' : topTable(rows));
    return 0;
  },
};
