/**
 * `npm run bench` (after run.js): the latency of `stats` with 20 running containers, per driver.
 *
 *   node dist/bench/ops.js [--containers N] [--runs N]
 *
 * Library: process.hrtime around `Promise.all(ids.map((id) => driver.stats(id)))` (one sample of
 * every container, what one refresh of `execdriver stats` costs), and around one `stats(id)`.
 * Command line: spawnSync wall clock of `execdriver stats --no-stream --json` (all containers; it
 * samples twice 500 ms apart for the CPU percentage, so that interval is part of it).
 * The containers are `sleep 1000` in busybox, no network, in a state root of their own.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManagedDriver } from '../src/driver.js';
import { createDriver } from '../src/index.js';
import { makeRootfs } from '../test/helpers.js';
import { fmt, summarize, table, type Summary } from './stats.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(REPO, 'bin/execdriver');
const ROOT = process.env['BENCH_OPS_ROOT'] ?? '/run/execdriver-bench-ops';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function benchDriver(name: 'native' | 'lxc', rootfs: string, n: number, runs: number): Promise<Summary[]> {
  let driver: ManagedDriver;
  try {
    driver = createDriver(name, { root: ROOT });
  } catch (e) {
    process.stderr.write(`${name}: skipped (${(e as Error).message})\n`);
    return [];
  }
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const id = `ops-bench-${name}-${i}`;
      await driver.start({ id, rootfs, entrypoint: 'sleep', arguments: ['1000'], network: { mode: 'none' } }, { detach: true });
      ids.push(id);
    }
    const all: number[] = [];
    const one: number[] = [];
    for (let r = 0; r < runs + 2; r++) {
      let t = process.hrtime.bigint();
      const s = await Promise.all(ids.map((id) => driver.stats(id)));
      const dAll = Number(process.hrtime.bigint() - t) / 1e6;
      if (s.length !== n || s.some((x) => !x.memory || !x.cpu)) throw new Error('incomplete stats');
      t = process.hrtime.bigint();
      await driver.stats(ids[r % n]!);
      const dOne = Number(process.hrtime.bigint() - t) / 1e6;
      if (r >= 2) {
        all.push(dAll);
        one.push(dOne);
      }
    }
    const cli: number[] = [];
    for (let r = 0; r < Math.max(3, Math.floor(runs / 4)); r++) {
      const t = process.hrtime.bigint();
      const env = { ...process.env };
      delete env['NODE_EXTRA_CA_CERTS']; // as run.js: it alone adds ~100 ms to every Node start here
      const out = spawnSync(CLI, ['--root', ROOT, '--driver', name, 'stats', '--no-stream', '--json'], { encoding: 'utf8', env });
      cli.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (out.status !== 0 || out.stdout.trim().split('\n').length !== n) throw new Error(`cli stats: ${out.stderr}`);
    }
    return [
      summarize(`${name}: library, ${n} containers at once`, all),
      summarize(`${name}: library, one container`, one),
      summarize(`${name}: execdriver stats --no-stream (${n}, incl. 500 ms interval)`, cli),
    ];
  } finally {
    for (const id of ids) await driver.terminate(id).catch(() => {});
  }
}

async function main(): Promise<void> {
  const n = arg('--containers', 20);
  const runs = arg('--runs', Number(process.env['BENCH_RUNS'] ?? 20));
  const rootfs = makeRootfs();
  try {
    const results: Summary[] = [];
    for (const d of ['native', 'lxc'] as const) results.push(...(await benchDriver(d, rootfs.dir, n, runs)));
    process.stdout.write(`\nstats latency (ms), ${n} running containers, ${runs} runs\n`);
    process.stdout.write(table(['', 'median', 'p90', 'min'], results.map((s) => [s.name, fmt(s.median, 2), fmt(s.p90, 2), fmt(s.min, 2)])) + '\n');
  } finally {
    rootfs.cleanup();
    rmSync(ROOT, { recursive: true, force: true });
  }
}

await main();
