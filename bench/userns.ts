/**
 * `node dist/bench/userns.js [--runs N] [--driver native|lxc]`: the cost of `--userns=remap`.
 * busybox `/bin/true` with `--net none`, plain and remapped taking turns, timed with
 * process.hrtime.bigint() around each `await driver.run()` (the library, in this process);
 * three warm-up rounds dropped. Prints the median, p10 and p90 of each and the ratio of medians.
 */
import { createDriverFrom } from '../src/index.js';
import { makeRootfs } from '../test/helpers.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const runs = Number(arg('--runs', '30'));
const driverName = arg('--driver', 'native');
const root = arg('--root', '/run/execdriver-bench-userns');

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const driver = createDriverFrom(driverName, { root });
const rootfs = makeRootfs();
const times: Record<'plain' | 'remap', number[]> = { plain: [], remap: [] };
try {
  for (let round = 0; round < runs + 3; round++) {
    for (const kind of ['plain', 'remap'] as const) {
      const t = process.hrtime.bigint();
      const s = await driver.run({
        id: `bench-userns-${kind}`,
        rootfs: rootfs.dir,
        entrypoint: '/bin/true',
        network: { mode: 'none' },
        ...(kind === 'remap' ? { userns: 'remap' as const } : {}),
      });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (s.exitCode !== 0) throw new Error(`${kind}: exit ${s.exitCode}`);
      if (round >= 3) times[kind].push(ms);
    }
  }
} finally {
  rootfs.cleanup();
}
for (const kind of ['plain', 'remap'] as const) {
  const xs = times[kind];
  console.log(`${driverName} ${kind.padEnd(5)} runs=${xs.length} median=${q(xs, 0.5).toFixed(2)} ms p10=${q(xs, 0.1).toFixed(2)} p90=${q(xs, 0.9).toFixed(2)}`);
}
console.log(`${driverName} remap/plain (medians): ${(q(times.remap, 0.5) / q(times.plain, 0.5)).toFixed(3)}`);
