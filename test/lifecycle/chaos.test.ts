/**
 * Crash consistency (issue 9): random SIGKILLs of the Node process (`execdriver run`), the monitor
 * or the container's init, 0-400 ms after the start, both drivers, foreground, -d and -t, half of
 * the runs on a bridge of their own; after one `execdriver list` nothing may be left (see
 * chaos.ts). CHAOS_RUNS runs (default 40: about 60 s on this 2-CPU machine when idle, 90 s busy); `npm run chaos` does hundreds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';
import { chaosRun, randomRun, sweep, type ChaosDriver, type ChaosMode, type ChaosResult, type ChaosTarget } from './chaos.js';

const RUNS = Number(process.env['CHAOS_RUNS'] ?? 40);
const bridge = { name: 'edt-engine1', subnet: '172.31.233.0/24' };

describe('crash consistency: random SIGKILLs, then one list, leave nothing', { timeout: 30 * 60_000 }, () => {
  let rootfs: ReturnType<typeof makeRootfs>;
  before(() => {
    rootfs = makeRootfs();
  });
  after(() => {
    rootfs.cleanup();
    spawnSync('ip', ['link', 'del', bridge.name]);
    rmSync(join(TEST_ROOT, 'network', bridge.name), { recursive: true, force: true });
  });

  it(`${RUNS} runs`, async () => {
    const bad: ChaosResult[] = [];
    // every driver × mode × target once before random draws, so a small CHAOS_RUNS still covers them
    const grid: [ChaosDriver, ChaosMode, ChaosTarget][] = [];
    for (const d of ['native', 'lxc'] as const) for (const m of ['fg', 'd', 't'] as const) for (const t of ['node', 'monitor', 'init'] as const) grid.push([d, m, t]);
    for (let i = 0; i < RUNS; i++) {
      const id = uniqueId('engine');
      let run = randomRun({ root: TEST_ROOT, rootfs: rootfs.dir, ...(i % 2 ? { bridge } : {}) }, id);
      const g = grid[(i * 7) % grid.length];
      if (i < grid.length && g) run = { ...run, driver: g[0], mode: g[1], target: g[2] };
      const r = await chaosRun(run);
      if (r.leftovers.length) {
        bad.push(r);
        sweep(TEST_ROOT, id);
      }
    }
    const report = bad.map((r) => `${r.run.driver} ${r.run.mode} kill ${r.killed} (delay ${r.run.delayMs} ms), list saw ${r.listed}:\n  ${r.leftovers.join('\n  ')}`);
    assert.deepEqual(report, [], `${bad.length} of ${RUNS} runs left something`);
  });
});
