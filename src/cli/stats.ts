import { totalmem } from 'node:os';
import type { ManagedDriver } from '../driver.js';
import { ExecDriverError, NotFoundError } from '../errors.js';
import type { ContainerStats } from '../ops/index.js';
import type { Context, Verb } from './args.js';
import { driverFor, driverOf, presentDrivers } from './drivers.js';

/** 1536 → `1.5KiB` */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

/** One row of the table, as `docker stats` shows it. */
export function statsRow(s: ContainerStats): string[] {
  const limit = s.memory?.limit ?? totalmem();
  const usage = s.memory?.usage;
  const net = Object.values(s.networks).reduce((a, n) => ({ rx: a.rx + n.rxBytes, tx: a.tx + n.txBytes }), { rx: 0, tx: 0 });
  return [
    s.id,
    s.cpu?.percent == null ? '--' : `${s.cpu.percent.toFixed(2)}%`,
    usage === undefined ? '--' : `${formatBytes(usage)} / ${formatBytes(limit)}`,
    usage === undefined ? '--' : `${((usage / limit) * 100).toFixed(2)}%`,
    `${formatBytes(net.rx)} / ${formatBytes(net.tx)}`,
    s.blockIo ? `${formatBytes(s.blockIo.readBytes)} / ${formatBytes(s.blockIo.writeBytes)}` : '--',
    s.pids.limit === null ? String(s.pids.current) : `${s.pids.current} / ${s.pids.limit}`,
  ];
}

export function statsTable(rows: ContainerStats[]): string {
  const head = ['CONTAINER', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'];
  const body = rows.map(statsRow);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()).join('\n') + '\n';
}

interface Watched {
  id: string;
  driver: ManagedDriver;
  previous?: ContainerStats;
}

/** The running (or paused) containers of the root, of one driver or all. */
async function runningContainers(ctx: Context, asked: string | undefined): Promise<Watched[]> {
  const out: Watched[] = [];
  for (const name of asked ? [asked] : presentDrivers(ctx.root)) {
    try {
      const driver = await driverFor(name, ctx.root);
      for (const c of await driver.list()) if (c.running) out.push({ id: c.id, driver });
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_DRIVER_UNAVAILABLE' || asked) throw e;
    }
  }
  return out;
}

const gone = (e: unknown) => e instanceof NotFoundError || (e instanceof ExecDriverError && e.code === 'ERR_NOT_RUNNING');

/** Sample every watched container; ones that stopped meanwhile are dropped (all: the ids were not asked for). */
async function sample(watched: Watched[], tolerateGone: boolean): Promise<ContainerStats[]> {
  const results = await Promise.all(
    watched.map(async (w) => {
      try {
        const s = await w.driver.stats(w.id, w.previous ? { previous: w.previous } : {});
        w.previous = s;
        return s;
      } catch (e) {
        if (tolerateGone && gone(e)) return undefined;
        throw e;
      }
    }),
  );
  return results.filter((s): s is ContainerStats => s !== undefined);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const statsVerb: Verb = {
  name: 'stats',
  summary: "containers' resource use: memory, CPU, network, block I/O, pids (live, like docker stats)",
  usage: `execdriver stats [--no-stream] [--json] [ID...]

Without ID: every running container of the root. Refreshes each second until interrupted.
      --no-stream   one sample (CPU % over half a second) and exit
      --json        one JSON object a line, per container per sample`,
  options: { 'no-stream': { type: 'boolean' }, json: { type: 'boolean' }, driver: { type: 'string' } },
  async run(ctx, values, ids) {
    const asked = (values['driver'] as string | undefined) ?? ctx.driver;
    const all = ids.length === 0;
    let watched: Watched[] = all ? await runningContainers(ctx, asked) : await Promise.all(ids.map(async (id) => ({ id, driver: await driverOf(id, ctx.root, asked) })));
    const json = !!values['json'];
    const tty = !json && process.stdout.isTTY;
    const show = (rows: ContainerStats[]) => {
      if (json) process.stdout.write(rows.map((r) => JSON.stringify(r) + '\n').join(''));
      else process.stdout.write((tty ? '\x1b[2J\x1b[H' : '') + statsTable(rows));
    };
    await sample(watched, all); // the first sample only gives the CPU percentage's start
    if (values['no-stream']) {
      await sleep(500);
      show(await sample(watched, all));
      return 0;
    }
    for (;;) {
      await sleep(1000);
      if (all) {
        // containers started meanwhile join, stopped ones leave
        const now = await runningContainers(ctx, asked);
        watched = now.map((n) => watched.find((w) => w.id === n.id && w.driver.name() === n.driver.name()) ?? n);
      }
      const rows = await sample(watched, true);
      show(rows);
      if (!all && rows.length === 0) return 0;
    }
  },
};
