/**
 * The copy-on-write rootfs's cost on start (issue 12 item 3): a library run of /bin/true with
 * `rootfsMode: 'direct'` and with the default overlay, interleaved, per driver; prints the median
 * and p90 of each, in ms.
 *
 *   node dist/bench/rootfs.js [--runs N]      (default 30; state root EXECDRIVER_BENCH_ROOT)
 */
import { createDriver, type RootfsMode } from '../src/index.js';
import { makeRootfs } from '../test/helpers.js';

const argRuns = process.argv.indexOf('--runs');
const runs = Number(argRuns > 0 ? process.argv[argRuns + 1] : 30);
const root = process.env['EXECDRIVER_BENCH_ROOT'] ?? '/run/execdriver-bench-rootfs';
const rootfs = makeRootfs();
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
try {
  for (const driverName of ['native', 'lxc'] as const) {
    const driver = createDriver(driverName, { root });
    const times: Record<RootfsMode, number[]> = { direct: [], overlay: [] };
    for (let i = 0; i < runs + 2; i++) {
      for (const mode of ['direct', 'overlay'] as const) {
        const t = performance.now();
        const s = await driver.run({ rootfs: rootfs.dir, rootfsMode: mode, entrypoint: '/bin/true', network: { mode: 'none' } }, {});
        if (s.exitCode !== 0) throw new Error(`${driverName} ${mode}: exit ${s.exitCode}`);
        if (i >= 2) times[mode].push(performance.now() - t); // two warm-up rounds
      }
    }
    for (const mode of ['direct', 'overlay'] as const) {
      process.stdout.write(`${driverName.padEnd(6)} ${mode.padEnd(7)} median ${q(times[mode], 0.5).toFixed(1)} ms  p90 ${q(times[mode], 0.9).toFixed(1)} ms  (${runs} runs)\n`);
    }
  }
} finally {
  rootfs.cleanup();
}
