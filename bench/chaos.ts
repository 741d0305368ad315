/**
 * `npm run chaos`: crash consistency under random SIGKILLs (issue 9). Each run starts one
 * container with the command line (native or lxc; foreground, -d or -t; --net none or a bridge of
 * its own), SIGKILLs the Node process, the monitor or the container's init 0-400 ms after the start,
 * runs `execdriver list` once, and looks for anything left (test/lifecycle/chaos.ts). Prints a
 * summary per driver, mode and target.
 *
 *   node dist/bench/chaos.js [--runs N]      (or CHAOS_RUNS=N; default 300)
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { chaosRun, randomRun, sweep, type ChaosResult } from '../test/lifecycle/chaos.js';
import { makeRootfs } from '../test/helpers.js';

const argRuns = process.argv.indexOf('--runs');
const runs = Number(argRuns > 0 ? process.argv[argRuns + 1] : (process.env['CHAOS_RUNS'] ?? 300));
const root = process.env['EXECDRIVER_CHAOS_ROOT'] ?? '/run/execdriver-chaos';
const bridge = { name: process.env['CHAOS_BRIDGE'] ?? 'edt-engine0', subnet: process.env['CHAOS_SUBNET'] ?? '172.31.231.0/24' };
const rootfs = makeRootfs();
const results: ChaosResult[] = [];
const t0 = Date.now();
try {
  for (let i = 0; i < runs; i++) {
    const id = `chaos${process.pid.toString(36)}x${i}`;
    const run = randomRun({ root, rootfs: rootfs.dir, ...(i % 2 ? { bridge } : {}) }, id);
    const r = await chaosRun(run);
    results.push(r);
    if (r.leftovers.length) {
      process.stdout.write(`run ${i} ${run.driver} ${run.mode} kill ${r.killed} (delay ${run.delayMs}) list: ${r.listed}\n  ${r.leftovers.join('\n  ')}\n`);
      sweep(root, id);
    } else if (i % 25 === 24) process.stdout.write(`${i + 1} runs, ${results.filter((x) => x.leftovers.length).length} with leftovers\n`);
  }
} finally {
  rootfs.cleanup();
  spawnSync('ip', ['link', 'del', bridge.name]);
  rmSync(join(root, 'network', bridge.name), { recursive: true, force: true });
}
const rows = new Map<string, { runs: number; bad: number }>();
for (const r of results) {
  for (const key of [`${r.run.driver} ${r.run.mode.padEnd(2)} kill ${r.run.target}`, 'all']) {
    const row = rows.get(key) ?? { runs: 0, bad: 0 };
    row.runs++;
    if (r.leftovers.length) row.bad++;
    rows.set(key, row);
  }
}
process.stdout.write(`\n${'case'.padEnd(28)} runs  with leftovers\n`);
for (const [k, v] of [...rows].sort()) process.stdout.write(`${k.padEnd(28)} ${String(v.runs).padStart(4)}  ${v.bad}\n`);
process.stdout.write(`${results.length} runs in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
process.exitCode = results.some((r) => r.leftovers.length) ? 1 : 0;
