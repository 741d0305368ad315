import type { ContainerSummary } from '../driver.js';
import { InvalidConfigError } from '../errors.js';
import { list, str, type Values, type Verb } from './args.js';
import { driverFor, presentDrivers, specExtras } from './drivers.js';

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

type Row = ContainerSummary & { labels: Record<string, string> };

/** `--filter label=K[=V]`, `status=running|exited|…`, `id=PREFIX`, `name=SUBSTRING` (all must match). */
function filterOf(specs: string[]): (r: Row) => boolean {
  const tests = specs.map((f): ((r: Row) => boolean) => {
    const eq = f.indexOf('=');
    const key = eq < 0 ? f : f.slice(0, eq);
    const value = eq < 0 ? '' : f.slice(eq + 1);
    if (eq < 0 || !value) throw new InvalidConfigError(`--filter "${f}": expected NAME=VALUE (label=K[=V], status=S, id=PREFIX, name=S)`);
    if (key === 'status' && !['created', 'running', 'paused', 'exited', 'stopped', 'creating'].includes(value)) {
      throw new InvalidConfigError(`--filter "${f}": unknown status (created, running, paused, exited)`);
    }
    if (key === 'label') {
      const i = value.indexOf('=');
      const [k, v] = i < 0 ? [value, undefined] : [value.slice(0, i), value.slice(i + 1)];
      return (r) => Object.hasOwn(r.labels, k) && (v === undefined || r.labels[k] === v);
    }
    if (key === 'status') return (r) => r.status === value || (value === 'exited' && r.status === 'stopped');
    if (key === 'id') return (r) => r.id.startsWith(value);
    if (key === 'name') return (r) => r.id.includes(value);
    throw new InvalidConfigError(`--filter "${f}": unknown filter (label=K[=V], status=S, id=PREFIX, name=S)`);
  });
  return (r) => tests.every((t) => t(r));
}

/** list and ps: ps shows running containers unless -a (Docker's), list shows all. */
async function listContainers(ctx: { root: string; driver?: string }, values: Values, all: boolean): Promise<number> {
  const asked = (values['driver'] as string | undefined) ?? ctx.driver;
  const format = str(values['format']);
  if (format !== undefined && format !== 'json' && format !== 'table') throw new InvalidConfigError(`--format: "${format}" is not known (json, table)`);
  const keep = filterOf(list(values['filter']));
  const rows: Row[] = [];
  for (const name of asked ? [asked] : presentDrivers(ctx.root)) {
    try {
      for (const r of await (await driverFor(name, ctx.root)).list()) rows.push({ ...r, labels: specExtras(ctx.root, name, r.id).labels });
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_DRIVER_UNAVAILABLE' || asked) throw e;
    }
  }
  const { listCreated } = await import('./create.js');
  for (const c of listCreated(ctx.root)) {
    if (asked && c.driver !== asked) continue;
    rows.push({
      id: c.command.id, driver: c.driver, pid: null, running: false, status: 'created', exitCode: null, signal: null, oomKilled: false,
      createdAt: c.createdAt, startedAt: null, finishedAt: null, command: [c.command.entrypoint, ...(c.command.arguments ?? [])], configPath: '',
      labels: c.command.labels ?? {},
    });
  }
  const shown = rows.filter((r) => (all || values['all'] || r.running) && keep(r));
  if (values['quiet']) process.stdout.write(shown.map((r) => `${r.id}\n`).join(''));
  else if (values['json'] || format === 'json') process.stdout.write(JSON.stringify(shown, null, 2) + '\n');
  else process.stdout.write(table(shown));
  return 0;
}

const options = {
  json: { type: 'boolean' },
  all: { type: 'boolean', short: 'a' },
  quiet: { type: 'boolean', short: 'q' },
  filter: { type: 'string', multiple: true },
  format: { type: 'string' },
  driver: { type: 'string' },
} as const;

const help = `  -a, --all          every container, exited ones too (ps; list always shows all)
  -q, --quiet        ids only, one a line
      --filter F     label=K[=V], status=running|exited|created|paused, id=PREFIX, name=S (repeatable: all must match)
      --format json  a JSON array (as --json)`;

export const listVerb: Verb = {
  name: 'list',
  summary: 'list containers (a table, or --json)',
  usage: `execdriver list [-q] [--filter F] [--json]\n\n${help}`,
  options,
  run: (ctx, values) => listContainers(ctx, values, true),
};

export const psVerb: Verb = {
  name: 'ps',
  summary: "list running containers (-a: all), Docker's habits",
  usage: `execdriver ps [-a] [-q] [--filter F] [--format json]\n\n${help}`,
  options,
  run: (ctx, values) => listContainers(ctx, values, false),
};
